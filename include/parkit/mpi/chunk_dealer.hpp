#pragma once
/// @file
/// Rank 0's side of dealing a `backend::mpi` map: which indices go out next, what to do with
/// the chunks that come back, and what each rank did (`parkit::mpi::last_map_stats()`).
///
/// Every computing thread of every rank (a *slot*) starts on a static first chunk that it
/// computes itself (`first_chunk`), so no rank waits for rank 0 before its first work however
/// many ranks there are. The rest is dealt on request: guided chunks (a quarter of the remaining
/// work per slot, shrinking towards the end), growing from one task at the start (slow start,
/// so an early failure stops the map early), never shorter than ~2 ms of measured work, nor
/// shorter than it takes rank 0 to answer every slot twice (`shortest_chunk_ns`), so the
/// coordinator stays at most half busy. Used by rank 0's coordinator (its main thread) and
/// rank 0's computing threads at once, so every member locks.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "../detail/distributed/distributed_map.hpp"
#include "../detail/map/chunking.hpp"

namespace parkit::mpi {

/// The work one rank did in a `backend::mpi` map.
struct rank_work {
    std::size_t tasks = 0;   ///< tasks it ran
    std::size_t chunks = 0;  ///< chunks it was dealt
    double busy_s = 0.0;     ///< seconds it spent running them
};

/// What the last `backend::mpi` map of this process did (filled on rank 0 only).
struct map_stats {
    std::vector<rank_work> ranks;  ///< per rank, indexed by rank
    double elapsed_s = 0.0;        ///< wall time of the whole call on rank 0
    /// Work requests rank 0 answered, each with one reply: one per chunk another rank ran, plus
    /// one per other rank (its prefetched request), plus one per slot whose static first chunk
    /// was empty. The map's only point-to-point messages besides these replies.
    std::size_t requests = 0;
};

namespace detail {

using parkit::detail::distributed_chunk;
using parkit::detail::distributed_map_job;
using parkit::detail::index_range;

/// What one work request costs rank 0 (receive, deal, reply), taken high: a few µs in shared
/// memory, ~10 µs across a network.
inline constexpr double request_cost_ns = 1e4;

/// Below this much measured work a chunk costs more in messages than it balances.
inline constexpr double min_chunk_ns = 2e6;

/// Computing threads per rank in `job`.
inline std::size_t threads_of(const distributed_map_job& job) noexcept {
    return static_cast<std::size_t>(std::max(job.threads_per_rank, 1));
}

/// Slots (computing threads over all ranks) of `job` on `job.ranks` ranks.
inline std::size_t slot_count(const distributed_map_job& job) noexcept {
    return static_cast<std::size_t>(std::max(job.ranks, 1)) * threads_of(job);
}

/// The tasks of each slot's static first chunk. `job.chunk_size` when set. Else one task (slow
/// start: an early failure stops the map early) while rank 0 answers every slot's first request
/// within `min_chunk_ns`; with more slots than that (~200) the first round of requests would
/// keep slots idle for slots × request_cost_ns (55 ms for 6,400 ranks), so half of the work is
/// shared out statically (as OpenMP's static share before a dynamic one) and only the rest is
/// dealt: at that scale throughput outweighs stopping early.
inline std::size_t first_chunk_length(const distributed_map_job& job) noexcept {
    if (job.chunk_size > 0) return job.chunk_size;
    const std::size_t slots = slot_count(job);
    if (static_cast<double>(slots) * request_cost_ns <= min_chunk_ns) return 1;
    return std::max<std::size_t>(1, job.total / (2 * slots));
}

/// The static first chunk of computing thread `thread` of rank `rank` (slot rank ×
/// threads_per_rank + thread): the slots take the first tasks in slot order, without asking
/// rank 0. Empty when there are fewer tasks than slots.
inline index_range first_chunk(const distributed_map_job& job, int rank, int thread) noexcept {
    const std::size_t slot = static_cast<std::size_t>(rank) * threads_of(job) + static_cast<std::size_t>(thread);
    const std::size_t length = first_chunk_length(job);
    return {std::min(job.total, slot * length), std::min(job.total, (slot + 1) * length)};
}

/// Rank 0's bookkeeping of one map call.
class chunk_dealer {
public:
    /// Dealer of `job`'s tasks over `job.ranks` ranks (the static first chunks are not dealt).
    explicit chunk_dealer(const distributed_map_job& job)
        : job_(job),
          ranks_(static_cast<std::size_t>(std::max(job.ranks, 1))),
          slots_(slot_count(job)),
          next_(std::min(job.total, slots_ * first_chunk_length(job))),
          work_(ranks_) {}

    /// The shortest chunk worth dealing, in ns of measured work: rank 0 answers one request per
    /// chunk, so with `slots` slots asking, chunks shorter than 2 × slots × request_cost_ns
    /// would keep it more than half busy (requests would queue, slots would idle).
    static double shortest_chunk_ns(std::size_t slots) noexcept {
        return std::max(min_chunk_ns, 2.0 * static_cast<double>(slots) * request_cost_ns);
    }

    /// Claims the next chunk into `out`; false when all are dealt or the map stopped.
    bool next(index_range& out) {
        std::lock_guard lock(mutex_);
        if (stopped_ || next_ >= job_.total) return false;
        out = {next_, next_ + chunk_length()};
        next_ = out.end;
        return true;
    }

    /// Takes a finished chunk: `account` then `keep`.
    void record(distributed_chunk chunk) {
        account(chunk);
        keep(std::move(chunk));
    }

    /// Counts a finished chunk (per-rank work, measured cost, progress); in raise mode a
    /// failure stops the dealing. Cheap: the coordinator calls it before it answers.
    void account(const distributed_chunk& chunk) {
        const std::size_t count = static_cast<std::size_t>(chunk.count);
        {
            std::lock_guard lock(mutex_);
            if (chunk.rank >= 0 && static_cast<std::size_t>(chunk.rank) < ranks_) {
                rank_work& w = work_[static_cast<std::size_t>(chunk.rank)];
                w.tasks += count;
                w.chunks += 1;
                w.busy_s += static_cast<double>(chunk.busy_ns) * 1e-9;
            }
            if (count > 0) {
                measured_ns_ += static_cast<double>(chunk.busy_ns);
                measured_tasks_ += count;
            }
            if (chunk.failed && job_.stop_at_failure) stopped_ = true;
        }
        if (job_.advance) {
            try {
                job_.advance(count);
            } catch (...) {
                fail(std::current_exception());
            }
        }
    }

    /// Hands a counted chunk to the call (`job.take_chunk` decodes it into the results at once,
    /// so rank 0 holds each result once, not its bytes too) and keeps what the other ranks are
    /// told at the end: every chunk with `broadcast`, else in raise mode the lowest failed one.
    void keep(distributed_chunk chunk) {
        try {
            if (job_.take_chunk) job_.take_chunk(chunk);
        } catch (...) {
            fail(std::current_exception());
        }
        std::lock_guard lock(mutex_);
        if (job_.broadcast) {
            kept_.push_back(std::move(chunk));
        } else if (chunk.failed && job_.stop_at_failure && (kept_.empty() || chunk.begin < kept_.front().begin)) {
            kept_.assign(1, std::move(chunk));
        }
    }

    /// One more work request answered (`map_stats::requests`).
    void count_request() {
        std::lock_guard lock(mutex_);
        ++requests_;
    }

    /// A failure outside any task (e.g. the progress callback threw): stops the dealing; the
    /// first one is kept.
    void fail(std::exception_ptr error) {
        std::lock_guard lock(mutex_);
        if (!internal_) internal_ = std::move(error);
        stopped_ = true;
    }

    /// The first failure outside tasks, if any.
    [[nodiscard]] std::exception_ptr internal_error() const {
        std::lock_guard lock(mutex_);
        return internal_;
    }

    /// The chunks kept for the other ranks (`keep`), sorted by first index.
    std::vector<distributed_chunk> take_kept_chunks() {
        std::lock_guard lock(mutex_);
        std::sort(kept_.begin(), kept_.end(),
                  [](const distributed_chunk& a, const distributed_chunk& b) { return a.begin < b.begin; });
        return std::move(kept_);
    }

    /// What the map did so far: per-rank work and requests answered (elapsed time left 0).
    [[nodiscard]] map_stats stats() const {
        std::lock_guard lock(mutex_);
        return map_stats{work_, 0.0, requests_};
    }

private:
    std::size_t chunk_length() const {
        const std::size_t left = job_.total - next_;
        if (job_.chunk_size > 0) return std::min(job_.chunk_size, left);
        // Slow start: no chunk longer than twice the tasks each slot finished so far, so an
        // early failure (raise mode) stops the dealing after a few short chunks.
        const std::size_t slow_start = std::max<std::size_t>(1, 2 * measured_tasks_ / slots_);
        std::size_t shortest = 1;
        if (measured_tasks_ > 0 && measured_ns_ > 0) {
            const double ns_per_task = measured_ns_ / static_cast<double>(measured_tasks_);
            shortest = std::max(shortest, static_cast<std::size_t>(std::ceil(shortest_chunk_ns(slots_) / ns_per_task)));
        }
        return parkit::detail::guided_chunk_length(left, slots_, shortest, slow_start);
    }

    const distributed_map_job& job_;
    const std::size_t ranks_;
    const std::size_t slots_;  // computing threads over all ranks
    mutable std::mutex mutex_;
    std::size_t next_;
    bool stopped_ = false;
    double measured_ns_ = 0.0;
    std::size_t measured_tasks_ = 0;
    std::size_t requests_ = 0;
    std::vector<distributed_chunk> kept_;
    std::vector<rank_work> work_;
    std::exception_ptr internal_;
};

}  // namespace detail
}  // namespace parkit::mpi
