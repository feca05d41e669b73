#pragma once
/// @file
/// Bit helpers shared by the hashes and the random streams (`rotl64`), kept at the bottom
/// layer so that `murmur_hash.hpp` and `core/random.hpp` both include downward.

#include <cstdint>

namespace parkit::detail {

/// `x` rotated left by `k` bits (0 < k < 64); compiles to one rotate instruction.
constexpr std::uint64_t rotl64(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
}

}  // namespace parkit::detail
