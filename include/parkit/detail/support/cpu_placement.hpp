#pragma once
/// @file
/// Keeps a woken worker off the CPU of the thread that woke it.
///
/// Linux places a thread woken by another one next to its waker ("wake affine"), and on some
/// machines (small virtual machines among them) it then leaves the two sharing one CPU for
/// many milliseconds while another CPU idles, so a map runs at one CPU's speed (measurements
/// in docs/performance.md, History). The waker in parkit is a thread that goes on computing (a parallel_map caller
/// that just spawned a runner, a submitter), so sharing its CPU is never what is wanted. A
/// worker woken on its waker's CPU therefore moves itself: it narrows its affinity to the
/// allowed CPUs minus that one (the kernel migrates it at once) and restores its mask. Two
/// system calls, only on a wake-up that collided.

#include <sched.h>

#include <atomic>

namespace parkit::detail {

/// The CPU the calling thread runs on, or -1 when unknown.
inline int current_cpu() noexcept {
#if defined(__linux__)
    return ::sched_getcpu();
#else
    return -1;
#endif
}

/// Moves the calling thread off `waker_cpu` if it runs there and another allowed CPU exists;
/// its affinity mask is left as it was.
inline void leave_waker_cpu(int waker_cpu) noexcept {
#if defined(__linux__)
    if (waker_cpu < 0 || waker_cpu >= CPU_SETSIZE || current_cpu() != waker_cpu) return;
    cpu_set_t allowed;
    if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    cpu_set_t others = allowed;
    CPU_CLR(waker_cpu, &others);
    if (CPU_COUNT(&others) == 0) return;
    if (::sched_setaffinity(0, sizeof others, &others) != 0) return;
    ::sched_setaffinity(0, sizeof allowed, &allowed);
#else
    (void)waker_cpu;
#endif
}

}  // namespace parkit::detail
