// parkit flagship demo: the chapter's reaction-kinetics parameter sweep. The conversion of a
// first-order reaction A -> B after 10 s, dC/dt = -k C solved as an ODE (adaptive
// Dormand-Prince, scipy's tolerances), for 200 and for 200,000 rate constants, once in a loop
// and once with parkit (n_jobs = -1). Prints the times and speed-ups, checks that both give
// identical results, and writes conversion vs k as CSV and a plot. examples/reaction_sweep.cpp
// has the chapter's other variants (processes, n_jobs, chunks).
#include <parkit/kernels/ode_sweep.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/reaction_demo.hpp"

#include <cstdio>
#include <vector>

int main() {
    namespace pk = parkit::kernels;
    examples::checks check;
    std::printf("parkit flagship demo: the chapter's reaction-kinetics parameter sweep\n");
    std::printf("k = 0.5, conversion = %.4f\n", pk::solve_reaction(0.5));

    std::printf("\n200 rate constants (the chapter's Python: 0.115 s sequential, 0.125 s on 4 processes):\n");
    const std::vector<double> ks = pk::linspace(0.01, 2.0, 200);
    std::vector<double> conversions;
    check.expect(examples::compare_reaction_sweeps(ks, conversions), "200 rate constants: parallel == sequential");

    std::printf("\n200,000 rate constants:\n");
    std::vector<double> many;
    check.expect(examples::compare_reaction_sweeps(pk::linspace(0.01, 2.0, 200'000), many),
                 "200,000 rate constants: parallel == sequential");

    const double worst = examples::largest_reaction_error(ks, conversions);
    std::printf("\nLargest error against the exact 1 - exp(-10 k): %.2e (rtol = 1e-3, atol = 1e-6)\n", worst);
    check.expect(worst < 1e-2, "conversions within the solver's tolerance of the exact ones");

    examples::plot_conversion(examples::output_dir("flagship_demo"), "flagship_demo", ks, conversions);
    return check.exit_code();
}
