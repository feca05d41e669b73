#pragma once
/// @file
/// Timing one case: warm-up, then interleaved repetitions of every implementation.

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "workload.hpp"

namespace parkit_bench {

/// One line of the results: an implementation at a worker count on one case.
struct result_row {
    std::string workload;                 ///< workload name
    std::size_t n = 0;                    ///< size
    std::string impl;                     ///< implementation name
    int workers = 1;                      ///< workers it used
    double median_s = 0;                  ///< median seconds per run
    double min_s = 0;                     ///< fastest run
    double max_s = 0;                     ///< slowest run
    double speedup = 0;                   ///< sequential median / this median (0 when there is no baseline)
    int reps = 0;                         ///< timed repetitions
    std::size_t items = 0;                ///< items per run (0 = none): per-item time = median_s / items
    std::string source = "parkit-bench";  ///< who measured it (parkit-bench or the Python script)
};

/// `--background-load N`: N threads that spin on a volatile counter (not pinned, at normal
/// priority) from construction to destruction, so the whole run competes with them as with
/// other jobs on a shared machine.
class background_load {
public:
    /// Starts `threads` spinning threads (none for 0).
    explicit background_load(int threads);
    /// Stops and joins them.
    ~background_load();
    background_load(const background_load&) = delete;
    background_load& operator=(const background_load&) = delete;

private:
    /// Tells the spinners to stop and joins them.
    void stop() noexcept;

    std::atomic<bool> stop_{false};     // set by stop()
    std::vector<std::thread> threads_;  // the spinners
};

/// Max sample / median of a row: how far its worst sample strays (a stall shows as >> 1).
double max_over_median(const result_row& r);

/// Runs every implementation of `c` (sequential once, the others at each worker count) and
/// returns one row per (implementation, workers), with speed-ups against the first
/// implementation. Repetitions are interleaved: round r times every implementation once,
/// in an order rotated each round, so drift of the machine cancels in the ratios.
std::vector<result_row> run_case(const std::string& workload, std::size_t n, const bench_case& c, const config& cfg);

/// Median of `values` (not empty).
double median_of(std::vector<double> values);

/// Fills `speedup` of every row from the `sequential` row of the same workload and size.
void fill_speedups(std::vector<result_row>& rows);

}  // namespace parkit_bench
