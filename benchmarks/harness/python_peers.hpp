#pragma once
/// @file
/// The chapter's own Python code paths (joblib, ProcessPoolExecutor), timed by
/// benchmarks/python/chapter_peers.py and merged into parkit-bench's results.

#include <string>
#include <vector>

#include "config.hpp"
#include "measure.hpp"

namespace parkit_bench {

/// Runs the Python script (when `cfg.python` and the interpreter and the script exist) with the
/// same --quick/--filter/--workers, and returns its rows (speed-ups not yet filled). Prints
/// one line and returns nothing when Python or one of numpy/scipy/joblib is missing.
std::vector<result_row> run_python_peers(const config& cfg);

/// Parses the script's tab-separated output (workload, n, impl, workers, median_s, min_s,
/// max_s, reps, items per line).
/// @throws std::runtime_error naming the line for malformed input.
std::vector<result_row> parse_python_rows(const std::string& text);

}  // namespace parkit_bench
