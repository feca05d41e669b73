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

/// Runs the last step of a loop implementation: `finish(out, for_each)` when `finish` takes the
/// implementation's own loop (a parallel last step, e.g. a parallel summary, run on the same
/// workers), otherwise `finish(out)`.
template <class Finish, class R, class ForEach>
void run_finish(const Finish& finish, const std::vector<R>& out, const ForEach& for_each) {
    if constexpr (std::is_invocable_v<const Finish&, const std::vector<R>&, const ForEach&>) {
        finish(out, for_each);
    } else {
        finish(out);
    }
}

/// One run of a loop implementation: makes a `std::vector<R>` of n results (as parallel_map
/// does), fills it with `for_each(n, body)` and hands it to `finish`.
template <class R, class F, class Finish, class ForEach>
void run_loop(std::size_t n, const F& f, const Finish& finish, const ForEach& for_each) {
    std::vector<R> out(n);
    for_each(n, [&](std::size_t i) { out[i] = f(i); });
    run_finish(finish, out, for_each);
}

/// Puts `sequential` first in `impls` and appends every peer that is built for `f(i)`, i in
/// [0, n): each run makes a `std::vector<R>` of n results (as parallel_map does), fills it,
/// and hands it to `finish` (work after the loop, e.g. merging blocks; given the
/// implementation's own `for_each(count, body)` too if it takes one, see `run_finish`). `f` is
/// copied into the runners; it must be safe to call concurrently.
template <class F, class Finish = keep_results>
void add_loop_impls(std::vector<implementation>& impls, std::size_t n, F f, Finish finish = {}) {
    using R = std::invoke_result_t<const F&, std::size_t>;
    const auto shared_f = std::make_shared<const F>(std::move(f));
    impls.insert(impls.begin(), {"sequential",
                                 [=](int) -> runner {
                                     return [=] {
                                         const auto loop = [](std::size_t count, const auto& body) {
                                             for (std::size_t i = 0; i < count; ++i) body(i);
                                         };
                                         run_loop<R>(n, *shared_f, finish, loop);
                                     };
                                 },
                                 false});
#if PARKIT_BENCH_HAVE_OPENMP
    for (const auto& [name, schedule] : {std::pair{"openmp_static", omp_schedule::static_blocks},
                                         std::pair{"openmp_dynamic", omp_schedule::dynamic_chunks}}) {
        impls.push_back({name, [=, schedule = schedule](int workers) -> runner {
                             return [=] {
                                 const auto loop = [=](std::size_t count, const auto& body) {
                                     omp_for(count, workers, schedule, body);
                                 };
                                 run_loop<R>(n, *shared_f, finish, loop);
                             };
                         }});
    }
#endif
#if PARKIT_BENCH_HAVE_TBB
    impls.push_back({"tbb", [=](int workers) -> runner {
                         auto arena = std::make_shared<tbb_workers>(workers);
                         return [=] {
                             const auto loop = [&](std::size_t count, const auto& body) {
                                 arena->parallel_for(count, body);
                             };
                             run_loop<R>(n, *shared_f, finish, loop);
                         };
                     }});
#endif
    impls.push_back({"std_async", [=](int workers) -> runner {
                         return [=] {
                             const auto loop = [=](std::size_t count, const auto& body) {
                                 async_for(count, workers, body);
                             };
                             run_loop<R>(n, *shared_f, finish, loop);
                         };
                     }});
}

}  // namespace parkit_bench::peers
