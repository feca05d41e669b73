#pragma once
/// @file
/// `read_file_start`: the first bytes of a small system file (/proc, cgroup settings) with
/// plain POSIX calls — no allocation, no lock, no <fstream> — so that a forked child or a
/// header every parkit user includes can read one.

#include <cstddef>

#if defined(__unix__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace parkit::detail {

/// Reads at most `size - 1` bytes from the start of the file at `path` into `buffer`, followed
/// by a NUL; returns how many were read, or -1 when the file cannot be opened or read (or
/// `size` is 0, or the platform has no POSIX files).
inline long read_file_start(const char* path, char* buffer, std::size_t size) noexcept {
#if defined(__unix__)
    if (size == 0) return -1;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t got = ::read(fd, buffer, size - 1);
    ::close(fd);
    if (got < 0) return -1;
    buffer[got] = 0;
    return static_cast<long>(got);
#else
    (void)path;
    (void)buffer;
    (void)size;
    return -1;
#endif
}

}  // namespace parkit::detail
