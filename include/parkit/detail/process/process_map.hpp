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
#include <cstring>
#include <deque>
#include <exception>
#include <new>
#include <optional>
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
#include "worker_set.hpp"

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

/// One call's worker processes (a `worker_set` of forks of the caller) and the parent's
/// bookkeeping: the chunks waiting, the chunk each worker runs, results and failures.
template <class F, class Range, class R, bool Collect>
class process_map_call {
    using store_t = result_store<R, Collect>;

public:
    process_map_call(F& f, const indexed_input<Range>& input, int workers,
                     const basic_options<std::conditional_t<Collect, on_error::collect_t, on_error::raise_t>>& opts,
                     progress_reporter& progress)
        : f_(f),
          input_(input),
          chunk_size_(opts.chunk_size),
          timeout_s_(opts.task_timeout_s),
          progress_(progress),
          activity_(worker_count(workers, input.size())),
          results_(input.size()),
          busy_(worker_count(workers, input.size())),
          workers_(busy_.size(), spawner{this}) {
        require_valid_timeout(opts.task_timeout_s, "parkit::parallel_map: options.task_timeout_s");
        pending_.push_back(index_range{0, input.size()});
    }

    process_map_call(const process_map_call&) = delete;
    process_map_call& operator=(const process_map_call&) = delete;

    /// Runs the whole map; returns the failures sorted by index.
    std::vector<task_failure> run() {
        for (std::size_t i = 0; i < workers_.size(); ++i) workers_.spawn(i);
        while (!finished()) {
            for (std::size_t i = 0; i < workers_.size(); ++i) {
                if (!busy_[i].has_value() && workers_.alive(i)) hand_out(i);
            }
            if (finished()) break;
            // No worker could be forked: fail what is left rather than hang.
            if (std::none_of(busy_.begin(), busy_.end(), [](const auto& b) { return b.has_value(); }))
                throw std::runtime_error("parkit::parallel_map: no worker process is left (fork failed)");
            // With a time limit, a look at the running tasks every 20 ms.
            const auto until = timeout_s_ > 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(20)
                                              : std::chrono::steady_clock::time_point::max();
            workers_.wait(*this, until);
            if (timeout_s_ > 0) check_deadlines();
        }
        workers_.end_all(worker_ending::stop);
        std::sort(failures_.begin(), failures_.end(),
                  [](const task_failure& a, const task_failure& b) { return a.index < b.index; });
        return std::move(failures_);
    }

    /// The results.
    store_t& results() noexcept { return results_; }

private:
    template <class>
    friend class worker_set;

    /// Forks a worker of this call (see worker_main).
    struct spawner {
        process_map_call* call;
        worker_process spawn(std::size_t slot) {
            return spawn_worker([call = call, slot](int fd) { call->worker_main(fd, slot, call->activity_[slot]); });
        }
        static int reap(pid_t pid, bool kill) noexcept { return kill ? kill_and_reap(pid) : detail::reap(pid); }
    };

    static std::size_t worker_count(int workers, std::size_t inputs) noexcept {
        return static_cast<std::size_t>(std::max(1, std::min<int>(workers, static_cast<int>(inputs))));
    }

    bool finished() const noexcept {
        if (stop_) return true;  // raise mode after a failure: the worker set's destructor kills the workers
        return pending_.empty() &&
               std::none_of(busy_.begin(), busy_.end(), [](const auto& b) { return b.has_value(); });
    }

    // Chunk sizes: fixed, or guided (a share of what is left), so the last chunks are small
    // and every worker finishes at about the same time.
    std::size_t next_chunk_length(std::size_t available) const noexcept {
        if (chunk_size_ > 0) return std::min(chunk_size_, available);
        std::size_t left = 0;
        for (const auto& r : pending_) left += r.end - r.begin;
        return guided_chunk_length(left, workers_.size(), 1, available);
    }

    void hand_out(std::size_t i) {
        if (pending_.empty() || stop_) return;
        index_range& front = pending_.front();
        const std::size_t length = next_chunk_length(front.end - front.begin);
        const index_range chunk{front.begin, front.begin + length};
        front.begin += length;
        if (front.begin == front.end) pending_.pop_front();
        activity_[i].task.store(worker_activity::idle, std::memory_order_relaxed);
        std::uint64_t end = chunk.end;
        busy_[i] = chunk;
        if (!send_message(workers_.process(i).fd, message_kind::chunk, chunk.begin,
                          std::as_bytes(std::span<const std::uint64_t>(&end, 1)))) {
            lost(i, workers_.end(i, worker_ending::kill), {});
        }
    }

    // worker_set hooks: only workers running a chunk are waited on.
    bool watching(std::size_t i) const noexcept { return busy_[i].has_value(); }

    // worker_set hook: a reply must be the end of the chunk worker i runs.
    bool take(std::size_t i, const message_header& header, std::span<const std::byte> payload) {
        if (!busy_[i] || header.kind != message_kind::chunk_done || header.id != busy_[i]->begin) return false;
        const index_range chunk = *busy_[i];
        decode_outcomes<R>(
            payload, chunk.begin, chunk.end,
            [&](std::size_t index, auto&& value) {
                if constexpr (!std::is_void_v<R>) results_.put(index, std::move(value));
            },
            [&](std::size_t index, std::exception_ptr error) { fail(index, std::move(error)); });
        progress_.advance(chunk.end - chunk.begin);
        busy_[i].reset();
        deaths_without_progress_ = 0;
        return true;
    }

    // worker_set hook: worker i is gone (see timed_out for a time limit).
    void lost(std::size_t i, int status, const std::string& protocol_error) {
        settle_chunk_of_lost(i, worker_death_error(running_task(i), status, protocol_error), !protocol_error.empty());
    }

    // The worker process: run chunks until the parent closes the socket.
    void worker_main(int fd, std::size_t index, worker_activity& me) {
        become_process_worker(index);  // this_worker::index(); the parent's pools do not exist here
        // A small reader: this child was forked from a thread of the caller's while other
        // threads may hold allocator locks, so it allocates as little as it can (a 64 KiB buffer
        // hangs such a child under GCC 12's ASan, whose large-block allocator has no fork
        // handler; process_pool's workers come from a fork server and may).
        message_reader inbox(256);
        message_header header{};
        std::span<const std::byte> in;
        std::vector<std::byte> out;
        for (;;) {
            while (!inbox.next(header, in)) {
                if (inbox.bad() || !inbox.fill(fd)) return;
            }
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

    // The task worker i was running when it was lost, or the chunk's first one when it was
    // between tasks (only a protocol error then uses it).
    std::size_t running_task(std::size_t i) const noexcept {
        const std::uint64_t running = activity_[i].task.load(std::memory_order_acquire);
        const index_range chunk = busy_[i].value_or(index_range{});
        return running != worker_activity::idle && running >= chunk.begin && running < chunk.end
                   ? static_cast<std::size_t>(running)
                   : chunk.begin;
    }

    // Worker i is gone, its chunk unanswered: the task it was running fails with `error`, the
    // rest of its chunk is queued again, and a replacement is forked. A protocol error after
    // the chunk's last task cannot be pinned on one task: the chunk's tasks are queued again
    // one per chunk, so the one at fault is found by running it alone.
    void settle_chunk_of_lost(std::size_t i, std::exception_ptr error, bool protocol_error) {
        const std::uint64_t running = activity_[i].task.load(std::memory_order_acquire);
        const std::optional<index_range> chunk = std::exchange(busy_[i], std::nullopt);
        if (!chunk) {
            // Died while idle (killed from outside): nothing to fail.
        } else if (running != worker_activity::idle && running >= chunk->begin && running < chunk->end) {
            const std::size_t index = static_cast<std::size_t>(running);
            fail(index, std::move(error));
            requeue(index_range{chunk->begin, index});
            requeue(index_range{index + 1, chunk->end});
            progress_.advance(1);
        } else if (protocol_error && chunk->end - chunk->begin == 1) {
            fail(chunk->begin, std::move(error));
            progress_.advance(1);
        } else if (protocol_error) {
            for (std::size_t k = chunk->end; k-- > chunk->begin;) requeue(index_range{k, k + 1});
        } else {
            requeue(*chunk);  // died between tasks: nothing of the chunk is known to be at fault
            // Killed from outside now and then is fine; workers that die again and again before
            // finishing any chunk mean the environment is broken: give up rather than loop.
            if (++deaths_without_progress_ > 3 * workers_.size() + 3)
                throw std::runtime_error("parkit::parallel_map: worker processes keep dying before finishing any work");
        }
        if (!stop_) workers_.spawn(i);
    }

    void requeue(index_range r) {
        if (r.begin < r.end) pending_.push_front(r);
    }

    // Kills the workers whose running task is past `task_timeout_s`: it fails with task_timeout.
    void check_deadlines() {
        const std::int64_t now = steady_ns();
        const auto limit = static_cast<std::int64_t>(timeout_s_ * 1e9);
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            if (!busy_[i]) continue;
            const std::uint64_t running = activity_[i].task.load(std::memory_order_acquire);
            if (running == worker_activity::idle) continue;
            if (now - activity_[i].started_ns.load(std::memory_order_relaxed) <= limit) continue;
            workers_.end(i, worker_ending::kill);
            settle_chunk_of_lost(i, make_error_ptr<task_timeout>(static_cast<std::size_t>(running), timeout_s_), false);
        }
    }

    void fail(std::size_t index, std::exception_ptr error) {
        failures_.push_back(task_failure{index, std::move(error)});
        if constexpr (!Collect) stop_ = true;
    }

    F& f_;
    const indexed_input<Range>& input_;
    const std::size_t chunk_size_;
    const double timeout_s_;
    progress_reporter& progress_;
    shared_array<worker_activity> activity_;
    store_t results_;
    std::vector<std::optional<index_range>> busy_;  // per worker: the chunk it runs, if any
    std::deque<index_range> pending_;
    std::vector<task_failure> failures_;
    std::size_t deaths_without_progress_ = 0;  // worker deaths outside tasks since the last chunk done
    bool stop_ = false;
    worker_set<spawner> workers_;  // last: destroyed (killing what runs) before the rest
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
