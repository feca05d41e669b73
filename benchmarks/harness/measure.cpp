#include "measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace parkit_bench {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// An implementation prepared at one worker count, with its samples.
struct entry {
    std::string impl;
    int workers = 1;
    runner run;
    int inner = 1;                // runs per sample (fast runs are batched)
    std::vector<double> samples;  // seconds per run
};

/// Times `e.inner` runs and records the mean as one sample. An idle gap of 30 ms first lets the
/// previous implementation's threads (OpenMP/TBB/parkit workers spin before they sleep) go
/// to sleep, so no runtime is timed against another's spinning threads.
void take_sample(entry& e) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const auto start = clock_type::now();
    for (int i = 0; i < e.inner; ++i) e.run();
    e.samples.push_back(seconds_since(start) / e.inner);
}

/// Relative spread of the samples: median absolute deviation / median.
double relative_spread(const std::vector<double>& samples) {
    const double med = median_of(samples);
    std::vector<double> deviations;
    for (double s : samples) deviations.push_back(std::abs(s - med));
    return med > 0 ? median_of(deviations) / med : 0.0;
}

}  // namespace

background_load::background_load(int threads) {
    try {
        for (int t = 0; t < threads; ++t) {
            threads_.emplace_back([this] {
                volatile unsigned long counter = 0;
                while (!stop_.load(std::memory_order_relaxed)) {
                    for (int k = 0; k < 4096; ++k) counter = counter + 1;
                }
            });
        }
    } catch (...) {
        stop();  // the ones already started (std::thread failed with EAGAIN)
        throw;
    }
}

background_load::~background_load() {
    stop();
}

void background_load::stop() noexcept {
    stop_.store(true, std::memory_order_relaxed);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
}

double max_over_median(const result_row& r) {
    return r.median_s > 0 ? r.max_s / r.median_s : 0.0;
}

double median_of(std::vector<double> values) {
    if (values.empty()) throw std::logic_error("parkit-bench: median of no samples");
    std::sort(values.begin(), values.end());
    const std::size_t m = values.size() / 2;
    return values.size() % 2 ? values[m] : 0.5 * (values[m - 1] + values[m]);
}

std::vector<result_row> run_case(const std::string& workload, std::size_t n, const bench_case& c, const config& cfg) {
    const std::vector<int>& worker_counts = c.fixed_workers.empty() ? cfg.workers : c.fixed_workers;
    std::vector<entry> entries;
    for (const implementation& impl : c.impls) {
        const std::vector<int> counts = impl.parallel ? worker_counts : std::vector<int>{1};
        for (int w : counts) entries.push_back(entry{impl.name, w, impl.prepare(w), 1, {}});
    }

    // Warm-up: one run each, which also sets how many runs make one sample.
    for (entry& e : entries) {
        const auto start = clock_type::now();
        e.run();
        const double once = seconds_since(start);
        const double wanted = cfg.min_sample_s();
        e.inner = once >= wanted ? 1 : static_cast<int>(std::min(1000.0, std::ceil(wanted / std::max(once, 1e-9))));
    }

    const auto case_start = clock_type::now();
    for (int round = 0; round < cfg.max_reps(); ++round) {
        for (std::size_t k = 0; k < entries.size(); ++k) take_sample(entries[(k + round) % entries.size()]);
        if (round + 1 < cfg.min_reps()) continue;
        const bool stable = std::all_of(entries.begin(), entries.end(),
                                        [](const entry& e) { return relative_spread(e.samples) < 0.02; });
        if (stable || seconds_since(case_start) > cfg.case_budget_s()) break;
    }

    std::vector<result_row> rows;
    for (const entry& e : entries) {
        result_row r;
        r.workload = workload;
        r.n = n;
        r.impl = e.impl;
        r.workers = e.workers;
        r.median_s = median_of(e.samples);
        r.min_s = *std::min_element(e.samples.begin(), e.samples.end());
        r.max_s = *std::max_element(e.samples.begin(), e.samples.end());
        r.reps = static_cast<int>(e.samples.size());
        r.items = c.items;
        rows.push_back(r);
    }
    fill_speedups(rows);
    // Released in reverse order of preparation, like nested scopes.
    while (!entries.empty()) entries.pop_back();
    return rows;
}

void fill_speedups(std::vector<result_row>& rows) {
    for (result_row& r : rows) {
        const auto baseline = std::find_if(rows.begin(), rows.end(), [&](const result_row& b) {
            return b.workload == r.workload && b.n == r.n && b.impl == "sequential";
        });
        r.speedup = baseline != rows.end() && r.median_s > 0 ? baseline->median_s / r.median_s : 0.0;
    }
}

}  // namespace parkit_bench
