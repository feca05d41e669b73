#pragma once
/// @file
/// The on-disk form of one `parkit::memory` entry and the POSIX file operations behind it:
/// a whole-file read (open + read + close, no streams) and an atomic write (a uniquely named
/// temporary file in the entry's directory, then rename over the entry).
///
/// Entry layout: `entry_header` (magic, format version, key hash, key and payload lengths,
/// payload checksum), then the full key bytes (serialized name, signature and arguments), then
/// the payload (the serialized result). A reader accepts an entry only when the file size, the
/// magic, the version, the key hash, the key bytes and the payload checksum all match; anything
/// else (truncated, corrupt, another key that collided, another format) is a miss.

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "murmur_hash.hpp"

namespace parkit::detail {

/// Fixed-size header at the start of every cache entry file.
struct entry_header {
    std::array<char, 8> magic;           ///< `entry_magic`
    std::uint32_t version;               ///< `entry_format_version`
    std::uint32_t header_bytes;          ///< sizeof(entry_header) when written
    hash128 key_hash;                    ///< MurmurHash3_x64_128 of the key bytes
    std::uint64_t key_bytes;             ///< length of the key that follows the header
    std::uint64_t payload_bytes;         ///< length of the payload that follows the key
    std::uint64_t payload_checksum;      ///< first word of MurmurHash3_x64_128(payload, seed 1)
};

/// The first eight bytes of every entry.
inline constexpr std::array<char, 8> entry_magic{'P', 'K', 'M', 'E', 'M', 'O', 'R', 'Y'};
/// Bumped whenever the layout changes; entries of other versions are misses.
inline constexpr std::uint32_t entry_format_version = 1;

/// Checksum of a payload.
inline std::uint64_t payload_checksum(std::span<const std::byte> payload) noexcept {
    return murmur3_128(payload, 1)[0];
}

/// The full file image of an entry for `key` (hashing to `key_hash`) holding `payload`.
inline std::vector<std::byte> encode_entry(const hash128& key_hash, std::span<const std::byte> key,
                                           std::span<const std::byte> payload) {
    entry_header header{};
    header.magic = entry_magic;
    header.version = entry_format_version;
    header.header_bytes = sizeof(entry_header);
    header.key_hash = key_hash;
    header.key_bytes = key.size();
    header.payload_bytes = payload.size();
    header.payload_checksum = payload_checksum(payload);
    std::vector<std::byte> image(sizeof header + key.size() + payload.size());
    std::memcpy(image.data(), &header, sizeof header);
    if (!key.empty()) std::memcpy(image.data() + sizeof header, key.data(), key.size());
    if (!payload.empty()) std::memcpy(image.data() + sizeof header + key.size(), payload.data(), payload.size());
    return image;
}

/// The payload of the entry image `file` if it is a complete, intact entry for exactly `key`;
/// otherwise nothing, with the reason in `why`.
inline std::optional<std::span<const std::byte>> decode_entry(std::span<const std::byte> file,
                                                              const hash128& key_hash,
                                                              std::span<const std::byte> key,
                                                              const char*& why) noexcept {
    entry_header header{};
    if (file.size() < sizeof header) {
        why = "truncated header";
        return std::nullopt;
    }
    std::memcpy(&header, file.data(), sizeof header);
    if (header.magic != entry_magic) {
        why = "not a parkit cache entry (bad magic)";
        return std::nullopt;
    }
    if (header.version != entry_format_version || header.header_bytes != sizeof header) {
        why = "other entry format version";
        return std::nullopt;
    }
    if (header.key_bytes > file.size() || header.payload_bytes > file.size() ||
        sizeof header + header.key_bytes + header.payload_bytes != file.size()) {
        why = "truncated or padded entry (length mismatch)";
        return std::nullopt;
    }
    if (header.key_hash != key_hash || header.key_bytes != key.size() ||
        std::memcmp(file.data() + sizeof header, key.data(), key.size()) != 0) {
        why = "entry of another key (hash collision)";
        return std::nullopt;
    }
    const auto payload = file.subspan(sizeof header + key.size());
    if (payload_checksum(payload) != header.payload_checksum) {
        why = "payload checksum mismatch";
        return std::nullopt;
    }
    return payload;
}

/// A growable byte buffer that is never zero-filled (a hit reads into it; a 16 KiB
/// `std::vector` would cost more to clear than the read itself).
class read_buffer {
public:
    /// Room for at least `size` bytes; keeps the first `keep` bytes when it grows.
    std::byte* reserve(std::size_t size, std::size_t keep = 0) {
        if (size > capacity_) {
            std::unique_ptr<std::byte[]> grown(new std::byte[size]);
            if (keep != 0) std::memcpy(grown.get(), data_.get(), keep);
            data_ = std::move(grown);
            capacity_ = size;
        }
        return data_.get();
    }
    /// Bytes available without growing.
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

private:
    std::unique_ptr<std::byte[]> data_;
    std::size_t capacity_ = 0;
};

/// Reads the whole file at `path` into `buffer` and returns its bytes; nothing (errno set) when
/// it cannot be opened — a missing file, the common miss, is ENOENT. Three system calls (open,
/// read, close) for files that fit the buffer (16 KiB at first): a read shorter than asked is
/// taken as the end of the file, which is what regular files do — and a short result would
/// anyway fail the entry's length check and count as a miss, never as a wrong hit.
inline std::optional<std::span<const std::byte>> read_whole_file(const std::string& path, read_buffer& buffer) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::byte* data = buffer.reserve(16384);
    std::size_t done = 0;
    for (;;) {
        const ssize_t got = ::read(fd, data + done, buffer.capacity() - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        done += static_cast<std::size_t>(got);
        if (done < buffer.capacity()) break;  // short read: end of file
        data = buffer.reserve(2 * buffer.capacity(), done);
    }
    ::close(fd);
    return std::span<const std::byte>(data, done);
}

/// A temporary file name next to `path`, unique across the threads and processes of a machine
/// (process id + a per-process counter).
inline std::string temporary_name(const std::string& path) {
    static std::atomic<std::uint64_t> counter{0};
    return path + ".tmp." + std::to_string(::getpid()) + "." +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

/// Writes `bytes` to `path` atomically: readers see the old file or the complete new one, never
/// a torn one, whatever other threads or processes do at the same time. Returns 0 on success,
/// otherwise the errno of the step that failed (the temporary file is removed).
inline int write_file_atomically(const std::string& path, std::span<const std::byte> bytes) {
    const std::string temporary = temporary_name(path);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    std::size_t done = 0;
    int error = 0;
    while (done < bytes.size()) {
        const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) {
            error = wrote < 0 ? errno : EIO;
            break;
        }
        done += static_cast<std::size_t>(wrote);
    }
    if (::close(fd) != 0 && error == 0) error = errno;
    if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
    if (error != 0) ::unlink(temporary.c_str());
    return error;
}

/// Lower-case hexadecimal of a 128-bit hash (32 characters).
inline std::string hash_hex(const hash128& h) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (std::size_t word = 0; word < 2; ++word) {
        for (std::size_t nibble = 0; nibble < 16; ++nibble) {
            out[word * 16 + nibble] = digits[(h[word] >> (60 - 4 * nibble)) & 0xF];
        }
    }
    return out;
}

}  // namespace parkit::detail
