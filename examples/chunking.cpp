// The chapter's lesson "Chunk your work appropriately" (and joblib's batch_size): when tasks
// are tiny, handing them out one at a time costs more than the work. One million tasks of a
// few nanoseconds each: a plain loop; parallel_map with automatic chunking (chunk_size = 0,
// which measures the task time and batches accordingly); with chunk_size = 1 (one dispatch
// per task, what the chapter's un-chunked joblib runs did); and with a hand-picked
// chunk_size = 10,000 (the chapter's process_chunk). Then the same on processes, where each
// dispatch is a message between processes, with 20,000 tasks. Results are checked against
// the loop; times go to a CSV and a bar chart per backend.
#include <parkit/parkit.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <ranges>
#include <string>
#include <vector>

namespace {

// A tiny task (a few nanoseconds): a damped oscillation at x.
double tiny_task(std::size_t i) {
    const double x = static_cast<double>(i) * 1e-3;
    return std::sin(x) * std::exp(-x * 1e-3);
}

std::vector<double> plain_loop(std::size_t n) {
    std::vector<double> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(tiny_task(i));
    return out;
}

struct timed_run {
    std::string label;
    double seconds;
};

// Times parallel_map over 0..n-1 with `opts`, checks it against `expected`, prints one line.
timed_run run(const std::string& label, std::size_t n, const parkit::options& opts, const std::vector<double>& expected,
              double loop_time, examples::checks& check) {
    std::vector<double> results;
    const double t = examples::seconds(
        [&] { results = parkit::parallel_map(tiny_task, std::views::iota(std::size_t{0}, n), opts); });
    std::printf("  %-42s %8.4f s  (%.3gx the loop's speed)\n", label.c_str(), t, examples::speedup(loop_time, t));
    check.expect(results == expected, label + ": results equal the loop's");
    return {label, t};
}

}  // namespace

int main() {
    examples::checks check;
    const int cores = parkit::available_cores();

    constexpr std::size_t n = 1'000'000;
    std::vector<double> expected;
    const double loop_time = examples::seconds([&] { expected = plain_loop(n); }, 3);
    std::printf("%zu tiny tasks (%.1f ns each), %d cores, threads:\n", n, 1e9 * loop_time / n, cores);
    std::printf("  %-42s %8.4f s\n", "plain loop", loop_time);
    std::vector<timed_run> runs{{"loop", loop_time}};
    runs.push_back(run("parallel_map, automatic chunks", n, {}, expected, loop_time, check));
    runs.push_back(run("parallel_map, chunk_size = 10,000", n, {.chunk_size = 10'000}, expected, loop_time, check));
    runs.push_back(run("parallel_map, chunk_size = 1", n, {.chunk_size = 1}, expected, loop_time, check));

    constexpr std::size_t n_proc = 20'000;
    std::vector<double> expected_proc(expected.begin(), expected.begin() + n_proc);
    const double loop_proc_time = examples::seconds([&] { plain_loop(n_proc); }, 3);
    std::printf("\n%zu tiny tasks, processes:\n", n_proc);
    std::printf("  %-42s %8.4f s\n", "plain loop", loop_proc_time);
    const auto processes = parkit::backend::processes;
    const auto auto_proc =
        run("parallel_map, automatic chunks", n_proc, {.backend = processes}, expected_proc, loop_proc_time, check);
    const auto one_proc = run("parallel_map, chunk_size = 1", n_proc, {.backend = processes, .chunk_size = 1},
                              expected_proc, loop_proc_time, check);
    std::printf(
        "\nchunk_size = 1 costs %.0f ns per task on threads and %.1f us per task on processes;\n"
        "automatic chunking keeps the dispatch cost negligible. On processes, starting the workers\n"
        "(a fork each) outweighs microseconds of work: use them for tasks of milliseconds or more.\n",
        1e9 * runs[3].seconds / n, 1e6 * one_proc.seconds / n_proc);
    // Generous, load-tolerant margin: one dispatch per task is clearly slower than chunks.
    check.expect(runs[1].seconds < runs[3].seconds, "automatic chunks beat chunk_size = 1 on threads");
    check.expect(auto_proc.seconds < one_proc.seconds, "automatic chunks beat chunk_size = 1 on processes");

    // Both backends side by side; processes on a log axis (the loop is ~1000x faster than one dispatch per task).
    examples::time_panel threads{"1,000,000 tasks on threads", {"plain loop"}, {loop_time}};
    const char* chunk_labels[] = {"automatic\nchunks", "chunk_size\n= 10,000", "chunk_size\n= 1"};
    for (std::size_t i = 1; i < runs.size(); ++i) {
        threads.labels.emplace_back(chunk_labels[i - 1]);
        threads.seconds.push_back(runs[i].seconds);
    }
    const examples::time_panel procs{"20,000 tasks on processes (log scale)",
                                     {"plain loop", chunk_labels[0], chunk_labels[2]},
                                     {loop_proc_time, auto_proc.seconds, one_proc.seconds},
                                     true};
    char title[96];
    std::snprintf(title, sizeof title, "Tiny tasks (%.0f ns each), %d cores: one dispatch per task vs chunks",
                  1e9 * loop_time / n, cores);
    examples::plot_time_panels(examples::output_dir("chunking"), "chunking", title, {threads, procs});
    return check.exit_code();
}
