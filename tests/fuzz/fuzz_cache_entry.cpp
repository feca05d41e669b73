/// @file
/// libFuzzer target for the reader of `parkit::memory`'s cache entries: `detail::decode_entry`
/// (header, lengths, key, checksum) followed by `from_bytes` of the cached result, as
/// `memory::cache` reads a file. The first byte picks the mode:
/// - 0: the rest is a whole entry file, read as is;
/// - 1: the rest is a payload, wrapped in a valid entry: it must come back exactly;
/// - 2: a valid entry of the payload rest[1 .. 1 + rest[0]] with the remaining bytes applied as
///   (offset, xor) corruptions and a truncation: an entry whose bytes changed must be refused.
/// - 3: the rest is a file size (8 bytes) and an entry header, as `read_entry_file` checks them
///   before it allocates a block of the file's size: a header accepted for that size must
///   declare exactly that size (no overflow) and a size within `max_entry_bytes`.
/// Whatever the bytes, the reader must refuse cleanly (no crash, over-read or huge allocation)
/// and a decoded payload must give a value or a serialization_error.
///
/// fuzz-requires: include/parkit/detail/cache/cache_entry.hpp
/// Built and run by tests/fuzz/run_fuzzers.sh; -DPARKIT_FUZZ_WRITE_CORPUS makes the seed writer.

#include <parkit/core/serialization.hpp>
#include <parkit/detail/cache/cache_entry.hpp>
#include <parkit/detail/support/murmur_hash.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace {

using parkit::detail::decode_entry;
using parkit::detail::encode_entry;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_cache_entry: %s\n", what);
    std::abort();
}

/// The key of one cached call, as parkit::memory builds it (name, signature, arguments).
const std::vector<std::byte>& fixed_key() {
    static const std::vector<std::byte> key =
        parkit::to_bytes(std::string("simulate_v1"), std::string("FdidE"), 2.5, 7);
    return key;
}

/// Decodes a cached payload as the result types a cache typically holds.
[[maybe_unused]] void decode_payload(std::span<const std::byte> payload) {
    const auto as = [&]<class R>(R*) {
        try {
            (void)parkit::from_bytes<R>(payload);
        } catch (const parkit::serialization_error&) {
        }
    };
    as(static_cast<std::vector<double>*>(nullptr));
    as(static_cast<std::map<std::string, double>*>(nullptr));
    as(static_cast<std::tuple<double, std::int64_t, std::string>*>(nullptr));
}

/// The payload of `file` if the reader accepts it for the fixed key.
[[maybe_unused]] std::optional<std::span<const std::byte>> read_entry(std::span<const std::byte> file) {
    const auto& key = fixed_key();
    const char* why = nullptr;
    auto payload = decode_entry(file, parkit::detail::murmur3_128(key), key, why);
    if (!payload && why == nullptr) fail("an entry was refused without a reason");
    return payload;
}

std::vector<std::byte> valid_entry(std::span<const std::byte> payload) {
    const auto& key = fixed_key();
    return encode_entry(parkit::detail::murmur3_128(key), key, payload);
}

}  // namespace

#ifndef PARKIT_FUZZ_WRITE_CORPUS

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto rest = std::as_bytes(std::span<const std::uint8_t>(data + 1, size - 1));
    switch (data[0] % 4) {
        case 0:
            if (const auto payload = read_entry(rest)) decode_payload(*payload);
            break;
        case 1: {
            const std::vector<std::byte> file = valid_entry(rest);
            const auto payload = read_entry(file);
            if (!payload || !std::equal(payload->begin(), payload->end(), rest.begin(), rest.end()))
                fail("a valid entry did not give its payload back");
            decode_payload(*payload);
            break;
        }
        case 3: {
            using parkit::detail::entry_header;
            if (rest.size() < 8 + sizeof(entry_header)) break;
            std::uint64_t file_size = 0;
            entry_header header{};
            std::memcpy(&file_size, rest.data(), 8);
            std::memcpy(&header, rest.data() + 8, sizeof header);
            file_size %= parkit::detail::max_entry_bytes + 1;  // read_entry_file refuses larger files first
            const char* why = nullptr;
            if (parkit::detail::header_fits(header, file_size, why)) {
                const unsigned __int128 declared =
                    static_cast<unsigned __int128>(sizeof header) + header.key_bytes + header.payload_bytes;
                if (declared != file_size) fail("a header was accepted for a size it does not declare");
            } else if (why == nullptr) {
                fail("a header was refused without a reason");
            }
            break;
        }
        default: {
            if (rest.empty()) break;
            const std::size_t payload_size =
                std::min<std::size_t>(std::to_integer<std::size_t>(rest[0]), rest.size() - 1);
            const std::vector<std::byte> original = valid_entry(rest.subspan(1, payload_size));
            std::vector<std::byte> file = original;
            auto edits = rest.subspan(1 + payload_size);
            if (!edits.empty()) {  // first edit byte: bytes cut off the end
                file.resize(file.size() - std::min<std::size_t>(std::to_integer<std::size_t>(edits[0]), file.size()));
                edits = edits.subspan(1);
            }
            for (std::size_t i = 0; i + 2 < edits.size(); i += 3) {
                const std::size_t offset =
                    std::to_integer<std::size_t>(edits[i]) | std::to_integer<std::size_t>(edits[i + 1]) << 8;
                if (!file.empty()) file[offset % file.size()] ^= edits[i + 2];
            }
            if (const auto payload = read_entry(file)) {
                if (file != original) fail("a corrupted or truncated entry was accepted");
                decode_payload(*payload);
            }
        }
    }
    return 0;
}

#else  // the seed corpus writer

#include "seed_writer.hpp"

using parkit_fuzz::write_seed;

int main(int argc, char** argv) {
    const auto dir = parkit_fuzz::corpus_directory(argc, argv);
    const std::vector<std::vector<std::byte>> payloads = {
        parkit::to_bytes(std::vector<double>{1.5, -2.0, 3.25}),
        parkit::to_bytes(std::vector<double>{}),
        parkit::to_bytes(std::map<std::string, double>{{"mean", 72.5}, {"std", 1.25}}),
        parkit::to_bytes(std::tuple<double, std::int64_t, std::string>{0.5, 42, "converged"}),
    };
    for (const auto& payload : payloads) {
        write_seed(dir, 0, valid_entry(payload));
        write_seed(dir, 1, payload);
        std::vector<std::byte> corrupt{static_cast<std::byte>(payload.size())};
        corrupt.insert(corrupt.end(), payload.begin(), payload.end());
        for (const int b : {0, 40, 0, 0x5a, 3, 0, 0x01}) corrupt.push_back(static_cast<std::byte>(b));
        write_seed(dir, 2, corrupt);
    }
    return 0;
}

#endif
