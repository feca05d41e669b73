// The chapter's error handling in parallel code, and what only processes can survive.
//  1. The chapter's demo: risky_computation(x) throws for x = 5; ten tasks go to a
//     process_pool(4) with submit + as_completed; the failure comes back as
//     parkit::remote_error (type name and message of the worker's exception), the rest succeed.
//  2. A task that throws and two that crash their worker (a segmentation fault and abort())
//     among healthy ones, with parallel_map(..., {.backend = processes, .on_error = collect}):
//     each crash becomes parkit::worker_crashed for that task only, a replacement worker is
//     forked, and every other task completes.
//  3. The thread backend with on_error::collect: exceptions are collected with their index and
//     original type (a crash there would take the whole process down: use processes for code
//     that may crash).
// Writes the per-task outcomes as CSV and a plot.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

// The chapter's computation that might fail (Python's ValueError -> std::invalid_argument).
long risky_computation(long x) {
    if (x == 5) throw std::invalid_argument("Cannot process x=" + std::to_string(x));
    return x * x;
}

// Crashes the calling (worker) process like a bug in native code would.
[[noreturn]] void crash(int signal) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // keep the demo from writing core files
    if (signal == SIGABRT) std::abort();
    std::raise(signal);
    std::_Exit(1);  // not reached: SIGSEGV's default action ends the process
}

// risky_computation, plus a segmentation fault for x = 3 and abort() for x = 7.
long crashing_computation(long x) {
    if (x == 3) crash(SIGSEGV);
    if (x == 7) crash(SIGABRT);
    return risky_computation(x);
}

// Describes one failure: its type and message, and the process backend's details.
std::string describe(const parkit::task_failure& failure) {
    try {
        failure.rethrow();
    } catch (const parkit::remote_error& e) {
        return "remote_error (task " + std::to_string(e.index()) + " threw " + e.type_name() + ": " + e.message() + ")";
    } catch (const parkit::worker_crashed& e) {
        return "worker_crashed (task " + std::to_string(e.index()) + ", signal " + std::to_string(e.signal()) +
               "): " + e.what();
    } catch (...) {
        return failure.type_name() + ": " + failure.message();
    }
}

// Prints a collecting map's outcome per task; records it for the plot (1 = ok, 0 = failed).
template <class Collected>
void print_outcomes(const Collected& out, std::vector<double>& ok_column) {
    std::size_t next_error = 0;
    for (std::size_t i = 0; i < out.results.size(); ++i) {
        if (out.results[i]) {
            std::printf("  x=%zu: %ld\n", i, *out.results[i]);
            ok_column.push_back(1);
        } else {
            std::printf("  x=%zu: %s\n", i, describe(out.errors[next_error++]).c_str());
            ok_column.push_back(0);
        }
    }
    std::printf("Successful: %zu tasks\nFailed: %zu tasks\n", out.succeeded(), out.failed());
}

}  // namespace

int main() {
    examples::checks check;
    std::vector<long> values(10);
    for (long i = 0; i < 10; ++i) values[static_cast<std::size_t>(i)] = i;

    std::printf("1. The chapter's demo: process_pool(4), submit + as_completed\n");
    std::vector<std::pair<long, long>> results;
    std::vector<std::pair<long, std::string>> errors;
    {  // the pool lives for section 1 only
        parkit::process_pool executor(4);
        std::vector<parkit::future<long>> futures;
        for (long v : values) futures.push_back(executor.submit(risky_computation, v));
        for (auto& future : parkit::as_completed(futures)) {
            const long value = values[future.index()];
            try {
                results.emplace_back(value, future.get());
            } catch (const parkit::remote_error& e) {
                errors.emplace_back(value, e.message());  // the chapter's str(e)
            }
        }
        std::printf("Successful: %zu tasks\nFailed: %zu tasks\n", results.size(), errors.size());
        if (!errors.empty()) {
            std::printf("Errors: [");
            for (std::size_t i = 0; i < errors.size(); ++i)
                std::printf("%s(%ld, '%s')", i ? ", " : "", errors[i].first, errors[i].second.c_str());
            std::printf("]\n");
        }
        // The same pool survives a task that kills its worker: the worker is replaced.
        auto segfault = executor.submit(crashing_computation, 3L);
        auto healthy = executor.submit(crashing_computation, 4L);
        try {
            segfault.get();
            check.expect(false, "process_pool: the crashing task reported a crash");
        } catch (const parkit::worker_crashed& e) {
            std::printf("The same pool, a task that segfaults: %s\n", e.what());
        }
        const long after = healthy.get();
        std::printf("...and the pool goes on: 4² = %ld\n", after);
        check.expect(after == 16, "process_pool: a task after a crash succeeds");
    }
    check.expect(results.size() == 9 && errors.size() == 1 && errors[0].first == 5 &&
                     errors[0].second == "Cannot process x=5",
                 "chapter demo: 9 successes, x=5 failed with its message");
    for (const auto& [value, result] : results) check.expect(result == value * value, "chapter demo: x² correct");

    std::printf(
        "\n2. A throwing task and two crashing ones (x=3: SIGSEGV, x=7: abort) among healthy ones,\n"
        "   parallel_map(..., {.backend = processes, .on_error = collect})\n");
    const auto crashed = parkit::parallel_map(crashing_computation, values,
                                              {.n_jobs = 4,
                                               .backend = parkit::backend::processes,
                                               .on_error = parkit::on_error::collect});
    std::vector<double> processes_ok;
    print_outcomes(crashed, processes_ok);
    check.expect(crashed.succeeded() == 7 && crashed.failed() == 3, "processes: 7 successes, 3 failures");
    for (const auto& failure : crashed.errors) {
        const bool is_crash = failure.index == 3 || failure.index == 7;
        try {
            failure.rethrow();
        } catch (const parkit::worker_crashed& e) {
            check.expect(is_crash && e.index() == failure.index,
                         "worker_crashed for task " + std::to_string(e.index()));
            check.expect(e.signal() == (failure.index == 3 ? SIGSEGV : SIGABRT),
                         "crash signal of task " + std::to_string(e.index()));
        } catch (const parkit::remote_error& e) {
            check.expect(failure.index == 5 && e.type_name() == "std::invalid_argument" &&
                             e.message() == "Cannot process x=5",
                         "remote_error for task 5 with the original type and message");
        } catch (...) {
            check.expect(false, "unexpected error type for task " + std::to_string(failure.index));
        }
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (crashed.results[i]) check.expect(*crashed.results[i] == values[i] * values[i], "processes: x² correct");
    }

    std::printf("\n3. Threads: parallel_map(..., {.on_error = collect}) with the chapter's risky_computation\n");
    const auto collected = parkit::parallel_map(risky_computation, values, {.on_error = parkit::on_error::collect});
    std::vector<double> threads_ok;
    print_outcomes(collected, threads_ok);
    check.expect(collected.succeeded() == 9 && collected.failed() == 1 && collected.errors[0].index == 5 &&
                     collected.errors[0].type_name() == "std::invalid_argument",
                 "threads: 9 successes, x=5 failed with std::invalid_argument");
    std::printf(
        "(A segmentation fault on a thread would end the whole program: run code that may crash on "
        "backend::processes.)\n");

    const auto dir = examples::output_dir("error_handling");
    std::vector<double> x(values.begin(), values.end());
    examples::write_csv(dir / "outcomes.csv", {"x", "ok_processes", "ok_threads"}, {x, processes_ok, threads_ok});
    examples::plot(dir / "plot.gp", R"gp(set terminal pngcairo size 800,500 noenhanced
set output 'error_handling.png'
set datafile separator ','
set title "on_error::collect: every task reports a result or its own error\nprocesses: x=3 segfaults, x=5 throws, x=7 aborts; threads: x=5 throws"
set xlabel 'Task x'
set ytics ("threads" 0, "processes" 1)
set xrange [-0.5:9.5]; set yrange [-0.6:1.9]; set xtics 1; set grid x
set key top center horizontal
plot 'outcomes.csv' using ($2 == 1 ? $1 : 1/0):(1) skip 1 with points pt 7 ps 2.5 lc 'dark-green' title 'result', \
     '' using ($2 == 0 ? $1 : 1/0):(1) skip 1 with points pt 2 ps 3 lw 3 lc 'red' title 'error or crash (collected)', \
     '' using ($3 == 1 ? $1 : 1/0):(0) skip 1 with points pt 7 ps 2.5 lc 'dark-green' notitle, \
     '' using ($3 == 0 ? $1 : 1/0):(0) skip 1 with points pt 2 ps 3 lw 3 lc 'red' notitle
)gp");
    return check.exit_code();
}
