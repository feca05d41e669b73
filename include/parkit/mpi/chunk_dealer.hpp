#pragma once
/// @file
/// Rank 0's side of dealing a `backend::mpi` map: which indices go out next (guided chunks:
/// a quarter of the remaining work per computing thread, shrinking towards the end, growing
/// from one task at the start (slow start, so an early failure stops the map early), but never
/// shorter than ~2 ms of measured work so messages stay cheap), the chunks that came back, and what each
/// rank did (`parkit::mpi::last_map_stats()`). Used by rank 0's coordinator (its main thread)
/// and rank 0's computing helper thread at once, so every member locks.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "../detail/chunking.hpp"
#include "../detail/distributed_map.hpp"

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
};

namespace detail {

using parkit::detail::distributed_chunk;
using parkit::detail::distributed_map_job;
using parkit::detail::index_range;

/// Rank 0's bookkeeping of one map call.
class chunk_dealer {
public:
    /// Below this much measured work a chunk costs more in messages than it balances.
    static constexpr double min_chunk_ns = 2e6;

    /// Dealer of `job`'s tasks over `ranks` ranks.
    chunk_dealer(const distributed_map_job& job, int ranks)
        : job_(job), ranks_(static_cast<std::size_t>(std::max(ranks, 1))), work_(ranks_) {}

    /// Claims the next chunk into `out`; false when all are dealt or the map stopped.
    bool next(index_range& out) {
        std::lock_guard lock(mutex_);
        if (stopped_ || next_ >= job_.total) return false;
        out = {next_, next_ + chunk_length()};
        next_ = out.end;
        return true;
    }

    /// Takes a finished chunk; in raise mode a failure stops the dealing. Reports progress.
    void record(distributed_chunk chunk) {
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
            chunks_.push_back(std::move(chunk));
        }
        if (job_.advance) {
            try {
                job_.advance(count);
            } catch (...) {
                fail(std::current_exception());
            }
        }
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

    /// The chunks that came back, sorted by first index.
    std::vector<distributed_chunk> take_sorted_chunks() {
        std::lock_guard lock(mutex_);
        std::sort(chunks_.begin(), chunks_.end(),
                  [](const distributed_chunk& a, const distributed_chunk& b) { return a.begin < b.begin; });
        return std::move(chunks_);
    }

    /// Per-rank work so far.
    [[nodiscard]] std::vector<rank_work> work() const {
        std::lock_guard lock(mutex_);
        return work_;
    }

private:
    std::size_t chunk_length() const {
        const std::size_t left = job_.total - next_;
        if (job_.chunk_size > 0) return std::min(job_.chunk_size, left);
        // Every computing thread of every rank takes chunks on its own.
        const std::size_t slots = ranks_ * static_cast<std::size_t>(std::max(job_.threads_per_rank, 1));
        std::size_t length = left / (4 * slots);
        // Slow start: no chunk longer than twice the tasks each slot finished so far, so an
        // early failure (raise mode) stops the dealing after a few short chunks.
        length = std::min(length, std::max<std::size_t>(1, 2 * measured_tasks_ / slots));
        std::size_t shortest = 1;
        if (measured_tasks_ > 0 && measured_ns_ > 0) {
            const double ns_per_task = measured_ns_ / static_cast<double>(measured_tasks_);
            shortest = std::max(shortest, static_cast<std::size_t>(std::ceil(min_chunk_ns / ns_per_task)));
        }
        length = std::max(length, shortest);
        return std::clamp<std::size_t>(length, 1, left);
    }

    const distributed_map_job& job_;
    const std::size_t ranks_;
    mutable std::mutex mutex_;
    std::size_t next_ = 0;
    bool stopped_ = false;
    double measured_ns_ = 0.0;
    std::size_t measured_tasks_ = 0;
    std::vector<distributed_chunk> chunks_;
    std::vector<rank_work> work_;
    std::exception_ptr internal_;
};

}  // namespace detail
}  // namespace parkit::mpi
