#pragma once
/// @file
/// The queue that finished tasks post their slot number to, so `as_completed` takes each result
/// in O(1) as it arrives, without polling; and the listener a state tells when it is done.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

namespace parkit::detail {

/// A multi-producer, single-consumer queue of slot numbers (positions in an as_completed range).
class completion_queue {
public:
    /// Posts `slot` as completed; called by the thread that finished the task.
    /// Notifies under the lock: once the lock is released the consumer may destroy the queue.
    void deliver(std::size_t slot) {
        std::lock_guard lock(mutex_);
        ready_.push_back(slot);
        ready_cv_.notify_one();
    }

    /// Blocks until a slot that was not taken yet has been delivered, and takes it.
    std::size_t take() {
        std::unique_lock lock(mutex_);
        ready_cv_.wait(lock, [&] { return taken_ < ready_.size(); });
        return ready_[taken_++];
    }

    /// `take()` that gives up at `deadline`: nullopt when no slot arrived by then.
    template <class Clock, class Duration>
    std::optional<std::size_t> take_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        std::unique_lock lock(mutex_);
        if (!ready_cv_.wait_until(lock, deadline, [&] { return taken_ < ready_.size(); })) return std::nullopt;
        return ready_[taken_++];
    }

    /// Blocks until `count` slots in all have been delivered (used before destruction, so no
    /// producer still touches the queue).
    void wait_delivered(std::size_t count) {
        std::unique_lock lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_.size() >= count; });
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::vector<std::size_t> ready_;
    std::size_t taken_ = 0;
};

/// Something to tell when a state is done: by default posts `slot` to `queue` (an as_completed
/// range or a `wait` call); with `fire` set, calls it instead (continuations, callbacks,
/// when_all / when_any). A state keeps its listeners in an intrusive list (`next`); the owner
/// keeps the listener alive until it has fired or was detached.
struct completion_listener {
    completion_queue* queue = nullptr;                           ///< where to post the slot (when `fire` is null)
    std::size_t slot = 0;                                        ///< the future's position in the caller's sequence
    void (*fire)(completion_listener& self) noexcept = nullptr;  ///< custom reaction, if any
    void* context = nullptr;                                     ///< the owner of a custom listener
    completion_listener* next = nullptr;                         ///< managed by the state while registered

    /// Tells the owner that the state is done (called once, by the finishing thread).
    void notify() noexcept {
        if (fire != nullptr) {
            fire(*this);
        } else {
            queue->deliver(slot);
        }
    }
};

}  // namespace parkit::detail
