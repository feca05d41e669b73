#pragma once
/// @file
/// Busy-wait helpers: the CPU's spin hint and a one-byte lock for critical sections of a few
/// instructions (a chunk dispenser's range), where a mutex's system call would cost more than
/// the work it guards.

#include <atomic>
#include <thread>

namespace parkit::detail {

/// Tells the CPU we are spinning (cheaper for a sibling hyper-thread, lower power).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

/// A test-and-test-and-set lock that yields its CPU after a short spin, so a holder that the OS
/// preempted (a loaded machine) gets it back instead of being spun against for a time slice.
/// Meets BasicLockable (`std::lock_guard` works).
class spin_lock {
public:
    /// Takes the lock.
    void lock() noexcept {
        for (int spins = 0; held_.exchange(true, std::memory_order_acquire);) {
            while (held_.load(std::memory_order_relaxed)) {
                if (++spins < yield_after) {
                    cpu_relax();
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    /// Releases the lock.
    void unlock() noexcept { held_.store(false, std::memory_order_release); }

private:
    static constexpr int yield_after = 64;  // ~1.5 us of pauses
    std::atomic<bool> held_{false};
};

}  // namespace parkit::detail
