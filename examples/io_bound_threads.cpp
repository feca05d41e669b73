// The chapter's I/O-bound demo: "reading" files, where each read is mostly waiting (a sleep
// stands in for the disk or the network). Waiting work needs no core, so threads help even
// beyond the number of cores: five reads take the time of one when five threads wait at once.
// Runs the reads in a loop, with one std::thread per file (the chapter's threading code),
// with parkit::thread_pool::submit, and with parallel_map at n_jobs = 5 and n_jobs = -1 (one
// worker per core); then 16 reads with n_jobs = -1 vs n_jobs = 16. Writes the times of the
// 5 reads as CSV and a bar chart.
#include <parkit/parkit.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace {

// The chapter sleeps 0.5 s per file; 0.2 s keeps this smoke test short (the ratios are the same).
constexpr auto read_time = std::chrono::milliseconds(200);

// Simulates reading a file (an I/O-bound task): wait, then return its contents.
std::string simulate_file_read(int file_id) {
    std::this_thread::sleep_for(read_time);
    return "Data from file " + std::to_string(file_id);
}

}  // namespace

int main() {
    examples::checks check;
    constexpr int n_files = 5;
    std::vector<int> files(n_files);
    std::iota(files.begin(), files.end(), 0);

    std::vector<std::string> expected;
    const double sequential_time = examples::seconds([&] {
        for (int i : files) expected.push_back(simulate_file_read(i));
    });
    std::printf("Sequential: %.2f seconds\n", sequential_time);

    // The chapter's code: one thread per file, each writing its own slot of a shared result.
    std::map<int, std::string> results_threaded;
    const double threaded_time = examples::seconds([&] {
        std::vector<std::string> slots(n_files);
        std::vector<std::thread> threads;
        for (int i : files) threads.emplace_back([&slots, i] { slots[i] = simulate_file_read(i); });
        for (auto& t : threads) t.join();
        for (int i : files) results_threaded[i] = slots[i];
    });
    std::printf("Threaded: %.2f seconds\n", threaded_time);
    std::printf("Speedup: %.1fx\n", examples::speedup(sequential_time, threaded_time));
    for (int i : files)
        check.expect(results_threaded[i] == expected[i], "std::thread read of file " + std::to_string(i));

    // The same with a pool of 5 threads (ThreadPoolExecutor(max_workers=5)).
    std::vector<std::string> pooled;
    const double pool_time = examples::seconds([&] {
        parkit::thread_pool pool(n_files);
        std::vector<parkit::future<std::string>> futures;
        for (int i : files) futures.push_back(pool.submit(simulate_file_read, i));
        for (auto& f : futures) pooled.push_back(f.get());
    });
    std::printf("thread_pool(%d).submit: %.2f seconds (speedup %.1fx)\n", n_files, pool_time,
                examples::speedup(sequential_time, pool_time));
    check.expect(pooled == expected, "thread_pool results equal the sequential ones");

    std::vector<std::string> mapped, mapped_per_core;
    const double map_time =
        examples::seconds([&] { mapped = parkit::parallel_map(simulate_file_read, files, {.n_jobs = n_files}); });
    std::printf("parallel_map(n_jobs = %d): %.2f seconds (speedup %.1fx)\n", n_files, map_time,
                examples::speedup(sequential_time, map_time));
    check.expect(mapped == expected, "parallel_map results equal the sequential ones");
    const int cores = parkit::available_cores();
    const double map_per_core_time =
        examples::seconds([&] { mapped_per_core = parkit::parallel_map(simulate_file_read, files); });
    std::printf("parallel_map(n_jobs = -1, %d workers): %.2f seconds (speedup %.1fx)\n", cores, map_per_core_time,
                examples::speedup(sequential_time, map_per_core_time));
    check.expect(mapped_per_core == expected, "parallel_map(n_jobs = -1) results equal the sequential ones");

    // n_jobs is a number of waiting slots here, not of cores: ask for as many as there are files.
    constexpr int n_many = 16;
    std::vector<int> many(n_many);
    std::iota(many.begin(), many.end(), 0);
    std::vector<std::string> per_core, per_file;
    const double per_core_time = examples::seconds([&] { per_core = parkit::parallel_map(simulate_file_read, many); });
    const double per_file_time =
        examples::seconds([&] { per_file = parkit::parallel_map(simulate_file_read, many, {.n_jobs = n_many}); });
    std::printf(
        "\n%d files: parallel_map(n_jobs = -1, %d workers): %.2f s; parallel_map(n_jobs = %d): %.2f s (%.1fx faster)\n",
        n_many, cores, per_core_time, n_many, per_file_time, examples::speedup(per_core_time, per_file_time));
    check.expect(per_core == per_file, "16-file results agree");

    // The waits overlapped: far less than the sum of the read times (generous margins for a busy machine).
    check.expect(threaded_time < 0.6 * sequential_time, "threads overlap the waits");
    check.expect(map_time < 0.6 * sequential_time, "parallel_map(n_jobs = 5) overlaps the waits");
    if (cores < n_many / 2) check.expect(per_file_time < 0.6 * per_core_time, "n_jobs = 16 beats one worker per core");

    examples::plot_times(examples::output_dir("io_bound_threads"), "io_bound_threads",
                         "5 simulated file reads of 0.2 s: threads overlap the waits",
                         {"loop", "std::thread x5", "thread_pool(5)", "parallel_map\nn_jobs=5",
                          "parallel_map\nn_jobs=-1\n(" + std::to_string(cores) + " workers)"},
                         {sequential_time, threaded_time, pool_time, map_time, map_per_core_time});
    return check.exit_code();
}
