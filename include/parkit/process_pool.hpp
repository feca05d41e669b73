#pragma once
/// @file
/// `parkit::process_pool`: worker processes with the executor interface of `thread_pool`
/// (Python's `ProcessPoolExecutor`). Linux/POSIX only.

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <tuple>
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
#include "detail/process/fork_server.hpp"
#include "detail/process/pool_worker.hpp"
#include "detail/process/process_io.hpp"
#include "detail/process/task_codec.hpp"
#include "detail/progress/progress_reporter.hpp"
#include "detail/support/fork_generation.hpp"
#include "detail/task/shared_state.hpp"

namespace parkit {

namespace detail {

/// The parent side: completes a future from a worker's reply, one task outcome in
/// task_codec.hpp's format (whether the task ran, `result`, or its message could not be run,
/// `exception`).
template <class R>
void complete_from_reply(state_base* state, message_kind /*kind*/, std::span<const std::byte> payload) {
    auto* typed = static_cast<shared_state<R>*>(state);
    try {
        input_archive archive{payload};
        decode_task<R>(
            archive, [&](auto&&... value) { typed->set_value(std::move(value)...); },
            [&](std::string type, std::string message) {
                typed->set_exception(make_error_ptr<remote_error>(state->index(), std::move(type), std::move(message)));
            });
    } catch (...) {
        typed->set_exception(std::current_exception());
    }
}

/// Lets the stream engine (detail/frontend/stream_engine.hpp) send addressed batches to a pool.
struct process_pool_access;

/// The parent side of a batch: the future's value is the raw reply, decoded by `map`.
inline void complete_with_bytes(state_base* state, message_kind kind, std::span<const std::byte> payload) {
    auto* typed = static_cast<shared_state<std::vector<std::byte>>*>(state);
    if (kind == message_kind::exception) {
        complete_from_reply<std::vector<std::byte>>(state, kind, payload);
    } else {
        typed->set_value(std::vector<std::byte>(payload.begin(), payload.end()));
    }
}

/// Most tasks one `process_pool` worker has in flight: the one running plus those sent ahead.
inline constexpr std::size_t max_pipeline_depth = 64;

/// Estimated run time (µs) of the tasks a `process_pool` worker may have waiting behind its
/// running one: bounds how unevenly a burst of tasks can end up spread over the workers.
inline constexpr double pipeline_budget_us = 1000.0;

/// How long (µs) a `process_pool` worker's running task may run, at least, before the tasks
/// sent ahead behind it are taken back for idle workers (ten times the average task, and never
/// under this).
inline constexpr double pipeline_withdraw_after_us = 20'000.0;

/// Payload bytes a `process_pool` worker may have in flight before more are sent ahead to it:
/// far below the socket buffer, so sending to a busy worker never blocks the pool's manager.
inline constexpr std::size_t max_pipeline_bytes = std::size_t{64} << 10;

/// How many tasks a worker may have in flight when tasks run `task_us` on average (< 0: not
/// known yet, so one at a time): one running, plus what fits in `pipeline_budget_us`.
inline std::size_t pipeline_depth(double task_us) noexcept {
    if (task_us < 0) return 1;
    const double ahead = pipeline_budget_us / std::max(task_us, 1.0);
    return 1 + static_cast<std::size_t>(std::min(ahead, static_cast<double>(max_pipeline_depth - 1)));
}

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
        : size_(resolve_size(opts.n_jobs)),
          timeout_s_((detail::require_valid_timeout(opts.task_timeout_s, "parkit::process_pool: task_timeout_s"),
                      opts.task_timeout_s)),
          claims_(size_),
          initializer_(std::move(opts.initializer)),
          setup_{claims_.data(), &initializer_},
          server_(detail::process_worker_main, size_, &setup_) {
        if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::system_error(errno, std::generic_category(), "parkit::process_pool: pipe");
        for (int fd : wake_) detail::register_parent_fd(fd);  // workers must not keep it open
        try {
            slots_.resize(size_);
            fresh_.resize(size_);
            for (std::size_t i = 0; i < size_; ++i) respawn(i);
            manager_ = std::thread([this] { manage(); });
        } catch (...) {
            for (auto& s : slots_) server_.kill(s.process);
            close_wake();
            throw;
        }
    }

    process_pool(const process_pool&) = delete;
    process_pool& operator=(const process_pool&) = delete;

    /// Waits for queued and running tasks, then stops and reaps the workers. When the pool is
    /// destroyed by an exception unwinding the stack, it cancels queued tasks and kills running
    /// ones instead of waiting. No zombie or orphan process is left either way.
    ~process_pool() {
        if (generation_ != detail::fork_generation()) {
            // A copy in a forked child (which exits normally, say): the manager thread, the
            // workers and the fork server are the parent's, and the fork handler has closed the
            // descriptors already. Abandon the copy: nothing here may be joined or closed.
            std::construct_at(&manager_);
            return;
        }
        if (std::uncaught_exceptions() > uncaught_at_start_) {
            abort_running_.store(true);
            shutdown({.cancel_pending = true});
        } else {
            shutdown();
        }
        close_wake();
    }

    /// Number of worker processes.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

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
        return enqueue<R>(&detail::run_transferred_task<F, R, std::decay_t<Args>...>, &detail::complete_from_reply<R>,
                          1, "submit", [&](output_archive& out) {
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
    void shutdown(const shutdown_options& how = {}) {
        std::deque<queued_task> cancelled;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            if (how.cancel_pending) cancelled.swap(queue_);
        }
        for (auto& t : cancelled) cancel_queued(t);
        wake();
        if (how.wait) {
            std::lock_guard lock(join_mutex_);
            if (manager_.joinable()) manager_.join();
        }
    }

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
    using complete_fn = void (*)(detail::state_base*, detail::message_kind, std::span<const std::byte>);
    /// A task waiting in the queue or in flight to a worker.
    struct queued_task {
        std::size_t id = 0;
        std::size_t weight = 1;  // inputs in the message: the time limit scales with it
        bool started = false;    // marked running already (sent to a worker that died before running it)
        detail::state_ptr<detail::state_base> state;
        complete_fn complete = nullptr;
        std::vector<std::byte> payload;
    };
    /// One worker process and what the manager knows of it.
    struct worker_slot {
        detail::worker_process process;
        detail::message_reader inbox;                    // the worker's replies, read in batches
        std::deque<queued_task> in_flight;               // sent, not answered, in the worker's order: front() runs
        std::size_t in_flight_bytes = 0;                 // payload bytes still held in in_flight
        std::chrono::steady_clock::time_point started;   // when front() started
        std::chrono::steady_clock::time_point deadline;  // of front(), from when it started
        std::uint64_t answered = 0;                      // replies completed from this worker process
        bool withdrawn = false;                          // its unstarted tasks were taken back: retire it when idle
    };
    using clock = std::chrono::steady_clock;

    // Queues one task message (trampoline, then what `write_args` writes) of `weight` inputs
    // and returns the future of its `R`.
    template <class R, class WriteArgs>
    future<R> enqueue(detail::process_trampoline run, complete_fn complete, std::size_t weight, const char* call,
                      WriteArgs&& write_args) {
        queued_task task;
        task.id = next_index_.fetch_add(1, std::memory_order_relaxed);
        task.weight = weight;
        auto* state = new detail::shared_state<R>(task.id);
        detail::state_ptr<detail::shared_state<R>> result(state);
        state->add_ref();
        task.state = detail::state_ptr<detail::state_base>(state);
        task.complete = complete;
        output_archive out(task.payload);
        out.write_bytes(&run, sizeof run);
        write_args(out);
        if (task.payload.size() > detail::max_message_bytes)
            throw std::length_error(std::string("parkit::process_pool::") + call + ": the task's arguments take " +
                                    std::to_string(task.payload.size()) + " bytes, over the limit of " +
                                    std::to_string(detail::max_message_bytes) +
                                    " between processes (PARKIT_MAX_MESSAGE_BYTES)");
        bool must_wake = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) throw closed_error(call);
            queue_.push_back(std::move(task));
            must_wake = std::exchange(wake_on_submit_, false);
        }
        if (must_wake) wake();
        return detail::make_future(std::move(result));
    }

    // One batch of `map`: inputs [begin, end) in one task message.
    template <class F, class In, class Input>
    future<std::vector<std::byte>> submit_batch(F f, const Input& input, std::size_t begin, std::size_t end) {
        using R = std::remove_cvref_t<std::invoke_result_t<F&, const In&>>;
        return enqueue<std::vector<std::byte>>(&detail::run_transferred_batch<F, R, In>, &detail::complete_with_bytes,
                                               end - begin, "map", [&](output_archive& out) {
                                                   if constexpr (std::is_pointer_v<F>) out.write_bytes(&f, sizeof f);
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
        detail::require_executor_map_options(opts, "parkit::process_pool::map", parkit::backend::processes);
        check_usable("map");
        const detail::indexed_input<const Range> input(inputs);
        const std::size_t n = input.size();
        const std::size_t chunk = opts.chunk_size > 0 ? opts.chunk_size
                                  : timeout_s_ > 0    ? 1
                                                      : detail::guided_chunk_length(n, size_, 1, 4096);
        detail::result_store<R, collect> results(n);
        std::vector<task_failure> failures;
        detail::progress_reporter progress(opts.progress, opts.on_progress, n, static_cast<int>(size_), "processes");

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

    static executor_closed closed_error(const char* call) {
        return executor_closed(std::string("parkit::process_pool::") + call +
                               ": the pool was shut down and accepts no new tasks");
    }

    void wake() noexcept {
        const char byte = 1;
        [[maybe_unused]] const ssize_t n = ::write(wake_[1], &byte, 1);  // full pipe: already awake
    }

    void close_wake() noexcept {
        for (int& fd : wake_) detail::close_parent_fd(fd);
    }

    // Forks a (replacement) worker into slot i, its claim counter reset (the previous worker
    // of the slot has been reaped).
    void respawn(std::size_t i) {
        worker_slot& slot = slots_[i];
        claims_[i].store(0, std::memory_order_release);
        slot.answered = 0;
        slot.withdrawn = false;
        slot.process = server_.spawn();
    }

    // Forks a replacement into slot i; if fork fails (resource limits), the pool goes on with
    // fewer workers.
    void respawn_or_shrink(std::size_t i) noexcept {
        try {
            respawn(i);
        } catch (...) {
        }
    }

    bool stopping() const noexcept { return abort_running_.load(); }

    // Ends a task taken from the queue: `task_cancelled` (one taken out once already is marked
    // running, so try_cancel would not end it).
    static void cancel_queued(queued_task& task) {
        if (task.started) {
            task.state->set_exception(detail::make_error_ptr<task_cancelled>(task.id));
        } else {
            task.state->try_cancel();
        }
    }

    // When a task of `weight` inputs that starts at `start` runs out of time.
    clock::time_point deadline_for(std::size_t weight, clock::time_point start) const {
        if (timeout_s_ <= 0) return clock::time_point::max();
        const double limit = std::min(timeout_s_ * static_cast<double>(weight), detail::max_task_timeout_s);
        return start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(limit));
    }

    // The front task of slot's pipeline, already sent, starts running as far as the parent can
    // tell: its time limit starts, and its payload no longer counts against the pipeline's
    // byte budget (it is kept: a withdrawn pipeline may send it to another worker).
    void start_front(worker_slot& slot) {
        queued_task& task = slot.in_flight.front();
        slot.in_flight_bytes -= task.payload.size();  // kept: withdraw_stuck_pipelines may send it elsewhere
        slot.started = clock::now();
        slot.deadline = deadline_for(task.weight, slot.started);
    }

    // Fails the running task of slot i with `error` and puts the tasks sent behind it back at
    // the head of the queue (they never started; when the pool is stopping they are cancelled
    // instead). Replaces the worker unless stopping.
    void fail_running(std::size_t i, std::exception_ptr error, bool kill) {
        worker_slot& slot = slots_[i];
        if (kill) server_.kill(slot.process);
        slot.in_flight.front().state->set_exception(std::move(error));
        slot.in_flight.pop_front();
        if (stopping()) {
            for (auto& task : slot.in_flight) cancel_queued(task);
            slot.in_flight.clear();
        }
        requeue_pipeline(slot);
        slot.inbox = detail::message_reader{};
        if (!stopping()) respawn_or_shrink(i);
    }

    // Moves every task of slot's pipeline back to the head of the queue, in order.
    void requeue_pipeline(worker_slot& slot) {
        {
            std::lock_guard lock(mutex_);
            for (; !slot.in_flight.empty(); slot.in_flight.pop_back())
                queue_.push_front(std::move(slot.in_flight.back()));
        }
        slot.in_flight_bytes = 0;
    }

    // Whether more tasks may be sent ahead to busy worker i: it has fewer than `depth` in flight,
    // `task` fits in the byte budget, and its running task has not run past the time budget
    // already (a long task: what is sent behind it would wait for it). A front assigned in this
    // round (fresh_) has not started yet.
    bool may_send_ahead(std::size_t i, const queued_task& task, std::size_t depth, clock::time_point now) const {
        const worker_slot& slot = slots_[i];
        const bool front_started = fresh_[i] < slot.in_flight.size();
        return slot.in_flight.size() < depth &&
               slot.in_flight_bytes + task.payload.size() <= detail::max_pipeline_bytes &&
               (!front_started ||
                now - slot.started <= std::chrono::duration<double, std::micro>(detail::pipeline_budget_us));
    }

    // The live worker with room for `task` and the fewest tasks in flight (the lowest index on a
    // tie); slots_.size() when none has room. An idle worker always has room.
    std::size_t pick_worker(const queued_task& task, clock::time_point now) const {
        const std::size_t depth = detail::pipeline_depth(task_us_);
        std::size_t best = slots_.size();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const worker_slot& slot = slots_[i];
            if (slot.process.fd < 0 || slot.withdrawn ||
                (!slot.in_flight.empty() && !may_send_ahead(i, task, depth, now)))
                continue;
            if (best == slots_.size() || slot.in_flight.size() < slots_[best].in_flight.size()) best = i;
        }
        return best;
    }

    // Moves queued tasks into the pipelines of workers with room, least loaded first, counting
    // in fresh_ how many each got; drops tasks cancelled meanwhile. When the queue runs dry, the
    // next submit must wake the manager; while workers are full, their replies will.
    void assign_queued() {
        std::fill(fresh_.begin(), fresh_.end(), 0);
        const auto now = clock::now();
        std::lock_guard lock(mutex_);
        while (!queue_.empty()) {
            queued_task& task = queue_.front();
            const std::size_t i = pick_worker(task, now);
            if (i == slots_.size()) break;
            if (task.started || task.state->try_start()) {
                task.started = true;
                slots_[i].in_flight_bytes += task.payload.size();
                slots_[i].in_flight.push_back(std::move(task));
                ++fresh_[i];
            }
            queue_.pop_front();
        }
        wake_on_submit_ = queue_.empty();
    }

    // Sends slot i the last `count` tasks of its pipeline in one write.
    void send_fresh(std::size_t i, std::size_t count) {
        worker_slot& slot = slots_[i];
        const bool was_idle = slot.in_flight.size() == count;
        for (auto it = slot.in_flight.end() - static_cast<std::ptrdiff_t>(count); it != slot.in_flight.end(); ++it)
            batch_.add(detail::message_kind::task, it->id, it->payload, static_cast<std::uint32_t>(i));
        const std::size_t first = batch_.first_message_bytes(), all = batch_.bytes();
        const std::size_t sent = batch_.send(slot.process.fd);
        if (sent == all) {
            if (was_idle) start_front(slot);
            return;
        }
        // The worker is gone. If it was idle and not even the first task reached it whole, it
        // died before starting any: they all go back to the queue. Otherwise the replies it
        // sent before dying tell which task it was running.
        if (was_idle && sent < first) requeue_pipeline(slot);
        wake();  // another dispatch round after the replacement is up
        read_replies(i, read_mode::to_end);
    }

    // Takes back the tasks sent ahead to workers whose running task has run long while another
    // worker is idle and nothing is queued for it: they go back to the head of the queue, for
    // the idle workers. The worker's claim counter is closed first (see claim_task), so it
    // skips what it had not started; it is replaced once its started tasks are answered.
    void withdraw_stuck_pipelines(clock::time_point now) {
        const auto idle = [](const worker_slot& s) { return s.process.fd >= 0 && s.in_flight.empty(); };
        {
            std::lock_guard lock(mutex_);
            if (!queue_.empty()) return;
        }
        std::size_t idle_workers = static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), idle));
        for (std::size_t i = 0; i < slots_.size() && idle_workers > 0; ++i) {
            worker_slot& slot = slots_[i];
            if (slot.process.fd < 0 || slot.withdrawn || slot.in_flight.size() < 2 || now < withdraw_time(slot))
                continue;
            std::uint64_t claimed = claims_[i].load(std::memory_order_acquire);
            while (!claims_[i].compare_exchange_weak(claimed, claimed | detail::claims_closed,
                                                     std::memory_order_acq_rel)) {
            }
            slot.withdrawn = true;
            // Tasks the worker started (claimed) and has not answered stay; the rest never run there.
            const std::size_t keep =
                static_cast<std::size_t>(std::min<std::uint64_t>(claimed - slot.answered, slot.in_flight.size()));
            std::lock_guard lock(mutex_);
            while (slot.in_flight.size() > std::max<std::size_t>(keep, 1)) {
                slot.in_flight_bytes -= slot.in_flight.back().payload.size();
                queue_.push_front(std::move(slot.in_flight.back()));
                slot.in_flight.pop_back();
            }
            if (keep == 0) {  // the front had not started there after all (its bytes are counted out already)
                queue_.push_front(std::move(slot.in_flight.front()));
                slot.in_flight.pop_front();
                slot.in_flight_bytes = 0;
            }
            idle_workers -= std::min(idle_workers, queue_.size());
        }
    }

    // When the tasks sent ahead behind slot's running task may be taken back (withdraw_stuck_pipelines).
    clock::time_point withdraw_time(const worker_slot& slot) const {
        const double after_us = std::max(detail::pipeline_withdraw_after_us, 10 * task_us_);
        return slot.started +
               std::chrono::duration_cast<clock::duration>(std::chrono::duration<double, std::micro>(after_us));
    }

    // Replaces a worker whose pipeline was withdrawn once it has answered every task it started.
    void retire_withdrawn() {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            worker_slot& slot = slots_[i];
            if (!slot.withdrawn || !slot.in_flight.empty() || slot.process.fd < 0) continue;
            server_.stop(slot.process);
            slot.inbox = detail::message_reader{};
            if (!stopping()) respawn_or_shrink(i);
        }
    }

    // Hands queued tasks to workers with room (the manager thread only): several per worker
    // when tasks are short (see pipeline_depth), each worker's share in one write.
    void dispatch() {
        withdraw_stuck_pipelines(clock::now());
        assign_queued();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (fresh_[i] > 0) send_fresh(i, fresh_[i]);
        }
    }

    // Folds a worker's measured run time of one task into the pool's estimate.
    void learn_task_time(std::uint32_t elapsed_us) noexcept {
        const double sample = elapsed_us;
        task_us_ = task_us_ < 0 ? sample : task_us_ + (sample - task_us_) / 4;
    }

    // Completes the running task of slot with a reply; the next one in its pipeline starts.
    void complete_front(worker_slot& slot, const detail::message_header& header, std::span<const std::byte> payload) {
        queued_task& task = slot.in_flight.front();
        task.complete(task.state.get(), header.kind, payload);
        learn_task_time(header.elapsed_us);
        ++slot.answered;
        slot.in_flight.pop_front();
        if (!slot.in_flight.empty()) start_front(slot);
    }

    /// How read_replies reads: what one recv brings without waiting (poll saw data), what the
    /// socket holds now and then the worker is taken as dead (its pidfd said it ended: the
    /// replies it sent first still count, but a process it forked may hold the socket open, so
    /// no end of stream is waited for), or everything up to the end of the stream.
    enum class read_mode { available, then_dead, to_end };

    // Reads what worker i sent and completes the tasks it answered (see read_mode). A worker
    // that is gone, answered out of order or sent a malformed message ends; so does one whose
    // reply could not be taken in (no memory for it).
    void read_replies(std::size_t i, read_mode mode) {
        worker_slot& slot = slots_[i];
        bool open = true, in_order = true, more = true;
        std::string problem;
        try {
            while (more) {
                const std::size_t before = slot.inbox.buffered();
                open = slot.inbox.fill(slot.process.fd, mode != read_mode::to_end);
                const bool got = slot.inbox.buffered() != before;
                detail::message_header header{};
                std::span<const std::byte> payload;
                while (in_order && slot.inbox.next(header, payload)) {
                    in_order = !slot.in_flight.empty() && header.id == slot.in_flight.front().id;
                    if (in_order) complete_front(slot, header, payload);
                }
                more = open && in_order && !slot.inbox.bad() &&
                       (mode == read_mode::to_end || (mode == read_mode::then_dead && got));
            }
        } catch (const std::exception& e) {
            problem = std::string("a reply that could not be received (") + e.what() + ")";
        }
        if (!in_order) problem = "a reply to a task it was not running";
        if (slot.inbox.bad()) problem = slot.inbox.problem();
        if (!open || !problem.empty() || mode == read_mode::then_dead) worker_died(i, problem);
    }

    // Worker i is gone, or is ended here for `protocol_error` (what it sent that cannot be
    // trusted): its running task fails with worker_crashed, the tasks behind it go back to the
    // queue, and it is replaced.
    void worker_died(std::size_t i, const std::string& protocol_error = {}) {
        worker_slot& slot = slots_[i];
        detail::close_parent_fd(slot.process.fd);
        detail::close_parent_fd(slot.process.watch);
        const int status = server_.reap(slot.process.pid, true);  // one that sent garbage may live
        slot.process = detail::worker_process{};
        if (slot.in_flight.empty()) {  // died while idle (killed from outside): nothing to fail, replace it
            slot.inbox = detail::message_reader{};
            if (!stopping()) respawn_or_shrink(i);
            return;
        }
        const std::size_t id = slot.in_flight.front().id;
        // Moved into the future's state, not copied: a copy left here would be released after
        // the waiter has read the error, which ThreadSanitizer cannot order (libstdc++'s
        // exception_ptr count is not instrumented).
        auto error = detail::worker_death_error(id, status, protocol_error);
        fail_running(i, std::move(error), false);
    }

    bool idle_and_drained() {
        std::lock_guard lock(mutex_);
        if (!closed_) return false;
        if (!queue_.empty() && !stopping()) {
            // Queued work remains: only drained once every live worker is gone.
            return std::none_of(slots_.begin(), slots_.end(), [](const worker_slot& s) { return s.process.fd >= 0; });
        }
        return std::none_of(slots_.begin(), slots_.end(), [](const worker_slot& s) { return !s.in_flight.empty(); });
    }

    /// What one entry of the poll set watches: the socket or the pidfd of slot's worker `pid`.
    struct poll_owner {
        std::size_t slot;
        pid_t pid;
        bool watch;
    };

    // The poll set: the wake pipe, then every live worker's socket and pidfd (idle ones too:
    // deaths); returns the poll timeout (ms, -1 = none) until the earliest deadline of a running
    // task, the moment a pipeline may be withdrawn (see withdraw_stuck_pipelines), or the next
    // look at a worker without a pidfd.
    int prepare_poll(std::vector<pollfd>& fds, std::vector<poll_owner>& owners) const {
        fds.assign(1, pollfd{wake_[0], POLLIN, 0});
        owners.assign(1, poll_owner{slots_.size(), -1, false});
        auto next = clock::time_point::max();
        const bool any_idle = std::any_of(slots_.begin(), slots_.end(), [](const worker_slot& s) {
            return s.process.fd >= 0 && s.in_flight.empty();
        });
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const worker_slot& slot = slots_[i];
            if (slot.process.fd < 0) continue;
            fds.push_back(pollfd{slot.process.fd, POLLIN, 0});
            owners.push_back(poll_owner{i, slot.process.pid, false});
            if (slot.process.watch >= 0) {
                fds.push_back(pollfd{slot.process.watch, POLLIN, 0});
                owners.push_back(poll_owner{i, slot.process.pid, true});
            }
            if (slot.in_flight.empty()) continue;
            next = std::min(next, slot.deadline);
            if (any_idle && !slot.withdrawn && slot.in_flight.size() > 1) next = std::min(next, withdraw_time(slot));
            if (slot.process.watch < 0) next = std::min(next, clock::now() + std::chrono::milliseconds(100));
        }
        if (next == clock::time_point::max()) return -1;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - clock::now());
        return static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000));
    }

    // Workers without a pidfd that have ended (the fallback of a kernel without pidfd_open).
    void check_unwatched_workers() {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const worker_slot& slot = slots_[i];
            if (slot.process.fd >= 0 && slot.process.watch < 0 && !slot.in_flight.empty() &&
                detail::process_has_ended(slot.process.pid))
                read_replies(i, read_mode::then_dead);
        }
    }

    void manage() {
        std::vector<pollfd> fds;
        std::vector<poll_owner> owners;
        for (;;) {
            if (stopping()) {
                for (std::size_t i = 0; i < slots_.size(); ++i) {
                    if (!slots_[i].in_flight.empty())
                        fail_running(i, detail::make_error_ptr<task_cancelled>(slots_[i].in_flight.front().id), true);
                }
            }
            dispatch();
            if (idle_and_drained()) break;
            const int timeout_ms = prepare_poll(fds, owners);
            if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
            if (fds[0].revents) {
                char drain[256];
                while (::read(wake_[0], drain, sizeof drain) > 0) {
                }
            }
            for (std::size_t k = 1; k < fds.size(); ++k) {
                const poll_owner& owner = owners[k];
                if (!fds[k].revents || slots_[owner.slot].process.pid != owner.pid) continue;  // replaced meanwhile
                read_replies(owner.slot, owner.watch ? read_mode::then_dead : read_mode::available);
            }
            check_unwatched_workers();
            retire_withdrawn();
            const auto now = clock::now();
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (!slots_[i].in_flight.empty() && now >= slots_[i].deadline)
                    fail_running(i, detail::make_error_ptr<task_timeout>(slots_[i].in_flight.front().id, timeout_s_),
                                 true);
            }
        }
        for (auto& slot : slots_) server_.stop(slot.process);
        // Tasks still queued when every worker is gone (fork failed repeatedly) are cancelled.
        std::lock_guard lock(mutex_);
        for (auto& t : queue_) cancel_queued(t);
        queue_.clear();
    }

    const unsigned generation_ = detail::fork_generation();
    const int uncaught_at_start_ = std::uncaught_exceptions();
    const std::size_t size_;
    const double timeout_s_;
    detail::shared_array<std::atomic<std::uint64_t>> claims_;  // per slot: tasks its worker started (see claim_task)
    std::function<void()> initializer_;   // run by each worker before its first task (may be empty)
    detail::process_worker_setup setup_;  // what the workers inherit: claims_, initializer_
    detail::fork_server server_;          // forks the workers (constructor, then manager thread)
    int wake_[2] = {-1, -1};
    std::vector<worker_slot> slots_;  // the manager thread's (and the constructor's) only
    std::vector<std::size_t> fresh_;  // manager: tasks assigned to each worker, not yet sent
    detail::message_batch batch_;     // manager: the messages of one send
    double task_us_ = -1.0;           // manager: estimated run time of a task (µs), < 0 = none yet
    std::thread manager_;
    std::mutex mutex_;  // guards queue_ and closed_
    std::deque<queued_task> queue_;
    bool closed_ = false;
    bool wake_on_submit_ = true;  // the manager waits for a submit (guarded by mutex_)
    std::atomic<bool> abort_running_{false};
    std::atomic<std::size_t> next_index_{0};
    std::mutex join_mutex_;
};

}  // namespace parkit
