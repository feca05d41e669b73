#pragma once
/// @file
/// The parent side of a `parkit::process_pool`: the queue of task messages, the manager
/// thread that pipelines them to the pool's workers (a `worker_set` forked by the pool's fork
/// server), completes their futures from the replies, takes back tasks sent ahead of a long
/// one, enforces the time limit and replaces workers that die. The child side is
/// pool_worker.hpp; the public class, which checks and encodes what the user passes, is
/// process_pool.hpp.

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/future.hpp"
#include "../../core/process_errors.hpp"
#include "../../core/serialization.hpp"
#include "../../core/shutdown_options.hpp"
#include "../map/option_checks.hpp"
#include "../support/fork_generation.hpp"
#include "../task/shared_state.hpp"
#include "fork_server.hpp"
#include "pool_worker.hpp"
#include "process_io.hpp"
#include "task_codec.hpp"
#include "worker_set.hpp"

namespace parkit::detail {

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

/// The scheduler of one `process_pool` (see the file comment): made by the pool, used by any
/// thread through `enqueue` and `shutdown`; everything else runs on its manager thread.
class pool_scheduler {
public:
    /// Forks the fork server and `size` workers (each runs `initializer` first, when set) and
    /// starts the manager thread. `timeout_s`: a task's time limit in seconds (0 = none),
    /// checked by the caller already.
    /// @throws std::system_error when a pipe, the fork server or a worker cannot be made.
    pool_scheduler(std::size_t size, double timeout_s, std::function<void()> initializer)
        : size_(size),
          timeout_s_(timeout_s),
          claims_(size_),
          initializer_(std::move(initializer)),
          setup_{claims_.data(), &initializer_},
          server_(process_worker_main, size_, &setup_),
          workers_(size_, served_spawner{&server_}) {
        if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::system_error(errno, std::generic_category(), "parkit::process_pool: pipe");
        for (int fd : wake_) register_parent_fd(fd);  // workers must not keep it open
        try {
            slots_.resize(size_);
            fresh_.resize(size_);
            for (std::size_t i = 0; i < size_; ++i) respawn(i);
            manager_ = std::thread([this] { manage(); });
        } catch (...) {
            workers_.end_all(worker_ending::kill);
            close_wake();
            throw;
        }
    }

    pool_scheduler(const pool_scheduler&) = delete;
    pool_scheduler& operator=(const pool_scheduler&) = delete;

    /// Waits for the manager (see `shutdown`) and closes the wake pipe. A copy in a forked
    /// child (which exits normally, say) is abandoned instead: the manager thread, the workers
    /// and the fork server are the parent's, and the fork handler has closed the descriptors
    /// already, so nothing here may be joined or closed.
    ~pool_scheduler() {
        if (generation_ != fork_generation()) {
            std::construct_at(&manager_);
            return;
        }
        shutdown();
        close_wake();
    }

    /// Number of worker processes.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// A task's time limit in seconds (0 = none).
    [[nodiscard]] double task_timeout_s() const noexcept { return timeout_s_; }

    /// Function that completes a task's future from its worker's reply.
    using complete_fn = void (*)(state_base*, message_kind, std::span<const std::byte>);

    /// Queues one task message (trampoline, then what `write_args` writes) of `weight` inputs
    /// and returns the future of its `R`.
    template <class R, class WriteArgs>
    future<R> enqueue(process_trampoline run, complete_fn complete, std::size_t weight, const char* call,
                      WriteArgs&& write_args) {
        queued_task task;
        task.id = next_index_.fetch_add(1, std::memory_order_relaxed);
        task.weight = weight;
        auto* state = new shared_state<R>(task.id);
        state_ptr<shared_state<R>> result(state);
        state->add_ref();
        task.state = state_ptr<state_base>(state);
        task.complete = complete;
        output_archive out(task.payload);
        out.write_bytes(&run, sizeof run);
        write_args(out);
        if (task.payload.size() > max_message_bytes)
            throw std::length_error(std::string("parkit::process_pool::") + call + ": the task's arguments take " +
                                    std::to_string(task.payload.size()) + " bytes, over the limit of " +
                                    std::to_string(max_message_bytes) +
                                    " between processes (PARKIT_MAX_MESSAGE_BYTES)");
        bool must_wake = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) throw closed_error(call);
            queue_.push_back(std::move(task));
            must_wake = std::exchange(wake_on_submit_, false);
        }
        if (must_wake) wake();
        return make_future(std::move(result));
    }

    /// Stops accepting tasks (see `process_pool::shutdown`).
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

    /// Cancels queued tasks and kills running ones (fail with task_cancelled), then stops:
    /// the pool is destroyed by an exception unwinding the stack.
    void abort() {
        abort_running_.store(true);
        shutdown({.cancel_pending = true});
    }

private:
    /// A task waiting in the queue or in flight to a worker.
    struct queued_task {
        std::size_t id = 0;
        std::size_t weight = 1;  // inputs in the message: the time limit scales with it
        bool started = false;    // marked running already (sent to a worker that died before running it)
        state_ptr<state_base> state;
        complete_fn complete = nullptr;
        std::vector<std::byte> payload;
    };
    /// What the manager knows of one slot's worker process (the process itself is in workers_).
    struct worker_slot {
        std::deque<queued_task> in_flight;               // sent, not answered, in the worker's order: front() runs
        std::size_t in_flight_bytes = 0;                 // payload bytes still held in in_flight
        std::chrono::steady_clock::time_point started;   // when front() started
        std::chrono::steady_clock::time_point deadline;  // of front(), from when it started
        std::uint64_t answered = 0;                      // replies completed from this worker process
        bool withdrawn = false;                          // its unstarted tasks were taken back: retire it when idle
    };
    using clock = std::chrono::steady_clock;

    static executor_closed closed_error(const char* call) {
        return executor_closed(std::string("parkit::process_pool::") + call +
                               ": the pool was shut down and accepts no new tasks");
    }

    void wake() noexcept {
        const char byte = 1;
        [[maybe_unused]] const ssize_t n = ::write(wake_[1], &byte, 1);  // full pipe: already awake
    }

    void close_wake() noexcept {
        for (int& fd : wake_) close_parent_fd(fd);
    }

    // Forks a (replacement) worker into slot i, its claim counter reset (the previous worker
    // of the slot has been reaped).
    void respawn(std::size_t i) {
        worker_slot& slot = slots_[i];
        claims_[i].store(0, std::memory_order_release);
        slot.answered = 0;
        slot.withdrawn = false;
        workers_.spawn(i);
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
            task.state->set_exception(make_error_ptr<task_cancelled>(task.id));
        } else {
            task.state->try_cancel();
        }
    }

    // When a task of `weight` inputs that starts at `start` runs out of time.
    clock::time_point deadline_for(std::size_t weight, clock::time_point start) const {
        if (timeout_s_ <= 0) return clock::time_point::max();
        const double limit = std::min(timeout_s_ * static_cast<double>(weight), max_task_timeout_s);
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
        if (kill) workers_.end(i, worker_ending::kill);
        slot.in_flight.front().state->set_exception(std::move(error));
        slot.in_flight.pop_front();
        if (stopping()) {
            for (auto& task : slot.in_flight) cancel_queued(task);
            slot.in_flight.clear();
        }
        requeue_pipeline(slot);
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
        return slot.in_flight.size() < depth && slot.in_flight_bytes + task.payload.size() <= max_pipeline_bytes &&
               (!front_started || now - slot.started <= std::chrono::duration<double, std::micro>(pipeline_budget_us));
    }

    // The live worker with room for `task` and the fewest tasks in flight (the lowest index on a
    // tie); slots_.size() when none has room. An idle worker always has room.
    std::size_t pick_worker(const queued_task& task, clock::time_point now) const {
        const std::size_t depth = pipeline_depth(task_us_);
        std::size_t best = slots_.size();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const worker_slot& slot = slots_[i];
            if (!workers_.alive(i) || slot.withdrawn ||
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
            batch_.add(message_kind::task, it->id, it->payload, static_cast<std::uint32_t>(i));
        const std::size_t first = batch_.first_message_bytes(), all = batch_.bytes();
        const std::size_t sent = batch_.send(workers_.process(i).fd);
        if (sent == all) {
            if (was_idle) start_front(slot);
            return;
        }
        // The worker is gone. If it was idle and not even the first task reached it whole, it
        // died before starting any: they all go back to the queue. Otherwise the replies it
        // sent before dying tell which task it was running.
        if (was_idle && sent < first) requeue_pipeline(slot);
        wake();  // another dispatch round after the replacement is up
        workers_.read(i, read_mode::to_end, *this);
    }

    // Takes back the tasks sent ahead to workers whose running task has run long while another
    // worker is idle and nothing is queued for it: they go back to the head of the queue, for
    // the idle workers. The worker's claim counter is closed first (see claim_task), so it
    // skips what it had not started; it is replaced once its started tasks are answered.
    void withdraw_stuck_pipelines(clock::time_point now) {
        {
            std::lock_guard lock(mutex_);
            if (!queue_.empty()) return;
        }
        std::size_t idle_workers = idle_worker_count();
        for (std::size_t i = 0; i < slots_.size() && idle_workers > 0; ++i) {
            worker_slot& slot = slots_[i];
            if (!workers_.alive(i) || slot.withdrawn || slot.in_flight.size() < 2 || now < withdraw_time(slot))
                continue;
            std::uint64_t claimed = claims_[i].load(std::memory_order_acquire);
            while (!claims_[i].compare_exchange_weak(claimed, claimed | claims_closed, std::memory_order_acq_rel)) {
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
        const double after_us = std::max(pipeline_withdraw_after_us, 10 * task_us_);
        return slot.started +
               std::chrono::duration_cast<clock::duration>(std::chrono::duration<double, std::micro>(after_us));
    }

    // Replaces a worker whose pipeline was withdrawn once it has answered every task it started.
    void retire_withdrawn() {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            worker_slot& slot = slots_[i];
            if (!slot.withdrawn || !slot.in_flight.empty() || !workers_.alive(i)) continue;
            workers_.end(i, worker_ending::stop);
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
    void complete_front(worker_slot& slot, const message_header& header, std::span<const std::byte> payload) {
        queued_task& task = slot.in_flight.front();
        task.complete(task.state.get(), header.kind, payload);
        learn_task_time(header.elapsed_us);
        ++slot.answered;
        slot.in_flight.pop_front();
        if (!slot.in_flight.empty()) start_front(slot);
    }

    // Live workers with nothing in flight.
    std::size_t idle_worker_count() const noexcept {
        std::size_t idle = 0;
        for (std::size_t i = 0; i < slots_.size(); ++i) idle += workers_.alive(i) && slots_[i].in_flight.empty();
        return idle;
    }

    // worker_set hook: every live worker is waited on, idle ones too (their deaths).
    bool watching(std::size_t /*slot*/) const noexcept { return true; }

    // worker_set hook: a worker answers its tasks in the order they were sent.
    bool take(std::size_t i, const message_header& header, std::span<const std::byte> payload) {
        worker_slot& slot = slots_[i];
        if (slot.in_flight.empty() || header.id != slot.in_flight.front().id) return false;
        complete_front(slot, header, payload);
        return true;
    }

    // worker_set hook: worker i is gone, or was ended for `protocol_error` (what it sent that
    // cannot be trusted): its running task fails with worker_crashed, the tasks behind it go
    // back to the queue, and it is replaced.
    void lost(std::size_t i, int status, const std::string& protocol_error) {
        worker_slot& slot = slots_[i];
        if (slot.in_flight.empty()) {  // died while idle (killed from outside): nothing to fail, replace it
            if (!stopping()) respawn_or_shrink(i);
            return;
        }
        // Moved into the future's state, not copied: a copy left here would be released after
        // the waiter has read the error, which ThreadSanitizer cannot order (libstdc++'s
        // exception_ptr count is not instrumented).
        auto error = worker_death_error(slot.in_flight.front().id, status, protocol_error);
        fail_running(i, std::move(error), false);
    }

    bool idle_and_drained() {
        std::lock_guard lock(mutex_);
        if (!closed_) return false;
        if (!queue_.empty() && !stopping()) {
            // Queued work remains: only drained once every live worker is gone.
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (workers_.alive(i)) return false;
            }
            return true;
        }
        return std::none_of(slots_.begin(), slots_.end(), [](const worker_slot& s) { return !s.in_flight.empty(); });
    }

    // When the manager must look again without a message: the earliest deadline of a running
    // task, or the moment a pipeline may be withdrawn (see withdraw_stuck_pipelines).
    clock::time_point next_event_time() const {
        auto next = clock::time_point::max();
        const bool any_idle = idle_worker_count() > 0;
        for (const worker_slot& slot : slots_) {
            if (slot.in_flight.empty()) continue;
            next = std::min(next, slot.deadline);
            if (any_idle && !slot.withdrawn && slot.in_flight.size() > 1) next = std::min(next, withdraw_time(slot));
        }
        return next;
    }

    void manage() {
        for (;;) {
            if (stopping()) {
                for (std::size_t i = 0; i < slots_.size(); ++i) {
                    if (!slots_[i].in_flight.empty())
                        fail_running(i, make_error_ptr<task_cancelled>(slots_[i].in_flight.front().id), true);
                }
            }
            dispatch();
            if (idle_and_drained()) break;
            bool woken = false;
            try {
                woken = workers_.wait(*this, next_event_time(), wake_[0]);
            } catch (const std::system_error&) {
                break;  // poll itself failed: what is queued is cancelled below
            }
            if (woken) {
                char drain[256];
                while (::read(wake_[0], drain, sizeof drain) > 0) {
                }
            }
            retire_withdrawn();
            const auto now = clock::now();
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (!slots_[i].in_flight.empty() && now >= slots_[i].deadline)
                    fail_running(i, make_error_ptr<task_timeout>(slots_[i].in_flight.front().id, timeout_s_), true);
            }
        }
        workers_.end_all(worker_ending::stop);
        // Tasks still queued when every worker is gone (fork failed repeatedly) are cancelled.
        std::lock_guard lock(mutex_);
        for (auto& t : queue_) cancel_queued(t);
        queue_.clear();
    }

    /// Forks the pool's workers through its fork server (see detail/process/fork_server.hpp).
    struct served_spawner {
        fork_server* server;
        worker_process spawn(std::size_t /*slot: the task message names it*/) { return server->spawn(); }
        int reap(pid_t pid, bool kill) noexcept { return server->reap(pid, kill); }
    };
    template <class>
    friend class worker_set;

    const unsigned generation_ = fork_generation();  // the process that made the scheduler
    const std::size_t size_;
    const double timeout_s_;
    shared_array<std::atomic<std::uint64_t>> claims_;  // per slot: tasks its worker started (see claim_task)
    std::function<void()> initializer_;                // run by each worker before its first task (may be empty)
    process_worker_setup setup_;                       // what the workers inherit: claims_, initializer_
    fork_server server_;                               // forks the workers (constructor, then manager thread)
    worker_set<served_spawner> workers_;               // the processes; the manager's (and the constructor's) only
    int wake_[2] = {-1, -1};
    std::vector<worker_slot> slots_;  // the manager thread's (and the constructor's) only
    std::vector<std::size_t> fresh_;  // manager: tasks assigned to each worker, not yet sent
    message_batch batch_;             // manager: the messages of one send
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

}  // namespace parkit::detail
