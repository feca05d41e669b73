#pragma once
/// @file
/// Hands out index ranges of a map to its workers. Automatic mode adapts each worker's chunk to
/// the measured time per task (joblib's auto-batching, scaled to C++ costs): chunks aim at
/// ~50 us, so 20 ns tasks run in batches of thousands while 1 ms tasks go one at a time; near
/// the end chunks shrink so no worker finishes last alone.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>

#include "../../core/n_jobs.hpp"

namespace parkit::detail {

/// A half-open range of input indices.
struct index_range {
    std::size_t begin = 0;  ///< first index
    std::size_t end = 0;    ///< one past the last index
    /// Number of indices.
    [[nodiscard]] std::size_t size() const noexcept { return end - begin; }
};

/// Shared dispenser of chunks over [0, total).
class chunk_dispenser {
public:
    /// Target duration of one automatic chunk.
    static constexpr double target_chunk_ns = 50'000.0;

    /// A worker's own adaptive state.
    struct cursor {
        std::size_t chunk = 1;       ///< next chunk size
        double ns_per_task = -1.0;   ///< smoothed measured time per task (< 0: unknown)
        double measured_ns = 0.0;    ///< total time of the chunks run so far
        std::size_t measured_tasks = 0;  ///< tasks in those chunks
    };

    /// Below this much measured time, a time-per-task estimate is mostly clock overhead.
    static constexpr double reliable_ns = 1'000.0;

    /// Dispenser over `total` tasks with a fixed `chunk_size` (0 = automatic) for `workers`
    /// workers. A `chunk_size` above `total` means one chunk of everything.
    chunk_dispenser(std::size_t total, std::size_t chunk_size, int workers) noexcept
        : total_(total),
          fixed_(chunk_size == 0 ? 0 : std::min(chunk_size, std::max<std::size_t>(total, 1))),
          workers_(static_cast<std::size_t>(std::max(workers, 1))) {}

    /// Claims the next chunk for `c` into `out`; false when none is left or the map stopped.
    /// The shared counter never passes `total` (a compare-exchange claims at most what is
    /// left), so no chunk size can wrap it round and hand a range out twice.
    bool next(cursor& c, index_range& out) noexcept {
        if (stopped()) return false;
        std::size_t wanted = fixed_ != 0 ? fixed_ : c.chunk;
        const bool shrink = fixed_ == 0 && shared_.load(std::memory_order_relaxed);
        std::size_t begin = next_.load(std::memory_order_relaxed);
        std::size_t size = 0;
        do {
            if (begin >= total_) return false;
            const std::size_t left = total_ - begin;
            size = std::min(wanted, left);
            if (shrink) size = std::min(size, std::max<std::size_t>(1, left / (2 * workers_)));
        } while (!next_.compare_exchange_weak(begin, begin + size, std::memory_order_relaxed));
        out = {begin, begin + size};
        return true;
    }

    /// Number of chunks a fixed `chunk_size` cuts `total` tasks into (ceil(total / chunk_size)
    /// without overflow); `total` for automatic chunking (0), whose chunks may be single tasks.
    static constexpr std::size_t max_chunks(std::size_t total, std::size_t chunk_size) noexcept {
        if (chunk_size == 0) return total;
        return total / chunk_size + (total % chunk_size != 0 ? 1 : 0);
    }

    /// Feeds back that `c` ran `tasks` tasks in `elapsed_ns` nanoseconds; adapts its next chunk
    /// size.
    void record(cursor& c, std::size_t tasks, double elapsed_ns) const noexcept {
        if (tasks == 0) return;
        c.measured_ns += elapsed_ns;
        c.measured_tasks += tasks;
        if (fixed_ != 0) return;
        const double sample = elapsed_ns / static_cast<double>(tasks);
        c.ns_per_task = c.ns_per_task < 0 ? sample : 0.5 * c.ns_per_task + 0.5 * sample;
        const double wanted = target_chunk_ns / std::max(c.ns_per_task, 0.1);
        const double grown = std::min(wanted, 16.0 * static_cast<double>(c.chunk));
        // 2^62 bounds the double before the conversion (a double at 2^64 would not fit).
        c.chunk = std::min(static_cast<std::size_t>(std::clamp(grown, 1.0, 0x1p62)), std::max<std::size_t>(total_, 1));
    }

    /// Estimated time to finish what is not yet claimed, from `c`'s measurements so far (ns);
    /// 0 while too little was measured to tell.
    [[nodiscard]] double remaining_ns(const cursor& c) const noexcept {
        if (c.measured_ns < reliable_ns) return 0.0;
        const std::size_t claimed = std::min(next_.load(std::memory_order_relaxed), total_);
        return c.measured_ns / static_cast<double>(c.measured_tasks) *
               static_cast<double>(total_ - claimed);
    }

    /// Marks that several workers now share the range, so chunks shrink towards its end (a lone
    /// caller keeps its chunks large).
    void share() noexcept { shared_.store(true, std::memory_order_relaxed); }

    /// Stops handing out chunks (after a failure under on_error::raise).
    void stop() noexcept { stopped_.store(true, std::memory_order_relaxed); }
    /// True once stop() was called.
    [[nodiscard]] bool stopped() const noexcept { return stopped_.load(std::memory_order_relaxed); }
    /// Number of tasks.
    [[nodiscard]] std::size_t total() const noexcept { return total_; }

private:
    const std::size_t total_;
    const std::size_t fixed_;
    const std::size_t workers_;
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> stopped_{false};
    std::atomic<bool> shared_{false};
};

/// The one guided rule of the engines that hand out chunks by message (worker processes,
/// `process_pool::map`'s batches, MPI ranks), where each hand-out costs a round trip: a quarter
/// of the `left` tasks per slot, so chunks shrink towards the end and every slot finishes at
/// about the same time. What differs between the engines is what a hand-out costs, which they
/// pass as `shortest` (and `longest`); the result stays within [shortest, max(longest,
/// shortest)] and within `left`. (The threads' `chunk_dispenser`, whose hand-out is one atomic
/// step, sizes chunks by measured time instead.)
inline std::size_t guided_chunk_length(std::size_t left, std::size_t slots, std::size_t shortest = 1,
                                       std::size_t longest = std::numeric_limits<std::size_t>::max()) noexcept {
    const std::size_t lowest = std::max<std::size_t>(shortest, 1);
    const std::size_t guided = left / (4 * std::max<std::size_t>(slots, 1));
    return std::min(std::clamp(guided, lowest, std::max(longest, lowest)), std::max<std::size_t>(left, 1));
}

/// The workers worth starting for a map of `tasks` tasks cut into chunks of `chunk_size`
/// (0 = automatic, chunks of one task or more): never more than there are chunks, nor more
/// than `max_map_workers`, and at least 1. `workers` is a resolved count.
inline int workers_for_work(int workers, std::size_t tasks, std::size_t chunk_size) noexcept {
    const std::size_t cap = std::min(chunk_dispenser::max_chunks(tasks, chunk_size),
                                     static_cast<std::size_t>(max_map_workers));
    return static_cast<int>(std::min(static_cast<std::size_t>(std::max(workers, 1)), std::max<std::size_t>(cap, 1)));
}

}  // namespace parkit::detail
