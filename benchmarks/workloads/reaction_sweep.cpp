// reaction_sweep: the chapter's solve_reaction(k) (dC/dt = -k C, dopri5, scipy's tolerances)
// for 200 and 20,000 rate constants k in linspace(0.01, 2.0, n), through
// parkit::kernels::reaction_sweep (threads or processes) and the same solve in peer loops.
#include <parkit/kernels/ode_sweep.hpp>

#include <memory>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

namespace pk = parkit::kernels;

workload make_reaction_sweep() {
    return {"reaction_sweep", {200, 20'000}, [](std::size_t n) {
                auto ks = std::make_shared<const std::vector<double>>(pk::linspace(0.01, 2.0, n));
                bench_case c;
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back({name, [=, backend = backend](int workers) -> runner {
                                           return [=] {
                                               keep_all(pk::reaction_sweep(*ks, {.execution = {.n_jobs = workers,
                                                                                               .backend = backend}}));
                                           };
                                       }});
                }
                peers::add_loop_impls(c.impls, n, [ks](std::size_t i) { return pk::solve_reaction((*ks)[i]); });
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(30, make_reaction_sweep);

}  // namespace parkit_bench
