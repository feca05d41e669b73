#pragma once
/// @file
/// The command line of parkit-bench.

#include <optional>
#include <string>
#include <vector>

namespace parkit_bench {

/// What to run and how, from the command line.
struct config {
    bool quick = false;                           ///< --quick: fewer repetitions, shorter samples
    std::string json_path;                        ///< --json FILE ("" = no JSON)
    std::string filter = "";                      ///< --filter REGEX on "workload/n" ("" = all)
    std::vector<int> workers;                     ///< --workers N or a list 1,2,4 (default: all cores)
    bool python = true;                           ///< run benchmarks/python/chapter_peers.py when usable
    std::string python_exe = "/usr/bin/python3";  ///< --python EXE
    bool list = false;                            ///< --list: print the cases and exit
    /// --background-load N: N threads spinning beside the benchmark for the whole run (a loaded
    /// machine on purpose: the max/median column then shows stalls); 0 = none.
    int background_load = 0;

    /// Repetitions after the warm-up: at least `min_reps`, more (up to `max_reps`) until stable.
    int min_reps() const { return 5; }
    /// Upper bound on the repetitions of one case.
    int max_reps() const { return quick ? 5 : 15; }
    /// Shortest timed sample: fast runs are repeated inside one sample up to this long.
    double min_sample_s() const { return quick ? 0.002 : 0.01; }
    /// Time after which a case stops adding repetitions beyond `min_reps`.
    double case_budget_s() const { return quick ? 5.0 : 40.0; }
};

/// The worker counts as "1,2,4" (the --workers syntax).
std::string join_workers(const std::vector<int>& workers);

/// Parses argv; returns nothing (after printing the usage) for --help.
/// @throws std::invalid_argument naming the option for bad input.
std::optional<config> parse_command_line(int argc, char** argv);

}  // namespace parkit_bench
