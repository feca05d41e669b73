// map_tiny: x*x over 10,000 and 10,000,000 doubles, the smallest task there is: measures
// what parallel_map's automatic chunking costs against a plain loop and OpenMP/TBB.
#include <parkit/parallel_map.hpp>

#include <memory>
#include <numeric>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

/// The task, as a lambda (what users pass; a function name would be called through a pointer).
constexpr auto square = [](double x) { return x * x; };

workload make_map_tiny() {
    return {"map_tiny", {10'000, 10'000'000}, [](std::size_t n) {
                auto xs = std::make_shared<std::vector<double>>(n);
                std::iota(xs->begin(), xs->end(), 0.5);
                bench_case c;
                c.impls.push_back({"parkit_threads", [=](int workers) -> runner {
                                       return [=] { keep_all(parkit::parallel_map(square, *xs, {.n_jobs = workers})); };
                                   }});
                c.impls.push_back(
                    {"parkit_processes", [=](int workers) -> runner {
                         return [=] {
                             keep_all(parkit::parallel_map(square, *xs,
                                                           {.n_jobs = workers, .backend = parkit::backend::processes}));
                         };
                     }});
                peers::add_loop_impls(c.impls, n, [xs](std::size_t i) { return square((*xs)[i]); });
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(20, make_map_tiny);

}  // namespace parkit_bench
