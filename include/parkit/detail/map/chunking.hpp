#pragma once
/// @file
/// Hands out index ranges of a map to its workers. Automatic mode adapts each worker's chunk to
/// the measured time per task (joblib's auto-batching, scaled to C++ costs): chunks aim at
/// ~50 us, so 20 ns tasks run in batches of thousands while 1 ms tasks go one at a time; each
/// worker claims from its own range and steals half of another's when its own runs dry, so
/// no counter is shared by every worker and no worker finishes last alone.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>

#include "../../core/n_jobs.hpp"
#include "../support/spin.hpp"

namespace parkit::detail {

/// The one guided rule of every engine that hands out chunks: a quarter of the `left` tasks
/// per slot, so chunks shrink towards the end and every slot finishes at about the same time.
/// What differs between the engines is what a hand-out costs, which they pass as `shortest`
/// and `longest`: a round trip for worker processes, `process_pool::map`'s batches and MPI
/// ranks (by message); for threads (`chunk_dispenser`, one slot per worker's own range) a
/// lock, so `shortest` is one task and `longest` the ~50 us a worker's measured time per task
/// allows. The result stays within [shortest, max(longest, shortest)] and within `left`.
inline std::size_t guided_chunk_length(std::size_t left, std::size_t slots, std::size_t shortest = 1,
                                       std::size_t longest = std::numeric_limits<std::size_t>::max()) noexcept {
    const std::size_t lowest = std::max<std::size_t>(shortest, 1);
    const std::size_t guided = left / (4 * std::max<std::size_t>(slots, 1));
    return std::min(std::clamp(guided, lowest, std::max(longest, lowest)), std::max<std::size_t>(left, 1));
}

/// A half-open range of input indices.
struct index_range {
    std::size_t begin = 0;  ///< first index
    std::size_t end = 0;    ///< one past the last index
    /// Number of indices.
    [[nodiscard]] std::size_t size() const noexcept { return end - begin; }
};

/// Hands out the chunks of [0, total) to up to `workers` workers without a shared counter on the
/// hot path: each worker (a *slot*) owns a contiguous range and claims chunks from its front
/// under its own lock, and a worker whose range is empty steals the back half of the fullest
/// other range (lazy splitting, as oneTBB's and libgomp's nonmonotonic schedules do). The caller
/// starts owning everything (a loop too short to share runs as a plain loop); `share()` then
/// deals its remaining range out to every slot at once, so a runner finds half the work (two
/// workers) waiting the moment it starts, and steals back the range of a runner that never
/// started. Chunk lengths follow `guided_chunk_length` over a worker's own range.
class chunk_dispenser {
public:
    /// Target duration of one automatic chunk.
    static constexpr double target_chunk_ns = 50'000.0;

    /// A worker's own adaptive state.
    struct cursor {
        std::size_t chunk = 1;           ///< next chunk size
        double ns_per_task = -1.0;       ///< smoothed measured time per task (< 0: unknown)
        double measured_ns = 0.0;        ///< total time of the chunks run so far
        std::size_t measured_tasks = 0;  ///< tasks in those chunks
        std::size_t slot = 0;            ///< the range this worker claims from (0: the caller's)
    };

    /// Below this much measured time, a time-per-task estimate is mostly clock overhead (two
    /// clock reads of ~15 ns per chunk). The caller's chunks grow 1, 16, 256 tasks, so a loop
    /// of 2-20 ns tasks knows whether to wake other workers within about a microsecond.
    static constexpr double reliable_ns = 300.0;

    /// Dispenser over `total` tasks with a fixed `chunk_size` (0 = automatic) for `workers`
    /// workers. A `chunk_size` above `total` means one chunk of everything. Ranges are split at
    /// multiples of a fixed `chunk_size`, so every chunk but the last has exactly that size.
    chunk_dispenser(std::size_t total, std::size_t chunk_size, int workers)
        : total_(total),
          fixed_(chunk_size == 0 ? 0 : std::min(chunk_size, std::max<std::size_t>(total, 1))),
          workers_(static_cast<std::size_t>(std::max(workers, 1))),
          heap_(workers_ > inline_slots ? std::make_unique<slot[]>(workers_) : nullptr),
          slots_(heap_ ? heap_.get() : inline_.data()) {
        slots_[0].end.store(total_, std::memory_order_relaxed);
    }

    chunk_dispenser(const chunk_dispenser&) = delete;
    chunk_dispenser& operator=(const chunk_dispenser&) = delete;

    /// Gives a runner's cursor its own slot (the caller keeps slot 0); call once per runner.
    /// False when every slot is taken (more runners than `workers - 1`): that runner has
    /// nothing to do, since two owners of one slot could each fill it with a stolen range.
    [[nodiscard]] bool join(cursor& c) noexcept {
        c.slot = joined_.fetch_add(1, std::memory_order_relaxed) + 1;
        return c.slot < workers_;
    }

    /// Claims the next chunk for `c` into `out` — from its own range, else from a stolen half
    /// of another's; false when no range holds work or the map stopped.
    bool next(cursor& c, index_range& out) noexcept {
        if (stopped()) return false;
        slot& own = slots_[c.slot];
        for (;;) {
            {
                const std::lock_guard lock(own.lock);
                const std::size_t begin = own.begin.load(std::memory_order_relaxed);
                const std::size_t end = own.end.load(std::memory_order_relaxed);
                if (begin < end) {
                    const std::size_t size = claim_size(c, end - begin);
                    own.begin.store(begin + size, std::memory_order_relaxed);
                    out = {begin, begin + size};
                    return true;
                }
            }
            if (!steal_into(c.slot)) return false;
        }
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

    /// Estimated time to finish the unclaimed part of `c`'s own range, from `c`'s measurements
    /// so far (ns); 0 while too little was measured to tell. Before `share()` the caller's range
    /// is everything not yet claimed.
    [[nodiscard]] double remaining_ns(const cursor& c) const noexcept {
        if (c.measured_ns < reliable_ns) return 0.0;
        const slot& own = slots_[c.slot];
        const std::size_t begin = own.begin.load(std::memory_order_relaxed);
        const std::size_t end = own.end.load(std::memory_order_relaxed);
        return c.measured_ns / static_cast<double>(c.measured_tasks) *
               static_cast<double>(end > begin ? end - begin : 0);
    }

    /// Deals the caller's unclaimed range out to every slot in equal parts (whole chunks when
    /// the chunk size is fixed); from now on chunks follow the guided rule over their range,
    /// so most of it is left for thieves. The caller calls it once, before starting the
    /// runners (whose start publishes the ranges to them).
    void share() noexcept {
        slot& caller = slots_[0];
        const std::lock_guard lock(caller.lock);
        const std::size_t begin = caller.begin.load(std::memory_order_relaxed);
        const std::size_t end = caller.end.load(std::memory_order_relaxed);
        const std::size_t unit = std::max<std::size_t>(fixed_, 1);
        const std::size_t units = max_chunks(end - begin, unit);
        std::size_t at = begin;
        for (std::size_t k = 0; k < workers_; ++k) {
            const std::size_t mine = units / workers_ + (k < units % workers_ ? 1 : 0);
            const std::size_t stop = mine >= max_chunks(end - at, unit) ? end : at + mine * unit;
            if (k == 0) {
                caller.end.store(stop, std::memory_order_relaxed);
            } else {
                slots_[k].begin.store(at, std::memory_order_relaxed);
                slots_[k].end.store(stop, std::memory_order_relaxed);
            }
            at = stop;
        }
        shared_.store(true, std::memory_order_relaxed);
    }

    /// Stops handing out chunks (after a failure under on_error::raise).
    void stop() noexcept { stopped_.store(true, std::memory_order_relaxed); }
    /// True once stop() was called.
    [[nodiscard]] bool stopped() const noexcept { return stopped_.load(std::memory_order_relaxed); }
    /// Number of tasks.
    [[nodiscard]] std::size_t total() const noexcept { return total_; }

private:
    // One worker's range [begin, end); written under `lock`, read without it only as an estimate.
    struct alignas(64) slot {
        spin_lock lock;
        std::atomic<std::size_t> begin{0};
        std::atomic<std::size_t> end{0};
    };
    static constexpr std::size_t inline_slots = 4;  // no allocation for maps of up to 4 workers

    // How much of a range holding `left` tasks `c` claims at once.
    std::size_t claim_size(const cursor& c, std::size_t left) const noexcept {
        if (fixed_ != 0) return std::min(fixed_, left);
        // Alone (before share), the caller takes what its clock allows; once shared, the guided
        // rule over its own range leaves three quarters of it for thieves.
        if (!shared_.load(std::memory_order_relaxed)) return std::min(c.chunk, left);
        return guided_chunk_length(left, 1, 1, c.chunk);
    }

    // Moves the back half of the fullest other range into slot `thief` (empty, and only its
    // owner fills it); false when every other range is empty.
    bool steal_into(std::size_t thief) noexcept {
        for (;;) {
            std::size_t victim = thief;
            std::size_t most = 0;
            for (std::size_t i = 1; i < workers_; ++i) {
                const std::size_t k = (thief + i) % workers_;
                const std::size_t begin = slots_[k].begin.load(std::memory_order_relaxed);
                const std::size_t end = slots_[k].end.load(std::memory_order_relaxed);
                if (end > begin && end - begin > most) {
                    most = end - begin;
                    victim = k;
                }
            }
            if (victim == thief) return false;
            std::size_t from = 0;
            std::size_t to = 0;
            {
                slot& v = slots_[victim];
                const std::lock_guard lock(v.lock);
                const std::size_t begin = v.begin.load(std::memory_order_relaxed);
                const std::size_t end = v.end.load(std::memory_order_relaxed);
                if (begin >= end) continue;  // emptied meanwhile: look again
                const std::size_t unit = std::max<std::size_t>(fixed_, 1);
                const std::size_t units = max_chunks(end - begin, unit);
                from = units < 2 ? begin : begin + (units / 2) * unit;  // the victim keeps the front
                to = end;
                v.end.store(from, std::memory_order_relaxed);
            }
            slot& own = slots_[thief];
            const std::lock_guard lock(own.lock);
            own.begin.store(from, std::memory_order_relaxed);
            own.end.store(to, std::memory_order_relaxed);
            return true;
        }
    }

    const std::size_t total_;
    const std::size_t fixed_;
    const std::size_t workers_;
    std::array<slot, inline_slots> inline_{};
    std::unique_ptr<slot[]> heap_;
    slot* const slots_;
    std::atomic<std::size_t> joined_{0};
    std::atomic<bool> stopped_{false};
    std::atomic<bool> shared_{false};
};

/// The workers worth starting for a map of `tasks` tasks cut into chunks of `chunk_size`
/// (0 = automatic, chunks of one task or more): never more than there are chunks, nor more
/// than `max_map_workers`, and at least 1. `workers` is a resolved count.
inline int workers_for_work(int workers, std::size_t tasks, std::size_t chunk_size) noexcept {
    const std::size_t cap =
        std::min(chunk_dispenser::max_chunks(tasks, chunk_size), static_cast<std::size_t>(max_map_workers));
    return static_cast<int>(std::min(static_cast<std::size_t>(std::max(workers, 1)), std::max<std::size_t>(cap, 1)));
}

}  // namespace parkit::detail
