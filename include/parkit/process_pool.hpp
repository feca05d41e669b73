#pragma once
/// @file
/// `parkit::process_pool`: worker processes with the executor interface of `thread_pool`
/// (Python's `ProcessPoolExecutor`). Linux/POSIX only.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/future.hpp"
#include "core/n_jobs.hpp"
#include "core/process_errors.hpp"
#include "core/serialization.hpp"
#include "core/shutdown_options.hpp"
#include "detail/map/argument_checks.hpp"
#include "detail/map/map_engine.hpp"
#include "detail/map/option_checks.hpp"
#include "detail/process/pool_scheduler.hpp"
#include "detail/process/pool_worker.hpp"
#include "detail/process/task_codec.hpp"
#include "detail/progress/progress_reporter.hpp"
#include "detail/support/fork_generation.hpp"

namespace parkit {

namespace detail {
/// Lets the stream engine (detail/frontend/stream_engine.hpp) send addressed batches to a pool.
struct process_pool_access;
}  // namespace detail

/// The settings of a `process_pool`, named at the call as Python's
/// `ProcessPoolExecutor(max_workers=..., initializer=...)`:
/// @code
/// parkit::process_pool pool({.n_jobs = 4, .task_timeout_s = 60, .initializer = load_model});
/// @endcode
/// A struct rather than positional parameters, so that a number reads as what it sets.
struct process_pool_options {
    /// Worker processes, as in joblib: positive = that many, -1 = one per core, -2 = all but
    /// one, ...
    int n_jobs = -1;
    /// Seconds a task may run: past it, its worker is killed (and replaced) and the task fails
    /// with `task_timeout`; 0 = no limit.
    double task_timeout_s = 0.0;
    /// Run once in every worker process when it starts, before any task (a replacement after a
    /// crash runs it too). It may capture anything: the workers are forks of the moment the
    /// pool was made. In tasks, `this_worker::index()` is the worker's slot (0..size-1; a
    /// replacement takes its slot). When it throws, that worker's tasks fail with a
    /// `remote_error` of type `parkit::initializer_error` naming the worker and the exception
    /// (they never hang, and never run without it). Empty (the default): none.
    std::function<void()> initializer = {};
};

/// A pool of worker processes, like Python's `ProcessPoolExecutor`: the interface of
/// `parkit::thread_pool` (submit -> future, ordered map, as_completed, shutdown), with every
/// task isolated in its own address space. A task that crashes its worker (a signal, abort,
/// exit, the OOM killer) fails with `worker_crashed`, an exception comes back as
/// `remote_error`, and a task over the time limit fails with `task_timeout`; the pool
/// replaces the worker and every other task completes.
///
/// Short tasks are pipelined: each worker is sent several at once and runs them in order, so a
/// task costs about 2 µs instead of a round trip (see docs/processes.md, "How tasks travel"). A
/// task sent ahead to a worker counts as started (`shutdown({.cancel_pending = true})` no
/// longer cancels it); when its worker dies before running it, it is requeued, not failed, and
/// when the task ahead of it runs long while another worker is idle, it is taken back and runs
/// there.
///
/// Workers are forked by a single-threaded fork server that the pool forks when it is made
/// (Python's "forkserver"; see detail/process/fork_server.hpp), the first ones and every
/// replacement, so every worker starts from the parent as it was then, and a replacement never
/// inherits a lock another thread of the parent held at the time. A task is therefore a plain
/// function or a lambda without captures plus serialized arguments (see
/// core/serialization.hpp); for capturing lambdas use
/// `parallel_map(f, inputs, {.backend = parkit::backend::processes})`, which forks per call.
///
/// Fork safety: workers run nothing of the parent but the task; parkit's own pools are not
/// usable in them (`parallel_map` there makes a fresh default pool). Make the pool before
/// starting threads of your own that hold locks tasks might need, as with any fork(). The
/// pool's processes are the fork server (a child of this process) and the workers (its
/// children); they all end with the pool, or with this process if it dies.
class process_pool {
public:
    /// Forks the fork server and `n_jobs` workers (as in joblib: -1 = one per core, -2 = all
    /// but one), without a time limit or an initializer; `process_pool(process_pool_options)`
    /// sets those.
    /// @throws std::invalid_argument for a bad n_jobs.
    explicit process_pool(int n_jobs = -1) : process_pool(process_pool_options{.n_jobs = n_jobs}) {}

    /// A pool whose every worker process runs `initializer()` once when it starts, before any
    /// task, as `ProcessPoolExecutor(initializer=...)` (see `process_pool_options::initializer`).
    /// @throws std::invalid_argument for a bad n_jobs.
    process_pool(int n_jobs, std::function<void()> initializer)
        : process_pool(process_pool_options{.n_jobs = n_jobs, .initializer = std::move(initializer)}) {}

    /// Forks the fork server and the workers with the settings named in `opts`:
    /// `parkit::process_pool pool({.n_jobs = 4, .task_timeout_s = 60});`
    /// @throws std::invalid_argument naming `parkit::process_pool` and the field for a bad
    ///         `n_jobs` or a negative (or non-finite) `task_timeout_s`.
    explicit process_pool(process_pool_options opts)
        : scheduler_(resolve_size(opts.n_jobs),
                     (detail::require_valid_timeout(opts.task_timeout_s, "parkit::process_pool: task_timeout_s"),
                      opts.task_timeout_s),
                     std::move(opts.initializer)) {}

    process_pool(const process_pool&) = delete;
    process_pool& operator=(const process_pool&) = delete;

    /// Waits for queued and running tasks, then stops and reaps the workers. When the pool is
    /// destroyed by an exception unwinding the stack, it cancels queued tasks and kills running
    /// ones instead of waiting. No zombie or orphan process is left either way.
    ~process_pool() {
        if (generation_ != detail::fork_generation())
            return;  // a copy in a forked child: the scheduler abandons itself
        if (std::uncaught_exceptions() > uncaught_at_start_) {
            scheduler_.abort();
        } else {
            scheduler_.shutdown();
        }
    }

    /// Number of worker processes.
    [[nodiscard]] std::size_t size() const noexcept { return scheduler_.size(); }

    /// Runs `f(args...)` in a worker process and returns its future. `f` must be a plain
    /// function or a lambda without captures; arguments and result must be serializable.
    /// @throws executor_closed after `shutdown()`.
    template <class F, class... Args>
    auto submit(F f, Args&&... args) {
        static_assert(detail::transferable_callable_v<F>,
                      "parkit::process_pool::submit: the task must be a plain function or a lambda "
                      "without captures (it runs in another process, which cannot receive a closure); "
                      "pass data as arguments, or use parallel_map(f, inputs, {.backend = "
                      "parkit::backend::processes}), which accepts any callable");
        using R = std::remove_cvref_t<std::invoke_result_t<F&, std::decay_t<Args>...>>;
        static_assert((is_serializable_v<std::decay_t<Args>> && ...),
                      "parkit::process_pool::submit: every argument must be serializable: make its type "
                      "trivially copyable or give it a member `template <class Archive> void "
                      "serialize(Archive& ar) { ar(field1, field2, ...); }` (see parkit/core/serialization.hpp)");
        static_assert(std::is_void_v<R> || is_serializable_v<R>,
                      "parkit::process_pool::submit: the result type must be serializable: make it "
                      "trivially copyable or give it a member `template <class Archive> void "
                      "serialize(Archive& ar) { ar(field1, field2, ...); }` (see parkit/core/serialization.hpp)");
        static_assert(std::is_void_v<R> || std::is_default_constructible_v<R>,
                      "parkit::process_pool::submit: the result type must be default-constructible");
        detail::require_callable(f, "parkit::process_pool::submit", "f");
        check_usable("submit");
        return scheduler_.enqueue<R>(&detail::run_transferred_task<F, R, std::decay_t<Args>...>,
                                     &detail::complete_from_reply<R>, 1, "submit", [&](output_archive& out) {
                                         if constexpr (std::is_pointer_v<F>) out.write_bytes(&f, sizeof f);
                                         out(static_cast<const std::decay_t<Args>&>(args)...);
                                     });
    }

    /// Runs `f` on every element of `inputs` in worker processes; results in input order.
    /// Inputs travel in batches of `opts.chunk_size` (0 = automatic: a few batches per worker,
    /// or one input per task when the pool has a time limit), so 10,000 tiny tasks cost a few
    /// dozen messages, not 10,000. Each input still succeeds or fails alone: an exception fails
    /// only its input, and when a worker dies in a batch, that batch's inputs are retried one per
    /// task, so only the input that crashes again fails (`worker_crashed`). With
    /// `on_error::raise` (the default) the first failure by index is rethrown as `task_error`
    /// after the rest are cancelled; with `collect_options` every result and every failure come
    /// back in a `collected<R>`. `opts.progress` / `on_progress` work as in `parallel_map`. The
    /// pool's workers run every map, so the fields that choose workers or limits elsewhere
    /// are refused rather than ignored: `n_jobs` must stay -1 (the pool's size is set when it is
    /// made), `backend` threads or processes, `task_timeout_s` 0 (the time limit is the
    /// pool's), and `mpi`, `max_in_flight`, `checkpoint` at their defaults.
    /// @throws std::invalid_argument naming the field, for any of those set otherwise.
    template <class F, class Range>
    auto map(F f, const Range& inputs, const options& opts = {}) {
        return map_batched(f, inputs, opts);
    }

    /// `map` that collects every result and every failure instead of stopping at the first.
    template <class F, class Range>
    auto map(F f, const Range& inputs, const collect_options& opts) {
        return map_batched(f, inputs, opts);
    }

    /// Stops accepting tasks: `pool.shutdown({.wait = false, .cancel_pending = true})`. With
    /// `how.cancel_pending`, queued tasks that have not started are cancelled (those already
    /// sent ahead to a worker count as started and run). With `how.wait` (the default), returns
    /// once every started task finished and the workers are reaped; otherwise the pool
    /// finishes in the background (the destructor still waits).
    void shutdown(const shutdown_options& how = {}) { scheduler_.shutdown(how); }

private:
    // `resolve_n_jobs`, its refusal naming this class.
    static std::size_t resolve_size(int n_jobs) {
        try {
            return static_cast<std::size_t>(resolve_n_jobs(n_jobs));
        } catch (const std::invalid_argument& e) {
            std::string why = e.what();
            const std::string generic = "parkit: ";
            if (why.starts_with(generic)) why.erase(0, generic.size());
            throw std::invalid_argument("parkit::process_pool: " + why);
        }
    }

    // imap's batches (detail/frontend/stream_engine.hpp)
    friend struct detail::process_pool_access;
    // One batch of `map`: inputs [begin, end) in one task message.
    template <class F, class In, class Input>
    future<std::vector<std::byte>> submit_batch(F f, const Input& input, std::size_t begin, std::size_t end) {
        using R = std::remove_cvref_t<std::invoke_result_t<F&, const In&>>;
        return scheduler_.enqueue<std::vector<std::byte>>(&detail::run_transferred_batch<F, R, In>,
                                                          &detail::complete_with_bytes, end - begin, "map",
                                                          [&](output_archive& out) {
                                                              if constexpr (std::is_pointer_v<F>)
                                                                  out.write_bytes(&f, sizeof f);
                                                              out(static_cast<std::uint64_t>(end - begin));
                                                              for (std::size_t i = begin; i < end; ++i)
                                                                  out(static_cast<const In&>(input[i]));
                                                          });
    }

    template <class F, class Range, class OnError>
    auto map_batched(F f, const Range& inputs, const basic_options<OnError>& opts) {
        constexpr bool collect = std::is_same_v<OnError, on_error::collect_t>;
        using In = std::remove_cvref_t<std::ranges::range_reference_t<const Range>>;
        using R = std::remove_cvref_t<std::invoke_result_t<F&, const In&>>;
        static_assert(detail::transferable_callable_v<F>,
                      "parkit::process_pool::map: the task must be a plain function or a lambda without "
                      "captures (it runs in another process, which cannot receive a closure); use "
                      "parallel_map(f, inputs, {.backend = parkit::backend::processes}) for any callable");
        static_assert(is_serializable_v<In> && std::is_default_constructible_v<In>,
                      "parkit::process_pool::map: the input type must be serializable and "
                      "default-constructible (see parkit/core/serialization.hpp)");
        static_assert(std::is_void_v<R> || (is_serializable_v<R> && std::is_default_constructible_v<R>),
                      "parkit::process_pool::map: the result type must be serializable and "
                      "default-constructible (see parkit/core/serialization.hpp)");
        if (opts.n_jobs != -1)
            throw std::invalid_argument("parkit::process_pool::map: options.n_jobs = " + std::to_string(opts.n_jobs) +
                                        " cannot apply: every map runs on all the pool's worker processes; choose "
                                        "their number when making the pool (parkit::process_pool pool(n)), or use "
                                        "parkit::parallel_map(f, inputs, {.n_jobs = n, .backend = "
                                        "parkit::backend::processes})");
        detail::require_no_task_timeout(opts.task_timeout_s, "parkit::process_pool::map",
                                        "the time limit is the pool's: parkit::process_pool "
                                        "pool({.n_jobs = ..., .task_timeout_s = ...})");
        detail::require_callable(f, "parkit::process_pool::map", "f");
        detail::require_executor_map_options(opts, "parkit::process_pool::map", parkit::backend::processes,
                                             "the pool runs tasks on its worker processes");
        check_usable("map");
        const detail::indexed_input<const Range> input(inputs);
        const std::size_t n = input.size();
        const std::size_t chunk = opts.chunk_size > 0               ? opts.chunk_size
                                  : scheduler_.task_timeout_s() > 0 ? 1
                                                                    : detail::guided_chunk_length(n, size(), 1, 4096);
        detail::result_store<R, collect> results(n);
        std::vector<task_failure> failures;
        detail::progress_reporter progress(opts.progress, opts.on_progress, n, static_cast<int>(size()), "processes");

        /// Inputs [begin, end) sent as one task, and its reply.
        struct batch {
            std::size_t begin, end;
            future<std::vector<std::byte>> reply;
        };
        std::deque<batch> batches;
        for (std::size_t b = 0; b < n; b += chunk) {
            const std::size_t e = std::min(n, b + chunk);
            batches.push_back(batch{b, e, submit_batch<F, In>(f, input, b, e)});
        }
        auto cancel_rest = [&] {
            for (auto& b : batches) b.reply.cancel();
            for (auto& b : batches) b.reply.wait();
        };
        try {
            while (!batches.empty() && (collect || failures.empty())) {
                batch b = std::move(batches.front());
                batches.pop_front();
                std::vector<std::byte> reply;
                try {
                    reply = b.reply.get();
                } catch (...) {
                    const std::exception_ptr error = std::current_exception();
                    if (b.end - b.begin == 1) {
                        failures.push_back(task_failure{b.begin, detail::with_task_index(error, b.begin)});
                        progress.advance(1);
                    } else {
                        // A worker died (or overran) somewhere in the batch: retry each input alone.
                        for (std::size_t i = b.end; i-- > b.begin;)
                            batches.push_front(batch{i, i + 1, submit_batch<F, In>(f, input, i, i + 1)});
                    }
                    continue;
                }
                detail::decode_outcomes<R>(
                    reply, b.begin, b.end,
                    [&](std::size_t i, auto&& value) {
                        if constexpr (!std::is_void_v<R>) results.put(i, std::move(value));
                    },
                    [&](std::size_t i, std::exception_ptr error) {
                        failures.push_back(task_failure{i, std::move(error)});
                    });
                progress.advance(b.end - b.begin);
            }
        } catch (...) {
            cancel_rest();
            throw;
        }
        cancel_rest();
        progress.finish();
        return detail::finish_map<R, collect>(n, results, std::move(failures));
    }

    void check_usable(const char* call) const {
        if (generation_ != detail::fork_generation())
            throw std::logic_error(std::string("parkit::process_pool::") + call +
                                   ": a process_pool cannot be used in a forked child of the process "
                                   "that made it");
    }

    const unsigned generation_ = detail::fork_generation();
    const int uncaught_at_start_ = std::uncaught_exceptions();
    detail::pool_scheduler scheduler_;
};

}  // namespace parkit
