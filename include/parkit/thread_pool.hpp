#pragma once
/// @file
/// `parkit::thread_pool`: a fixed set of worker threads with per-worker queues and stealing.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/future.hpp"
#include "core/n_jobs.hpp"
#include "core/options.hpp"
#include "core/shutdown_options.hpp"
#include "detail/map/argument_checks.hpp"
#include "detail/map/map_engine.hpp"
#include "detail/map/option_checks.hpp"
#include "detail/support/cpu_placement.hpp"
#include "detail/support/fork_generation.hpp"
#include "detail/task/detached_task.hpp"
#include "detail/task/shared_state.hpp"
#include "detail/task/worker_context.hpp"
#include "detail/threads/work_deque.hpp"
#include "detail/threads/work_queue.hpp"

namespace parkit {

/// Scheduling class of a task submitted with `thread_pool::submit(priority, f, args...)`:
/// an idle worker takes any `high` task before `normal` ones, and `low` ones only when no other
/// task is queued (a steady stream of higher ones can delay them indefinitely). Within a class,
/// tasks start in about submission order.
enum class priority : unsigned char { low, normal, high };

/// A pool of worker threads, like Python's `ThreadPoolExecutor`: `submit` returns a
/// `parkit::future`, `map` runs a function over a range in input order (chunked), and
/// `shutdown` stops it. Threads suit waiting work (I/O) and, in C++, CPU work too.
///
/// Work stealing as in oneTBB and Taskflow: each worker has a FIFO queue for tasks submitted
/// from outside and a deque for the tasks its own tasks submit, which it runs newest first
/// (as a recursion unwinds) while idle workers steal the oldest from the top; then they spin
/// briefly and sleep (an idle pool uses no CPU). A task that waits on a future runs that
/// future's task itself if it is still queued, and otherwise helps at once with other queued
/// tasks (its own newest first, nested at most `detail::max_help_depth` deep on the worker's
/// stack), so fine-grained fork-join through `submit` + `get`, nested submission and nested
/// `parallel_map` neither deadlock nor overflow the stack. The destructor waits for every
/// queued task.
///
/// Pool control as BS::thread_pool has it: `wait()` for everything submitted so far,
/// `pause()` / `resume()`, task priorities, and `queued()` / `running()` counters.
class thread_pool {
public:
    /// Starts the workers. `n_jobs` as in joblib: positive = that many threads (more than the
    /// cores is fine for waiting work), -1 = one per core, -2 = all cores but one, ...
    /// @throws std::invalid_argument for n_jobs == 0 or below -available_cores().
    explicit thread_pool(int n_jobs = -1) : thread_pool(n_jobs, std::function<void()>{}, nullptr) {}

    /// Starts the workers and runs `initializer()` once in each of them before its first task,
    /// like `ThreadPoolExecutor(initializer=...)` (capture what Python passes as `initargs`);
    /// `this_worker::index()` tells it which worker it runs in. Returns once every worker has
    /// run it.
    /// @throws initializer_error (after shutting the pool down) if it threw in any worker;
    ///         std::invalid_argument for a bad n_jobs or an empty initializer.
    thread_pool(int n_jobs, std::function<void()> initializer)
        : thread_pool(n_jobs, require_initializer(std::move(initializer)), nullptr) {}

    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Waits for all queued and running tasks, then joins the workers.
    ~thread_pool() {
        if (owns_current_thread()) {
            std::fputs("parkit: a thread_pool was destroyed by one of its own tasks\n", stderr);
            std::terminate();
        }
        shutdown();
        cancel_queued();  // tasks withdrawn by a submit that raced with shutdown
        report_uncollected_detached_errors();
    }

    /// Number of worker threads.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// Schedules `f(args...)` (arguments are copied or moved in, like `std::async`) and returns
    /// its future. From inside one of this pool's tasks the task goes to the worker's own queue.
    /// @throws executor_closed after `shutdown()` (tasks of this pool may still submit while it
    ///         drains); std::logic_error in a fork()ed child of the process that made the pool.
    template <class F, class... Args>
    requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    auto submit(F&& f, Args&&... args) {
        return submit_as(priority::normal, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// `submit` with a scheduling class: `priority::high` tasks start before every queued
    /// normal one, `priority::low` ones after them (see `parkit::priority`).
    /// @throws std::invalid_argument for a value that is no `priority`; as `submit` otherwise.
    template <class F, class... Args>
    requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    auto submit(priority level, F&& f, Args&&... args) {
        if (level != priority::low && level != priority::normal && level != priority::high) {
            throw std::invalid_argument("parkit::thread_pool::submit: priority must be low, normal or high (got " +
                                        std::to_string(static_cast<int>(level)) + ")");
        }
        return submit_as(level, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// Schedules `f(args...)` without a future, like `tbb::task_group::run` or BS::thread_pool's
    /// `detach_task`: cheaper than `submit` when nothing needs the result (no shared state, no
    /// reference counting). `wait()` waits for detached tasks too and rethrows the first
    /// exception one threw (as `detached_task_error`); an exception nobody collected that way is
    /// reported on stderr when the pool is destroyed, never lost silently.
    /// @throws executor_closed after `shutdown()`; std::logic_error in a forked child.
    template <class F, class... Args>
    requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    void detach(F&& f, Args&&... args) {
        using task = detail::detached_task<std::decay_t<F>, std::decay_t<Args>...>;
        detail::require_callable(f, "parkit::thread_pool::detach", "f");
        require_usable("detach");
        const std::size_t index = take_index();
        detail::state_base* t = nullptr;
        try {
            t = new task(index, detached_errors_, std::forward<F>(f), std::forward<Args>(args)...);
        } catch (...) {
            dropped_.fetch_add(1, std::memory_order_acq_rel);
            throw;
        }
        enqueue(t, priority::normal);
        // As in submit: a shutdown racing with the push either lets the workers see the task,
        // or the call withdraws it here (the queue still holds and later releases it).
        if (refuses_work() && t->try_cancel()) throw closed_error("detach");
    }

    /// Blocks until every task submitted or detached so far (queued or running, including the
    /// ones they submit meanwhile) is done; the pool stays open, unlike `shutdown`. While the
    /// pool is paused it returns once the running tasks are done (the queued ones stay queued).
    /// @throws detached_task_error carrying the first exception a detached task threw since the
    ///         last `wait()` (the count of failures in its message);
    ///         std::logic_error from one of this pool's own tasks (it would wait for itself),
    ///         and in a forked child.
    void wait() {
        require_made_here("wait");
        if (owns_current_thread()) {
            throw std::logic_error("parkit::thread_pool::wait: cannot wait for the pool from one of its own tasks");
        }
        idle_waiters_.fetch_add(1, std::memory_order_seq_cst);
        std::unique_lock lock(idle_mutex_);
        // Woken by workers that run out of work; the timed wait only bounds a missed wake-up.
        while (!idle()) idle_cv_.wait_for(lock, std::chrono::milliseconds(2));
        idle_waiters_.fetch_sub(1, std::memory_order_relaxed);
        lock.unlock();
        auto [error, count] = detached_errors_.take();
        if (error) throw detached_task_error("parkit::thread_pool::wait", count, std::move(error));
    }

    /// Stops starting queued tasks: running ones finish, new submissions are queued. A worker
    /// waiting on a future may still run that future's own task. `shutdown` ends a pause.
    void pause() noexcept { paused_.store(true, std::memory_order_seq_cst); }

    /// Lets the workers start queued tasks again after `pause()`.
    void resume() {
        {
            std::lock_guard lock(sleep_mutex_);
            paused_.store(false, std::memory_order_seq_cst);
        }
        sleep_cv_.notify_all();
    }

    /// True between `pause()` and `resume()`.
    [[nodiscard]] bool paused() const noexcept { return paused_.load(std::memory_order_relaxed); }

    /// Tasks submitted and not started yet (a snapshot: it changes while you read it).
    [[nodiscard]] std::size_t queued() const noexcept {
        const std::size_t run = running();
        const std::size_t left = outstanding();
        return left > run ? left - run : 0;
    }

    /// Tasks being run by the workers now (a snapshot; tasks a waiting task runs on its worker
    /// meanwhile are counted too).
    [[nodiscard]] std::size_t running() const noexcept {
        std::size_t total = 0;
        for (const worker_stats& w : stats_) total += w.running.load(std::memory_order_acquire);
        return total;
    }

    /// Applies `f` to every element of `inputs` on this pool and returns the results in input
    /// order, chunked automatically; same semantics as `parkit::parallel_map`. `n_jobs` in the
    /// options counts from this pool's size: -1 = the whole pool, -2 = all but one, k = at most k.
    /// @throws executor_closed after `shutdown()`; std::logic_error in a fork()ed child.
    template <class F, class Range>
    auto map(F&& f, Range&& inputs, const options& opts = {}) {
        return run_map_here(f, std::forward<Range>(inputs), opts);
    }

    /// `map` with `on_error::collect`: returns `parkit::collected<R>` instead of throwing.
    template <class F, class Range>
    auto map(F&& f, Range&& inputs, const collect_options& opts) {
        return run_map_here(f, std::forward<Range>(inputs), opts);
    }

    /// Stops accepting tasks: `pool.shutdown({.wait = false, .cancel_pending = true})`. With
    /// `how.cancel_pending`, queued tasks that have not started are cancelled (their futures
    /// throw `task_cancelled`); otherwise they still run. With `how.wait` (the default), blocks
    /// until the workers have finished everything and exited. Idempotent.
    /// @throws std::logic_error when called with `wait` from one of this pool's own tasks.
    void shutdown(const shutdown_options& how = {}) {
        if (how.wait && owns_current_thread()) {
            throw std::logic_error(
                "parkit::thread_pool::shutdown: cannot wait for the pool from one of its own "
                "tasks (use shutdown({.wait = false}))");
        }
        closed_.store(true, std::memory_order_seq_cst);
        if (how.cancel_pending) cancel_queued();
        {
            std::lock_guard lock(sleep_mutex_);
            stopping_ = true;
            paused_.store(false, std::memory_order_seq_cst);  // shutdown ends a pause
        }
        sleep_cv_.notify_all();
        if (how.wait) {
            std::lock_guard lock(join_mutex_);
            for (std::thread& t : threads_) {
                if (t.joinable()) t.join();
            }
        }
    }

private:
    // The constructors' common part (the tag keeps it apart from the public ones).
    thread_pool(int n_jobs, std::function<void()> initializer, std::nullptr_t)
        : size_(static_cast<std::size_t>(resolve_n_jobs(n_jobs))),
          spin_(size_ <= static_cast<std::size_t>(available_cores())),
          queues_(size_),
          deques_(size_),
          contexts_(size_),
          stats_(size_),
          initializer_(std::move(initializer)),
          init_pending_(initializer_ ? size_ : 0) {
        threads_.reserve(size_);
        try {
            for (std::size_t i = 0; i < size_; ++i) {
                contexts_[i] = detail::worker_context{this, i, &thread_pool::run_one_hook};
                threads_.emplace_back([this, i] { worker_main(i); });
            }
        } catch (...) {
            abandon_initialization();
            shutdown({.cancel_pending = true});
            throw;
        }
        if (!initializer_) return;
        std::unique_lock lock(init_mutex_);
        init_cv_.wait(lock, [&] { return init_pending_ == 0; });
        if (init_error_) {
            lock.unlock();
            shutdown({.cancel_pending = true});
            throw initializer_error("parkit::thread_pool", init_error_worker_, init_error_);
        }
    }

    static std::function<void()> require_initializer(std::function<void()> initializer) {
        if (!initializer) {
            throw std::invalid_argument(
                "parkit::thread_pool: initializer is empty (pass a callable, or use "
                "thread_pool(n_jobs) for none)");
        }
        return initializer;
    }

    // Failures of detached tasks that no wait() collected: told on stderr, never dropped.
    void report_uncollected_detached_errors() noexcept {
        auto [error, count] = detached_errors_.take();
        if (!error) return;
        try {
            const detached_task_error report("parkit::~thread_pool", count, std::move(error));
            std::fprintf(stderr, "%s (no wait() collected it)\n", report.what());
        } catch (...) {
            std::fputs("parkit::~thread_pool: detached tasks threw (no wait() collected it)\n", stderr);
        }
    }

    // Runs the initializer in worker `self` and reports to the constructor.
    void initialize_worker(std::size_t self) {
        std::exception_ptr error;
        try {
            initializer_();
        } catch (...) {
            error = std::current_exception();
        }
        std::lock_guard lock(init_mutex_);
        if (error && !init_error_) {
            init_error_ = error;
            init_error_worker_ = self;
        }
        if (init_pending_ > 0 && --init_pending_ == 0) init_cv_.notify_all();
    }

    // Starting a worker failed: the constructor no longer waits for initializers.
    void abandon_initialization() {
        std::lock_guard lock(init_mutex_);
        init_pending_ = 0;
    }

    /// Per-worker counters, each written only by its worker (no shared cache line per task).
    struct alignas(64) worker_stats {
        std::atomic<std::size_t> finished{0};   // queue references released (ran or no-op)
        std::atomic<std::size_t> running{0};    // tasks on this worker's stack now
        std::atomic<std::size_t> submitted{0};  // tasks its tasks submitted or detached
        std::size_t index_next = 0;             // next of the submission indices it reserved
        std::size_t index_end = 0;              // end of that block
    };

    // Submission indices a worker reserves at once for the tasks its tasks submit.
    static constexpr std::size_t index_block = 256;

    // Counts a submission and gives it its index. From outside the pool: the next index of the
    // shared counter, so a lone submitter numbers its tasks 0, 1, 2, ... From inside a task: the
    // next of its worker's reserved block, counted in the worker's own stats, so fork-join
    // recursion on several workers does not bounce one shared cache line per spawn.
    std::size_t take_index() noexcept {
        if (owns_current_thread()) {
            worker_stats& w = stats_[detail::this_worker->index];
            if (w.index_next == w.index_end) {
                w.index_next = next_index_.fetch_add(index_block, std::memory_order_relaxed);
                w.index_end = w.index_next + index_block;
            }
            // Published before the task is queued: whoever sees it finished sees it counted.
            w.submitted.store(w.submitted.load(std::memory_order_relaxed) + 1, std::memory_order_release);
            return w.index_next++;
        }
        external_submitted_.fetch_add(1, std::memory_order_acq_rel);
        return next_index_.fetch_add(1, std::memory_order_relaxed);
    }

    template <class F, class... Args>
    auto submit_as(priority level, F&& f, Args&&... args) {
        using result = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
        using state = detail::task_state<result, std::decay_t<F>, std::decay_t<Args>...>;
        detail::require_callable(f, "parkit::thread_pool::submit", "f");
        require_usable("submit");
        const std::size_t index = take_index();
        // Built first: if copying the callable or its arguments throws, nothing is queued.
        detail::state_ptr<detail::shared_state<result>> task;
        try {
            task = detail::state_ptr<detail::shared_state<result>>(
                new state(index, std::forward<F>(f), std::forward<Args>(args)...));
        } catch (...) {
            dropped_.fetch_add(1, std::memory_order_acq_rel);  // the index will never finish
            throw;
        }
        task->add_ref();  // one reference for the queue, one for the future
        enqueue(task.get(), level);
        // A shutdown that began before the push may have let the workers exit without seeing
        // this task (they leave once stopping and every queue is empty). The check after the
        // push (sequentially consistent, see enqueue) settles it: either the workers will see
        // the task, or it is withdrawn here and the call refused. The queue's reference is
        // dropped when a worker or the destructor takes the withdrawn task out.
        if (refuses_work() && task->try_cancel()) throw closed_error("submit");
        return detail::make_future(std::move(task));
    }

    // Tasks submitted whose queue reference is not released yet. Counts first, then the
    // submissions: a finished task was submitted before, so the difference is never negative.
    std::size_t outstanding() const noexcept {
        std::size_t released = dropped_.load(std::memory_order_acquire);
        for (const worker_stats& w : stats_) released += w.finished.load(std::memory_order_acquire);
        std::size_t submitted = external_submitted_.load(std::memory_order_acquire);
        for (const worker_stats& w : stats_) submitted += w.submitted.load(std::memory_order_acquire);
        return submitted > released ? submitted - released : 0;
    }

    bool idle() const noexcept {
        return outstanding() == 0 || (paused_.load(std::memory_order_seq_cst) && running() == 0);
    }

    // Wakes `wait()` callers; called by a worker about to go idle (no work, or paused).
    void notify_idle_waiters() {
        if (idle_waiters_.load(std::memory_order_seq_cst) == 0) return;
        { std::lock_guard lock(idle_mutex_); }
        idle_cv_.notify_all();
    }

    template <class F, class Range, class OnError>
    auto run_map_here(F& f, Range&& inputs, const basic_options<OnError>& opts) {
        detail::require_callable(f, "parkit::thread_pool::map", "f");
        detail::require_executor_map_options(opts, "parkit::thread_pool::map", backend::threads,
                                             "the pool runs tasks on its threads");
        detail::require_no_task_timeout(opts.task_timeout_s, "parkit::thread_pool::map",
                                        "a pool's threads cannot leave a task behind; use "
                                        "parkit::parallel_map(f, inputs, {.task_timeout_s = ...}) or "
                                        "as_completed(futures, timeout)");
        require_usable("map");
        const int all = static_cast<int>(size_);
        const int workers = std::min(detail::resolve_workers(opts.n_jobs, all, "the pool's size"), all);
        return detail::run_map(this, workers, f, std::forward<Range>(inputs), opts);
    }

    // After shutdown only the pool's own tasks may add work (while it drains).
    bool refuses_work() const noexcept { return closed_.load(std::memory_order_seq_cst) && !owns_current_thread(); }

    // Refuses work after shutdown and in a forked child: the child has the pool's memory but
    // none of its worker threads, so an accepted task would never run.
    void require_usable(const char* call) const {
        require_made_here(call);
        if (refuses_work()) throw closed_error(call);
    }

    void require_made_here(const char* call) const {
        if (!made_in_this_process()) [[unlikely]] {
            throw std::logic_error(std::string("parkit::thread_pool::") + call +
                                   ": this pool was made by the parent of this forked process and "
                                   "has no worker threads here; make a new thread_pool in the child");
        }
    }

    static executor_closed closed_error(const char* call) {
        return executor_closed(std::string("parkit::thread_pool::") + call +
                               ": the pool was shut down and accepts no new tasks");
    }

    bool owns_current_thread() const noexcept {
        return detail::this_worker != nullptr && detail::this_worker->pool == this;
    }

    // Own worker's deque from inside a task (its FIFO queue when the deque is full), else the
    // queue the submission index points at.
    void enqueue(detail::state_base* task, priority level) {
        if (level == priority::normal) [[likely]] {
            if (owns_current_thread()) {
                const std::size_t self = detail::this_worker->index;
                if (!deques_[self].push(task)) queues_[self].push(task);
            } else {
                queues_[task->index() % size_].push(task);
            }
        } else {
            (level == priority::high ? high_queue_ : low_queue_).push(task);
        }
        // Pairs with the sleeper's sequentially consistent increment and re-check in
        // worker_main: either the sleeper sees this task or this thread sees the sleeper.
        // A worker that is searching for work will find the task itself: no wake-up then.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_relaxed) > 0 && searching_.load(std::memory_order_relaxed) == 0)
            wake_one();
    }

    void wake_one() {
        waker_cpu_.store(detail::current_cpu(), std::memory_order_relaxed);
        { std::lock_guard lock(sleep_mutex_); }
        sleep_cv_.notify_one();
    }

    // Called by a worker that was idle (searching or asleep) and has just taken a task: the
    // submits that saw it searching woke nobody, so if work is left and no other worker is
    // searching, it wakes a sleeper, which does the same in turn — a burst gets every worker,
    // not only the one that was spinning. Pairs with enqueue's fence: a submit that skipped the
    // wake-up read `searching_` before this worker's decrement, so this re-check sees its task.
    void wake_one_for_work_left() {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_relaxed) > 0 && searching_.load(std::memory_order_relaxed) == 0 &&
            any_work())
            wake_one();
    }

    // High-priority tasks first, then the own deque (newest first) and queue, then the others'
    // (stealing their oldest), low-priority last.
    detail::state_base* find_task(std::size_t self) {
        if (detail::state_base* t = high_queue_.try_pop()) return t;
        if (detail::state_base* t = deques_[self].pop()) return t;
        if (detail::state_base* t = queues_[self].try_pop()) return t;
        for (std::size_t i = 1; i < size_; ++i) {
            std::size_t q = self + i;
            if (q >= size_) q -= size_;
            if (detail::state_base* t = deques_[q].steal()) return t;
            if (detail::state_base* t = queues_[q].try_pop()) return t;
        }
        return low_queue_.try_pop();
    }

    // True when some queue's oldest task is published (cheap; may miss work, see has_work).
    bool any_work() const noexcept {
        return high_queue_.has_work() || low_queue_.has_work() ||
               std::any_of(queues_.begin(), queues_.end(), [](const detail::work_queue& q) { return q.has_work(); }) ||
               std::any_of(deques_.begin(), deques_.end(), [](const detail::work_deque& d) { return d.has_work(); });
    }

    // True when some queue holds a task or a push in progress: checked before sleeping or
    // exiting. (A deque's pushes are its owner's: a worker checking here pushes to none.)
    bool any_work_or_push_in_progress() const noexcept {
        return high_queue_.has_work_or_push_in_progress() || low_queue_.has_work_or_push_in_progress() ||
               std::any_of(queues_.begin(), queues_.end(),
                           [](const detail::work_queue& q) { return q.has_work_or_push_in_progress(); }) ||
               std::any_of(deques_.begin(), deques_.end(), [](const detail::work_deque& d) { return d.has_work(); });
    }

    // Runs a task taken from a queue on worker `self` and drops the queue's reference.
    void execute(detail::state_base* task, std::size_t self) noexcept {
        worker_stats& w = stats_[self];
        w.running.store(w.running.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        task->run();
        task->release();
        w.running.store(w.running.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        w.finished.store(w.finished.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    static bool run_one_hook(void* pool, std::size_t index) {
        auto* self = static_cast<thread_pool*>(pool);
        if (self->paused_.load(std::memory_order_relaxed)) return false;
        detail::state_base* task = self->find_task(index);
        if (task == nullptr) return false;
        self->execute(task, index);
        return true;
    }

    // Sleeps while the pool is paused (and not stopping); tells wait() callers first.
    void sleep_while_paused() {
        notify_idle_waiters();
        std::unique_lock lock(sleep_mutex_);
        sleep_cv_.wait(lock, [&] { return !paused_.load(std::memory_order_relaxed) || stopping_; });
    }

    // Spins briefly for new work before sleeping (only when the pool does not oversubscribe
    // the cores); true when work appeared.
    bool spin_for_work() const noexcept {
        if (!spin_) return false;
        for (int i = 0; i < 1024; ++i) {
            if (any_work()) return true;
            detail::cpu_relax();
        }
        return false;
    }

    void worker_main(std::size_t self) {
        detail::this_worker = &contexts_[self];
        if (initializer_) initialize_worker(self);
        bool was_idle = false;
        for (;;) {
            if (paused_.load(std::memory_order_relaxed)) [[unlikely]] {
                sleep_while_paused();
                continue;
            }
            if (detail::state_base* task = find_task(self)) {
                if (std::exchange(was_idle, false)) wake_one_for_work_left();
                execute(task, self);
                continue;
            }
            was_idle = true;
            searching_.fetch_add(1, std::memory_order_seq_cst);
            notify_idle_waiters();
            if (spin_for_work()) {
                searching_.fetch_sub(1, std::memory_order_seq_cst);
                continue;
            }
            std::unique_lock lock(sleep_mutex_);
            // Counted as a sleeper before it stops searching, and both before the re-check: a
            // submit that skipped the wake-up because it saw this worker searching pushed its
            // task before that, so the re-check sees it.
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            searching_.fetch_sub(1, std::memory_order_seq_cst);
            bool slept = false;
            while (!any_work_or_push_in_progress() && !stopping_) {
                sleep_cv_.wait(lock);
                slept = true;
            }
            sleepers_.fetch_sub(1, std::memory_order_relaxed);
            if (stopping_ && !any_work_or_push_in_progress()) break;
            lock.unlock();
            // Work seen without sleeping, though find_task found none: most likely a push in
            // progress (see work_queue::has_work); let its thread finish it.
            if (!slept) std::this_thread::yield();
            // Woken for work: run on another CPU than the thread that woke us (see
            // detail/support/cpu_placement.hpp).
            if (slept) detail::leave_waker_cpu(waker_cpu_.load(std::memory_order_relaxed));
        }
        detail::this_worker = nullptr;
    }

    // Cancels every queued task that has not started and drops the queues' references.
    void cancel_queued() {
        auto cancel_one = [&](detail::state_base* task) {
            task->try_cancel();
            task->release();
            dropped_.fetch_add(1, std::memory_order_acq_rel);
        };
        auto cancel_all = [&](detail::work_queue& queue) {
            for (detail::state_base* task : queue.drain()) cancel_one(task);
        };
        cancel_all(high_queue_);
        for (detail::work_deque& deque : deques_) {
            while (deque.has_work()) {
                if (detail::state_base* task = deque.steal()) cancel_one(task);
            }
        }
        for (detail::work_queue& queue : queues_) cancel_all(queue);
        cancel_all(low_queue_);
        notify_idle_waiters();
    }

    friend thread_pool& default_thread_pool();
    bool made_in_this_process() const noexcept { return generation_ == detail::fork_generation(); }

    const unsigned generation_ = detail::fork_generation();
    const std::size_t size_;
    const bool spin_;
    std::vector<detail::work_queue> queues_;  // per worker: tasks from outside, FIFO
    std::vector<detail::work_deque> deques_;  // per worker: tasks its own tasks submit
    std::vector<detail::worker_context> contexts_;
    std::vector<worker_stats> stats_;
    detail::work_queue high_queue_;
    detail::work_queue low_queue_;
    detail::detached_errors detached_errors_;  // what detached tasks threw, for wait()
    const std::function<void()> initializer_;  // empty: none
    std::mutex init_mutex_;
    std::condition_variable init_cv_;
    std::size_t init_pending_;           // workers yet to run the initializer (init_mutex_)
    std::exception_ptr init_error_;      // first initializer failure (init_mutex_)
    std::size_t init_error_worker_ = 0;  // its worker (init_mutex_)
    std::vector<std::thread> threads_;
    alignas(64) std::atomic<std::size_t> next_index_{0};  // submission indices handed out
    std::atomic<std::size_t> external_submitted_{0};      // submissions from outside the pool
    alignas(64) std::atomic<bool> closed_{false};         // read by every submit: apart from the counters
    std::atomic<bool> paused_{false};
    std::atomic<std::size_t> dropped_{0};       // submissions that never ran on a worker (cancelled, failed)
    alignas(64) std::atomic<int> sleepers_{0};  // read by every submit, written by idle workers
    std::atomic<int> searching_{0};             // workers spinning for work (awake, idle)
    std::atomic<int> waker_cpu_{-1};            // CPU of the last submit that woke a sleeper
    std::mutex sleep_mutex_;
    std::condition_variable sleep_cv_;
    bool stopping_ = false;  // guarded by sleep_mutex_
    std::mutex join_mutex_;
    std::atomic<int> idle_waiters_{0};  // threads in wait()
    std::mutex idle_mutex_;
    std::condition_variable idle_cv_;
};

namespace detail {

// The default pool of a forked child (the parent's copy has no threads there): made on first
// use in each forked generation and never destroyed (a child ends with _exit or exit).
inline thread_pool& forked_default_pool() {
    static std::mutex mutex;
    static thread_pool* pool = nullptr;
    static unsigned generation = 0;
    std::lock_guard lock(mutex);
    if (pool == nullptr || generation != fork_generation()) {
        pool = new thread_pool(-1);
        generation = fork_generation();
    }
    return *pool;
}

}  // namespace detail

/// The process-wide pool behind `parallel_map(..., {.backend = backend::threads})`: one worker
/// per available core, started on first use and joined at exit. In a forked child (a process
/// pool worker) it is a fresh pool of that process.
inline thread_pool& default_thread_pool() {
    static thread_pool* const pool = new thread_pool(-1);
    // Joins the pool at exit, but only in the process that made it: a child calling exit()
    // must not wait for threads it does not have.
    static const struct joiner {
        ~joiner() {
            if (pool->made_in_this_process()) delete pool;
        }
    } join_at_exit;
    (void)join_at_exit;
    if (pool->made_in_this_process()) [[likely]]
        return *pool;
    return detail::forked_default_pool();
}

}  // namespace parkit
