#include "config.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <stdexcept>

#include <parkit/core/n_jobs.hpp>

namespace parkit_bench {

namespace {

constexpr const char* usage =
    "usage: parkit-bench [--quick] [--json FILE] [--filter REGEX] [--workers N|N,M,...]\n"
    "                    [--no-python] [--python EXE] [--list] [--background-load N]\n"
    "  --quick        5 repetitions of short samples (under 3 minutes on 2 cores)\n"
    "  --json FILE    also write the results as JSON\n"
    "  --filter REGEX run only the cases whose \"workload/n\" matches (e.g. map_tiny, svd/20)\n"
    "  --workers LIST worker counts of the parallel implementations (default: all cores)\n"
    "  --no-python    skip the chapter's Python peers (benchmarks/python/chapter_peers.py)\n"
    "  --python EXE   the Python interpreter for them (default /usr/bin/python3)\n"
    "  --list         print the cases that would run and exit\n"
    "  --background-load N\n"
    "                 N busy threads (spinning, not pinned) beside the benchmark for the whole\n"
    "                 run; the table's max/med column then shows stalls under load\n";

/// `text` as an integer in [low, high], or nothing when it is none (or has more after it).
std::optional<int> parse_int(const std::string& text, int low, int high) {
    std::size_t used = 0;
    int value = 0;
    try {
        value = std::stoi(text, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (used != text.size() || text.empty() || value < low || value > high) return std::nullopt;
    return value;
}

std::vector<int> parse_workers(const std::string& text) {
    std::vector<int> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::optional<int> value = parse_int(text.substr(start, comma - start), 1, 4096);
        if (!value) {
            throw std::invalid_argument("parkit-bench: --workers wants positive counts like 4 or 1,2,4 (got '" + text +
                                        "')");
        }
        out.push_back(*value);
        start = comma + 1;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace

std::string join_workers(const std::vector<int>& workers) {
    std::string out;
    for (int w : workers) {
        if (!out.empty()) out += ',';
        out += std::to_string(w);
    }
    return out;
}

std::optional<config> parse_command_line(int argc, char** argv) {
    config c;
    const auto value_of = [&](int& i, const std::string& option) -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument("parkit-bench: " + option + " needs a value");
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quick") {
            c.quick = true;
        } else if (arg == "--json") {
            c.json_path = value_of(i, arg);
            if (!std::ofstream(c.json_path)) {  // fail now, not after a long run
                throw std::invalid_argument("parkit-bench: --json: cannot write '" + c.json_path + "'");
            }
        } else if (arg == "--filter") {
            c.filter = value_of(i, arg);
            try {
                (void)std::regex(c.filter);
            } catch (const std::regex_error& e) {
                throw std::invalid_argument("parkit-bench: --filter '" + c.filter +
                                            "' is not a valid regex: " + e.what());
            }
        } else if (arg == "--workers") {
            c.workers = parse_workers(value_of(i, arg));
        } else if (arg == "--no-python") {
            c.python = false;
        } else if (arg == "--python") {
            c.python_exe = value_of(i, arg);
        } else if (arg == "--list") {
            c.list = true;
        } else if (arg == "--background-load") {
            const std::string text = value_of(i, arg);
            const std::optional<int> threads = parse_int(text, 0, 4096);
            if (!threads) {
                throw std::invalid_argument("parkit-bench: --background-load wants a thread count like 2 (got '" +
                                            text + "')");
            }
            c.background_load = *threads;
        } else if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return std::nullopt;
        } else {
            throw std::invalid_argument("parkit-bench: unknown option '" + arg + "'\n" + usage);
        }
    }
    if (c.workers.empty()) c.workers = {parkit::available_cores()};
    return c;
}

}  // namespace parkit_bench
