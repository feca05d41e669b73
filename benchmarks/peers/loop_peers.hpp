#pragma once
/// @file
/// The implementations every "map f over n items" workload shares: the sequential loop and
/// the peers (openmp static/dynamic, tbb, std_async) each fill a fresh result vector.
/// A workload adds its parkit implementations (which call parkit's API or kernel) itself.

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "../harness/workload.hpp"
#include "openmp.hpp"
#include "std_async.hpp"
#include "tbb.hpp"

namespace parkit_bench::peers {

/// The default last step of a loop implementation: keep the results alive to the optimizer.
struct keep_results {
    /// Keeps `out`.
    template <class R>
    void operator()(const std::vector<R>& out) const {
        keep_all(out);
    }
};

/// Puts `sequential` first in `impls` and appends every peer that is built for `f(i)`, i in
/// [0, n): each run makes a `std::vector<R>` of n results (as parallel_map does), fills it,
/// and hands it to `finish` (sequential work after the loop, e.g. merging blocks). `f` is
/// copied into the runners; it must be safe to call concurrently.
template <class F, class Finish = keep_results>
void add_loop_impls(std::vector<implementation>& impls, std::size_t n, F f, Finish finish = {}) {
    using R = std::invoke_result_t<const F&, std::size_t>;
    const auto shared_f = std::make_shared<const F>(std::move(f));
    impls.insert(impls.begin(), {"sequential",
                                 [=](int) -> runner {
                                     return [=] {
                                         std::vector<R> out(n);
                                         for (std::size_t i = 0; i < n; ++i) out[i] = (*shared_f)(i);
                                         finish(out);
                                     };
                                 },
                                 false});
#if PARKIT_BENCH_HAVE_OPENMP
    for (const auto& [name, schedule] : {std::pair{"openmp_static", omp_schedule::static_blocks},
                                         std::pair{"openmp_dynamic", omp_schedule::dynamic_chunks}}) {
        impls.push_back({name, [=, schedule = schedule](int workers) -> runner {
                             return [=] {
                                 std::vector<R> out(n);
                                 omp_for(n, workers, schedule, [&](std::size_t i) { out[i] = (*shared_f)(i); });
                                 finish(out);
                             };
                         }});
    }
#endif
#if PARKIT_BENCH_HAVE_TBB
    impls.push_back({"tbb", [=](int workers) -> runner {
                         auto arena = std::make_shared<tbb_workers>(workers);
                         return [=] {
                             std::vector<R> out(n);
                             arena->parallel_for(n, [&](std::size_t i) { out[i] = (*shared_f)(i); });
                             finish(out);
                         };
                     }});
#endif
    impls.push_back({"std_async", [=](int workers) -> runner {
                         return [=] {
                             std::vector<R> out(n);
                             async_for(n, workers, [&](std::size_t i) { out[i] = (*shared_f)(i); });
                             finish(out);
                         };
                     }});
}

}  // namespace parkit_bench::peers
