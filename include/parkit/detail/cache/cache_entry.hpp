#pragma once
/// @file
/// The on-disk form of one `parkit::memory` entry and the POSIX file operations behind it:
/// a whole-file read that only reads regular files of a bounded size (open + fstat + read +
/// close, no streams), an atomic write (a temporary file named after its writer's pid in the
/// entry's directory, then rename over the entry), and the removal of temporary files left by
/// writers that died.
///
/// Entry layout: `entry_header` (magic, format version, key hash, key and payload lengths,
/// payload checksum), then the full key bytes (serialized name, signature and arguments), then
/// the payload (the serialized result). A reader accepts an entry only when the file size, the
/// magic, the version, the key hash, the key bytes and the payload checksum all match; anything
/// else (truncated, corrupt, another key that collided, another format) is a miss.

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/murmur_hash.hpp"

namespace parkit::detail {

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

/// Fixed-size header at the start of every cache entry file.
struct entry_header {
    std::array<char, 8> magic;       ///< `entry_magic`
    std::uint32_t version;           ///< `entry_format_version`
    std::uint32_t header_bytes;      ///< sizeof(entry_header) when written
    hash128 key_hash;                ///< MurmurHash3_x64_128 of the key bytes
    std::uint64_t key_bytes;         ///< length of the key that follows the header
    std::uint64_t payload_bytes;     ///< length of the payload that follows the key
    std::uint64_t payload_checksum;  ///< first word of MurmurHash3_x64_128(payload, seed 1)
};

/// The first eight bytes of every entry.
inline constexpr std::array<char, 8> entry_magic{'P', 'K', 'M', 'E', 'M', 'O', 'R', 'Y'};
/// Bumped whenever the layout changes; entries of other versions are misses.
inline constexpr std::uint32_t entry_format_version = 1;

/// Largest entry file written or read (64 GiB): a larger result is not stored (a
/// `store_failed` event), and a larger file at an entry's path is a miss, so a huge or endless
/// file (a symlink to `/dev/zero` is refused anyway) can never exhaust the memory of a reader.
inline constexpr std::uint64_t max_entry_bytes = std::uint64_t{1} << 36;

/// Checksum of a payload.
inline std::uint64_t payload_checksum(std::span<const std::byte> payload) noexcept {
    return murmur3_128(payload, 1)[0];
}

/// The header of an entry for `key` (hashing to `key_hash`) holding `payload`.
inline entry_header make_entry_header(const hash128& key_hash, std::span<const std::byte> key,
                                      std::span<const std::byte> payload) noexcept {
    entry_header header{};
    header.magic = entry_magic;
    header.version = entry_format_version;
    header.header_bytes = sizeof(entry_header);
    header.key_hash = key_hash;
    header.key_bytes = key.size();
    header.payload_bytes = payload.size();
    header.payload_checksum = payload_checksum(payload);
    return header;
}

/// The full file image of an entry for `key` (hashing to `key_hash`) holding `payload`.
inline std::vector<std::byte> encode_entry(const hash128& key_hash, std::span<const std::byte> key,
                                           std::span<const std::byte> payload) {
    const entry_header header = make_entry_header(key_hash, key, payload);
    std::vector<std::byte> image(sizeof header + key.size() + payload.size());
    std::memcpy(image.data(), &header, sizeof header);
    if (!key.empty()) std::memcpy(image.data() + sizeof header, key.data(), key.size());
    if (!payload.empty()) std::memcpy(image.data() + sizeof header + key.size(), payload.data(), payload.size());
    return image;
}

/// True when `header` is one of this format whose declared lengths add up to `file_size`;
/// otherwise false with the reason in `why`. Overflow-free: each length is first compared with
/// the file size.
inline bool header_fits(const entry_header& header, std::uint64_t file_size, const char*& why) noexcept {
    if (header.magic != entry_magic) {
        why = "not a parkit cache entry (bad magic)";
        return false;
    }
    if (header.version != entry_format_version || header.header_bytes != sizeof header) {
        why = "other entry format version";
        return false;
    }
    if (header.key_bytes > file_size || header.payload_bytes > file_size ||
        sizeof header + header.key_bytes + header.payload_bytes != file_size) {
        why = "truncated or padded entry (length mismatch)";
        return false;
    }
    return true;
}

/// The payload of the entry image `file` if it is a complete, intact entry for exactly `key`;
/// otherwise nothing, with the reason in `why`.
inline std::optional<std::span<const std::byte>> decode_entry(std::span<const std::byte> file, const hash128& key_hash,
                                                              std::span<const std::byte> key,
                                                              const char*& why) noexcept {
    entry_header header{};
    if (file.size() < sizeof header) {
        why = "truncated header";
        return std::nullopt;
    }
    std::memcpy(&header, file.data(), sizeof header);
    if (!header_fits(header, file.size(), why)) return std::nullopt;
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

/// A thread's reusable block for small entries (a hit reads into it; never zero-filled, since
/// clearing would cost more than the read). Its size is fixed, so a thread never keeps more
/// than `kept_bytes` alive after a large hit.
class read_buffer {
public:
    /// Size of the reusable block; larger entries get a block of their own, freed after use.
    static constexpr std::size_t kept_bytes = 64 * 1024;
    /// The block (allocated on first use).
    std::byte* get() {
        if (!data_) data_.reset(new std::byte[kept_bytes]);
        return data_.get();
    }

private:
    std::unique_ptr<std::byte[]> data_;
};

/// The bytes of an entry file read by `read_entry_file`: in the thread's `read_buffer` (small
/// entries) or in a block of exactly the file's size that this object owns and frees.
class file_image {
public:
    /// The file's bytes.
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

private:
    friend std::optional<file_image> read_entry_file(const std::string&, read_buffer&, const char*&);
    std::unique_ptr<std::byte[]> owned_;
    std::span<const std::byte> bytes_;
};

/// Reads exactly `size` bytes at `offset` of `fd`; false on an error or an early end of file.
inline bool read_exactly(int fd, std::byte* data, std::size_t size, std::uint64_t offset) noexcept {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t got = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        done += static_cast<std::size_t>(got);
    }
    return true;
}

/// Reads the entry file at `path` whole, into a buffer sized from `fstat`. Nothing when there is
/// no usable file: `why` is null for a missing file (the common miss) and names the problem
/// otherwise. Only a regular file is read: the path is opened with `O_NOFOLLOW` (a symbolic
/// link is refused) and `O_NONBLOCK` (a FIFO cannot block the open), then `fstat` must say
/// regular file of at most `max_entry_bytes`; a large file's header must declare exactly the
/// file's size before a block of that size is allocated. A small entry (the common hit: open,
/// fstat, read, close) lands in `buffer`.
inline std::optional<file_image> read_entry_file(const std::string& path, read_buffer& buffer, const char*& why) {
    why = nullptr;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            why = "the entry's path is a symbolic link (not followed)";
        else if (errno != ENOENT)
            why = "the entry cannot be opened";
        return std::nullopt;
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_on_return{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        why = "the entry cannot be examined (fstat failed)";
        return std::nullopt;
    }
    if (!S_ISREG(info.st_mode)) {
        why = "not a regular file (FIFO, device, directory, ...)";
        return std::nullopt;
    }
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > max_entry_bytes) {
        why = "larger than the cache's entry size limit (max_entry_bytes)";
        return std::nullopt;
    }
    if (size < sizeof(entry_header)) {
        why = "truncated header";
        return std::nullopt;
    }
    file_image image;
    std::byte* data = nullptr;
    if (size <= read_buffer::kept_bytes) {
        data = buffer.get();
    } else {
        entry_header header{};
        if (!read_exactly(fd, reinterpret_cast<std::byte*>(&header), sizeof header, 0)) {
            why = "truncated header";
            return std::nullopt;
        }
        if (!header_fits(header, size, why)) return std::nullopt;
        image.owned_.reset(new (std::nothrow) std::byte[static_cast<std::size_t>(size)]);
        if (!image.owned_) {
            why = "not enough memory to read the entry";
            return std::nullopt;
        }
        data = image.owned_.get();
    }
    if (!read_exactly(fd, data, static_cast<std::size_t>(size), 0)) {
        why = "the entry shrank or failed while being read";
        return std::nullopt;
    }
    image.bytes_ = std::span<const std::byte>(data, static_cast<std::size_t>(size));
    return image;
}

/// This machine and pid namespace, as 12 hexadecimal digits (a hash of the host name and the
/// pid namespace's inode): a temporary file's pid only says whether its writer is alive when
/// the file was written by a process that this one can see.
inline const std::string& writer_namespace_token() {
    static const std::string token = [] {
        std::array<char, 256> host{};
        (void)::gethostname(host.data(), host.size() - 1);
        std::string id(host.data());
        struct stat ns {};
        if (::stat("/proc/self/ns/pid", &ns) == 0) {
            id += '/' + std::to_string(ns.st_dev) + '/' + std::to_string(ns.st_ino);
        }
        const std::string hex = hash_hex(murmur3_128(std::as_bytes(std::span<const char>(id.data(), id.size()))));
        return hex.substr(0, 12);
    }();
    return token;
}

/// Marks a temporary file of an entry being written: `<entry>.tmp.<namespace token>.<pid>.<n>`.
inline constexpr std::string_view temporary_marker = ".entry.tmp.";

/// A temporary file name next to `path`, unique across the threads and processes of a machine
/// (namespace token + process id + a per-process counter), from which a later `memory` can
/// tell whether its writer is still alive.
inline std::string temporary_name(const std::string& path) {
    static std::atomic<std::uint64_t> counter{0};
    return path + ".tmp." + writer_namespace_token() + "." + std::to_string(::getpid()) + "." +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

/// Writes the concatenation of `parts` to `path` atomically: readers see the old file or the
/// complete new one, never a torn one, whatever other threads or processes do at the same time.
/// Returns 0 on success, otherwise the errno of the step that failed (the temporary file is
/// removed).
inline int write_file_atomically(const std::string& path, std::initializer_list<std::span<const std::byte>> parts) {
    const std::string temporary = temporary_name(path);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    int error = 0;
    for (const std::span<const std::byte> bytes : parts) {
        std::size_t done = 0;
        while (error == 0 && done < bytes.size()) {
            const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (wrote < 0 && errno == EINTR) continue;
            if (wrote <= 0) {
                error = wrote < 0 ? errno : EIO;
                break;
            }
            done += static_cast<std::size_t>(wrote);
        }
    }
    if (::close(fd) != 0 && error == 0) error = errno;
    if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
    if (error != 0) ::unlink(temporary.c_str());
    return error;
}

/// A temporary file untouched for this long is removed whoever wrote it (a writer appends
/// continuously and renames when done, so only a dead or frozen one leaves such a file).
inline constexpr std::chrono::hours stale_temporary_age{24};

/// True when process `pid` (of this pid namespace) still runs; a zombie (killed, not yet
/// reaped) does not.
inline bool process_running(long pid) noexcept {
    if (pid <= 0) return true;  // not a writer's pid: never judged dead by pid
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
    const std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = ::open(stat_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    std::array<char, 512> text{};
    const ssize_t got = ::read(fd, text.data(), text.size() - 1);
    ::close(fd);
    if (got <= 0) return true;
    const char* paren = std::strrchr(text.data(), ')');  // "pid (comm) S ...": state after the name
    return paren == nullptr || paren[1] != ' ' || (paren[2] != 'Z' && paren[2] != 'X');
}

/// Whether the temporary file `name` (a file name, no directory) is stale: written by a process
/// of this namespace that no longer runs (its pid is in the name), or, whoever wrote it,
/// unmodified for `stale_temporary_age`. Never a temporary file of a running writer.
inline bool temporary_is_stale(std::string_view name, std::chrono::system_clock::duration age) {
    const std::size_t marker = name.find(temporary_marker);
    if (marker == std::string_view::npos) return false;
    if (age >= stale_temporary_age) return true;
    std::string_view rest = name.substr(marker + temporary_marker.size());
    const std::string& token = writer_namespace_token();
    if (rest.substr(0, token.size()) != token || rest.size() <= token.size() || rest[token.size()] != '.') return false;
    rest.remove_prefix(token.size() + 1);
    long pid = 0;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    if (error != std::errc{} || end == rest.data() || end == rest.data() + rest.size() || *end != '.') return false;
    return pid != ::getpid() && !process_running(pid);
}

/// Removes the stale temporary files (see `temporary_is_stale`) in the function directories
/// under the cache root `root`; returns how many were removed. Files that vanish meanwhile and
/// unreadable directories are skipped.
inline std::size_t remove_stale_temporaries(const std::string& root) {
    namespace fs = std::filesystem;
    std::size_t removed = 0;
    std::error_code error;
    const auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator function(root, error), end; !error && function != end; function.increment(error)) {
        std::error_code ignored;
        if (!function->is_directory(ignored) || function->is_symlink(ignored)) continue;
        std::error_code list_error;
        for (fs::directory_iterator file(function->path(), list_error); !list_error && file != end;
             file.increment(list_error)) {
            const std::string name = file->path().filename().string();
            if (name.find(temporary_marker) == std::string::npos) continue;
            std::error_code stat_error;
            if (!file->is_regular_file(stat_error) || file->is_symlink(stat_error)) continue;
            const auto modified = file->last_write_time(stat_error);
            if (stat_error) continue;
            const auto age = std::chrono::duration_cast<std::chrono::system_clock::duration>(now - modified);
            if (temporary_is_stale(name, age) && ::unlink(file->path().c_str()) == 0) ++removed;
        }
    }
    return removed;
}

}  // namespace parkit::detail
