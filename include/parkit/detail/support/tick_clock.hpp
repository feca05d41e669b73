#pragma once
/// @file
/// A cheap clock for timing chunks: the CPU's time-stamp counter where there is an invariant
/// one (x86-64), `steady_clock` elsewhere. Chunk timing reads the clock twice per chunk, and on
/// virtual machines `steady_clock::now()` can cost ~100 ns (the vDSO falls back to a system
/// call), which is a sizeable part of a 10,000-element map of nanosecond tasks. `rdtsc` costs
/// a few ns; its rate is calibrated once against `steady_clock` (a ~20 µs spin on first use).

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace parkit::detail {

/// Monotonic ticks and their conversion to nanoseconds (estimates for scheduling, not for
/// reporting wall time: use `steady_clock` for that).
class tick_clock {
public:
    /// The current tick count.
    static std::uint64_t now() noexcept {
#if defined(__x86_64__)
        return __rdtsc();
#else
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count());
#endif
    }

    /// Nanoseconds between two tick counts (0 if `end` is before `start`, e.g. read on
    /// different cores of a machine whose counters drift).
    static double elapsed_ns(std::uint64_t start, std::uint64_t end) noexcept {
        if (end <= start) return 0.0;
        return static_cast<double>(end - start) * ns_per_tick();
    }

    /// Nanoseconds per tick (1 without a time-stamp counter).
    static double ns_per_tick() noexcept {
        static const double rate = calibrate();
        return rate;
    }

private:
    static double calibrate() noexcept {
#if defined(__x86_64__)
        using clock = std::chrono::steady_clock;
        constexpr auto span = std::chrono::microseconds(20);
        const auto t0 = clock::now();
        const std::uint64_t c0 = __rdtsc();
        auto t1 = t0;
        while ((t1 = clock::now()) - t0 < span) {
        }
        const std::uint64_t c1 = __rdtsc();
        const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        // A counter that did not advance (or a clock that jumped) falls back to a plausible
        // 1 GHz rate: the estimates only steer chunk sizes.
        return c1 > c0 && ns > 0 ? ns / static_cast<double>(c1 - c0) : 1.0;
#else
        return 1.0;
#endif
    }
};

}  // namespace parkit::detail
