#pragma once
/// @file
/// One worker's task queue: a FIFO under a mutex, with non-blocking variants so pushers and
/// thieves move on to another queue instead of waiting on a busy one.

#include <deque>
#include <mutex>
#include <vector>

#include "shared_state.hpp"

namespace parkit::detail {

/// A FIFO of tasks (each holding one reference to its state).
class alignas(64) work_queue {
public:
    /// Appends `task` unless the queue is busy; true on success.
    bool try_push(state_base* task) {
        std::unique_lock lock(mutex_, std::try_to_lock);
        if (!lock) return false;
        tasks_.push_back(task);
        return true;
    }
    /// Appends `task`, waiting for the lock if needed.
    void push(state_base* task) {
        std::lock_guard lock(mutex_);
        tasks_.push_back(task);
    }
    /// Takes the oldest task unless the queue is busy or empty; null otherwise.
    state_base* try_pop() {
        std::unique_lock lock(mutex_, std::try_to_lock);
        if (!lock || tasks_.empty()) return nullptr;
        return take_front();
    }
    /// Takes the oldest task, waiting for the lock if needed; null when empty.
    state_base* pop() {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) return nullptr;
        return take_front();
    }
    /// Removes and returns every queued task.
    std::vector<state_base*> drain() {
        std::lock_guard lock(mutex_);
        std::vector<state_base*> all(tasks_.begin(), tasks_.end());
        tasks_.clear();
        return all;
    }

private:
    state_base* take_front() {
        state_base* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    std::mutex mutex_;
    std::deque<state_base*> tasks_;
};

}  // namespace parkit::detail
