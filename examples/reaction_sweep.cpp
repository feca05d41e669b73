// The chapter's reaction-kinetics experiments, all of them: the conversion of a first-order
// reaction A -> B after 10 s, solved as an ODE (adaptive Dormand-Prince, scipy's tolerances).
//  - 200 rate constants in a loop and with parkit on threads (multiprocessing.Pool.map),
//    then with 200,000, where the parallel sweep pays;
//  - the same on processes (ProcessPoolExecutor.map);
//  - the chapter's benchmark_parallel: 100 rate constants with n_jobs = 1, 2, 4, -1;
//  - the chapter's chunked run: 400 rate constants in chunks of 50;
//  - the accuracy against the exact 1 - exp(-10 k).
// Every parallel run is checked against the loop. Writes conversion vs k as CSV and a plot.
// flagship_demo.cpp is the short version.
#include <parkit/kernels/ode_sweep.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/reaction_demo.hpp"
#include "common/timing.hpp"

#include <cstdio>
#include <vector>

namespace pk = parkit::kernels;

int main() {
    examples::checks check;
    std::printf("k = 0.5, conversion = %.4f\n", pk::solve_reaction(0.5));

    std::printf("\n200 rate constants, threads (the chapter's Python: 0.115 s sequential, 0.125 s on 4 processes):\n");
    const std::vector<double> ks = pk::linspace(0.01, 2.0, 200);
    std::vector<double> conversions, on_processes, many;
    check.expect(examples::compare_reaction_sweeps(ks, conversions), "200 k, threads: parallel == sequential");

    std::printf("\n200 rate constants, processes (the chapter's ProcessPoolExecutor: 0.117 s):\n");
    check.expect(examples::compare_reaction_sweeps(ks, on_processes, {.backend = parkit::backend::processes}),
                 "200 k, processes: parallel == sequential");

    std::printf("\n200,000 rate constants, threads:\n");
    check.expect(examples::compare_reaction_sweeps(pk::linspace(0.01, 2.0, 200'000), many),
                 "200,000 k, threads: parallel == sequential");

    // The chapter's benchmark_parallel(solve_reaction, linspace(0.1, 2.0, 100), [2, 4, -1]).
    std::printf(
        "\nExecution times (100 rate constants; the chapter's joblib: 0.061 s sequential, 0.608 s on 2 workers):\n");
    const std::vector<double> k_test = pk::linspace(0.1, 2.0, 100);
    std::vector<double> reference;
    const double t1 = examples::seconds(
        [&] {
            reference.clear();
            for (double k : k_test) reference.push_back(pk::solve_reaction(k));
        },
        3);
    std::printf("  sequential: %.6fs (speedup: 1.00x)\n", t1);
    for (int n_jobs : {2, 4, -1}) {
        std::vector<double> out;
        const double t =
            examples::seconds([&] { out = pk::reaction_sweep(k_test, {.execution = {.n_jobs = n_jobs}}); }, 3);
        const int workers = parkit::resolve_n_jobs(n_jobs);
        std::printf("  %d workers%s: %.6fs (speedup: %.2fx)\n", workers, n_jobs < 0 ? " (all)" : "", t,
                    examples::speedup(t1, t));
        check.expect(out == reference, "benchmark_parallel: n_jobs = " + std::to_string(n_jobs) + " == sequential");
    }

    // The chapter's process_chunk: 400 rate constants in chunks of 50.
    const std::vector<double> k_large = pk::linspace(0.1, 2.0, 400);
    std::vector<double> chunked;
    const double t_chunked =
        examples::seconds([&] { chunked = pk::reaction_sweep(k_large, {.execution = {.chunk_size = 50}}); });
    std::printf("\nChunked parallel: %.6fs for %zu tasks (the chapter: 0.145 s)\n", t_chunked, chunked.size());
    std::vector<double> chunked_reference;
    for (double k : k_large) chunked_reference.push_back(pk::solve_reaction(k));
    check.expect(chunked == chunked_reference, "chunks of 50 == sequential");

    const double worst = examples::largest_reaction_error(ks, conversions);
    std::printf("\nLargest error against 1 - exp(-10 k): %.2e (rtol = 1e-3, atol = 1e-6)\n", worst);
    check.expect(worst < 1e-2, "conversions within the solver's tolerance of the exact ones");

    examples::plot_conversion(examples::output_dir("reaction_sweep"), "reaction_sweep", ks, conversions);
    return check.exit_code();
}
