#pragma once
/// @file
/// The fork server of a `process_pool`: a single-threaded child, forked when the pool is made,
/// that forks the pool's workers (the first ones and every replacement) on request — Python's
/// "forkserver" start method.
///
/// Why not fork replacements from the pool's manager thread: a fork copies only the forking
/// thread, so every lock another thread of the parent held at that moment stays locked forever
/// in the child. glibc's malloc guards itself with fork handlers, but other allocators (GCC
/// 12's AddressSanitizer allocator among them) do not, nor do the user's own mutexes: a worker
/// forked while another thread allocates can deadlock in its first malloc. The server has one thread and never takes a
/// lock, so every worker starts from the same state: the parent as it was when the pool was made.
///
/// Protocol (SOCK_SEQPACKET, one request and one reply at a time): `spawn` -> the new worker's
/// pid and, as SCM_RIGHTS, the parent's end of its socket; `reap` / `kill_and_reap` -> the wait
/// status of one of the server's workers. The server ends, killing and reaping every worker it
/// still has, when the parent closes its end or dies (checked every second too, for the case
/// where a plain fork() of the parent kept the parent's end open).

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <system_error>
#include <vector>

#include "../support/fork_generation.hpp"
#include "process_io.hpp"

namespace parkit::detail {

/// Forks the workers of one `process_pool` from a single-threaded child process. Used by one
/// thread at a time (the pool's constructor, then its manager thread).
class fork_server {
public:
    /// Function a worker runs on its end of the socket, with the server's `context`.
    using worker_body = void (*)(int fd, void* context);

    /// Forks the server now, from the calling thread. `max_workers`: how many workers live at
    /// once (the server keeps their pids in a list reserved here, so it never allocates).
    /// `context` (memory shared with the workers, say) is passed to every worker's `body`.
    /// @throws std::system_error when the socketpair or the fork fails.
    fork_server(worker_body body, std::size_t max_workers, void* context = nullptr) : body_(body), context_(context) {
        live_.reserve(max_workers + 1);
        descriptor_registry& registry = *registry_of_this_process();
        std::unique_lock lock(registry.mutex);
        start(registry, lock);
    }

    fork_server(const fork_server&) = delete;
    fork_server& operator=(const fork_server&) = delete;

    /// Closes the server's socket: it kills and reaps the workers it still has, then exits, and
    /// is reaped here.
    ~fork_server() { close_server(); }

    /// A new worker running `body` on its socket, with a pidfd watching it where the kernel
    /// has them (see open_process_watch). A server that is gone (killed from outside) is
    /// replaced once, forked from the calling thread.
    /// @throws std::system_error when the fork (or the server) fails.
    worker_process spawn() {
        worker_process made = spawn_unwatched();
        made.watch = open_process_watch(made.pid);  // the worker cannot be reaped before we ask
        return made;
    }

    /// Waits for worker `pid` to end (killing it first when `kill` is set) and returns its wait
    /// status. A worker whose server is gone died with it: "killed by SIGKILL".
    int reap(pid_t pid, bool kill) noexcept {
        const auto made_here = std::find(spawned_.begin(), spawned_.end(), pid);
        if (made_here == spawned_.end()) return SIGKILL;  // a worker of a server that was replaced
        spawned_.erase(made_here);
        reply answer{};
        if (!ask(request{kill ? op::kill_and_reap : op::reap, pid}, answer, nullptr)) return SIGKILL;
        return answer.value;
    }

private:
    worker_process spawn_unwatched() {
        descriptor_registry& registry = *registry_of_this_process();
        std::unique_lock lock(registry.mutex);  // the new descriptor is registered before any other fork
        for (int attempt = 0;; ++attempt) {
            reply answer{};
            int fd = -1;
            if (ask(request{op::spawn, 0}, answer, &fd)) {
                if (answer.value < 0)
                    throw std::system_error(answer.error, std::generic_category(), "parkit: fork of a worker process");
                registry.fds.push_back(fd);
                spawned_.push_back(static_cast<pid_t>(answer.value));
                return worker_process{static_cast<pid_t>(answer.value), fd};
            }
            if (attempt > 0)
                throw std::system_error(EPIPE, std::generic_category(),
                                        "parkit: the fork server of a process_pool failed");
            stop_locked(registry);
            start(registry, lock);
        }
    }

    // What the parent asks for.
    enum class op : std::int32_t { spawn = 1, reap = 2, kill_and_reap = 3 };
    // Parent -> server.
    struct request {
        op what;
        std::int32_t pid;
    };
    // Server -> parent.
    struct reply {
        std::int32_t value;  // spawn: pid (-1: failed); reap: wait status
        std::int32_t error;  // spawn: errno of the failure
    };

    // Forks the server with the registry locked by `lock`.
    void start(descriptor_registry& registry, std::unique_lock<std::mutex>& lock) {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
            throw std::system_error(errno, std::generic_category(), "parkit: socketpair for a fork server");
        const pid_t pid = fork_child_of_pair(fds, registry, lock, "a process_pool's fork server");
        if (pid == 0) {
            ::close(fds[0]);
            serve(fds[1]);
        }
        ::close(fds[1]);
        registry.fds.push_back(fds[0]);
        pid_ = pid;
        fd_ = fds[0];
    }

    void close_server() noexcept {
        if (generation_ != fork_generation()) return;  // a copy in a forked child: the server is the parent's
        descriptor_registry& registry = *registry_of_this_process();
        std::lock_guard lock(registry.mutex);
        stop_locked(registry);
    }

    // Closes the server's socket and reaps it, with the registry locked.
    void stop_locked(descriptor_registry& registry) noexcept {
        if (fd_ >= 0) {
            std::erase(registry.fds, fd_);
            ::close(fd_);
            fd_ = -1;
        }
        if (pid_ > 0) detail::reap(pid_);
        pid_ = -1;
        spawned_.clear();  // they died with the server (PR_SET_PDEATHSIG)
    }

    // One request and its reply; `fd` receives the descriptor a spawn reply carries. False when
    // the server is gone.
    bool ask(request question, reply& answer, int* fd) noexcept {
        if (fd_ < 0) return false;
        ssize_t sent;
        do sent = ::send(fd_, &question, sizeof question, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent != static_cast<ssize_t>(sizeof question)) return false;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        iovec io{&answer, sizeof answer};
        msghdr message{};
        message.msg_iov = &io;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        ssize_t got;
        do got = ::recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
        while (got < 0 && errno == EINTR);
        if (got != static_cast<ssize_t>(sizeof answer)) return false;
        const cmsghdr* header = CMSG_FIRSTHDR(&message);
        const bool has_fd = header != nullptr && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS;
        if (fd == nullptr || question.what != op::spawn || answer.value < 0) return !has_fd;
        if (!has_fd) return false;
        std::memcpy(fd, CMSG_DATA(header), sizeof(int));
        return true;
    }

    // The server's loop (in the child): answers requests until the parent is gone, then kills
    // and reaps what is left. It allocates nothing and takes no lock.
    [[noreturn]] void serve(int control) noexcept {
#if defined(__linux__)
        ::prctl(PR_SET_PDEATHSIG, 0);  // tied to the forking thread: the server ends with the parent instead
#endif
        ::signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the parent (and the workers), which decides
        const pid_t parent = ::getppid();
        for (;;) {
            pollfd watch{control, POLLIN, 0};
            const int ready = ::poll(&watch, 1, 1000);
            if (ready == 0) {
                if (::getppid() != parent) break;
                continue;
            }
            if (ready < 0) {
                if (errno == EINTR) continue;
                break;
            }
            request question{};
            const ssize_t got = ::recv(control, &question, sizeof question, 0);
            if (got < 0 && errno == EINTR) continue;
            if (got != static_cast<ssize_t>(sizeof question)) break;  // parent gone (0) or a broken request
            if (question.what == op::spawn) {
                serve_spawn(control);
            } else {
                if (question.what == op::kill_and_reap) ::kill(question.pid, SIGKILL);
                const reply answer{detail::reap(question.pid), 0};
                std::erase(live_, static_cast<pid_t>(question.pid));
                ::send(control, &answer, sizeof answer, MSG_NOSIGNAL);
            }
        }
        for (pid_t pid : live_) ::kill(pid, SIGKILL);
        for (pid_t pid : live_) detail::reap(pid);
        ::_exit(0);
    }

    // Forks one worker and sends its pid and the parent's end of its socket.
    void serve_spawn(int control) noexcept {
        int fds[2];
        reply answer{-1, open_worker_socketpair(fds)};
        if (answer.error == 0) {
            const pid_t server = ::getpid();
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::close(control);
                ::close(fds[0]);
                become_child_of(server);
                auto body = [this](int fd) { body_(fd, context_); };
                run_worker_body(body, fds[1]);
            }
            ::close(fds[1]);
            if (pid < 0) {
                answer.error = errno;
                ::close(fds[0]);
            } else {
                answer.value = pid;
                live_.push_back(pid);
            }
        }
        alignas(cmsghdr) char buffer[CMSG_SPACE(sizeof(int))] = {};
        iovec io{&answer, sizeof answer};
        msghdr message{};
        message.msg_iov = &io;
        message.msg_iovlen = 1;
        if (answer.value > 0) {
            message.msg_control = buffer;
            message.msg_controllen = sizeof buffer;
            cmsghdr* header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_SOCKET;
            header->cmsg_type = SCM_RIGHTS;
            header->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(header), &fds[0], sizeof(int));
        }
        ::sendmsg(control, &message, MSG_NOSIGNAL);
        if (answer.value > 0) ::close(fds[0]);
    }

    const unsigned generation_ = fork_generation();  // the process that made the server
    worker_body body_;
    void* context_;               // passed to every worker's body
    std::vector<pid_t> live_;     // the server's: its workers not reaped yet
    std::vector<pid_t> spawned_;  // the parent's: workers of the current server not reaped yet
    pid_t pid_ = -1;              // the parent's: the server
    int fd_ = -1;                 // the parent's: its end of the server's socket
};

}  // namespace parkit::detail
