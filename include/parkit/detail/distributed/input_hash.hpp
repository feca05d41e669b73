#pragma once
/// @file
/// The fingerprint of a map's inputs, so that `backend::mpi` can check every rank passed the
/// same ones: MurmurHash3_x64_128 (murmur_hash.hpp) of the inputs' bytes as `parkit::memory`
/// writes its keys (cache_key.hpp: `to_bytes`'s format with padding bytes zeroed, so equal
/// values give equal hashes on every rank). Free of MPI; the engine compares the hashes.
///
/// Cost: a contiguous range of padding-free trivially copyable elements (`std::vector<double>`,
/// ...) is hashed in place at the hash's speed (several GB/s); other serializable elements are
/// written one by one into a 1 MiB buffer that is hashed each time it fills (the hash of the
/// previous block seeds the next), about the cost of serializing them once.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "../../core/serialization.hpp"
#include "../cache/cache_key.hpp"
#include "../support/iota_range.hpp"
#include "../support/murmur_hash.hpp"

namespace parkit::detail {

/// Bytes of serialized inputs hashed at a time (the buffer's size, not the inputs').
inline constexpr std::size_t input_hash_block_bytes = std::size_t{1} << 20;

/// Whether `hash_inputs` can fingerprint a range of `Range`'s elements.
template <class Range>
inline constexpr bool inputs_hashable =
    std::is_same_v<std::remove_cvref_t<Range>, iota_range> ||
    (is_serializable_v<std::ranges::range_value_t<Range>> &&
     std::is_convertible_v<std::ranges::range_reference_t<Range>, const std::ranges::range_value_t<Range>&>);

/// The fingerprint of `input` (an `indexed_input` over `range`): equal for equal element values
/// in the same order. Null when the elements cannot be serialized (then only the count can be
/// compared across ranks).
template <class Range, class Input>
std::optional<hash128> hash_inputs(Range& range, const Input& input) {
    using V = std::ranges::range_value_t<Range>;
    if constexpr (std::is_same_v<std::remove_cvref_t<Range>, iota_range>) {
        const std::uint64_t bounds[2] = {range.size() == 0 ? 0 : *range.begin(), range.size()};
        return murmur3_128(std::as_bytes(std::span<const std::uint64_t>(bounds)));
    } else if constexpr (!inputs_hashable<Range>) {
        return std::nullopt;
    } else if constexpr (std::ranges::contiguous_range<Range> && memcpy_serializable<V> && key_bytes_are_value<V>) {
        const auto* data = std::ranges::data(range);
        return murmur3_128(std::as_bytes(std::span<const V>(data, input.size())));
    } else {
        std::vector<std::byte> buffer;
        buffer.reserve(input_hash_block_bytes + 64);
        hash128 hash{0, 0};
        auto flush = [&] {
            hash = murmur3_128(buffer, static_cast<std::uint32_t>(hash[0] ^ hash[1]));
            buffer.assign(reinterpret_cast<const std::byte*>(hash.data()),
                          reinterpret_cast<const std::byte*>(hash.data()) + sizeof(hash));
        };
        key_writer writer{buffer};
        for (std::size_t i = 0; i < input.size(); ++i) {
            writer(static_cast<const V&>(input[i]));
            if (buffer.size() >= input_hash_block_bytes) flush();
        }
        flush();
        return hash;
    }
}

}  // namespace parkit::detail
