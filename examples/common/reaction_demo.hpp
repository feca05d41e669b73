#pragma once
// Shared by flagship_demo and reaction_sweep: the chapter's reaction-kinetics sweep timed in a
// loop and with parkit, and its conversion-vs-k plot.
#include <parkit/kernels/ode_sweep.hpp>

#include "example_output.hpp"
#include "timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace examples {

/// Solves the reaction for every k in a loop and with parkit::kernels::reaction_sweep
/// (`execution`: n_jobs = -1 on threads by default), best of 3 each; prints the chapter's
/// lines (times, speed-up) and whether both agree bit for bit. `parallel` gets the
/// conversions. Returns true when the results are identical.
inline bool compare_reaction_sweeps(const std::vector<double>& ks, std::vector<double>& parallel,
                                    const parkit::options& execution = {}) {
    namespace pk = parkit::kernels;
    std::vector<double> sequential;
    const double t_seq = seconds(
        [&] {
            sequential.clear();
            for (double k : ks) sequential.push_back(pk::solve_reaction(k));
        },
        3);
    const double t_par = seconds([&] { parallel = pk::reaction_sweep(ks, {.execution = execution}); }, 3);
    std::printf("Sequential: %.6f seconds\n", t_seq);
    std::printf("Parallel (%d cores): %.6f seconds\n", parkit::resolve_n_jobs(execution.n_jobs), t_par);
    std::printf("Speedup: %.2fx\n", speedup(t_seq, t_par));
    const bool same = parallel == sequential;
    std::printf("Parallel results identical to sequential: %s\n", same ? "yes" : "NO");
    return same;
}

/// Largest |conversion - (1 - exp(-10 k))| over the sweep (the exact solution at t = 10 s).
inline double largest_reaction_error(const std::vector<double>& ks, const std::vector<double>& conversions) {
    double worst = 0;
    for (std::size_t i = 0; i < ks.size(); ++i)
        worst = std::max(worst, std::abs(conversions[i] - (1.0 - std::exp(-10.0 * ks[i]))));
    return worst;
}

/// Writes conversion.csv (k, conversion, exact) and <name>.png, the chapter's
/// "Conversion vs Rate Constant" plot, into `dir`.
inline void plot_conversion(const std::filesystem::path& dir, const std::string& name, const std::vector<double>& ks,
                            const std::vector<double>& conversions) {
    std::vector<double> exact;
    for (double k : ks) exact.push_back(1.0 - std::exp(-10.0 * k));
    write_csv(dir / "conversion.csv", {"k", "conversion", "exact"}, {ks, conversions, exact});
    plot(dir / "plot.gp",
         "set terminal pngcairo size 800,500\nset output '" + name + ".png'\n" + R"(set datafile separator ','
set title 'First-order Reaction: Conversion vs Rate Constant'
set xlabel 'Rate constant k (1/s)'; set ylabel 'Conversion X'
set grid; set yrange [0:1.05]; set key bottom right
plot 'conversion.csv' using 1:2 skip 1 with lines lw 2 lc 'blue' title 'ODE solve (t = 10 s)', \
     '' using 1:3 skip 1 with lines dt 2 lc 'black' title '1 - exp(-10 k)'
)");
}

}  // namespace examples
