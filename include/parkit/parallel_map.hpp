#pragma once
/// @file
/// `parkit::parallel_map`: apply a function to every element of a range in parallel, results in
/// input order, like joblib's `Parallel(n_jobs)(delayed(f)(x) for x in xs)`.

#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/options.hpp"
#include "detail/distributed/distributed_map.hpp"
#include "detail/frontend/checkpointed_map.hpp"
#include "detail/map/argument_checks.hpp"
#include "detail/map/call_checks.hpp"
#include "detail/map/map_engine.hpp"
#include "detail/map/option_checks.hpp"
#include "detail/map/timed_map.hpp"
#include "detail/process/process_map.hpp"
#include "thread_map.hpp"
#include "thread_pool.hpp"

namespace parkit {

namespace detail {

/// Picks where a `parallel_map` call runs and runs it: the calling thread alone
/// (`backend::sequential`), threads (`run_thread_map`), worker processes forked for the call
/// (`backend::processes`), or the engine registered by `parkit/mpi.hpp` (`backend::mpi`).
/// `options.checkpoint` must be empty (see `dispatch_map`).
template <class F, class Range, class OnError>
auto dispatch_backend(F& f, Range&& inputs, const basic_options<OnError>& opts) {
    require_callable(f, "parkit::parallel_map", "f");
    require_valid_timeout(opts.task_timeout_s, "parkit::parallel_map: options.task_timeout_s");
    require_no_in_flight_window(opts.max_in_flight, "parkit::parallel_map");
    require_no_mpi_settings(opts.mpi, opts.backend, "parkit::parallel_map");
    const int workers = workers_for_work(resolve_n_jobs(opts.n_jobs),
                                         static_cast<std::size_t>(std::ranges::size(inputs)), opts.chunk_size);
    switch (opts.backend) {
        case backend::sequential:
            if (opts.task_timeout_s > 0) {
                if constexpr (timed_map_supported_v<F, Range>)
                    return run_timed_thread_map(1, f, std::forward<Range>(inputs), opts, "sequential");
                else
                    throw std::invalid_argument(timed_map_unsupported_message);
            }
            return run_map(static_cast<thread_pool*>(nullptr), 1, f, std::forward<Range>(inputs), opts);
        case backend::threads:
            if (opts.task_timeout_s > 0) {
                if constexpr (timed_map_supported_v<F, Range>)
                    return run_timed_thread_map(workers, f, std::forward<Range>(inputs), opts, "threads");
                else
                    throw std::invalid_argument(timed_map_unsupported_message);
            }
            break;
        case backend::processes:
            if constexpr (process_map_result_v<map_result_t<F, std::remove_reference_t<Range>>>) {
                return run_process_map(workers, f, std::forward<Range>(inputs), opts);
            } else {
                throw std::invalid_argument(
                    "parkit::parallel_map: options.backend = processes needs a serializable, "
                    "default-constructible result type, and " +
                    demangle(typeid(map_result_t<F, std::remove_reference_t<Range>>).name()) +
                    " is not: make it trivially copyable or give it a member `template <class Archive> "
                    "void serialize(Archive& ar) { ar(field1, field2, ...); }` (see "
                    "parkit/core/serialization.hpp)");
            }
        case backend::mpi:
            if (opts.task_timeout_s > 0)
                throw std::invalid_argument(
                    "parkit::parallel_map: options.task_timeout_s is not honoured by backend::mpi (a rank "
                    "cannot stop a task); use it with threads, sequential or processes");
            if constexpr (process_map_result_v<map_result_t<F, std::remove_reference_t<Range>>>) {
                return run_distributed_map(f, std::forward<Range>(inputs), opts);
            } else {
                throw std::invalid_argument(
                    "parkit::parallel_map: options.backend = mpi needs a serializable, "
                    "default-constructible result type (see parkit/core/serialization.hpp)");
            }
        default:
            throw std::invalid_argument("parkit::parallel_map: options.backend has an unknown value");
    }
    return run_thread_map(workers, f, std::forward<Range>(inputs), opts);
}

/// Runs a `parallel_map` call: through the checkpoint's cache when `options.checkpoint` is set
/// (the cached function then runs on the chosen backend), else straight on the backend.
template <class F, class Range, class OnError>
auto dispatch_map(F& f, Range&& inputs, const basic_options<OnError>& opts) {
    if (opts.checkpoint) {
        using R = map_result_t<F, std::remove_reference_t<Range>>;
        using input_t = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
        require_callable(f, "parkit::parallel_map", "f");
        if constexpr (checkpointable_v<R, input_t>) {
            return run_checkpointed(f, opts, "parkit::parallel_map", [&](auto& through_cache, const auto& inner) {
                return dispatch_backend(through_cache, std::forward<Range>(inputs), inner);
            });
        } else {
            throw not_checkpointable("parkit::parallel_map");
        }
    }
    return dispatch_backend(f, std::forward<Range>(inputs), opts);
}

}  // namespace detail

/// Applies `f` to every element of `inputs` (any sized range: vector, span, `std::views::iota`,
/// list, ...) in parallel and returns the results in input order as `std::vector<R>` (nothing
/// for a `void` function).
///
/// - `n_jobs`: -1 = all cores (default), -2 = all but one, k = k workers; never more workers
///   are started than there are chunks of work, nor more than 1024 (`detail::max_map_workers`).
/// - `chunk_size`: 0 = automatic: chunks adapt to the measured task time, so millions of
///   nanosecond tasks run about as fast as a plain loop and millisecond tasks spread evenly.
/// - `progress` / `on_progress`: joblib-style report on stderr and/or a callback.
/// - `backend`: threads (default), sequential, processes (forked workers), or mpi (the ranks
///   of an MPI job; needs `#include <parkit/mpi.hpp>`, see docs/distributed.md).
/// - `task_timeout_s` > 0: a task running longer fails the call. On processes its worker is
///   killed (`task_timeout` for that task); on threads and sequentially the call throws
///   `parkit::timeout_error` naming the pending tasks, and since a thread cannot be stopped the
///   running tasks finish in the background with their results dropped (concurrent.futures'
///   semantics; the call keeps its own copies of `f` and the inputs for them).
/// - `checkpoint`: a `parkit::memory` disk cache that keeps each finished result, so that
///   running the call again (after a crash, a killed job, a lost MPI rank) recomputes only the
///   tasks that had not finished; see `parkit::checkpoint_store`.
/// - Errors: the first failing task (lowest index seen) stops the call and is thrown as
///   `parkit::task_error` (index + the task's exception nested); with
///   `.on_error = parkit::on_error::collect` every task runs and a `parkit::collected<R>` with
///   all results and all errors is returned instead (next overload).
///
/// `f` is called concurrently from several threads, so it must be safe to call that way.
/// Calling `parallel_map` from inside a task (nesting) is fine: the caller takes part in the work.
/// @throws std::invalid_argument for an invalid `n_jobs`.
template <class F, class Range>
auto parallel_map(F&& f, Range&& inputs, const options& opts = {}) {
    if constexpr (detail::map_arguments_fit<F, Range>())
        return detail::dispatch_map(f, std::forward<Range>(inputs), opts);
}

/// `parallel_map` with `on_error::collect`: returns `parkit::collected<R>` (every result as an
/// optional, every failure with its index), like the chapter's "Successful: 9 / Failed: 1".
template <class F, class Range>
auto parallel_map(F&& f, Range&& inputs, const collect_options& opts) {
    if constexpr (detail::map_arguments_fit<F, Range>())
        return detail::dispatch_map(f, std::forward<Range>(inputs), opts);
}

/// Chosen only when `f` names an overload set or a function template (`parallel_map(std::sqrt,
/// xs)`), which no other overload can take: stops the build with one line saying to pass a
/// lambda instead (with `options` or `collect_options`).
template <class Range, class Options = options>
requires std::ranges::range<Range> &&
    (std::same_as<Options, options> || std::same_as<Options, collect_options>)auto parallel_map(
        detail::unresolved_function<std::ranges::range_value_t<Range>> f, Range&& inputs, const Options& opts = {}) {
    return detail::reject_unresolved_function<std::remove_reference_t<Range>, Options>(f, inputs, opts);
}

/// `parallel_map` over a braced list: `parallel_map(f, {1, 2, 3})`.
template <class F, class T>
requires std::invocable<F&, const T&>
auto parallel_map(F&& f, std::initializer_list<T> inputs, const options& opts = {}) {
    return detail::dispatch_map(f, inputs, opts);
}

/// `parallel_map` over a braced list with `on_error::collect`.
template <class F, class T>
requires std::invocable<F&, const T&>
auto parallel_map(F&& f, std::initializer_list<T> inputs, const collect_options& opts) {
    return detail::dispatch_map(f, inputs, opts);
}

/// `parallel_map` on a given pool (its workers, not the process-wide ones): `pool.map(f, inputs,
/// opts)`. `n_jobs` counts from the pool's size (-1 = the whole pool).
template <class F, class Range>
requires std::ranges::sized_range<Range> && std::invocable<F&, std::ranges::range_reference_t<Range>>
auto parallel_map(thread_pool& pool, F&& f, Range&& inputs, const options& opts = {}) {
    return pool.map(f, std::forward<Range>(inputs), opts);
}

/// `parallel_map` on a given pool with `on_error::collect`.
template <class F, class Range>
requires std::ranges::sized_range<Range> && std::invocable<F&, std::ranges::range_reference_t<Range>>
auto parallel_map(thread_pool& pool, F&& f, Range&& inputs, const collect_options& opts) {
    return pool.map(f, std::forward<Range>(inputs), opts);
}

}  // namespace parkit
