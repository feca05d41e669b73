#pragma once
/// @file
/// `parallel_map` with `task_timeout_s` on threads (and sequentially): a thread cannot be
/// killed, so the semantics are concurrent.futures': when a task has run longer than the limit
/// the call throws `timeout_error` naming how many tasks were still pending, and the running
/// tasks finish in the background, their results dropped. To make that safe the call owns what
/// the tasks touch: a copy of `f` and of the inputs, shared with detached worker threads.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/options.hpp"
#include "../progress/progress_reporter.hpp"
#include "map_engine.hpp"

namespace parkit::detail {

/// What the caller of a timed map and its worker threads share (kept alive by the threads
/// after the caller gave up on them).
template <class Fn, class In, class R, bool Collect>
struct timed_map_state {
    using clock = std::chrono::steady_clock;

    timed_map_state(Fn fn, std::vector<In> xs, std::size_t workers)
        : f(std::move(fn)), inputs(std::move(xs)), results(inputs.size()), running_since(workers) {}

    Fn f;
    std::vector<In> inputs;
    result_store<R, Collect> results;
    failure_log failures;
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::optional<clock::time_point>> running_since;  // per worker: its task's start
    std::size_t next = 0;                                         // next input to start (guarded by mutex)
    std::size_t done = 0;                                         // tasks finished
    std::size_t alive = 0;                                        // worker threads not yet left
    bool abandoned = false;                                       // the caller timed out: start nothing more
    bool stopped = false;                                         // raise: a task failed, start nothing more

    /// Worker thread `w`: runs inputs until none is left or the call stopped.
    static void work(const std::shared_ptr<timed_map_state>& self, std::size_t w) {
        std::unique_lock lock(self->mutex);
        while (!self->abandoned && !self->stopped && self->next < self->inputs.size()) {
            const std::size_t i = self->next++;
            self->running_since[w] = clock::now();
            lock.unlock();
            bool failed = false;
            try {
                if constexpr (std::is_void_v<R>) {
                    std::invoke(self->f, std::as_const(self->inputs[i]));
                } else {
                    self->results.put(i, std::invoke(self->f, std::as_const(self->inputs[i])));
                }
            } catch (...) {
                self->failures.add(i, std::current_exception());
                failed = true;
            }
            lock.lock();
            self->running_since[w].reset();
            ++self->done;
            if (failed && !Collect) self->stopped = true;
            self->changed.notify_all();
        }
        --self->alive;
        self->changed.notify_all();
    }

    /// The earliest time a running task passes the limit (nullopt: none runs); mutex held.
    std::optional<clock::time_point> first_deadline(clock::duration limit) const {
        std::optional<clock::time_point> first;
        for (const auto& since : running_since)
            if (since && (!first || *since + limit < *first)) first = *since + limit;
        return first;
    }
};

/// Whether a timed map can keep its own copies of `F` and of the elements of `Range`.
template <class F, class Range>
inline constexpr bool timed_map_supported_v = std::is_copy_constructible_v<std::decay_t<F>>&&
    std::is_copy_constructible_v<std::remove_cvref_t<std::ranges::range_reference_t<Range>>>;

/// Why a timed map refused a move-only function or move-only inputs.
inline constexpr const char* timed_map_unsupported_message =
    "parkit::parallel_map: options.task_timeout_s on threads or sequential needs a copyable function and "
    "copyable inputs (the call keeps copies: a task that overruns finishes in the background)";

/// Runs `f` over `inputs` on `workers` detached threads with a per-task time limit of
/// `opts.task_timeout_s` seconds; results, errors and progress as `run_map`.
/// @throws timeout_error when a task runs over the limit (the rest is cancelled).
template <class F, class Range, class OnError>
auto run_timed_thread_map(int workers, F& f, Range&& inputs, const basic_options<OnError>& opts, const char* backend) {
    constexpr bool collect = std::is_same_v<OnError, on_error::collect_t>;
    using In = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using R = map_result_t<F, std::remove_reference_t<Range>>;
    using Fn = std::decay_t<F>;
    using state = timed_map_state<Fn, In, R, collect>;
    static_assert(timed_map_supported_v<F, Range>);
    {
        std::vector<In> copies;
        if constexpr (std::ranges::sized_range<Range>)
            copies.reserve(static_cast<std::size_t>(std::ranges::size(inputs)));
        for (auto&& x : inputs) copies.emplace_back(x);
        const std::size_t n = copies.size();
        const std::size_t threads =
            std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(workers), n));
        auto shared = std::make_shared<state>(f, std::move(copies), threads);
        progress_reporter progress(opts.progress, opts.on_progress, n, static_cast<int>(threads), backend);
        const auto limit = std::chrono::duration_cast<typename state::clock::duration>(
            std::chrono::duration<double>(opts.task_timeout_s));
        {
            std::lock_guard lock(shared->mutex);
            shared->alive = n == 0 ? 0 : threads;
        }
        for (std::size_t w = 0; n > 0 && w < threads; ++w) {
            try {
                std::thread([shared, w] { state::work(shared, w); }).detach();
            } catch (...) {
                std::lock_guard lock(shared->mutex);
                shared->alive -= threads - w;  // the threads started so far do the work
                if (w == 0) throw;
                break;
            }
        }
        std::size_t reported = 0;
        std::unique_lock lock(shared->mutex);
        for (;;) {
            if (shared->done > reported) {
                const std::size_t now_done = shared->done;
                lock.unlock();
                progress.advance(now_done - reported);
                reported = now_done;
                lock.lock();
            }
            if (shared->alive == 0) break;
            if (shared->stopped) {  // raise: the failure is thrown now; running tasks end in the background
                shared->abandoned = true;
                break;
            }
            const auto deadline = shared->first_deadline(limit);
            if (deadline && state::clock::now() >= *deadline) {
                shared->abandoned = true;
                const std::size_t pending = n - shared->done;
                throw timeout_error("parkit::parallel_map (options.task_timeout_s)", opts.task_timeout_s, pending, n);
            }
            if (deadline) {
                shared->changed.wait_until(lock, *deadline);
            } else {
                shared->changed.wait(lock);
            }
        }
        lock.unlock();
        progress.finish();
        return finish_map<R, collect>(n, shared->results, shared->failures.sorted());
    }
}

}  // namespace parkit::detail
