#pragma once
/// @file
/// The worker processes of one process engine — a `process_pool` or one
/// `parallel_map(..., {.backend = backend::processes})` call — and everything about them that
/// does not depend on what they run: forking a slot's worker and its replacement, one poll
/// over their sockets and pidfds, reading their replies as they arrive, noticing that one is
/// gone (end of stream, its pidfd, /proc where the kernel has no pidfd, a malformed or
/// unexpected message, a reply that could not be taken in) with its wait status, and ending
/// one (killed for a time limit, stopped at the end). The engines keep what differs between
/// them: what a reply completes, when a task is overdue, and what a lost worker's tasks become.

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/fork_generation.hpp"
#include "process_io.hpp"

namespace parkit::detail {

/// How `worker_set::end` ends a worker: `stop` closes its socket, so its loop sees end of
/// stream and exits, and waits for that; `kill` sends SIGKILL first, so it never waits.
enum class worker_ending { stop, kill };

/// How `worker_set::read` reads a worker's socket: what one `recv` brings without waiting (the
/// poll saw data); what the socket holds now, after which the worker counts as dead (its pidfd
/// said it ended: the replies it sent first still count, but a process its task forked may hold
/// the socket open, so no end of stream is waited for); or everything up to the end of the
/// stream (a send to it failed: it is gone, and its last replies tell how far it got).
enum class read_mode { available, then_dead, to_end };

/// The worker processes of one engine, one per slot. `Spawner` forks them:
/// `worker_process spawn(std::size_t slot)` and `int reap(pid_t pid, bool kill) noexcept` (the
/// wait status; with `kill`, SIGKILL first). The engine answers through the `Hooks` it passes
/// to `wait` and `read`:
/// - `bool watching(std::size_t slot)`: whether the slot's worker is waited on (has work, or
///   its death matters while idle);
/// - `bool take(std::size_t slot, const message_header&, std::span<const std::byte> payload)`:
///   a whole reply; false when it answers nothing the worker was sent (a protocol error);
/// - `void lost(std::size_t slot, int status, const std::string& problem)`: the worker is gone
///   and reaped (`problem`: what it sent that could not be trusted, empty for a plain death);
///   the slot is empty, for the engine to `spawn` again or leave.
/// Used by one thread at a time.
template <class Spawner>
class worker_set {
public:
    using clock = std::chrono::steady_clock;

    /// `count` empty slots; `spawn` forks their workers.
    worker_set(std::size_t count, Spawner spawner) : spawner_(std::move(spawner)), slots_(count) {}

    worker_set(const worker_set&) = delete;
    worker_set& operator=(const worker_set&) = delete;

    /// Kills and reaps every worker still running (an engine that ended normally has stopped
    /// them already). A copy in a forked child of the process that made the set leaves them
    /// alone: they are the parent's, and the fork handler has closed their sockets there.
    ~worker_set() {
        if (generation_ == fork_generation()) end_all(worker_ending::kill);
    }

    /// Number of slots.
    [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }

    /// Whether slot `i` has a worker.
    [[nodiscard]] bool alive(std::size_t i) const noexcept { return slots_[i].process.fd >= 0; }

    /// Slot `i`'s worker: pid, socket, pidfd.
    [[nodiscard]] const worker_process& process(std::size_t i) const noexcept { return slots_[i].process; }

    /// Forks a worker into empty slot `i`.
    /// @throws std::system_error when the fork fails.
    void spawn(std::size_t i) {
        slots_[i].inbox = message_reader{};
        slots_[i].process = spawner_.spawn(i);
    }

    /// `spawn` that reports a failed fork (resource limits) as false: the engine goes on with
    /// fewer workers.
    bool try_spawn(std::size_t i) noexcept {
        try {
            spawn(i);
            return true;
        } catch (...) {
            return false;
        }
    }

    /// Ends slot `i`'s worker (no-op for an empty slot) and returns its wait status; the slot
    /// is empty afterwards, with what it had buffered of the worker's replies dropped.
    int end(std::size_t i, worker_ending how) noexcept {
        worker_process& w = slots_[i].process;
        close_parent_fd(w.fd);
        close_parent_fd(w.watch);
        const int status = w.pid > 0 ? spawner_.reap(w.pid, how == worker_ending::kill) : 0;
        w = worker_process{};
        slots_[i].inbox = message_reader{};
        return status;
    }

    /// Ends every worker (see `end`).
    void end_all(worker_ending how) noexcept {
        for (std::size_t i = 0; i < slots_.size(); ++i) end(i, how);
    }

    /// Waits until a worker that `hooks.watching` sends something or ends, until `extra_fd`
    /// (-1: none) becomes readable, or until `until`, and reads every worker that is ready
    /// (see `read`). Without a pidfd, a worker's death is looked for every 100 ms. Returns
    /// whether `extra_fd` was readable; false at once when nothing at all is watched.
    /// @throws std::system_error when poll fails.
    template <class Hooks>
    bool wait(Hooks& hooks, clock::time_point until, int extra_fd = -1) {
        fds_.clear();
        owners_.clear();
        if (extra_fd >= 0) {
            fds_.push_back(pollfd{extra_fd, POLLIN, 0});
            owners_.push_back(poll_owner{slots_.size(), -1, false});
        }
        bool unwatched = false;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const worker_process& w = slots_[i].process;
            if (w.fd < 0 || !hooks.watching(i)) continue;
            fds_.push_back(pollfd{w.fd, POLLIN, 0});
            owners_.push_back(poll_owner{i, w.pid, false});
            // The pidfd: a death is noticed at once, even when a process the task forked holds
            // the socket open.
            if (w.watch >= 0) {
                fds_.push_back(pollfd{w.watch, POLLIN, 0});
                owners_.push_back(poll_owner{i, w.pid, true});
            } else {
                unwatched = true;
            }
        }
        if (fds_.empty()) return false;
        if (unwatched) until = std::min(until, clock::now() + std::chrono::milliseconds(100));
        int timeout_ms = -1;
        if (until != clock::time_point::max()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now());
            timeout_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000));
        }
        if (::poll(fds_.data(), fds_.size(), timeout_ms) < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "parkit: poll over worker processes");
        bool extra_ready = false;
        for (std::size_t k = 0; k < fds_.size(); ++k) {
            if (!fds_[k].revents) continue;
            const poll_owner owner = owners_[k];
            if (owner.slot == slots_.size()) {
                extra_ready = true;
            } else if (slots_[owner.slot].process.pid == owner.pid) {  // not replaced meanwhile
                read(owner.slot, owner.watch ? read_mode::then_dead : read_mode::available, hooks);
            }
        }
        if (unwatched) {
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                const worker_process& w = slots_[i].process;
                if (w.fd >= 0 && w.watch < 0 && hooks.watching(i) && process_has_ended(w.pid))
                    read(i, read_mode::then_dead, hooks);
            }
        }
        return extra_ready;
    }

    /// Reads what slot `i`'s worker sent (see read_mode) and hands every whole reply to
    /// `hooks.take`, never blocking on a reply that stopped half-way unless `mode` is `to_end`.
    /// A worker that is gone, sent a malformed header or a reply to nothing it was sent, or
    /// whose reply could not be taken in (no memory for it) is killed, reaped and reported to
    /// `hooks.lost`.
    template <class Hooks>
    void read(std::size_t i, read_mode mode, Hooks& hooks) {
        slot& s = slots_[i];
        bool open = true, expected = true, more = true;
        std::string problem;
        try {
            while (more) {
                const std::size_t before = s.inbox.buffered();
                open = s.inbox.fill(s.process.fd, mode != read_mode::to_end);
                const bool got = s.inbox.buffered() != before;
                message_header header{};
                std::span<const std::byte> payload;
                while (expected && s.inbox.next(header, payload)) expected = hooks.take(i, header, payload);
                more = open && expected && !s.inbox.bad() &&
                       (mode == read_mode::to_end || (mode == read_mode::then_dead && got));
            }
        } catch (const std::exception& e) {
            problem = std::string("a reply that could not be received (") + e.what() + ")";
        }
        if (!expected) problem = "a reply to a task it was not running";
        if (s.inbox.bad()) problem = s.inbox.problem();
        if (open && problem.empty() && mode != read_mode::then_dead) return;
        const int status = end(i, worker_ending::kill);  // one that sent garbage may still live
        hooks.lost(i, status, problem);
    }

private:
    struct slot {
        worker_process process;
        message_reader inbox;  // the worker's replies, buffered until whole
    };
    /// What one entry of the poll set watches: `extra_fd` (slot == size()), or the socket or
    /// pidfd of slot's worker `pid`.
    struct poll_owner {
        std::size_t slot;
        pid_t pid;
        bool watch;
    };

    const unsigned generation_ = fork_generation();  // the process that made the set
    Spawner spawner_;
    std::vector<slot> slots_;
    std::vector<pollfd> fds_;
    std::vector<poll_owner> owners_;
};

}  // namespace parkit::detail
