#pragma once
/// @file
/// Reproducible, independent random streams for parallel tasks (numpy's SeedSequence idea).
///
/// `parkit::seed_sequence{42}.stream(i)` gives task (or chunk) `i` its own generator. The
/// stream depends only on the root seed and on `i`, never on which thread, process or rank
/// runs it, so a Monte Carlo study gives bit-identical results for any `n_jobs`, chunk size
/// and backend as long as sample `i` always draws from stream `i` (or from a stream keyed
/// by a fixed block of samples).
///
/// Why hand-written: the standard library has no splittable seeding, and Boost.Random 1.74
/// has no small counter-seeded generator. xoshiro256++ (Blackman & Vigna, public domain)
/// with SplitMix64 key mixing is 32 bytes of state, seeds in nanoseconds and passes
/// BigCrush; ~30 lines are cheaper to keep than a dependency.
///
/// Normal draws (`random_stream::normal`) use parkit's own transform, not
/// std::normal_distribution, whose algorithm differs between libstdc++ and libc++: the same
/// seed gives the same numbers with either standard library (checked by a ctest that builds
/// with clang++ -stdlib=libc++).

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../detail/support/bits.hpp"

namespace parkit {

namespace detail {

/// SplitMix64 finaliser: a bijective 64-bit mixer with full avalanche.
constexpr std::uint64_t splitmix64_mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// Derives a child key from a parent key and an index; distinct (key, index) pairs give
/// unrelated keys.
constexpr std::uint64_t derive_key(std::uint64_t key, std::uint64_t index) noexcept {
    return splitmix64_mix(splitmix64_mix(key + 0x9e3779b97f4a7c15ULL) ^ splitmix64_mix(index + 0xd1b54a32d192ed03ULL));
}

}  // namespace detail

/// A fast 64-bit generator (xoshiro256++) satisfying std::uniform_random_bit_generator,
/// usable with every <random> distribution. Obtain one from seed_sequence::stream().
class random_stream {
public:
    /// The type of the numbers produced.
    using result_type = std::uint64_t;

    /// Seeds the state from a 64-bit key by running SplitMix64 (the authors' recommended
    /// seeding; never yields the all-zero state).
    explicit constexpr random_stream(std::uint64_t key) noexcept {
        std::uint64_t x = key;
        for (auto& word : state_) {
            x += 0x9e3779b97f4a7c15ULL;
            word = detail::splitmix64_mix(x);
        }
    }

    /// Smallest value produced.
    static constexpr result_type min() noexcept { return 0; }
    /// Largest value produced.
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    /// The next 64 random bits.
    constexpr result_type operator()() noexcept {
        const std::uint64_t result = detail::rotl64(state_[0] + state_[3], 23) + state_[0];
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = detail::rotl64(state_[3], 45);
        return result;
    }

    /// A uniform double in [0, 1) with 53 random bits (independent of the standard
    /// library's distribution implementations, so identical on every platform).
    constexpr double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

    /// A draw from Normal(mean, stddev) by Marsaglia's polar method on uniform01(): pairs
    /// (u, v) uniform in the square (−1, 1)² are kept when 0 < s = u² + v² < 1 and give
    /// mean + stddev · u · sqrt(−2 ln(s) / s); v's partner draw is discarded, so the stream
    /// holds no cached value. Only IEEE arithmetic, sqrt (correctly rounded) and std::log
    /// are used; std::log is the C library's on both libstdc++ and libc++, so the draws do
    /// not depend on the C++ standard library.
    double normal(double mean = 0.0, double stddev = 1.0) noexcept {
        for (;;) {
            const double u = 2.0 * uniform01() - 1.0, v = 2.0 * uniform01() - 1.0;
            const double s = u * u + v * v;
            if (s < 1.0 && s > 0.0) return mean + stddev * (u * std::sqrt(-2.0 * std::log(s) / s));
        }
    }

    /// Two streams are equal when they will produce the same sequence.
    friend constexpr bool operator==(const random_stream&, const random_stream&) = default;

private:
    std::array<std::uint64_t, 4> state_{};
};

/// A root seed from which independent, reproducible streams and child sequences derive.
class seed_sequence {
public:
    /// A sequence rooted at `seed` (e.g. `seed_sequence{42}`).
    explicit constexpr seed_sequence(std::uint64_t seed) noexcept
        : key_(detail::splitmix64_mix(seed ^ 0x5eed5eed5eed5eedULL)) {}

    /// The generator of task (or chunk) `index`: depends only on the root seed and `index`.
    [[nodiscard]] constexpr random_stream stream(std::uint64_t index) const noexcept {
        return random_stream(detail::derive_key(key_, index));
    }

    /// An independent child sequence (for nested studies: `seq.spawn(run).stream(task)`).
    [[nodiscard]] constexpr seed_sequence spawn(std::uint64_t index) const noexcept {
        return seed_sequence(key_tag{}, detail::derive_key(~key_, index));
    }

private:
    struct key_tag {};
    constexpr seed_sequence(key_tag, std::uint64_t key) noexcept : key_(key) {}
    std::uint64_t key_;
};

}  // namespace parkit
