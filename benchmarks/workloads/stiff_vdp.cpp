// stiff_vdp: the Van der Pol oscillator y'' = mu (1 - y²) y' - y with mu = 1000 on [0, 3000]
// from y = (2, 0), scipy's default tolerances, with the stiff rosenbrock4 method: n identical
// solves per run (the time per solve is the figure), through parkit::kernels::ode_sweep on
// threads or processes and in the peer loops. python/chapter_peers.py times scipy's
// solve_ivp(method='LSODA') on the same problem.
#include <parkit/kernels/ode_sweep.hpp>

#include <array>
#include <memory>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

namespace pk = parkit::kernels;
using state = std::array<double, 2>;

/// Van der Pol as a first-order system, y = (y, y').
struct van_der_pol {
    double mu;  ///< the stiffness parameter
    void operator()(const state& y, state& dydt, double) const {
        dydt[0] = y[1];
        dydt[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0];
    }
};

constexpr double stiffness = 1000.0;
constexpr double t_final = 3000.0;
const pk::ode_options stiff_method{.method = pk::ode_method::rosenbrock4};

/// y(t_final) of one solve.
double solve_van_der_pol(double mu) {
    return pk::integrate_ode(van_der_pol{mu}, state{2.0, 0.0}, 0.0, t_final, stiff_method).y[0];
}

workload make_stiff_vdp() {
    return {"stiff_vdp", {8}, [](std::size_t n) {
                auto mus = std::make_shared<const std::vector<double>>(n, stiffness);
                bench_case c;
                c.items = n;
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back(
                        {name, [=, backend = backend](int workers) -> runner {
                             return [=] {
                                 keep_all(pk::ode_sweep([](double mu) { return van_der_pol{mu}; }, state{2.0, 0.0}, 0.0,
                                                        t_final, *mus,
                                                        {.ode = stiff_method,
                                                         .execution = {.n_jobs = workers, .backend = backend}},
                                                        [](const pk::ode_result<state>& r) { return r.y[0]; }));
                             };
                         }});
                }
                peers::add_loop_impls(c.impls, n, [mus](std::size_t i) { return solve_van_der_pol((*mus)[i]); });
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(35, make_stiff_vdp);

}  // namespace parkit_bench
