#pragma once
/// @file
/// Worker processes and the messages between them and the parent (Linux/POSIX only).
///
/// Each worker is a fork() joined to the parent by one AF_UNIX stream socketpair. A message is
/// a fixed header (kind, run time, id, payload size, the process tree's tag, the worker's slot)
/// followed by the payload, at most `max_message_bytes`; several messages
/// can go out in one `sendmsg` (`message_batch`) and come in with one `recv` (`message_reader`).
/// Sockets rather than pipes:
/// `send(..., MSG_NOSIGNAL)` reports a dead peer as EPIPE instead of killing the parent with
/// SIGPIPE, and one descriptor carries both directions.

#if !defined(__unix__) && !defined(__APPLE__)
#error "parkit's process backend needs POSIX fork() and sockets (Linux); use the thread backend"
#endif

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/process_errors.hpp"
#include "../support/file_start.hpp"

namespace parkit::detail {

/// What a message is.
enum class message_kind : std::uint32_t {
    task = 1,        ///< parent -> worker: run this (payload: trampoline + arguments)
    result = 2,      ///< worker -> parent: the message ran (payload: its tasks' outcomes, task_codec.hpp)
    exception = 3,   ///< worker -> parent: the message could not run (payload: one failed outcome)
    chunk = 4,       ///< parent -> worker: run tasks [begin, end) of the current map
    chunk_done = 5,  ///< worker -> parent: results of a chunk
};

/// A number drawn once per process tree (before its first parkit fork, so parent, fork
/// servers and workers share it) that every message header carries: bytes a task writes into
/// its worker's socket by mistake are recognised as no message, instead of being trusted as a
/// header announcing some payload.
inline std::uint32_t message_tag() noexcept {
    static const std::uint32_t tag = [] {
        const int local = 0;
        std::uint64_t x = static_cast<std::uint64_t>(::getpid()) ^
                          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                          reinterpret_cast<std::uintptr_t>(&local);
        x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdULL;  // murmur3's finalizer
        x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ULL;
        return static_cast<std::uint32_t>(x ^ (x >> 33)) | 1u;  // never 0: a zeroed header is no message
    }();
    return tag;
}

/// Slot number meaning "no slot" in `message_header::slot`.
inline constexpr std::uint32_t no_slot = ~std::uint32_t{0};

/// Fixed-size header of every message.
struct message_header {
    message_kind kind;
    std::uint32_t elapsed_us = 0;       ///< worker -> parent: how long the task ran (µs, saturated)
    std::uint64_t id = 0;               ///< task id / chunk begin
    std::uint64_t size = 0;             ///< payload bytes that follow
    std::uint32_t tag = message_tag();  ///< see message_tag()
    std::uint32_t slot = no_slot;       ///< parent -> pool worker: the worker's slot (its claim counter)
};

/// Largest payload one message between processes may carry: 1 GiB unless the program defines
/// `PARKIT_MAX_MESSAGE_BYTES` (before including parkit) to another byte count. A receiver
/// refuses a header announcing more before allocating anything and ends the sender (the task
/// fails with `worker_crashed`); a sender refuses to send more (`std::length_error`).
#if defined(PARKIT_MAX_MESSAGE_BYTES)
inline constexpr std::uint64_t max_message_bytes = PARKIT_MAX_MESSAGE_BYTES;
#else
inline constexpr std::uint64_t max_message_bytes = std::uint64_t{1} << 30;
#endif

/// Sends the `count` buffers of `parts` (advancing them past what went out) until all are sent
/// or the peer is gone; returns the bytes sent. Writes up to IOV_MAX buffers per `sendmsg`.
/// @throws std::system_error on an error other than a closed peer.
inline std::size_t send_parts(int fd, iovec* parts, std::size_t count) {
    std::size_t total = 0;
    while (count > 0) {
        msghdr msg{};
        msg.msg_iov = parts;
        msg.msg_iovlen = std::min<std::size_t>(count, IOV_MAX);
        const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EPIPE || errno == ECONNRESET) return total;
            throw std::system_error(errno, std::generic_category(), "parkit: sending to a worker process");
        }
        total += static_cast<std::size_t>(n);
        for (std::size_t sent = static_cast<std::size_t>(n); count > 0 && (sent > 0 || parts->iov_len == 0);) {
            const std::size_t take = std::min(sent, parts->iov_len);
            parts->iov_base = static_cast<char*>(parts->iov_base) + take;
            parts->iov_len -= take;
            sent -= take;
            if (parts->iov_len == 0) {
                ++parts;
                --count;
            }
        }
    }
    return total;
}

/// Sends a header and its payload; false if the peer is gone. `elapsed_us` goes in the header.
inline bool send_message(int fd, message_kind kind, std::uint64_t id, std::span<const std::byte> payload,
                         std::uint32_t elapsed_us = 0) {
    message_header header{kind, elapsed_us, id, payload.size()};
    if (payload.size() > max_message_bytes)
        throw std::length_error("parkit: a message of " + std::to_string(payload.size()) +
                                " bytes exceeds the limit between processes (PARKIT_MAX_MESSAGE_BYTES = " +
                                std::to_string(max_message_bytes) + ")");
    iovec parts[2] = {{&header, sizeof header}, {const_cast<std::byte*>(payload.data()), payload.size()}};
    return send_parts(fd, parts, 2) == sizeof header + payload.size();
}

/// Messages collected for one socket and sent together: one `sendmsg` carries many tasks.
class message_batch {
public:
    /// Adds a message; `payload` is referenced, not copied, and must stay alive until `send`.
    void add(message_kind kind, std::uint64_t id, std::span<const std::byte> payload, std::uint32_t slot = no_slot) {
        message_header header{kind, 0, id, payload.size()};
        header.slot = slot;
        headers_.push_back(header);
        payloads_.push_back(payload);
        bytes_ += sizeof(message_header) + payload.size();
    }

    /// Bytes (headers and payloads) of every message added.
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

    /// Bytes (headers and payloads) of the first message added.
    [[nodiscard]] std::size_t first_message_bytes() const noexcept {
        return headers_.empty() ? 0 : sizeof(message_header) + payloads_.front().size();
    }

    /// Sends every message added and empties the batch; returns the bytes that went out, all of
    /// them unless the peer is gone.
    /// @throws std::system_error on an error other than a closed peer.
    std::size_t send(int fd) {
        parts_.clear();
        for (std::size_t k = 0; k < headers_.size(); ++k) {
            parts_.push_back(iovec{&headers_[k], sizeof(message_header)});
            if (!payloads_[k].empty())
                parts_.push_back(iovec{const_cast<std::byte*>(payloads_[k].data()), payloads_[k].size()});
        }
        const std::size_t sent = send_parts(fd, parts_.data(), parts_.size());
        headers_.clear();
        payloads_.clear();
        bytes_ = 0;
        return sent;
    }

private:
    std::vector<message_header> headers_;
    std::vector<std::span<const std::byte>> payloads_;
    std::vector<iovec> parts_;
    std::size_t bytes_ = 0;
};

/// Whether `header` can be trusted: this process tree's tag, a known kind and a size within
/// `max_message_bytes`. Checked before a byte of the payload is allocated.
inline bool valid_header(const message_header& header) noexcept {
    const auto kind = static_cast<std::uint32_t>(header.kind);
    return header.tag == message_tag() && kind >= static_cast<std::uint32_t>(message_kind::task) &&
           kind <= static_cast<std::uint32_t>(message_kind::chunk_done) && header.size <= max_message_bytes;
}

/// Why `header` is not trusted, for the error that reports its sender (see valid_header).
inline std::string describe_bad_header(const message_header& header) {
    if (header.tag != message_tag()) return "bytes that are no parkit message (a task writing to its worker's socket?)";
    if (header.size > max_message_bytes)
        return "a message header announcing " + std::to_string(header.size) + " bytes, over the limit of " +
               std::to_string(max_message_bytes) + " (PARKIT_MAX_MESSAGE_BYTES)";
    return "a message of unknown kind " + std::to_string(static_cast<std::uint32_t>(header.kind));
}

/// Reads messages from a stream socket through a buffer, so that one `recv` brings in every
/// message the peer has written so far (a batch of tasks, several replies) instead of two
/// `recv`s per message. A message larger than the buffer grows it and is read in place. The
/// one reader of every message between parkit's processes, on both sides.
class message_reader {
public:
    /// A reader whose `recv`s ask for at least `min_read` bytes: 64 KiB (many replies per
    /// `recv`) by default; a worker forked from a thread of a busy parent reads its small
    /// messages with a small buffer instead, to allocate as little as it can there.
    explicit message_reader(std::size_t min_read = std::size_t{64} << 10) noexcept
        : min_read_(std::max(min_read, sizeof(message_header))) {}

    /// Reads what the socket holds (blocking until at least one byte arrives, unless
    /// `nonblocking`: then true with nothing read when nothing is there); false at end of
    /// stream (the peer is gone).
    /// @throws std::system_error on an error other than a reset connection.
    bool fill(int fd, bool nonblocking = false) {
        make_room();
        for (;;) {
            const ssize_t n = ::recv(fd, buffer_.data() + end_, buffer_.size() - end_, nonblocking ? MSG_DONTWAIT : 0);
            if (n > 0) {
                end_ += static_cast<std::size_t>(n);
                return true;
            }
            if (n == 0) return false;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            if (errno == ECONNRESET) return false;
            throw std::system_error(errno, std::generic_category(), "parkit: receiving from a worker process");
        }
    }

    /// Takes the next message if it is buffered whole: its header, and a view of its payload that
    /// stays valid until the next call of `fill` or `next`. False when none is complete yet, or
    /// when the next header is malformed (then `bad()` is true and the peer must be ended).
    bool next(message_header& header, std::span<const std::byte>& payload) {
        if (bad_ || end_ - begin_ < sizeof header) return false;
        std::memcpy(&header, buffer_.data() + begin_, sizeof header);
        if (!valid_header(header)) {
            bad_ = true;
            problem_ = describe_bad_header(header);
            return false;
        }
        if (end_ - begin_ - sizeof header < header.size) return false;
        payload = std::span<const std::byte>(buffer_.data() + begin_ + sizeof header, header.size);
        begin_ += sizeof header + header.size;
        return true;
    }

    /// Bytes received and not taken by `next` yet.
    [[nodiscard]] std::size_t buffered() const noexcept { return end_ - begin_; }

    /// Whether the peer sent a malformed header.
    [[nodiscard]] bool bad() const noexcept { return bad_; }

    /// What was wrong with the malformed header (see describe_bad_header); empty unless bad().
    [[nodiscard]] const std::string& problem() const noexcept { return problem_; }

private:
    // Bytes the message at begin_ needs in all (header and payload), as far as known.
    std::size_t pending_message_bytes() const noexcept {
        if (end_ - begin_ < sizeof(message_header)) return sizeof(message_header);
        message_header header;
        std::memcpy(&header, buffer_.data() + begin_, sizeof header);
        return valid_header(header) ? sizeof header + header.size : sizeof header;
    }

    // Moves the unread bytes to the front and grows the buffer so that at least `min_read_` more
    // bytes can arrive, and up to the whole message being read, but never more than twice what
    // has arrived of it: memory follows the bytes received, not what a header announces.
    void make_room() {
        if (begin_ == end_) begin_ = end_ = 0;
        const std::size_t buffered = end_ - begin_;
        const std::size_t need =
            std::max(buffered + min_read_, std::min(pending_message_bytes(), 2 * buffered + min_read_));
        if (begin_ > 0 && buffer_.size() - begin_ < need) {
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buffer_.size() - begin_ < need) buffer_.resize(begin_ + need);
    }

    std::size_t min_read_;  // bytes each recv asks for at least
    std::vector<std::byte> buffer_;
    std::size_t begin_ = 0, end_ = 0;  // unread bytes: [begin_, end_)
    bool bad_ = false;
    std::string problem_;
};

/// A forked worker: its pid, the parent's end of the socket, and a descriptor that becomes
/// readable when the process ends (a pidfd; -1 where the kernel has none).
struct worker_process {
    pid_t pid = -1;
    int fd = -1;
    int watch = -1;
};

/// The parent-side descriptors of every parkit worker socket, pidfd, fork-server socket and
/// pool wake pipe in this process, of every pool and map. Every fork() of this process closes
/// all of them in the child (a fork handler, see registry_of_this_process), parkit's own forks
/// and a user's plain fork() alike: a child that kept a worker's socket open would hide that
/// worker's end of stream from it, and the pool or map waiting for that worker to exit (or
/// `process_pool::shutdown()`) would wait for that child.
struct descriptor_registry {
    std::mutex mutex;      ///< held across socketpair + fork + registration, and across every fork()
    std::vector<int> fds;  ///< open parent-side descriptors
};

/// Set on a thread while parkit itself forks with the registry locked (so the fork handlers
/// do not lock it again).
inline thread_local bool forking_with_registry = false;

/// The registry of this process. Made on first use, together with the fork handlers that keep
/// it consistent across any fork() (pthread_atfork): the registry is locked around the fork,
/// and in the child every registered descriptor is closed and the registry emptied. The handlers
/// allocate nothing and take only this uncontended lock in the child.
inline descriptor_registry*& registry_of_this_process() noexcept {
    static descriptor_registry* registry = [] {
        auto* made = new descriptor_registry;  // never destroyed: used at exit and in fork handlers
        ::pthread_atfork(
            [] {
                if (!forking_with_registry) registry_of_this_process()->mutex.lock();
            },
            [] {
                if (!forking_with_registry) registry_of_this_process()->mutex.unlock();
            },
            [] {
                descriptor_registry& r = *registry_of_this_process();
                for (int fd : r.fds) ::close(fd);
                r.fds.clear();
                if (!forking_with_registry) r.mutex.unlock();  // locked by this thread before the fork
            });
        return made;
    }();
    return registry;
}

/// Adds a parent-side descriptor that forked workers must close.
inline void register_parent_fd(int fd) {
    descriptor_registry& registry = *registry_of_this_process();
    std::lock_guard lock(registry.mutex);
    registry.fds.push_back(fd);
}

/// Closes a registered descriptor (no-op for -1) and sets it to -1.
inline void close_parent_fd(int& fd) noexcept {
    if (fd < 0) return;
    descriptor_registry& registry = *registry_of_this_process();
    std::lock_guard lock(registry.mutex);
    std::erase(registry.fds, fd);
    ::close(fd);  // under the lock: the number cannot be reused by a fork in between
    fd = -1;
}

/// Opens the socketpair of a new worker (close-on-exec, 1 MiB buffers: room for large results
/// without a round trip per 200 KB). Returns 0 or the errno of the failure; allocates nothing,
/// so a fork server may call it.
inline int open_worker_socketpair(int (&fds)[2]) noexcept {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return errno;
    const int size = 1 << 20;
    for (int fd : fds) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    return 0;
}

/// First steps of a freshly forked child of `parent`: it dies with its parent (Linux
/// PR_SET_PDEATHSIG; it ends at once if the parent died before that took effect), the parent's
/// crash handlers (test frameworks, stack printers) are gone — a crash of a task is reported by
/// the parent from the exit status — and no signal is blocked.
inline void become_child_of(pid_t parent) noexcept {
#if defined(__linux__)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (::getppid() != parent) ::_exit(0);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGQUIT, SIGCHLD})
        ::signal(sig, SIG_DFL);
    sigset_t all;
    ::sigemptyset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
}

/// Ends a worker process: flushes stdout (what its tasks printed), then `_exit(status)`, which
/// runs no atexit handler and no static destructor (those belong to the parent: a copy of its
/// static thread_pool, say, would block in the child destroying a condition variable whose
/// waiters are threads of the parent). stdout is flushed only if its lock is free: a worker
/// forked while another thread of the parent was printing has that lock held forever.
[[noreturn]] inline void leave_worker(int status) noexcept {
    if (::ftrylockfile(stdout) == 0) {
        ::fflush_unlocked(stdout);
        ::funlockfile(stdout);
    }
    ::_exit(status);
}

/// Runs a worker's `body(fd)` and ends the process with `leave_worker`: 0 when it returns, 70
/// when it throws. A task that calls `exit(n)` itself leaves the same way, with status n
/// (glibc's on_exit handler, registered here in the worker, runs before every handler and
/// static destructor registered earlier, i.e. the parent's), so the pool reports
/// "exited with code n" at once.
template <class Body>
[[noreturn]] void run_worker_body(Body& body, int fd) noexcept {
#if defined(__GLIBC__)
    ::on_exit([](int status, void*) { leave_worker(status); }, nullptr);
#endif
    try {
        body(fd);
    } catch (...) {
        leave_worker(70);
    }
    leave_worker(0);
}

/// fork() with `registry` locked by `lock` (so no other parkit descriptor appears meanwhile).
/// In the child (0 returned): the fork handler has closed every registered descriptor, the lock
/// is released and `become_child_of` the parent has run. Buffered output is flushed first:
/// else a child would print it again.
inline pid_t fork_child(descriptor_registry& registry, std::unique_lock<std::mutex>& lock) {
    (void)registry;
    (void)message_tag();  // drawn before the fork: parent and child must agree on it
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    forking_with_registry = true;
    const pid_t pid = ::fork();
    forking_with_registry = false;
    if (pid == 0) {
        lock.unlock();
        become_child_of(parent);
    }
    return pid;
}

/// A descriptor that becomes readable when process `pid` ends (Linux pidfd_open, 5.3+; works
/// for any process, not only children), close-on-exec and registered; -1 where unavailable.
/// Lets the parent notice a worker's death at once, even when a process the task forked
/// still holds the worker's socket open (so its end of stream never comes).
inline int open_process_watch(pid_t pid) noexcept {
#if defined(__linux__) && defined(SYS_pidfd_open)
    descriptor_registry& registry = *registry_of_this_process();
    std::lock_guard lock(registry.mutex);
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return -1;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    try {
        registry.fds.push_back(fd);
    } catch (...) {
        ::close(fd);
        return -1;
    }
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

/// Whether process `pid` has ended (a zombie or gone), from /proc: the fallback where no
/// pidfd could be opened, for workers that are not this process's children.
inline bool process_has_ended(pid_t pid) noexcept {
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    char text[512];
    if (read_file_start(path, text, sizeof text) <= 0) return true;
    const char* close = std::strrchr(text, ')');
    return close == nullptr || close[1] == 0 || close[2] == 'Z' || close[2] == 'X';
}

/// `fork_child` for a child that gets one end of the socketpair `fds`: when the fork fails, both
/// ends are closed and std::system_error ("parkit: fork of <what>") is thrown.
inline pid_t fork_child_of_pair(int (&fds)[2], descriptor_registry& registry, std::unique_lock<std::mutex>& lock,
                                const char* what) {
    const pid_t pid = fork_child(registry, lock);
    if (pid < 0) {
        const int error = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::system_error(error, std::generic_category(), std::string("parkit: fork of ") + what);
    }
    return pid;
}

/// Forks a worker running `body(fd)` (see `run_worker_body`). The child closes every other
/// parkit parent-side descriptor (see descriptor_registry) and dies with its parent, so no
/// worker outlives a killed parent.
template <class Body>
worker_process spawn_worker(Body&& body) {
    descriptor_registry& registry = *registry_of_this_process();
    std::unique_lock lock(registry.mutex);  // no other parkit socket or fork until registered
    int fds[2];
    if (const int error = open_worker_socketpair(fds); error != 0)
        throw std::system_error(error, std::generic_category(), "parkit: socketpair for a worker process");
    const pid_t pid = fork_child_of_pair(fds, registry, lock, "a worker process");
    if (pid == 0) {
        ::close(fds[0]);
        run_worker_body(body, fds[1]);
    }
    ::close(fds[1]);
    registry.fds.push_back(fds[0]);
    lock.unlock();
    return worker_process{pid, fds[0], open_process_watch(pid)};
}

/// Waits for `pid` to end and returns its wait status (retrying on EINTR).
inline int reap(pid_t pid) noexcept {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return 0;
    }
    return status;
}

/// Reaps a worker whose socket ended and returns its wait status. Normally it has died already;
/// one still alive (it sent a malformed message) is killed first, so this never blocks.
inline int kill_and_reap(pid_t pid) noexcept {
    ::kill(pid, SIGKILL);  // no effect on a process that has already ended
    return reap(pid);
}

/// An array of `T` in anonymous shared memory (MAP_SHARED): made before a fork, the same
/// objects at the same address in the parent and its children, for what the parent must see
/// of a worker without a message (which task it runs; how many tasks it has claimed).
template <class T>
class shared_array {
public:
    /// `count` default-constructed elements.
    /// @throws std::system_error when mmap fails.
    explicit shared_array(std::size_t count) : count_(count) {
        void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "parkit: mmap");
        items_ = static_cast<T*>(p);
        for (std::size_t i = 0; i < count_; ++i) new (&items_[i]) T;
    }
    shared_array(const shared_array&) = delete;
    shared_array& operator=(const shared_array&) = delete;
    ~shared_array() { ::munmap(items_, bytes()); }
    /// Element `i`.
    T& operator[](std::size_t i) noexcept { return items_[i]; }
    /// Element `i`.
    const T& operator[](std::size_t i) const noexcept { return items_[i]; }
    /// The first element.
    T* data() noexcept { return items_; }

private:
    std::size_t bytes() const noexcept { return std::max<std::size_t>(count_, 1) * sizeof(T); }
    std::size_t count_;
    T* items_ = nullptr;
};

/// "killed by signal 11 (SIGSEGV)" / "exited with code 3" for a wait status.
inline std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* abbrev = sigabbrev_np(sig);
        return "killed by signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
    }
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    return "ended with wait status " + std::to_string(status);
}

/// The error of task `index` whose worker process is gone: `worker_crashed` with the signal or
/// exit code of its wait `status`, or, when the parent killed it because it sent something
/// that is no reply (`protocol_error` says what), SIGKILL and that reason. The one rule of
/// both process engines (`process_pool`, `backend::processes`).
inline std::exception_ptr worker_death_error(std::size_t index, int status, const std::string& protocol_error) {
    if (!protocol_error.empty()) {
        return make_error_ptr<worker_crashed>(index, SIGKILL, -1,
                                              "sent " + protocol_error + ", so it was killed (protocol error)");
    }
    return make_error_ptr<worker_crashed>(index, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                                          WIFEXITED(status) ? WEXITSTATUS(status) : -1, describe_exit(status));
}

}  // namespace parkit::detail
