#pragma once
/// @file
/// MurmurHash3_x64_128 (Austin Appleby, public domain, SMHasher): the 128-bit hash behind
/// `parkit::memory`'s cache keys and entry checksums.
///
/// Why this hash: the core must need only the standard library, so no xxHash dependency;
/// MurmurHash3_x64_128 is short (about 60 lines), fully specified by its public reference
/// implementation, checked here against SMHasher's published verification value (0x6384BA69),
/// fast (several GB/s, far below the cost of a file read) and well distributed. It is not
/// cryptographic, and need not be: a cache entry stores its full key and a hit compares it, so
/// a collision can only cost a recomputation, never a wrong result. Blocks are read as
/// little-endian words on every platform, so keys are stable across machines and runs.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "bits.hpp"

namespace parkit::detail {

/// A 128-bit hash value: the reference implementation's (h1, h2).
using hash128 = std::array<std::uint64_t, 2>;

namespace murmur {

inline constexpr std::uint64_t fmix64(std::uint64_t k) noexcept {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/// The little-endian 64-bit word at `p` (compiles to a plain load on little-endian machines).
inline std::uint64_t load_le64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

inline constexpr std::uint64_t c1 = 0x87c37b91114253d5ULL;
inline constexpr std::uint64_t c2 = 0x4cf5ad432745937fULL;

}  // namespace murmur

/// MurmurHash3_x64_128 of `data` with `seed`, exactly as the reference `MurmurHash3_x64_128`.
inline hash128 murmur3_128(std::span<const std::byte> data, std::uint32_t seed = 0) noexcept {
    using namespace murmur;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t len = data.size();
    const std::size_t nblocks = len / 16;
    std::uint64_t h1 = seed;
    std::uint64_t h2 = seed;

    for (std::size_t i = 0; i < nblocks; ++i) {
        std::uint64_t k1 = load_le64(bytes + 16 * i);
        std::uint64_t k2 = load_le64(bytes + 16 * i + 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }

    const unsigned char* tail = bytes + nblocks * 16;
    const std::size_t rest = len & 15;
    std::uint64_t k1 = 0;
    std::uint64_t k2 = 0;
    for (std::size_t i = rest; i > 8; --i) k2 ^= static_cast<std::uint64_t>(tail[i - 1]) << (8 * (i - 9));
    if (rest > 8) {
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
    }
    for (std::size_t i = rest < 8 ? rest : 8; i > 0; --i)
        k1 ^= static_cast<std::uint64_t>(tail[i - 1]) << (8 * (i - 1));
    if (rest > 0) {
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
    }

    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    return {h1, h2};
}

}  // namespace parkit::detail
