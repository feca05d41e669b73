#pragma once
/// @file
/// The MPI engine behind `backend::mpi`, registered with the core at start-up.
///
/// SPMD: every rank runs the program, holds the same inputs and makes the same `parallel_map`
/// call. Rank 0's main thread coordinates; a helper thread on rank 0 computes chunks like any
/// other rank (on `threads_per_rank` threads, each taking chunks from the dealer). Ranks 1..n-1
/// run `threads_per_rank` computing threads that take chunks one by one from a local queue
/// (no barrier across a rank's threads; each thread encodes what it ran). Every computing
/// thread starts on its static first chunk (chunk_dealer.hpp: no rank waits for rank 0 before
/// its first work), while the rank's MPI thread sends one request ahead; from then on it keeps
/// one request per computing thread plus that one open (so the next chunk is there before the
/// running ones drain): each reply is a range [begin, end) of indices (empty: no more); each
/// finished chunk's outcomes go back, as soon as it finishes, with the request that replaces
/// the answered one, and rank 0 decodes them into the results as they arrive (after it has
/// answered). Only indices go out and only serialized results come back; the function and the
/// inputs never travel. At the end rank 0 broadcasts what the other ranks need: nothing but the
/// first failure (raise mode), or every chunk (`options.mpi.broadcast`).

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../core/serialization.hpp"
#include "../detail/distributed/distributed_map.hpp"
#include "../detail/process/task_codec.hpp"
#include "chunk_dealer.hpp"
#include "collectives.hpp"
#include "environment.hpp"
#include "wait.hpp"

namespace parkit::mpi {

namespace detail {

using parkit::detail::distributed_map_outcome;
using parkit::detail::distributed_topology;

/// Tag of "here is my finished chunk (maybe none), give me more" (rank r -> rank 0).
inline constexpr int work_request_tag = 7001;
/// Tag of "your next chunk is [begin, end)", begin == end meaning "no more" (rank 0 -> rank r).
inline constexpr int work_assign_tag = 7002;
/// The stats of the last map on rank 0.
inline map_stats& last_stats_slot() {
    static map_stats stats;
    return stats;
}
/// Guards `last_stats_slot()`.
inline std::mutex& last_stats_mutex() {
    static std::mutex mutex;
    return mutex;
}

/// Set while a `backend::mpi` map runs in this process (nesting one is refused).
inline std::atomic<bool> map_running{false};

/// What rank 0 tells every rank when a map ends.
struct map_summary {
    std::string internal_error;  ///< a failure outside tasks ("" = none): every rank throws it
    /// With `options.mpi.broadcast` every chunk; else, in raise mode, the chunk holding the
    /// lowest failed task (if any), so every rank throws the same task_error.
    std::vector<distributed_chunk> chunks;

    /// Serialization (cereal protocol).
    template <class Archive>
    void serialize(Archive& archive) {
        archive(internal_error, chunks);
    }
};

/// Checks, collectively, that every rank passed the same inputs: their number, and (where
/// every rank hashed them, `options.mpi.check_inputs`) their hash. One MPI_Iallgather of four
/// words per rank; every rank reaches the same verdict.
/// @throws std::invalid_argument on every rank naming the first rank that differs from rank 0;
/// join_error when a rank left without joining, join_timeout past `job.join_timeout_s`.
inline void check_same_inputs(MPI_Comm comm, const distributed_map_job& job, int ranks) {
    const std::uint64_t mine[4] = {job.total, job.inputs_hashed ? 1u : 0u, job.input_hash[0], job.input_hash[1]};
    std::vector<std::uint64_t> all(4 * static_cast<std::size_t>(ranks));
    MPI_Request request;
    const std::uint64_t call = enter_collective();
    check(MPI_Iallgather(mine, 4, MPI_UINT64_T, all.data(), 4, MPI_UINT64_T, comm, &request), "MPI_Iallgather");
    wait_collective(comm, request, call, "parkit::parallel_map (backend::mpi)", job.join_timeout_s);
    auto word = [&](int r, int k) { return all[4 * static_cast<std::size_t>(r) + static_cast<std::size_t>(k)]; };
    const std::string advice =
        "; every rank must make the same call with the same inputs (build them on rank 0 and "
        "share them with parkit::mpi::broadcast)";
    for (int r = 1; r < ranks; ++r) {
        if (word(r, 0) != word(0, 0)) {
            throw std::invalid_argument(
                "parkit::parallel_map (backend::mpi): argument inputs: the ranks passed "
                "different numbers of inputs: rank 0 has " +
                std::to_string(word(0, 0)) + ", rank " + std::to_string(r) +
                " (the first "
                "differing rank) has " +
                std::to_string(word(r, 0)) + advice);
        }
    }
    for (int r = 0; r < ranks; ++r) {
        if (word(r, 1) == 0) return;  // some rank did not hash (check off, or unserializable inputs)
    }
    for (int r = 1; r < ranks; ++r) {
        if (word(r, 2) != word(0, 2) || word(r, 3) != word(0, 3)) {
            throw std::invalid_argument(
                "parkit::parallel_map (backend::mpi): argument inputs differs across ranks: "
                "rank " +
                std::to_string(r) +
                " is the first rank whose inputs differ from "
                "rank 0's (same count, different hash of the values)" +
                advice + ", or turn the check off with options.mpi.check_inputs = false");
        }
    }
}

/// Nanoseconds since `start`.
inline std::int64_t ns_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

/// Runs chunk `range` of `job` on this rank into a fresh chunk record.
inline distributed_chunk run_chunk(const distributed_map_job& job, index_range range, int rank) {
    distributed_chunk chunk;
    chunk.begin = range.begin;
    chunk.rank = rank;
    const auto start = std::chrono::steady_clock::now();
    job.run_chunk(range, chunk);
    chunk.busy_ns = ns_since(start);
    return chunk;
}

/// A chunk too large for one MPI message (2 GiB) comes back as one failure per task instead.
inline void fail_oversized(distributed_chunk& chunk, std::size_t bytes) {
    chunk.outcomes.clear();
    parkit::output_archive archive{chunk.outcomes};
    const auto error = std::make_exception_ptr(
        std::length_error("parkit::parallel_map (backend::mpi): the results of a chunk take " + std::to_string(bytes) +
                          " bytes, more than one MPI message carries (2 GiB); use a smaller options.chunk_size"));
    for (std::uint64_t i = 0; i < chunk.count; ++i) parkit::detail::encode_task_failure(archive, error);
    chunk.failed = true;
}

/// Rank 0's computing share on its computing thread `thread`: the static first chunk, then
/// chunks from the dealer, each run here and recorded.
inline void compute_on_root(const distributed_map_job& job, chunk_dealer& dealer, int thread) noexcept {
    try {
        index_range range = first_chunk(job, 0, thread);
        if (range.begin < range.end) dealer.record(run_chunk(job, range, 0));
        while (dealer.next(range)) dealer.record(run_chunk(job, range, 0));
    } catch (...) {
        dealer.fail(std::current_exception());
    }
}

/// Requests a rank keeps open beyond one per computing thread: while its threads run their
/// chunks, the next chunk is already on its way (so no thread waits for rank 0 between chunks).
/// These are sent at the start; each computing thread's first request is the result of its
/// static first chunk (or, when that is empty, an empty request sent at the start).
inline constexpr int requests_prefetched = 1;

/// Requests each other rank keeps open: one per computing thread, plus the prefetched ones.
inline int requests_in_flight(const distributed_map_job& job) noexcept {
    return std::max(job.threads_per_rank, 1) + requests_prefetched;
}

/// Runs `body(i)` for i in [0, threads) on `threads` threads (the last on the calling thread).
template <class Body>
void on_threads(int threads, Body&& body) {
    std::vector<std::thread> helpers;
    for (int i = 0; i + 1 < threads; ++i) helpers.emplace_back([&body, i] { body(i); });
    body(threads - 1);
    for (auto& helper : helpers) helper.join();
}

/// A rank's chunks between its MPI thread and its computing threads: chunks to run (each
/// thread takes the next one as soon as it is free: no barrier across a rank's threads) and
/// the serialized chunks they finished (each encoded by the thread that ran it).
class local_chunks {
public:
    /// Queues a chunk to run.
    void push(index_range range) {
        {
            std::lock_guard lock(mutex_);
            todo_.push_back(range);
        }
        ready_.notify_one();
    }
    /// No more chunks will come: `pop` returns false once the queue is empty.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }
    /// Waits for the next chunk into `out`; false when closed and empty.
    bool pop(index_range& out) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !todo_.empty() || closed_; });
        if (todo_.empty()) return false;
        out = todo_.front();
        todo_.pop_front();
        return true;
    }
    /// A finished chunk's bytes, to go back to rank 0.
    void finish(std::vector<std::byte> bytes) {
        std::lock_guard lock(mutex_);
        done_.push_back(std::move(bytes));
    }
    /// A failure outside tasks on a computing thread (the first is kept).
    void fail(std::string why) {
        std::lock_guard lock(mutex_);
        if (error_.empty()) error_ = std::move(why);
    }
    /// The finished chunks so far (moved out), and the failure outside tasks ("" = none).
    std::vector<std::vector<std::byte>> take_done(std::string& error) {
        std::lock_guard lock(mutex_);
        error = error_;
        return std::exchange(done_, {});
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<index_range> todo_;
    bool closed_ = false;
    std::vector<std::vector<std::byte>> done_;
    std::string error_;
};

/// Rank 0's coordinator: answers the other ranks' requests until each was told "no more" once
/// per request it keeps open (`requests_in_flight`).
inline void serve_ranks(MPI_Comm comm, int other_ranks, const distributed_map_job& job, chunk_dealer& dealer) {
    backoff pace;
    std::vector<std::byte> buffer;
    int refusals_left = other_ranks * requests_in_flight(job);
    while (refusals_left > 0) {
        int arrived = 0;
        MPI_Message message;
        MPI_Status status;
        check(MPI_Improbe(MPI_ANY_SOURCE, work_request_tag, comm, &arrived, &message, &status), "MPI_Improbe");
        if (arrived == 0) {
            pace.pause();
            continue;
        }
        pace.reset();
        int bytes = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
        buffer.resize(static_cast<std::size_t>(bytes));
        check(MPI_Mrecv(buffer.data(), bytes, MPI_BYTE, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
        dealer.count_request();
        std::optional<distributed_chunk> finished;
        if (bytes > 0) {
            finished = parkit::from_bytes<distributed_chunk>(buffer);
            dealer.account(*finished);
        }
        index_range next{};
        const bool more = dealer.next(next);
        const std::uint64_t assignment[2] = {next.begin, more ? next.end : next.begin};
        check(MPI_Send(assignment, 2, MPI_UINT64_T, status.MPI_SOURCE, work_assign_tag, comm), "MPI_Send");
        if (!more) --refusals_left;
        if (finished) dealer.keep(std::move(*finished));  // decoded once the rank has its answer
    }
}

/// Rank 0's part of a map.
inline distributed_map_outcome run_root(const distributed_map_job& job, MPI_Comm comm, int ranks) {
    const auto start = std::chrono::steady_clock::now();
    chunk_dealer dealer(job);
    const int threads = std::max(job.threads_per_rank, 1);
    if (ranks == 1) {
        on_threads(threads, [&](int thread) { compute_on_root(job, dealer, thread); });
    } else {
        std::thread helper([&] { on_threads(threads, [&](int thread) { compute_on_root(job, dealer, thread); }); });
        try {
            serve_ranks(comm, ranks - 1, job, dealer);
        } catch (const std::exception& e) {
            dealer.fail(std::current_exception());
            helper.join();
            abort_job(e.what());  // the other ranks wait for answers that cannot come
        }
        helper.join();
    }
    {
        map_stats stats = dealer.stats();
        stats.elapsed_s = static_cast<double>(ns_since(start)) * 1e-9;
        std::lock_guard lock(last_stats_mutex());
        last_stats_slot() = std::move(stats);
    }
    const std::exception_ptr internal = dealer.internal_error();
    if (ranks > 1) {
        map_summary summary;
        if (internal) summary.internal_error = parkit::detail::exception_message(internal);
        summary.chunks = dealer.take_kept_chunks();
        std::vector<std::byte> bytes = parkit::to_bytes(summary);
        broadcast_bytes(comm, bytes);
    }
    if (internal) std::rethrow_exception(internal);
    return distributed_map_outcome{true};
}

/// Sends `bytes` to rank 0 as a work request (the finished chunk, or nothing).
inline void request_work(MPI_Comm comm, std::vector<std::byte>& bytes) {
    MPI_Request request;
    check(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, work_request_tag, comm, &request),
          "MPI_Isend");
    wait_all(&request, 1, "sending to rank 0");
}

/// Runs `range` on this rank and serializes it for rank 0 (a chunk too large for one message
/// comes back as failures, `fail_oversized`).
inline std::vector<std::byte> run_chunk_to_bytes(const distributed_map_job& job, index_range range, int rank) {
    distributed_chunk chunk = run_chunk(job, range, rank);
    std::vector<std::byte> bytes = parkit::to_bytes(chunk);
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
        fail_oversized(chunk, bytes.size());
        bytes = parkit::to_bytes(chunk);
    }
    return bytes;
}

/// The part of a map on ranks 1..n-1: `threads_per_rank` computing threads take chunks one by
/// one from a local queue, starting with their static first chunks; this (MPI) thread keeps
/// `requests_in_flight` requests open, so a chunk is queued before the running ones drain, and
/// sends each finished chunk back with the request that replaces the one it answered.
inline distributed_map_outcome run_other_rank(const distributed_map_job& job, MPI_Comm comm, int rank) {
    const int in_flight = requests_in_flight(job);
    const int threads = std::max(job.threads_per_rank, 1);
    local_chunks chunks;
    std::vector<std::byte> message;
    for (int thread = 0; thread < threads; ++thread) {
        const index_range first = first_chunk(job, rank, thread);
        if (first.begin < first.end)
            chunks.push(first);
        else
            request_work(comm, message);  // no static work: ask at once
    }
    for (int i = 0; i < requests_prefetched; ++i) request_work(comm, message);
    std::thread computing([&] {
        on_threads(threads, [&](int) {
            index_range range;
            while (chunks.pop(range)) {
                try {
                    chunks.finish(run_chunk_to_bytes(job, range, rank));
                } catch (const std::exception& e) {
                    chunks.fail(e.what());  // outside any task (e.g. out of memory)
                } catch (...) {
                    chunks.fail("unknown exception outside tasks");
                }
            }
        });
    });
    // Replies come in order; after the first "no more" only refusals follow. When every open
    // request was refused, every chunk this rank got has been run and sent back.
    int refusals = 0;
    std::uint64_t assignment[2] = {0, 0};
    MPI_Request reply;
    check(MPI_Irecv(assignment, 2, MPI_UINT64_T, 0, work_assign_tag, comm, &reply), "MPI_Irecv");
    backoff pace;
    std::string error;
    while (refusals < in_flight) {
        int arrived = 0;
        check(MPI_Test(&reply, &arrived, MPI_STATUS_IGNORE), "waiting for rank 0");
        bool busy = arrived != 0;
        if (arrived != 0) {
            if (assignment[0] >= assignment[1])
                ++refusals;
            else
                chunks.push({assignment[0], assignment[1]});
            if (refusals < in_flight) {
                check(MPI_Irecv(assignment, 2, MPI_UINT64_T, 0, work_assign_tag, comm, &reply), "MPI_Irecv");
            }
        }
        for (auto& bytes : chunks.take_done(error)) {
            request_work(comm, bytes);
            busy = true;
        }
        if (!error.empty()) abort_job(error.c_str());  // rank 0 would wait forever
        if (busy)
            pace.reset();
        else
            pace.pause();
    }
    chunks.close();
    computing.join();
    std::vector<std::byte> bytes;
    broadcast_bytes(comm, bytes);
    auto summary = parkit::from_bytes<map_summary>(bytes);
    if (!summary.internal_error.empty()) {
        throw std::runtime_error("parkit::parallel_map (backend::mpi): rank 0 failed: " + summary.internal_error);
    }
    for (const distributed_chunk& chunk : summary.chunks) job.take_chunk(chunk);
    return distributed_map_outcome{job.broadcast};
}

/// The engine's `topology`: checks MPI can run a map from here.
inline distributed_topology engine_topology() {
    if (!mpi_active()) {
        throw std::logic_error(
            "parkit::parallel_map: backend::mpi needs MPI to be initialised: create a "
            "parkit::mpi::environment at the start of main and keep it alive");
    }
    int level = MPI_THREAD_SINGLE, is_main = 0;
    check(MPI_Query_thread(&level), "MPI_Query_thread");
    check(MPI_Is_thread_main(&is_main), "MPI_Is_thread_main");
    if (level < MPI_THREAD_FUNNELED) {
        throw std::logic_error(
            "parkit::parallel_map: backend::mpi needs MPI initialised with thread level funneled or "
            "higher (rank 0 computes on a helper thread); parkit::mpi::environment asks for it");
    }
    if (is_main == 0 && level < MPI_THREAD_SERIALIZED) {
        throw std::logic_error(
            "parkit::parallel_map: with MPI's thread level funneled, backend::mpi must be called from "
            "the thread that initialised MPI (or use parkit::mpi::environment{argc, argv, "
            "parkit::mpi::thread_level::serialized})");
    }
    return distributed_topology{rank(), size()};
}

/// The engine's `run`.
inline distributed_map_outcome engine_run(const distributed_map_job& job) {
    if (map_running.exchange(true)) {
        throw std::logic_error(
            "parkit::parallel_map: a backend::mpi map cannot run inside another one (use "
            "options.mpi.threads_per_rank or backend::threads inside tasks)");
    }
    /// Clears `map_running` however this call ends.
    struct running_guard {
        ~running_guard() { map_running.store(false); }
    } guard;
    const distributed_topology where = engine_topology();
    if (where.size == 1) return run_root(job, MPI_COMM_NULL, 1);
    const MPI_Comm comm = communicator();
    check_same_inputs(comm, job, where.size);
    if (job.total == 0) return distributed_map_outcome{where.rank == 0 || job.broadcast};
    return where.rank == 0 ? run_root(job, comm, where.size) : run_other_rank(job, comm, where.rank);
}

/// The MPI engine, as the core sees it.
inline constexpr parkit::detail::distributed_engine engine{&engine_topology, &engine_run};

/// Registers the engine when the program starts (every translation unit including this header
/// does it; the first suffices).
inline const bool engine_registered = parkit::detail::register_distributed_engine(&engine);

}  // namespace detail

/// What the last `backend::mpi` map did, per rank: tasks, chunks, busy seconds (rank 0 only;
/// empty elsewhere and before the first map).
inline map_stats last_map_stats() {
    std::lock_guard lock(detail::last_stats_mutex());
    return detail::last_stats_slot();
}

}  // namespace parkit::mpi
