#pragma once
/// @file
/// One worker's deque of the tasks its own tasks submit: a Chase–Lev work-stealing deque
/// (Chase & Lev 2005, in the C11 form of Lê, Pop, Cohen & Zappa Nardelli 2013). The owner
/// pushes and pops at the bottom — newest first, as a recursion unwinds, so a task that waits
/// runs its own freshest sub-task at once and the stack stays shallow — while other workers
/// steal the oldest, biggest pieces from the top. Owner operations cost no read-modify-write
/// except when the deque holds its last task.
///
/// Written here rather than taken from a library: the core needs only the standard library,
/// and the deque is ~60 lines. The ring has a fixed capacity; a push that finds it full returns
/// false and the caller queues the task elsewhere (the worker's FIFO `work_queue`).
///
/// Every slot is an atomic, and every store of `bottom_` (the owner's pushes and pops) is a
/// release that a thief reads with acquire, so whatever the owner did before — building the
/// tasks it pushed — is ordered before a theft without relying on stand-alone fences (which
/// ThreadSanitizer does not model; on x86 a release store is a plain store); the sequentially
/// consistent fences only settle the race for the last task between the owner and a thief.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "../task/shared_state.hpp"

namespace parkit::detail {

/// A work-stealing deque of tasks: `push`/`pop` by the owning worker only, `steal` by anyone.
class alignas(64) work_deque {
public:
    /// Slots of the ring (a power of two).
    static constexpr std::int64_t capacity = 4096;

    /// An empty deque.
    work_deque() : slots_(new std::atomic<state_base*>[capacity]) {}
    work_deque(const work_deque&) = delete;
    work_deque& operator=(const work_deque&) = delete;

    /// Owner: adds `task` at the bottom; false (nothing added) when the deque is full.
    bool push(state_base* task) noexcept {
        const std::int64_t b = bottom_.load(std::memory_order_relaxed);
        const std::int64_t t = top_.load(std::memory_order_acquire);
        if (b - t >= capacity) return false;
        slots_[b & mask].store(task, std::memory_order_relaxed);
        bottom_.store(b + 1, std::memory_order_release);
        return true;
    }

    /// Owner: takes the newest task; null when empty (or a thief took the last one).
    state_base* pop() noexcept {
        const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
        bottom_.store(b, std::memory_order_release);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        std::int64_t t = top_.load(std::memory_order_relaxed);
        if (t > b) {  // empty
            bottom_.store(b + 1, std::memory_order_release);
            return nullptr;
        }
        state_base* task = slots_[b & mask].load(std::memory_order_relaxed);
        if (t == b) {  // the last task: a thief may be taking it too
            if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
                task = nullptr;
            bottom_.store(b + 1, std::memory_order_release);
        }
        return task;
    }

    /// Any thread: takes the oldest task; null when empty or when another thread took it first
    /// (`has_work` tells whether to try again).
    state_base* steal() noexcept {
        std::int64_t t = top_.load(std::memory_order_acquire);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::int64_t b = bottom_.load(std::memory_order_acquire);
        if (t >= b) return nullptr;
        // Read before the claim: once top_ moves past t the owner may reuse the slot.
        state_base* task = slots_[t & mask].load(std::memory_order_relaxed);
        if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
            return nullptr;
        return task;
    }

    /// True when the deque holds a task (a snapshot, for spinning and before sleeping).
    [[nodiscard]] bool has_work() const noexcept {
        const std::int64_t t = top_.load(std::memory_order_seq_cst);
        return bottom_.load(std::memory_order_seq_cst) > t;
    }

private:
    static constexpr std::int64_t mask = capacity - 1;
    static_assert((capacity & mask) == 0, "capacity must be a power of two");

    std::unique_ptr<std::atomic<state_base*>[]> slots_;
    alignas(64) std::atomic<std::int64_t> top_{0};     // next to steal; only grows
    alignas(64) std::atomic<std::int64_t> bottom_{0};  // next free slot; written by the owner
};

}  // namespace parkit::detail
