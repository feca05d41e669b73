#pragma once
/// @file
/// Lets code that blocks (future::wait) find out whether it runs on a pool worker, so it can
/// run queued tasks while it waits instead of blocking a worker (no nested-wait deadlock).

#include <cstddef>

namespace parkit::detail {

/// Identity of the pool worker the current thread is, with a hook that runs one queued task.
struct worker_context {
    void* pool = nullptr;                                      ///< the pool that owns this worker thread
    std::size_t index = 0;                                     ///< the worker's index in that pool
    bool (*run_one)(void* pool, std::size_t index) = nullptr;  ///< runs one queued task, if any
};

/// The worker context of the calling thread; null on threads that are no pool worker.
inline thread_local const worker_context* this_worker = nullptr;

/// Runs one queued task of the calling worker's pool; false when not a worker or nothing queued.
inline bool help_run_one() {
    const worker_context* w = this_worker;
    return w != nullptr && w->run_one(w->pool, w->index);
}

/// Makes the calling thread of a worker *process* report `index` from
/// `parkit::this_worker::index()` (it runs no pool of the parent: nothing to help with).
inline void become_process_worker(std::size_t index) noexcept {
    static thread_local worker_context context;
    context.pool = nullptr;
    context.index = index;
    context.run_one = [](void*, std::size_t) { return false; };
    this_worker = &context;
}

}  // namespace parkit::detail
