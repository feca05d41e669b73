#pragma once
/// @file
/// The state a task shares with its future: phase, result or exception, waiters, and the
/// listeners told when it is done (as_completed ranges, wait calls, continuations, callbacks). One allocation per task
/// holds this state and the task's callable together.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../support/small_object_cache.hpp"
#include "../support/spin.hpp"
#include "completion_queue.hpp"
#include "worker_context.hpp"

namespace parkit::detail {

/// Mutex/condition-variable pairs shared by all states (chosen by address): blocking waits are
/// rare, so states stay small instead of each carrying a mutex and a condition variable.
struct wait_stripe {
    std::mutex mutex;                ///< guards the sleep of waiters on this stripe
    std::condition_variable wakeup;  ///< signalled when a state of this stripe finishes
};

/// The stripe that waiters of the state at `address` sleep on.
inline wait_stripe& stripe_for(const void* address) noexcept {
    // Never destroyed: pool threads may still finish tasks while statics are torn down at exit.
    static auto* const stripes = new std::array<wait_stripe, 64>;
    const auto bits = reinterpret_cast<std::uintptr_t>(address);
    return (*stripes)[(bits >> 6) % stripes->size()];
}

/// How deep a pool worker nests other queued tasks on its stack while it waits on a future
/// (help-while-waiting). Beyond it the waiter only runs the task it waits for (or the tasks that
/// one depends on) when still queued, and otherwise sleeps until it is done: helping with any
/// queued task could nest without bound (a queue of tasks that each wait on a slow one).
inline constexpr int max_help_depth = 32;

/// Help-while-waiting levels on the calling thread's stack.
inline thread_local int help_depth = 0;

/// Where a task stands.
enum class phase : std::uint8_t {
    pending,    ///< queued, not started
    running,    ///< started by a worker
    finished,   ///< has a value or an exception
    cancelled,  ///< cancelled before it started
};

/// Type-independent part of a task's shared state; reference counted, deleted by the last owner.
class state_base {
public:
    /// A state for the task with submission index `index`, owned by one reference.
    explicit state_base(std::size_t index) noexcept : index_(index) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;
    virtual ~state_base() = default;

    /// States are allocated from a per-thread cache of small blocks (one state per task).
    static void* operator new(std::size_t size) { return small_object_cache::allocate(size); }
    /// Returns a state's block to the cache.
    static void operator delete(void* block, std::size_t size) noexcept { small_object_cache::deallocate(block, size); }
    /// Over-aligned states bypass the cache.
    static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
    /// Frees an over-aligned state.
    static void operator delete(void* block, std::align_val_t align) noexcept { ::operator delete(block, align); }

    /// Runs the task if it is still pending; a no-op for states without a callable.
    virtual void run() noexcept {}

    /// Called by a pool worker that waits on this state: runs the task here, on the waiter's
    /// stack, if it has not started (a derived state, such as `then`'s, forwards to the states
    /// it waits on); the queue's copy is then a no-op. True when it ran something. This never
    /// deepens the stack by more than the task itself, unlike helping with any queued task, and
    /// is what the waiter would otherwise block for. (A task of another pool runs this way too.)
    virtual bool run_here() noexcept { return false; }

    /// Adds an owner.
    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops an owner; the last one deletes the state.
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Submission index (or input position) of the task.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// Current phase.
    [[nodiscard]] phase current_phase() const noexcept { return phase_.load(std::memory_order_acquire); }
    /// True once the task has a value, an exception, or was cancelled.
    [[nodiscard]] bool done() const noexcept {
        const phase p = current_phase();
        return p == phase::finished || p == phase::cancelled;
    }
    /// The task's exception, if it failed (valid once done()).
    [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }

    /// pending -> running; false if the task was cancelled (or already started).
    bool try_start() noexcept {
        phase expected = phase::pending;
        return phase_.compare_exchange_strong(expected, phase::running, std::memory_order_acq_rel);
    }

    /// pending -> cancelled, waking waiters; false if the task already started or finished.
    bool try_cancel() noexcept {
        phase expected = phase::pending;
        if (!phase_.compare_exchange_strong(expected, phase::cancelled, std::memory_order_seq_cst)) {
            return false;
        }
        notify_done();
        return true;
    }

    /// Finishes a running task with an exception.
    void set_exception(std::exception_ptr error) noexcept {
        error_ = std::move(error);
        publish_finished();
    }

    /// Blocks until done(). On a pool worker it runs the awaited task itself if still queued, or
    /// helps at once with other queued tasks meanwhile (up to max_help_depth levels), so a task
    /// that waits on tasks it submitted never deadlocks the pool nor overflows the worker's
    /// stack, and fine-grained fork-join keeps every worker busy. Other threads spin briefly,
    /// then sleep.
    void wait() const {
        if (done()) return;
        if (this_worker != nullptr) {
            help_until([] { return false; });
            return;
        }
        if (spin_until_done()) return;
        wait_stripe& stripe = stripe_for(this);
        std::unique_lock lock(stripe.mutex);
        while (!register_waiter_and_check()) stripe.wakeup.wait(lock);
    }

    /// Waits until done() or until `deadline`; returns done(). On a pool worker, a task it runs
    /// meanwhile may carry the wait past the deadline.
    template <class Clock, class Duration>
    bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
        if (done()) return true;
        if (this_worker != nullptr) {
            help_until([&] { return Clock::now() >= deadline; });
            return done();
        }
        if (spin_until_done()) return true;
        wait_stripe& stripe = stripe_for(this);
        std::unique_lock lock(stripe.mutex);
        while (!register_waiter_and_check()) {
            if (stripe.wakeup.wait_until(lock, deadline) == std::cv_status::timeout) break;
        }
        return done();
    }

    /// Registers `listener` to be told (once, by the finishing thread) when this state is done;
    /// any number of listeners may be registered. Returns false, registering nothing, when the
    /// state is already done (the caller then reacts itself). Lock-free.
    bool attach(completion_listener* listener) noexcept {
        completion_listener* head = listeners_.load(std::memory_order_acquire);
        do {
            if (head == delivered_marker()) return false;
            listener->next = head;
        } while (
            !listeners_.compare_exchange_weak(head, listener, std::memory_order_acq_rel, std::memory_order_acquire));
        return true;
    }

    /// Unregisters `listener`; false if the state finished first (it is being or was told).
    bool detach(completion_listener* listener) noexcept {
        // Under the stripe's mutex: detaches exclude each other, and notify_done takes the mutex
        // once after taking the list, so it never walks a list while a detach edits it.
        wait_stripe& stripe = stripe_for(this);
        std::lock_guard lock(stripe.mutex);
        for (;;) {
            completion_listener* head = listeners_.load(std::memory_order_acquire);
            if (head == delivered_marker() || head == nullptr) return false;
            if (head == listener) {
                if (listeners_.compare_exchange_strong(head, listener->next, std::memory_order_acq_rel)) return true;
                continue;  // a listener was pushed meanwhile (or the list taken): look again
            }
            // Pushes only change the head, so the rest of the list is stable under the mutex.
            for (completion_listener* prev = head; prev->next != nullptr; prev = prev->next) {
                if (prev->next == listener) {
                    prev->next = listener->next;
                    return true;
                }
            }
            return false;
        }
    }

protected:
    /// Marks a running task finished (value or error stored by the caller) and wakes waiters.
    void publish_finished() noexcept {
        phase_.store(phase::finished, std::memory_order_seq_cst);
        notify_done();
    }

private:
    static completion_listener* delivered_marker() noexcept {
        static completion_listener marker{};
        return &marker;
    }

    // Announces a sleeping waiter (under the stripe's mutex) and re-checks done(). Both sides use
    // sequentially consistent operations (flag then phase here; phase then flag in notify_done),
    // so either the waiter sees the new phase or the finishing thread sees the flag and signals.
    bool register_waiter_and_check() const noexcept {
        waiters_.store(true, std::memory_order_seq_cst);
        const phase p = phase_.load(std::memory_order_seq_cst);
        return p == phase::finished || p == phase::cancelled;
    }

    void notify_done() noexcept {
        if (waiters_.load(std::memory_order_seq_cst)) {
            wait_stripe& stripe = stripe_for(this);
            { std::lock_guard lock(stripe.mutex); }
            stripe.wakeup.notify_all();
        }
        completion_listener* listener = listeners_.exchange(delivered_marker(), std::memory_order_acq_rel);
        if (listener == nullptr) return;
        // A detach that was editing the list has finished once the mutex is free (see detach).
        { std::lock_guard lock(stripe_for(this).mutex); }
        while (listener != nullptr) {
            completion_listener* next = listener->next;  // read first: notify may free it
            listener->notify();
            listener = next;
        }
    }

    // Short tasks finish within microseconds: spinning that long first saves the sleep/wake-up
    // round trip (tens of microseconds) of a blocking wait.
    bool spin_until_done() const noexcept {
        for (int i = 0; i < spin_pauses; ++i) {
            if (done()) return true;
            cpu_relax();
        }
        return done();
    }

    // Waiting mutates nothing a caller sees: running the awaited task is what a worker would do.
    state_base& mutable_self() const noexcept { return const_cast<state_base&>(*this); }

    /// Until done() or `give_up()`: runs the awaited task here if it is still queued, else other
    /// queued tasks of the caller's pool while the help depth allows; when there is nothing it
    /// may run it spins a little (re-checking for work: the awaited task is often about to
    /// finish on a thief), then sleeps briefly on the state's stripe (woken at once by
    /// completion).
    template <class GiveUp>
    void help_until(GiveUp give_up) const {
        auto pause = std::chrono::microseconds(20);
        int idle_rounds = 0;
        while (!done() && !give_up()) {
            bool ran = mutable_self().run_here();
            if (!ran && help_depth < max_help_depth) {
                ++help_depth;
                ran = help_run_one();  // noexcept: tasks store their own exceptions
                --help_depth;
            }
            if (ran) {
                pause = std::chrono::microseconds(20);
                idle_rounds = 0;
                continue;
            }
            if (++idle_rounds <= help_spin_rounds) {  // as long in all as spin_until_done
                for (int i = 0; i < spin_pauses / help_spin_rounds && !done(); ++i) cpu_relax();
                continue;
            }
            idle_rounds = 0;
            wait_stripe& stripe = stripe_for(this);
            std::unique_lock lock(stripe.mutex);
            if (!register_waiter_and_check()) stripe.wakeup.wait_for(lock, pause);
            pause = std::min(pause * 2, std::chrono::microseconds(2000));
        }
    }

    static constexpr int spin_pauses = 512;      // ~13 µs of cpu_relax on a recent x86
    static constexpr int help_spin_rounds = 16;  // help_until re-checks for work this often

    std::atomic<std::uint32_t> refs_{1};
    std::atomic<phase> phase_{phase::pending};
    mutable std::atomic<bool> waiters_{false};

protected:
    // Which of the derived classes' unions hold an object (in what would be padding, so a task
    // with a small callable and result fits one 64-byte cache line). Written only by the
    // thread that runs or builds the task, read after the phase says it finished.
    bool has_value_ = false;  ///< shared_state<T>::value_ is constructed
    bool has_call_ = false;   ///< task_state::call_ is constructed

private:
    std::atomic<completion_listener*> listeners_{nullptr};  // list head; delivered_marker() once done
    std::size_t index_;
    std::exception_ptr error_;
};

/// Shared state holding a result of type `T`.
template <class T>
class shared_state : public state_base {
public:
    /// A pending state for the task with submission index `index`, without a value yet.
    explicit shared_state(std::size_t index) noexcept : state_base(index) {}
    shared_state(const shared_state&) = delete;
    shared_state& operator=(const shared_state&) = delete;
    ~shared_state() override {
        if (this->has_value_) value_.~T();
    }

    /// Finishes a running task with `value`.
    template <class V>
    void set_value(V&& value) {
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<V>(value));
        this->has_value_ = true;
        publish_finished();
    }
    /// The stored value (valid once finished without error).
    T& value() noexcept { return value_; }

private:
    union {
        T value_;  // constructed by set_value (has_value_)
    };
};

/// Shared state of a task without a result.
template <>
class shared_state<void> : public state_base {
public:
    using state_base::state_base;
    /// Finishes a running task successfully.
    void set_value() noexcept { publish_finished(); }
};

/// Shared state that also holds the callable and its arguments; `run()` invokes it once and then
/// drops them, so captured data is freed as soon as the task is done.
template <class R, class F, class... Args>
class task_state final : public shared_state<R> {
public:
    /// A pending task with submission index `index` calling `f(args...)`.
    template <class G, class... A>
    task_state(std::size_t index, G&& f, A&&... args) : shared_state<R>(index) {
        ::new (static_cast<void*>(std::addressof(call_))) call(std::forward<G>(f), std::forward<A>(args)...);
        this->has_call_ = true;
    }
    ~task_state() override { drop_call(); }

    void run() noexcept override {
        if (!this->try_start()) return;
        try {
            if constexpr (std::is_void_v<R>) {
                std::apply(std::move(call_.fn), std::move(call_.args));
                drop_call();
                this->set_value();
            } else {
                R result = std::apply(std::move(call_.fn), std::move(call_.args));
                drop_call();
                this->set_value(std::move(result));
            }
        } catch (...) {
            drop_call();
            this->set_exception(std::current_exception());
        }
    }

    bool run_here() noexcept override {
        if (this->current_phase() != phase::pending) return false;
        run();
        return true;
    }

private:
    struct call {
        template <class G, class... A>
        explicit call(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
        F fn;
        std::tuple<Args...> args;
    };

    void drop_call() noexcept {
        if (this->has_call_) {
            call_.~call();
            this->has_call_ = false;
        }
    }

    union {
        call call_;  // constructed by the constructor, destroyed once run (has_call_)
    };
};

/// An owning pointer to a reference-counted state.
template <class S>
class state_ptr {
public:
    state_ptr() noexcept = default;
    /// Takes over one reference of `state`.
    explicit state_ptr(S* state) noexcept : state_(state) {}
    state_ptr(const state_ptr& other) noexcept : state_(other.state_) {
        if (state_) state_->add_ref();
    }
    state_ptr(state_ptr&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    state_ptr& operator=(state_ptr other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~state_ptr() { reset(); }

    /// Drops the reference held.
    void reset() noexcept {
        if (state_) std::exchange(state_, nullptr)->release();
    }
    S* get() const noexcept { return state_; }
    S* operator->() const noexcept { return state_; }
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    S* state_ = nullptr;
};

}  // namespace parkit::detail
