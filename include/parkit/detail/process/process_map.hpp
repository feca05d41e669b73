#pragma once
/// @file
/// `parallel_map(..., {.backend = backend::processes})`: forks worker processes for the call.
///
/// The children are forks of the calling process, so the function (any callable, captures
/// included) and the inputs are simply there, shared copy-on-write: nothing is copied or
/// serialized on the way in. The parent hands out chunks of indices over each worker's socket;
/// only results travel back, serialized. Before each task a worker writes the task's index
/// and start time into a small shared-memory slot, so when a worker dies (signal, abort, exit,
/// OOM killer) or overruns `task_timeout_s`, the parent knows which task it was: that task
/// fails with `worker_crashed` / `task_timeout`, the unfinished rest of its chunk is queued
/// again, and a replacement worker is forked.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <new>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "../../core/collected.hpp"
#include "../../core/options.hpp"
#include "../../core/process_errors.hpp"
#include "../../core/serialization.hpp"
#include "../map/argument_checks.hpp"
#include "../map/map_engine.hpp"
#include "../progress/progress_reporter.hpp"
#include "../task/worker_context.hpp"
#include "process_io.hpp"
#include "task_codec.hpp"

namespace parkit::detail {

/// What a process worker is doing, in memory shared with the parent.
struct alignas(64) worker_activity {
    static constexpr std::uint64_t idle = ~std::uint64_t{0};
    std::atomic<std::uint64_t> task{idle};    ///< index of the running task, or idle
    std::atomic<std::int64_t> started_ns{0};  ///< steady_clock time the task started
};

inline std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// One call's worker processes and the parent's bookkeeping.
template <class F, class Range, class R, bool Collect>
class process_map_call {
    using store_t = result_store<R, Collect>;

public:
    process_map_call(F& f, const indexed_input<Range>& input, int workers,
                     const basic_options<std::conditional_t<Collect, on_error::collect_t, on_error::raise_t>>& opts,
                     progress_reporter& progress)
        : f_(f),
          input_(input),
          workers_(static_cast<std::size_t>(std::max(1, std::min<int>(workers, static_cast<int>(input.size()))))),
          chunk_size_(opts.chunk_size),
          timeout_s_(opts.task_timeout_s),
          progress_(progress),
          activity_(workers_),
          results_(input.size()),
          slots_(workers_) {
        require_valid_timeout(opts.task_timeout_s, "parkit::parallel_map: options.task_timeout_s");
        pending_.push_back(index_range{0, input.size()});
    }

    process_map_call(const process_map_call&) = delete;
    process_map_call& operator=(const process_map_call&) = delete;

    /// Kills and reaps every worker still running (normal ends have stopped them already).
    ~process_map_call() {
        for (auto& s : slots_) kill_worker(s.process);
    }

    /// Runs the whole map; returns the failures sorted by index.
    std::vector<task_failure> run() {
        for (std::size_t i = 0; i < workers_; ++i) spawn(i);
        std::vector<pollfd> fds;
        std::vector<std::size_t> owners;
        while (!finished()) {
            for (std::size_t i = 0; i < workers_; ++i) {
                if (!slots_[i].busy && slots_[i].process.fd >= 0) hand_out(i);
            }
            if (finished()) break;
            fds.clear();
            owners.clear();
            bool unwatched = false;
            for (std::size_t i = 0; i < workers_; ++i) {
                if (!slots_[i].busy) continue;
                fds.push_back(pollfd{slots_[i].process.fd, POLLIN, 0});
                owners.push_back(i);
                // The pidfd: a worker's death is noticed at once, even when a process its task
                // forked holds the socket open (without one, a look every 100 ms).
                if (slots_[i].process.watch >= 0) {
                    fds.push_back(pollfd{slots_[i].process.watch, POLLIN, 0});
                    owners.push_back(i);
                } else {
                    unwatched = true;
                }
            }
            if (fds.empty()) {
                // No worker could be forked: fail what is left rather than hang.
                throw std::runtime_error("parkit::parallel_map: no worker process is left (fork failed)");
            }
            const int timeout_ms = timeout_s_ > 0 ? 20 : unwatched ? 100 : -1;
            if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR)
                throw std::system_error(errno, std::generic_category(), "parkit: poll");
            for (std::size_t k = 0; k < fds.size(); ++k) {
                const std::size_t i = owners[k];
                if (!fds[k].revents || !slots_[i].busy) continue;
                // Data, or the pidfd says it ended (its last reply, if any, is in the socket
                // already): take what is there without blocking.
                receive_replies(i, fds[k].fd == slots_[i].process.watch);
            }
            if (unwatched) check_unwatched_workers();
            if (timeout_s_ > 0) check_deadlines();
        }
        for (auto& s : slots_) stop_worker(s.process);
        std::sort(failures_.begin(), failures_.end(),
                  [](const task_failure& a, const task_failure& b) { return a.index < b.index; });
        return std::move(failures_);
    }

    /// The results.
    store_t& results() noexcept { return results_; }

private:
    struct slot {
        worker_process process;
        message_reader inbox;  // the worker's replies, buffered until whole
        index_range chunk{};
        bool busy = false;
    };

    bool finished() const noexcept {
        if (stop_) return true;  // raise mode after a failure: the destructor kills the workers
        return pending_.empty() && std::none_of(slots_.begin(), slots_.end(), [](const slot& s) { return s.busy; });
    }

    // Chunk sizes: fixed, or guided (a share of what is left), so the last chunks are small
    // and every worker finishes at about the same time.
    std::size_t next_chunk_length(std::size_t available) const noexcept {
        if (chunk_size_ > 0) return std::min(chunk_size_, available);
        std::size_t left = 0;
        for (const auto& r : pending_) left += r.end - r.begin;
        return guided_chunk_length(left, workers_, 1, available);
    }

    void hand_out(std::size_t i) {
        if (pending_.empty() || stop_) return;
        index_range& front = pending_.front();
        const std::size_t length = next_chunk_length(front.end - front.begin);
        const index_range chunk{front.begin, front.begin + length};
        front.begin += length;
        if (front.begin == front.end) pending_.pop_front();
        slot& s = slots_[i];
        activity_[i].task.store(worker_activity::idle, std::memory_order_relaxed);
        std::uint64_t end = chunk.end;
        s.chunk = chunk;
        s.busy = true;
        if (!send_message(s.process.fd, message_kind::chunk, chunk.begin,
                          std::as_bytes(std::span<const std::uint64_t>(&end, 1)))) {
            lost_worker(i, nullptr);
        }
    }

    // Takes what worker i has sent (poll saw data, or `ended`: its pidfd says it is gone)
    // without ever blocking: a reply is taken once it is buffered whole, so a worker that
    // stops in the middle of one — killed while writing, or whose task wrote a partial header
    // into the socket and then hangs — cannot stall the map or its time limits. The worker is
    // lost when the stream ends, when it sends something that is no reply to its chunk (a bad
    // header: see valid_header), or when it ended with its chunk unanswered.
    void receive_replies(std::size_t i, bool ended) {
        slot& s = slots_[i];
        bool open = true;
        std::string problem;
        try {
            open = s.inbox.fill(s.process.fd, true);
        } catch (const std::exception& e) {
            problem = std::string("a reply that could not be received (") + e.what() + ")";
        }
        message_header header{};
        std::span<const std::byte> payload;
        while (problem.empty() && s.busy && s.inbox.next(header, payload)) {
            if (header.kind == message_kind::chunk_done && header.id == s.chunk.begin) {
                take_chunk(i, payload);
            } else {
                problem = "a reply to a chunk it was not running";
            }
        }
        if (problem.empty() && s.inbox.bad()) problem = s.inbox.problem();
        if (!problem.empty()) {
            lost_worker(i, nullptr, problem);
        } else if (s.busy && (!open || ended)) {
            lost_worker(i, nullptr);
        }
    }

    // Busy workers without a pidfd that have ended (the fallback of a kernel without pidfd_open).
    void check_unwatched_workers() {
        for (std::size_t i = 0; i < workers_; ++i) {
            if (slots_[i].busy && slots_[i].process.watch < 0 && slots_[i].process.pid > 0) {
                siginfo_t info{};
                if (::waitid(P_PID, static_cast<id_t>(slots_[i].process.pid), &info, WEXITED | WNOHANG | WNOWAIT) ==
                        0 &&
                    info.si_pid != 0)
                    lost_worker(i, nullptr);
            }
        }
    }

    void spawn(std::size_t i) {
        slots_[i].inbox = message_reader{};
        slots_[i].process = spawn_worker([this, i](int fd) { worker_main(fd, i, activity_[i]); });
    }

    // The worker process: run chunks until the parent closes the socket.
    void worker_main(int fd, std::size_t index, worker_activity& me) {
        become_process_worker(index);  // this_worker::index(); the parent's pools do not exist here
        // receive_message, not message_reader: this child was forked from a thread of the
        // caller's while other threads may hold allocator locks, so it allocates as little as
        // it can (message_reader's 64 KiB buffer hangs such a child under GCC 12's ASan, whose
        // large-block allocator has no fork handler; process_pool's workers come from a fork
        // server and may).
        message_header header{};
        std::vector<std::byte> in, out;
        while (receive_message(fd, header, in)) {
            std::uint64_t end = 0;
            if (header.kind != message_kind::chunk || in.size() != sizeof end) ::_exit(71);
            std::memcpy(&end, in.data(), sizeof end);
            out.clear();
            // The start time is only needed for timeouts (and a clock read can cost ~100 ns on
            // a virtual machine, a quarter of a small task).
            const bool timed = timeout_s_ > 0;
            for (std::uint64_t i = header.id; i < end; ++i) {
                if (timed) me.started_ns.store(steady_ns(), std::memory_order_relaxed);
                me.task.store(i, std::memory_order_release);
                const std::size_t mark = out.size();
                run_and_encode_task<R>(out, [&]() -> decltype(auto) {
                    return std::invoke(f_, input_[static_cast<std::size_t>(i)]);
                });
                if (out.size() > max_message_bytes) {
                    // Over the message limit: a result too large fails itself; the chunk's
                    // outcomes so far go back, and the reply's end fails the rest of the chunk
                    // (serialization_error) rather than the message being refused whole.
                    out.resize(mark);
                    if (mark == 0) {
                        run_and_encode_task<R>(out, [&]() -> R {
                            throw serialization_error("parkit::parallel_map: the task's result is over the limit of " +
                                                      std::to_string(max_message_bytes) +
                                                      " bytes between processes (PARKIT_MAX_MESSAGE_BYTES)");
                        });
                    }
                    break;
                }
            }
            me.task.store(worker_activity::idle, std::memory_order_release);
            if (!send_message(fd, message_kind::chunk_done, header.id, out)) return;
        }
    }

    void take_chunk(std::size_t i, std::span<const std::byte> payload) {
        slot& s = slots_[i];
        decode_outcomes<R>(
            payload, s.chunk.begin, s.chunk.end,
            [&](std::size_t index, auto&& value) {
                if constexpr (!std::is_void_v<R>) results_.put(index, std::move(value));
            },
            [&](std::size_t index, std::exception_ptr error) { fail(index, std::move(error)); });
        progress_.advance(s.chunk.end - s.chunk.begin);
        s.busy = false;
        deaths_without_progress_ = 0;
    }

    // Worker i died (or was killed for `timeout`, or for `protocol_error`: what it sent): fail
    // its current task, requeue the rest of its chunk, fork a replacement. A protocol error
    // after the chunk's last task cannot be pinned on one task: the chunk's tasks are queued
    // again one per chunk, so the one at fault is found by running it alone.
    void lost_worker(std::size_t i, const std::exception_ptr* timeout_error, const std::string& protocol_error = {}) {
        slot& s = slots_[i];
        int status = 0;
        if (timeout_error) {
            kill_worker(s.process);
        } else {
            close_parent_fd(s.process.fd);
            status = kill_and_reap(s.process.pid);
            s.process.pid = -1;
            kill_worker(s.process);  // closes the pidfd
        }
        const std::uint64_t running = activity_[i].task.load(std::memory_order_acquire);
        s.busy = false;
        if (running != worker_activity::idle && running >= s.chunk.begin && running < s.chunk.end) {
            const std::size_t index = static_cast<std::size_t>(running);
            fail(index, timeout_error ? *timeout_error : worker_death_error(index, status, protocol_error));
            requeue(index_range{s.chunk.begin, index});
            requeue(index_range{index + 1, s.chunk.end});
            progress_.advance(1);
        } else if (!protocol_error.empty() && s.chunk.end - s.chunk.begin == 1) {
            fail(s.chunk.begin, worker_death_error(s.chunk.begin, status, protocol_error));
            progress_.advance(1);
        } else if (!protocol_error.empty()) {
            for (std::size_t k = s.chunk.end; k-- > s.chunk.begin;) requeue(index_range{k, k + 1});
        } else {
            requeue(s.chunk);  // died between tasks: nothing of the chunk is known to be at fault
            // Killed from outside now and then is fine; workers that die again and again before
            // finishing any chunk mean the environment is broken: give up rather than loop.
            if (++deaths_without_progress_ > 3 * workers_ + 3)
                throw std::runtime_error("parkit::parallel_map: worker processes keep dying before finishing any work");
        }
        if (!stop_) spawn(i);
    }

    void requeue(index_range r) {
        if (r.begin < r.end) pending_.push_front(r);
    }

    void check_deadlines() {
        const std::int64_t now = steady_ns();
        const auto limit = static_cast<std::int64_t>(timeout_s_ * 1e9);
        for (std::size_t i = 0; i < workers_; ++i) {
            if (!slots_[i].busy) continue;
            const std::uint64_t running = activity_[i].task.load(std::memory_order_acquire);
            if (running == worker_activity::idle) continue;
            if (now - activity_[i].started_ns.load(std::memory_order_relaxed) <= limit) continue;
            const auto error = make_error_ptr<task_timeout>(static_cast<std::size_t>(running), timeout_s_);
            lost_worker(i, &error);
        }
    }

    void fail(std::size_t index, std::exception_ptr error) {
        failures_.push_back(task_failure{index, std::move(error)});
        if constexpr (!Collect) stop_ = true;
    }

    F& f_;
    const indexed_input<Range>& input_;
    const std::size_t workers_;
    const std::size_t chunk_size_;
    const double timeout_s_;
    progress_reporter& progress_;
    shared_array<worker_activity> activity_;
    store_t results_;
    std::vector<slot> slots_;
    std::deque<index_range> pending_;
    std::vector<task_failure> failures_;
    std::size_t deaths_without_progress_ = 0;  // worker deaths outside tasks since the last chunk done
    bool stop_ = false;
};

/// Whether results of type R can come back from a worker process.
template <class R>
inline constexpr bool process_map_result_v = std::is_void_v<R> ||
                                             (is_serializable_v<R> && std::is_default_constructible_v<R>);

/// Runs a map over `inputs` in `workers` forked processes. Returns what `run_map` returns.
template <class F, class Range, class OnError>
auto run_process_map(int workers, F& f, Range&& inputs, const basic_options<OnError>& opts) {
    constexpr bool collect = std::is_same_v<OnError, on_error::collect_t>;
    using range_t = std::remove_reference_t<Range>;
    using R = map_result_t<F, range_t>;
    static_assert(process_map_result_v<R>,
                  "parkit::parallel_map with backend::processes: the result type must be serializable "
                  "and default-constructible (see parkit/core/serialization.hpp)");
    const indexed_input<range_t> input(inputs);
    progress_reporter progress(opts.progress, opts.on_progress, input.size(), workers,
                               backend_name(backend::processes));
    process_map_call<F, range_t, R, collect> call(f, input, workers, opts, progress);
    std::vector<task_failure> failures;
    if (input.size() > 0) failures = call.run();
    progress.finish();
    return finish_map<R, collect>(input.size(), call.results(), std::move(failures));
}

}  // namespace parkit::detail
