// The chapter's CPU-bound demo: `cpu_intensive_task(n)`, a sum of squares, four times in a
// loop, on threads and on processes. In Python the GIL lets only one thread compute at a time
// (threads: 1.01x); C++ has no GIL, so threads and processes both use every core. Processes
// run the task with parkit::process_pool (a plain function plus its argument, like
// ProcessPoolExecutor) and with parallel_map(..., {.backend = parkit::backend::processes}).
// Prints the times and speed-ups, checks every result against the loop, writes a bar chart.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

// A CPU-bound task: the sum of i² for i < n (modulo 2^64). The chapter's Python function,
// with one change: the compiler would otherwise replace the loop by the closed formula
// (n-1) n (2n-1) / 6, so the running total is passed through an empty asm statement that the
// optimiser cannot see through. The loop does the same arithmetic as in Python.
std::uint64_t cpu_intensive_task(std::uint64_t n) {
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        total += i * i;
        asm volatile("" : "+r"(total));
    }
    return total;
}

}  // namespace

int main() {
    examples::checks check;

    // The chapter: 1,000,000 iterations take 0.059 s in Python.
    const std::uint64_t single_n = 1'000'000;
    std::uint64_t single = 0;
    const double single_time = examples::seconds([&] { single = cpu_intensive_task(single_n); });
    std::printf("Single call: %.6f seconds (n = %llu; the chapter's Python: 0.059 s)\n", single_time,
                static_cast<unsigned long long>(single_n));
    const std::uint64_t m = single_n;  // exact sum of squares 0..n-1 fits 64 bits for this n
    check.expect(single == (m - 1) * m * (2 * m - 1) / 6, "sum of squares equals (n-1) n (2n-1) / 6");

    // The chapter uses n = 500,000 and 4 tasks (0.116 s in Python, ~60 ns an iteration); C++ takes
    // under a nanosecond an iteration, so n = 250,000,000 makes tasks long enough to time.
    constexpr int n_tasks = 4;
    const std::vector<std::uint64_t> ns(n_tasks, 250'000'000);

    std::vector<std::uint64_t> sequential;
    const double sequential_time = examples::seconds([&] {
        for (auto n : ns) sequential.push_back(cpu_intensive_task(n));
    });
    std::printf("\n%d tasks of n = %llu on %d cores\n", n_tasks, static_cast<unsigned long long>(ns[0]),
                parkit::available_cores());
    std::printf("Sequential: %.3f seconds\n", sequential_time);

    // The chapter's threading code: one std::thread per task.
    std::vector<std::uint64_t> threaded(n_tasks);
    const double threaded_time = examples::seconds([&] {
        std::vector<std::thread> threads;
        for (int i = 0; i < n_tasks; ++i) threads.emplace_back([&, i] { threaded[i] = cpu_intensive_task(ns[i]); });
        for (auto& t : threads) t.join();
    });
    std::printf("Threaded (std::thread): %.3f seconds, speedup %.2fx (Python: 1.01x, the GIL)\n", threaded_time,
                examples::speedup(sequential_time, threaded_time));

    std::vector<std::uint64_t> mapped_threads;
    const double map_threads_time =
        examples::seconds([&] { mapped_threads = parkit::parallel_map(cpu_intensive_task, ns); });
    std::printf("parallel_map (threads): %.3f seconds, speedup %.2fx\n", map_threads_time,
                examples::speedup(sequential_time, map_threads_time));

    // ProcessPoolExecutor(): workers are forked when the pool is made; a task is a plain function.
    std::vector<std::uint64_t> pooled;
    const double pool_time = examples::seconds([&] {
        parkit::process_pool pool;
        pooled = pool.map(cpu_intensive_task, ns);
    });
    std::printf("process_pool.map (processes): %.3f seconds, speedup %.2fx\n", pool_time,
                examples::speedup(sequential_time, pool_time));

    std::vector<std::uint64_t> mapped_processes;
    const double map_processes_time = examples::seconds([&] {
        mapped_processes = parkit::parallel_map(cpu_intensive_task, ns, {.backend = parkit::backend::processes});
    });
    std::printf("parallel_map (processes): %.3f seconds, speedup %.2fx\n", map_processes_time,
                examples::speedup(sequential_time, map_processes_time));

    check.expect(threaded == sequential, "std::thread results equal the sequential ones");
    check.expect(mapped_threads == sequential, "parallel_map (threads) results equal the sequential ones");
    check.expect(pooled == sequential, "process_pool results equal the sequential ones");
    check.expect(mapped_processes == sequential, "parallel_map (processes) results equal the sequential ones");
    std::printf("All results identical to the sequential ones: %s\n",
                threaded == sequential && mapped_threads == sequential && pooled == sequential &&
                        mapped_processes == sequential
                    ? "yes"
                    : "NO");

    examples::plot_times(examples::output_dir("cpu_bound_backends"), "cpu_bound_backends",
                         "4 x cpu_intensive_task: without a GIL threads and processes both scale",
                         {"loop", "std::thread x4", "parallel_map\nthreads", "process_pool\n.map",
                          "parallel_map\nprocesses"},
                         {sequential_time, threaded_time, map_threads_time, pool_time, map_processes_time});
    return check.exit_code();
}
