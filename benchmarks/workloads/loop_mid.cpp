// loop_mid: loops of ~0.2 ms in all, too short for a slow start to hide: 100,000 tasks of
// ~2 ns (n = 100,000) and 10,000 tasks of ~20 ns (n = 10,000). Measures how soon a map puts
// its second worker to work against a plain loop, OpenMP and oneTBB (issue 13's mid-size
// loops; run with --background-load 2 for a loaded machine).
#include <parkit/parallel_for.hpp>
#include <parkit/parallel_map.hpp>

#include <cstddef>
#include <memory>
#include <numeric>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

/// `steps` dependent multiply-adds (~1 ns each). The empty asm keeps the value in a register
/// of its own at every step, so no compiler turns the loop over the items into vector code
/// (which would make the serial loop 4x faster than any task a user writes).
template <int steps>
double chain(double x) {
    for (int k = 0; k < steps; ++k) {
        x = x * 0.999999 + 0.5;
        asm volatile("" : "+x"(x));
    }
    return x;
}

/// ~2 ns.
constexpr auto short_task = [](double x) { return chain<8>(x); };

/// ~20 ns.
constexpr auto longer_task = [](double x) { return chain<30>(x); };

template <class F>
bench_case make_case(std::size_t n, F task) {
    auto xs = std::make_shared<std::vector<double>>(n);
    std::iota(xs->begin(), xs->end(), 0.5);
    bench_case c;
    c.impls.push_back({"parkit_map", [=](int workers) -> runner {
                           return [=] { keep_all(parkit::parallel_map(task, *xs, {.n_jobs = workers})); };
                       }});
    c.impls.push_back({"parkit_for", [=](int workers) -> runner {
                           auto out = std::make_shared<std::vector<double>>(n);
                           return [=] {
                               parkit::parallel_for(std::size_t{0}, n,
                                                    [&](std::size_t i) { (*out)[i] = task((*xs)[i]); },
                                                    {.n_jobs = workers});
                               keep_all(*out);
                           };
                       }});
    peers::add_loop_impls(c.impls, n, [xs, task](std::size_t i) { return task((*xs)[i]); });
    return c;
}

workload make_loop_mid() {
    return {"loop_mid", {10'000, 100'000}, [](std::size_t n) {
                return n >= 100'000 ? make_case(n, short_task) : make_case(n, longer_task);
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(21, make_loop_mid);

}  // namespace parkit_bench
