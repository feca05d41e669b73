// A stiff parameter sweep: the Van der Pol oscillator y'' = mu (1 - y²) y' - y for 40 values of
// mu from 1 to 1000, each solved on [0, 3000] with the stiff Rosenbrock 4 method (the Jacobian
// by finite differences), in parallel on threads and on processes, with
//  - t_eval: the solution on a grid of times, for the plot;
//  - events: the upward zero crossings of y, whose spacing is the period (for large mu it
//    approaches (3 - 2 ln 2) mu, the relaxation-oscillation limit);
//  - the cost of each solve (rhs evaluations), against the explicit rk45 for a few mu.
// Every parallel run is checked against the sequential one (bit-identical). Writes CSV files
// and a two-panel plot.
#include <parkit/kernels/ode_sweep.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace pk = parkit::kernels;
using vec = std::vector<double>;

namespace {

/// Van der Pol as a first-order system, y = (y, y').
struct van_der_pol {
    double mu;  ///< the stiffness parameter
    void operator()(const vec& y, vec& dydt, double) const {
        dydt[0] = y[1];
        dydt[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0];
    }
};

/// What the example keeps of each solve.
struct summary {
    vec y;                ///< y(t) on the t_eval grid
    double period = 0;    ///< mean spacing of the upward zero crossings (0 if fewer than 2)
    std::size_t rhs = 0;  ///< rhs evaluations
    bool operator==(const summary&) const = default;
    /// Sent between processes (backend::processes): the fields in a cereal-style member.
    template <class Archive>
    void serialize(Archive& ar) {
        ar(y, period, rhs);
    }
};

/// The mean spacing of the crossing times.
double mean_period(const vec& crossings) {
    if (crossings.size() < 2) return 0.0;
    return (crossings.back() - crossings.front()) / static_cast<double>(crossings.size() - 1);
}

}  // namespace

int main() {
    examples::checks check;
    const double t1 = 3000.0;
    const vec mus = pk::linspace(1.0, 1000.0, 40);
    const vec grid = pk::linspace(0.0, t1, 3001);
    const pk::ode_event upward{.g = [](double, std::span<const double> y) { return y[0]; }, .direction = 1.0};
    const pk::ode_options ode{.method = pk::ode_method::rosenbrock4, .t_eval = grid, .events = {upward}};

    const auto system = [](double mu) { return van_der_pol{mu}; };
    const auto keep = [](const pk::ode_result<vec>& r) {
        summary s;
        for (const vec& y : r.ys) s.y.push_back(y[0]);
        s.period = mean_period(r.t_events[0]);
        s.rhs = r.rhs_evaluations;
        return s;
    };
    std::vector<summary> sequential, threads, processes;
    const double t_seq = examples::seconds([&] {
        sequential = pk::ode_sweep(system, vec{2.0, 0.0}, 0.0, t1, mus,
                                   {.ode = ode, .execution = {.backend = parkit::backend::sequential}}, keep);
    });
    const double t_thr = examples::seconds([&] {
        threads = pk::ode_sweep(system, vec{2.0, 0.0}, 0.0, t1, mus, {.ode = ode, .execution = {.n_jobs = -1}}, keep);
    });
    const double t_proc = examples::seconds([&] {
        processes =
            pk::ode_sweep(system, vec{2.0, 0.0}, 0.0, t1, mus,
                          {.ode = ode, .execution = {.n_jobs = -1, .backend = parkit::backend::processes}}, keep);
    });
    std::printf(
        "40 Van der Pol solves (mu = 1 .. 1000, t in [0, 3000], rosenbrock4):\n"
        "  sequential %.3f s, threads %.3f s, processes %.3f s\n",
        t_seq, t_thr, t_proc);
    check.expect(threads == sequential, "threads: bit-identical to sequential");
    check.expect(processes == sequential, "processes: bit-identical to sequential");

    std::printf("\n%8s %12s %16s %10s\n", "mu", "period", "(3-2ln2) mu", "rhs evals");
    vec periods, limits, rhs;
    for (std::size_t i = 0; i < mus.size(); ++i) {
        periods.push_back(sequential[i].period);
        limits.push_back((3.0 - 2.0 * std::log(2.0)) * mus[i]);
        rhs.push_back(static_cast<double>(sequential[i].rhs));
        if (i % 6 != 0 && i + 1 != mus.size()) continue;
        if (periods[i] > 0)
            std::printf("%8.1f %12.3f %16.3f %10zu\n", mus[i], periods[i], limits[i], sequential[i].rhs);
        else
            std::printf("%8.1f %12s %16.3f %10zu\n", mus[i], "(< 2 cycles)", limits[i], sequential[i].rhs);
    }
    // The relaxation limit: within 10 % of (3 - 2 ln 2) mu at the largest mu with two upward
    // crossings in [0, 3000] (about 920; beyond, the period exceeds half the interval).
    std::size_t last = mus.size() - 1;
    while (last > 0 && periods[last] == 0) --last;
    std::printf("largest mu with a measured period: %.1f\n", mus[last]);
    check.expect(mus[last] > 900 && std::abs(periods[last] / limits[last] - 1.0) < 0.1,
                 "period at the largest such mu near (3 - 2 ln 2) mu");

    // The explicit method's cost grows with mu (its step is held at the stability bound).
    std::printf("\nrhs evaluations, rk45 vs rosenbrock4:\n");
    vec small_mus{1.0, 10.0, 100.0, 1000.0}, rk45_rhs, ros_rhs;
    for (double mu : small_mus) {
        const auto a = pk::integrate_ode(van_der_pol{mu}, vec{2.0, 0.0}, 0.0, t1);
        const auto b =
            pk::integrate_ode(van_der_pol{mu}, vec{2.0, 0.0}, 0.0, t1, {.method = pk::ode_method::rosenbrock4});
        rk45_rhs.push_back(static_cast<double>(a.rhs_evaluations));
        ros_rhs.push_back(static_cast<double>(b.rhs_evaluations));
        std::printf("  mu = %6.0f: rk45 %9zu, rosenbrock4 %6zu\n", mu, a.rhs_evaluations, b.rhs_evaluations);
    }
    check.expect(ros_rhs.back() * 100 < rk45_rhs.back(), "mu = 1000: rosenbrock4 needs < 1% of rk45's evaluations");

    const auto dir = examples::output_dir("stiff_sweep");
    vec y10 = sequential[0].y, y500, y1000 = sequential.back().y;
    std::size_t mid = 0;
    for (std::size_t i = 0; i < mus.size(); ++i)
        if (std::abs(mus[i] - 500.0) < std::abs(mus[mid] - 500.0)) mid = i;
    y500 = sequential[mid].y;
    examples::write_csv(dir / "trajectories.csv",
                        {"t", "y_mu1", "y_mu" + std::to_string(static_cast<int>(mus[mid])), "y_mu1000"},
                        {grid, y10, y500, y1000});
    examples::write_csv(dir / "periods.csv", {"mu", "period", "relaxation_limit", "rhs_evaluations"},
                        {mus, periods, limits, rhs});
    examples::write_csv(dir / "cost.csv", {"mu", "rk45", "rosenbrock4"}, {small_mus, rk45_rhs, ros_rhs});
    const std::string mid_label = std::to_string(static_cast<int>(mus[mid]));
    examples::plot(
        dir / "plot.gp",
        "set terminal pngcairo size 1000,800\nset output 'stiff_sweep.png'\n"
        "set datafile separator ','\nset multiplot layout 2,1\n"
        "set title 'Van der Pol, rosenbrock4: y(t) for three values of mu'\n"
        "set xlabel 't'; set ylabel 'y'; set grid; set key outside right\n"
        "plot 'trajectories.csv' using 1:2 skip 1 with lines lw 1 lc 'gray' title 'mu = 1', \\\n"
        "     '' using 1:3 skip 1 with lines lw 2 lc 'blue' title 'mu = " +
            mid_label +
            "', \\\n"
            "     '' using 1:4 skip 1 with lines lw 2 lc 'red' title 'mu = 1000'\n"
            "set title 'Period (from events) and cost of 40 parallel stiff solves'\n"
            "set xlabel 'mu'; set ylabel 'period'; set y2label 'rhs evaluations'; set y2tics\n"
            "set key inside left top\n"
            "plot 'periods.csv' using 1:($2 > 0 ? $2 : 1/0) skip 1 with linespoints pt 7 lc 'blue' title 'period "
            "(upward zero crossings)', \\\n"
            "     '' using 1:3 skip 1 with lines dt 2 lc 'black' title '(3 - 2 ln 2) mu', \\\n"
            "     '' using 1:4 skip 1 axes x1y2 with linespoints pt 6 lc 'red' title 'rhs evaluations (right axis)'\n"
            "unset multiplot\n");
    return check.exit_code();
}
