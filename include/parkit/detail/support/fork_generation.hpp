#pragma once
/// @file
/// Detects that the current process is a fork() of the one that created an object.
///
/// A forked child has the parent's memory but only the forking thread: a thread pool copied
/// into it has no workers, and its mutexes may be copies of locked ones. Objects record the
/// generation they were made in and refuse (or abandon) themselves in a later one.

#include <pthread.h>

#include <atomic>

namespace parkit::detail {

inline std::atomic<unsigned>& fork_generation_counter() noexcept {
    static std::atomic<unsigned> counter{0};
    return counter;
}

/// How many fork()s separate this process from the first one that called this function
/// (0 there, 1 in its children, ...). Cheap: one relaxed atomic load.
inline unsigned fork_generation() noexcept {
    static const bool registered = [] {
        ::pthread_atfork(nullptr, nullptr, [] { fork_generation_counter().fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)registered;
    return fork_generation_counter().load(std::memory_order_relaxed);
}

}  // namespace parkit::detail
