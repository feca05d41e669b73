// The chapter's joblib.Memory demo: `expensive_simulation(param)` (a sleep standing in for a
// long computation, plus random noise) cached on disk with parkit::memory. Shows the first call
// against the cached call, measures what a hit and a miss cost, fills the cache from parallel
// tasks (threads and processes), runs this program a second time to show that entries outlive
// the process, and recovers from a corrupted entry. Writes the uncached vs cached times as CSV
// and a plot. Exits non-zero when a check fails.
#include <parkit/memory.hpp>
#include <parkit/parallel_map.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// The chapter's function; 0.2 s instead of 0.5 s to keep the smoke test short.
double expensive_simulation(double param) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return param * param + std::normal_distribution<double>(0.0, 0.01)(rng);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

using examples::check;

std::filesystem::path cache_dir() {
    return examples::output_dir("cache_demo") / "cache";
}

// The second run of this program (started by the first): the entry must be a hit with the
// value the first run stored (passed as the bit pattern of the double).
int second_run(const char* expected_bits) {
    parkit::memory mem{cache_dir()};
    auto cached = mem.cache("expensive_simulation_v1", expensive_simulation);
    const auto start = std::chrono::steady_clock::now();
    const double value = cached(42.0);
    const double elapsed = seconds_since(start);
    std::printf("  second run of the program (pid %d): cached call %.6f s, result = %.4f\n",
                static_cast<int>(::getpid()), elapsed, value);
    double expected = 0;
    const unsigned long long bits = std::stoull(expected_bits, nullptr, 16);
    std::memcpy(&expected, &bits, sizeof expected);
    return mem.stats().hits == 1 && mem.stats().misses == 0 && value == expected ? 0 : 1;
}

// Starts this program again with --second-run; true when it exited with 0.
bool run_again(double expected) {
    unsigned long long bits = 0;
    std::memcpy(&bits, &expected, sizeof bits);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", bits);
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child == 0) {
        ::execl("/proc/self/exe", "cache_demo", "--second-run", hex, static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--second-run") == 0) return second_run(argv[2]);

    bool ok = true;
    parkit::memory mem{cache_dir(), {.verbose = false}};
    mem.clear();
    auto cached = mem.cache("expensive_simulation_v1", expensive_simulation);

    // The chapter's two calls.
    auto start = std::chrono::steady_clock::now();
    const double result1 = cached(42.0);
    const double first = seconds_since(start);
    std::printf("First call: %.3fs, result = %.4f\n", first, result1);
    start = std::chrono::steady_clock::now();
    const double result2 = cached(42.0);
    const double second = seconds_since(start);
    std::printf("Cached call: %.6fs, result = %.4f   (joblib: 0.001 s)\n", second, result2);
    ok &= check(result1 == result2, "the cached call returns the stored result");

    // What a hit costs: read + verify + decode a small entry.
    const int hits = 20'000;
    start = std::chrono::steady_clock::now();
    bool all_equal = true;
    for (int i = 0; i < hits; ++i) all_equal &= cached(42.0) == result1;
    const double per_hit_ns = seconds_since(start) / hits * 1e9;
    ok &= check(all_equal, "every hit returns the stored value");
    // The floor under it on this machine: the bare system calls (open, fstat, read, close) of a hit.
    parkit::detail::read_buffer buffer;
    const std::string entry = [&] {
        for (const auto& f : std::filesystem::directory_iterator(cache_dir() / "parkit" / "expensive_simulation_v1"))
            return f.path().string();
        return std::string();
    }();
    start = std::chrono::steady_clock::now();
    const char* why = nullptr;
    for (int i = 0; i < hits; ++i) (void)parkit::detail::read_entry_file(entry, buffer, why);
    const double floor_ns = seconds_since(start) / hits * 1e9;

    // What a miss adds to a function call: serialize, write a temporary file, rename.
    auto cheap = mem.cache("cheap_v1", [](int i) { return std::vector<double>(16, i); });
    const int misses = 2'000;
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < misses; ++i) (void)cheap(i);
    const double per_miss_us = seconds_since(start) / misses * 1e6;
    std::printf(
        "Cost of a hit (small result): %.0f ns = %.2f x the bare open + fstat + read + close of the entry (%.0f ns)\n",
        per_hit_ns, per_hit_ns / floor_ns, floor_ns);
    std::printf("Cost of a miss (serialize + write + rename, besides the function): %.1f us\n", per_miss_us);

    // Parallel tasks share the cache: 8 parameters on threads, then again on processes.
    std::vector<double> params{1, 2, 3, 4, 5, 6, 7, 8};
    start = std::chrono::steady_clock::now();
    const auto on_threads = parkit::parallel_map(cached, params, {.n_jobs = 8});
    const double fill = seconds_since(start);
    start = std::chrono::steady_clock::now();
    const auto on_processes =
        parkit::parallel_map(cached, params, {.n_jobs = 2, .backend = parkit::backend::processes});
    const double reuse = seconds_since(start);
    std::printf("8 simulations on 8 threads: %.3f s (computed); on 2 processes: %.3f s (all hits)\n", fill, reuse);
    ok &= check(on_threads == on_processes, "processes read the entries the threads wrote");
    ok &= check(mem.entry_count() == 1 + misses + params.size(), "one entry per distinct call");

    // A second run of the program finds the entry of the first.
    ok &= check(run_again(result1), "a second run of the program hits the entry of the first");

    // A corrupted entry is a miss: recomputed (with new noise) and rewritten.
    for (const auto& f : std::filesystem::directory_iterator(cache_dir() / "parkit" / "expensive_simulation_v1")) {
        std::filesystem::resize_file(f.path(), std::filesystem::file_size(f.path()) / 2);
    }
    const auto corrupt_before = mem.stats().corrupt;
    double recomputed = 0, reread = 0;
    const double t_recompute = examples::seconds([&] { recomputed = cached(42.0); });
    const double t_reread = examples::seconds([&] { reread = cached(42.0); });
    ok &= check(mem.stats().corrupt == corrupt_before + 1 && recomputed != result1, "a truncated entry is recomputed");
    ok &= check(reread == recomputed, "the recomputed entry was rewritten");
    std::printf("Truncated the entries: recomputed and rewritten (cache now %zu entries, %.1f kB)\n", mem.entry_count(),
                static_cast<double>(mem.size_bytes()) / 1e3);

    // Uncached (computed) vs cached (read from disk) wall time of each pair of runs above.
    const auto dir = examples::output_dir("cache_demo");
    const std::vector<std::string> runs{"cached(42.0):\nfirst vs second call",
                                        "8 tasks: threads compute,\nprocesses read", "after truncating\nthe entry"};
    const std::vector<double> uncached{first, fill, t_recompute}, hit{second, reuse, t_reread};
    std::vector<double> ratio;
    for (std::size_t i = 0; i < runs.size(); ++i) ratio.push_back(examples::speedup(uncached[i], hit[i]));
    examples::write_csv(dir / "calls.csv", {"run", "uncached_s", "cached_s", "ratio"}, runs, {uncached, hit, ratio});
    std::vector<std::string> xtics;
    for (std::size_t i = 0; i < runs.size(); ++i)
        xtics.push_back(runs[i] + "\n(" + std::to_string(std::lround(ratio[i])) + "x faster)");
    examples::plot(dir / "plot.gp",
                   "set terminal pngcairo size 900,520 noenhanced\nset output 'cache_demo.png'\n"
                   "set datafile separator ','\nset xtics " +
                       examples::gnuplot_xtics(xtics) + "\n" + examples::log_y_decades +
                       R"(set title 'parkit::memory: computed (uncached) vs read from the cache'
set ylabel 'Wall time (s)'
set xrange [-0.6:2.6]; set offsets 0, 0, graph 0.15, 0; set bmargin 5
set grid y; set style fill solid 0.8 border -1; set boxwidth 0.35
set key inside top center horizontal
plot 'calls.csv' using ($0 - 0.19):2 skip 1 with boxes lc 'dark-orange' title 'uncached (computed)', \
     '' using ($0 + 0.19):3 skip 1 with boxes lc 'royalblue' title 'cached (read)', \
     '' using ($0 - 0.19):2:(sprintf('%.3g s', $2)) skip 1 with labels offset 0,1 notitle, \
     '' using ($0 + 0.19):3:(sprintf('%.3g s', $3)) skip 1 with labels offset 0,1 notitle
)");

    mem.clear();
    ok &= check(mem.entry_count() == 0, "clear() removes every entry");
    std::printf("%s\n", ok ? "All checks passed." : "Some checks FAILED.");
    return ok ? 0 : 1;
}
