// The chapter's concurrent.futures section: submit() returns futures, and as_completed()
// yields them as their tasks finish, not in submission order. Eight tasks of 0.1 to 0.5 s go
// to four workers, first a parkit::thread_pool (ThreadPoolExecutor), then a
// parkit::process_pool (ProcessPoolExecutor: a plain function and serializable arguments).
// Each result is printed as it arrives; `future.index()` says which submission it was (the
// chapter keeps a dict future -> value for that). Writes the finishing order as CSV and a plot.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

// A computation that takes a variable time: 0.1 to 0.5 s, drawn from the task's own random
// stream (so the run is reproducible and each task draws differently wherever it runs).
// Returns x² and the time it slept.
std::pair<long, double> slow_computation(long x) {
    auto rng = parkit::seed_sequence{2024}.stream(static_cast<std::uint64_t>(x));
    const double sleep_time = 0.1 + 0.4 * rng.uniform01();
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep_time));
    return {x * x, sleep_time};
}

// What one pool produced: per completed task, its value, position in the finishing order,
// and how long it slept.
struct completion_log {
    std::vector<double> value, order, slept;
};

// Submits values 0..7 to `pool`, prints each result as it completes; returns the log.
template <class Pool>
completion_log submit_and_collect(Pool& pool, examples::checks& check, const char* name) {
    const std::vector<long> values{0, 1, 2, 3, 4, 5, 6, 7};
    std::vector<parkit::future<std::pair<long, double>>> futures;
    for (long v : values) futures.push_back(pool.submit(slow_computation, v));

    completion_log log;
    for (auto& future : parkit::as_completed(futures)) {
        const long original_value = values[future.index()];
        const auto [result, elapsed] = future.get();
        std::printf("  %ld² = %ld (took %.2fs)\n", original_value, result, elapsed);
        check.expect(result == original_value * original_value,
                     std::string(name) + ": result of " + std::to_string(original_value));
        log.value.push_back(static_cast<double>(original_value));
        log.order.push_back(static_cast<double>(log.order.size()));
        log.slept.push_back(elapsed);
    }
    check.expect(log.value.size() == values.size(), std::string(name) + ": every task completed");
    return log;
}

}  // namespace

int main() {
    examples::checks check;

    std::printf("thread_pool(4), submit + as_completed:\n");
    completion_log threads;
    const double thread_time = examples::seconds([&] {
        parkit::thread_pool pool(4);
        threads = submit_and_collect(pool, check, "thread_pool");
    });

    std::printf("\nprocess_pool(4), submit + as_completed:\n");
    completion_log processes;
    const double process_time = examples::seconds([&] {
        parkit::process_pool pool(4);
        processes = submit_and_collect(pool, check, "process_pool");
    });

    double total_sleep = 0;
    for (double s : threads.slept) total_sleep += s;
    std::printf("\n8 tasks sleeping %.2f s in all: thread_pool %.2f s, process_pool %.2f s (4 workers each)\n",
                total_sleep, thread_time, process_time);
    // Same values, same random streams: task x slept the same time in both pools.
    std::vector<double> thread_sleep(8), process_sleep(8);
    for (std::size_t i = 0; i < threads.value.size(); ++i)
        thread_sleep[static_cast<std::size_t>(threads.value[i])] = threads.slept[i];
    for (std::size_t i = 0; i < processes.value.size(); ++i)
        process_sleep[static_cast<std::size_t>(processes.value[i])] = processes.slept[i];
    check.expect(thread_sleep == process_sleep, "each task drew the same sleep time in both pools");
    check.expect(thread_time < 0.8 * total_sleep, "four workers overlap the sleeps");

    const auto dir = examples::output_dir("submit_as_completed");
    examples::write_csv(dir / "threads.csv", {"value", "finished_as", "slept_s"},
                        {threads.value, threads.order, threads.slept});
    examples::write_csv(dir / "processes.csv", {"value", "finished_as", "slept_s"},
                        {processes.value, processes.order, processes.slept});
    examples::plot(dir / "plot.gp", R"(set terminal pngcairo size 800,500
set output 'submit_as_completed.png'
set datafile separator ','
set title 'as\_completed: results arrive in finishing order, not submission order'
set xlabel 'Submitted value x (submission order)'; set ylabel 'Position in the completion order'
set grid; set xrange [-0.5:7.5]; set yrange [-0.5:7.5]; set key top left
plot 'threads.csv' using 1:2:(sprintf('%.2fs', $3)) skip 1 with labels offset 0,0.8 tc 'steelblue' notitle, \
     '' using 1:2 skip 1 with points pt 7 ps 1.5 lc 'steelblue' title 'thread\_pool(4)', \
     'processes.csv' using 1:2 skip 1 with points pt 6 ps 2.5 lw 2 lc 'red' title 'process\_pool(4)', \
     x with lines dt 2 lc 'black' title 'submission order'
)");
    return check.exit_code();
}
