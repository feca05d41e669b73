#pragma once
/// @file
/// The queue that finished tasks post their slot number to, so `as_completed` takes each result
/// in O(1) as it arrives, without polling.

#include <condition_variable>
#include <cstddef>
#include <mutex>
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

    /// Blocks until `count` slots in all have been delivered (used before destruction, so no
    /// producer still touches the queue).
    void wait_delivered(std::size_t count) {
        std::unique_lock lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_.size() >= count; });
    }

    /// Number of slots taken so far.
    [[nodiscard]] std::size_t taken() const {
        std::lock_guard lock(mutex_);
        return taken_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::vector<std::size_t> ready_;
    std::size_t taken_ = 0;
};

/// What a future's state points to while an as_completed range watches it: the range's queue
/// and the future's slot in the range. Owned by the range; immutable while registered.
struct completion_listener {
    completion_queue* queue = nullptr;  ///< where to post the slot
    std::size_t slot = 0;               ///< the future's position in the range
};

}  // namespace parkit::detail
