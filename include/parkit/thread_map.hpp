#pragma once
/// @file
/// `parkit::threads::parallel_map`: `parallel_map` on threads only, for programs that need
/// nothing else. It is `parkit::parallel_map` (same chunking, progress, error policy, nesting,
/// process-wide pool) without the backends that need POSIX processes, serialization, MPI or the
/// disk cache, so that including this header costs about half of
/// `<parkit/parallel_map.hpp>`'s compile time (docs/architecture.md, "Compile cost"). An option
/// only those backends read (`backend` other than threads or sequential, `task_timeout_s`,
/// `checkpoint`, `mpi`, `max_in_flight`) throws std::invalid_argument naming it.

#include <cstddef>
#include <ranges>
#include <type_traits>
#include <utility>

#include "core/options.hpp"
#include "detail/map/argument_checks.hpp"
#include "detail/map/call_checks.hpp"
#include "detail/map/chunking.hpp"
#include "detail/map/map_engine.hpp"
#include "detail/map/option_checks.hpp"
#include "thread_pool.hpp"

namespace parkit {

namespace detail {

/// Runs a map on `workers` threads (at most one per chunk, see `workers_for_work`): the calling
/// thread alone (one worker), the process-wide pool, or — when more workers are asked for than
/// the process-wide pool has (waiting work, e.g. n_jobs = 32 for downloads) — a pool of that
/// many threads made for the call.
template <class F, class Range, class OnError>
auto run_thread_map(int workers, F& f, Range&& inputs, const basic_options<OnError>& opts) {
    workers = workers_for_work(workers, static_cast<std::size_t>(std::ranges::size(inputs)), opts.chunk_size);
    if (workers == 1) {
        return run_map(static_cast<thread_pool*>(nullptr), 1, f, std::forward<Range>(inputs), opts);
    }
    thread_pool& shared = default_thread_pool();
    if (static_cast<std::size_t>(workers - 1) <= shared.size()) {
        return run_map(&shared, workers, f, std::forward<Range>(inputs), opts);
    }
    thread_pool own(workers - 1);
    return run_map(&own, workers, f, std::forward<Range>(inputs), opts);
}

/// `threads::parallel_map`'s checks and run: threads (or the calling thread alone with
/// `backend::sequential`).
template <class F, class Range, class OnError>
auto run_threads_only_map(F& f, Range&& inputs, const basic_options<OnError>& opts) {
    constexpr const char* call = "parkit::threads::parallel_map";
    require_callable(f, call, "f");
    require_executor_map_options(opts, call, backend::sequential, "it runs tasks on threads only");
    require_no_task_timeout(opts.task_timeout_s, call,
                            "it cannot leave a task behind; use parkit::parallel_map of <parkit/parallel_map.hpp>");
    const int workers = opts.backend == backend::sequential ? 1 : resolve_n_jobs(opts.n_jobs);
    return run_thread_map(workers, f, std::forward<Range>(inputs), opts);
}

}  // namespace detail

/// `parallel_map` for programs that run on threads only (see the file comment).
namespace threads {

/// Applies `f` to every element of `inputs` on threads and returns the results in input order:
/// `parkit::parallel_map` with `backend::threads` (or `sequential`), see there.
/// @throws std::invalid_argument for an option that only other backends read, or a bad `n_jobs`.
template <class F, class Range>
auto parallel_map(F&& f, Range&& inputs, const options& opts = {}) {
    if constexpr (detail::map_arguments_fit<F, Range>())
        return detail::run_threads_only_map(f, std::forward<Range>(inputs), opts);
}

/// `threads::parallel_map` with `on_error::collect`: returns `parkit::collected<R>`.
template <class F, class Range>
auto parallel_map(F&& f, Range&& inputs, const collect_options& opts) {
    if constexpr (detail::map_arguments_fit<F, Range>())
        return detail::run_threads_only_map(f, std::forward<Range>(inputs), opts);
}

/// Chosen only when `f` names an overload set (`std::sqrt`): one line saying to pass a lambda.
template <class Range, class Options = options>
requires std::ranges::range<Range> &&
    (std::same_as<Options, options> || std::same_as<Options, collect_options>)auto parallel_map(
        detail::unresolved_function<std::ranges::range_value_t<Range>> f, Range&& inputs, const Options& opts = {}) {
    return detail::reject_unresolved_function<std::remove_reference_t<Range>, Options>(f, inputs, opts);
}

}  // namespace threads

}  // namespace parkit
