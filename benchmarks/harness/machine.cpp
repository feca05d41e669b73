#include "machine.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <parkit/core/n_jobs.hpp>
#include <parkit/parkit.hpp>

namespace parkit_bench {

namespace {

/// The value after "key<spaces>:" in /proc/cpuinfo or /proc/meminfo, or "".
std::string proc_value(const char* file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const auto first = line.find_first_not_of(" \t", colon + 1);
        return first == std::string::npos ? "" : line.substr(first);
    }
    return "";
}

std::string utc_now() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

}  // namespace

double load_average() {
    std::ifstream in("/proc/loadavg");
    double load = -1;
    return in >> load ? load : -1;
}

std::vector<machine_field> describe_machine(const config& cfg) {
    utsname uts{};
    uname(&uts);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::ostringstream load;
    load << load_average();
    return {
        {"cores", std::to_string(parkit::available_cores()), true},
        {"hardware_threads", std::to_string(std::thread::hardware_concurrency()), true},
        {"cpu", proc_value("/proc/cpuinfo", "model name"), false},
        {"memory", proc_value("/proc/meminfo", "MemTotal"), false},
        {"host", host, false},
        {"os", std::string(uts.sysname) + " " + uts.release + " " + uts.machine, false},
        {"compiler", "g++ " __VERSION__, false},
        {"parkit_version", std::to_string(parkit::version), true},
        {"date", utc_now(), false},
        {"load_average_at_start", load.str(), true},
        {"quick", cfg.quick ? "true" : "false", true},
        {"workers", join_workers(cfg.workers), false},
        {"min_reps", std::to_string(cfg.min_reps()), true},
        {"max_reps", std::to_string(cfg.max_reps()), true},
        {"background_load", std::to_string(cfg.background_load), true},
    };
}

}  // namespace parkit_bench
