#pragma once
/// @file
/// `parallel_map(..., {.backend = backend::mpi})` on the core's side, free of MPI: the call is
/// handed, type-erased, to a distributed engine that `parkit/mpi.hpp` registers at start-up.
/// The engine deals chunks of indices to the ranks and brings back each chunk's task outcomes
/// as bytes (task_codec.hpp); this header runs the chunks of the calling rank and turns the
/// bytes back into results and errors as each chunk arrives (`distributed_map_job::take_chunk`).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/collected.hpp"
#include "../../core/n_jobs.hpp"
#include "../../core/options.hpp"
#include "../../core/process_errors.hpp"
#include "../../core/serialization.hpp"
#include "../map/chunking.hpp"
#include "../map/map_engine.hpp"
#include "../process/task_codec.hpp"
#include "../progress/progress_reporter.hpp"
#include "../support/iota_range.hpp"
#include "input_hash.hpp"

namespace parkit::detail {

/// The outcomes of one chunk of tasks as one rank ran them.
struct distributed_chunk {
    std::uint64_t begin = 0;          ///< index of the chunk's first task
    std::uint64_t count = 0;          ///< tasks run (a raise-mode chunk stops after its first failure)
    std::int32_t rank = 0;            ///< the rank that ran them
    bool failed = false;              ///< whether any of them threw
    std::int64_t busy_ns = 0;         ///< wall time the rank spent on them
    std::vector<std::byte> outcomes;  ///< the tasks' outcomes in index order (task_codec.hpp)

    /// Serialization (cereal protocol).
    template <class Archive>
    void serialize(Archive& archive) {
        archive(begin, count, rank, failed, busy_ns, outcomes);
    }
};

/// Where the calling process sits in the distributed job.
struct distributed_topology {
    int rank = 0;  ///< this process's rank
    int size = 1;  ///< number of ranks
};

/// One `parallel_map` call, as the engine sees it.
struct distributed_map_job {
    std::size_t total = 0;                 ///< tasks in the call (the engine checks all ranks agree)
    int ranks = 1;                         ///< ranks taking part (`distributed_topology::size`)
    std::size_t chunk_size = 0;            ///< fixed tasks per chunk; 0 = automatic
    int threads_per_rank = 1;              ///< threads a rank runs chunks on, each its own chunk (>= 1)
    bool broadcast = false;                ///< every rank gets every chunk back
    bool stop_at_failure = true;           ///< raise mode: deal no more chunks after a failure
    bool inputs_hashed = false;            ///< `input_hash` holds this rank's inputs' hash (input_hash.hpp)
    std::uint64_t input_hash[2] = {0, 0};  ///< compared across ranks when every rank hashed
    double join_timeout_s = 0.0;           ///< seconds to wait for every rank at the start; 0 = forever
    /// Runs tasks [range.begin, range.end) on this rank; sets `chunk.count`, `chunk.failed`,
    /// `chunk.outcomes`. Task exceptions are encoded, never thrown.
    std::function<void(index_range range, distributed_chunk& chunk)> run_chunk;
    /// Rank 0 only: `count` more tasks finished (progress reporting).
    std::function<void(std::size_t count)> advance;
    /// Decodes a finished chunk into the call's results and errors. The engine calls it once per
    /// chunk this rank must know of: on rank 0 (and every rank with `broadcast`) every chunk
    /// that ran, as it arrives, from several threads at once (disjoint indices); on the other
    /// ranks in raise mode the chunk holding the lowest failed task, if any.
    std::function<void(const distributed_chunk& chunk)> take_chunk;
};

/// What the engine gives back to each rank.
struct distributed_map_outcome {
    /// True where the results are: rank 0, and every rank with `broadcast`.
    bool has_results = false;
};

/// An engine that runs maps across processes (`parkit/mpi.hpp` registers the MPI one).
struct distributed_engine {
    /// This process's rank and the number of ranks.
    /// @throws std::logic_error when the engine cannot run here (e.g. MPI is not initialised).
    distributed_topology (*topology)();
    /// Runs `job` collectively (every rank calls it with the same `total`).
    distributed_map_outcome (*run)(const distributed_map_job& job);
};

/// The registered engine, or null (then `backend::mpi` throws std::logic_error).
inline std::atomic<const distributed_engine*> registered_distributed_engine{nullptr};

/// Registers `engine` for `backend::mpi`; returns true (usable as an inline variable's
/// initializer).
inline bool register_distributed_engine(const distributed_engine* engine) noexcept {
    registered_distributed_engine.store(engine, std::memory_order_release);
    return true;
}

/// `options.mpi.threads_per_rank` as a thread count (joblib rule).
/// @throws std::invalid_argument naming the option.
inline int resolve_threads_per_rank(int threads_per_rank) {
    try {
        return resolve_n_jobs(threads_per_rank);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("parkit::parallel_map: options.mpi.threads_per_rank: ") + e.what());
    }
}

/// Runs tasks [range.begin, range.end) of `input` on the calling thread, encoding each outcome
/// into `chunk` (the engine runs chunks on `threads_per_rank` threads at once).
template <class R, class F, class Input>
void run_local_chunk(F& f, const Input& input, index_range range, bool stop_at_failure, distributed_chunk& chunk) {
    chunk.outcomes.clear();
    std::size_t i = range.begin;
    while (i < range.end) {
        const bool ok =
            run_and_encode_task<R>(chunk.outcomes, [&]() -> decltype(auto) { return std::invoke(f, input[i]); });
        ++i;
        if (!ok) {
            chunk.failed = true;
            if (stop_at_failure) break;
        }
    }
    chunk.count = i - range.begin;
}

/// Decodes the outcomes of `chunk`, calling `on_value(index, value...)` and
/// `on_failure(index, exception_ptr)` (a `remote_error` naming the rank) per task.
template <class R, class OnValue, class OnFailure>
void decode_chunk(const distributed_chunk& chunk, OnValue&& on_value, OnFailure&& on_failure) {
    input_archive archive(chunk.outcomes);
    for (std::size_t i = chunk.begin; i < chunk.begin + chunk.count; ++i) {
        decode_task<R>(
            archive, [&](auto&&... value) { on_value(i, std::forward<decltype(value)>(value)...); },
            [&](std::string type, std::string message) {
                on_failure(i,
                           std::make_exception_ptr(remote_error(i, std::move(type), std::move(message), chunk.rank)));
            });
    }
}

/// Runs a map with `backend::mpi`. Rank 0 (and every rank with `options.mpi.broadcast`) returns
/// what `run_map` returns; the other ranks return an empty vector / empty `collected` (or, in
/// raise mode, throw the same `task_error` as rank 0).
template <class F, class Range, class OnError>
auto run_distributed_map(F& f, Range&& inputs, const basic_options<OnError>& opts) {
    constexpr bool collect = std::is_same_v<OnError, on_error::collect_t>;
    using range_t = std::remove_reference_t<Range>;
    using R = map_result_t<F, range_t>;

    const distributed_engine* engine = registered_distributed_engine.load(std::memory_order_acquire);
    if (engine == nullptr) {
        throw std::logic_error(
            "parkit::parallel_map: backend::mpi needs #include <parkit/mpi.hpp>, the parkit::mpi CMake "
            "target and a parkit::mpi::environment in main");
    }
    const int threads = resolve_threads_per_rank(opts.mpi.threads_per_rank);
    if (!(opts.mpi.join_timeout_s >= 0)) {
        throw std::invalid_argument("parkit::parallel_map: options.mpi.join_timeout_s must be >= 0 (0 = wait forever)");
    }
    const distributed_topology where = engine->topology();
    const bool root = where.rank == 0;
    const indexed_input<range_t> input(inputs);
    progress_reporter progress(root && opts.progress, root ? opts.on_progress : nullptr, input.size(),
                               where.size * threads, backend_name(backend::mpi));

    distributed_map_job job;
    job.total = input.size();
    job.ranks = where.size;
    job.chunk_size = opts.chunk_size;
    job.threads_per_rank = threads;
    job.broadcast = opts.mpi.broadcast;
    job.stop_at_failure = !collect;
    job.join_timeout_s = opts.mpi.join_timeout_s;
    if (opts.mpi.check_inputs && where.size > 1) {
        if (const std::optional<hash128> hash = hash_inputs(inputs, input)) {
            job.inputs_hashed = true;
            job.input_hash[0] = (*hash)[0];
            job.input_hash[1] = (*hash)[1];
        }
    }
    job.run_chunk = [&](index_range range, distributed_chunk& chunk) {
        run_local_chunk<R>(f, input, range, !collect, chunk);
    };
    job.advance = [&](std::size_t count) { progress.advance(count); };

    const bool keeps_results = root || job.broadcast;
    result_store<R, collect> results(keeps_results ? input.size() : 0);
    failure_log failures;
    job.take_chunk = [&](const distributed_chunk& chunk) {
        decode_chunk<R>(
            chunk,
            [&](std::size_t index, auto&&... value) {
                if constexpr (!std::is_void_v<R>) {
                    if (keeps_results) results.put(index, std::forward<decltype(value)>(value)...);
                }
            },
            [&](std::size_t index, std::exception_ptr error) { failures.add(index, std::move(error)); });
    };
    const distributed_map_outcome outcome = engine->run(job);
    progress.finish();

    if (!outcome.has_results) {
        if constexpr (collect) {
            return collected<R>{};
        } else {
            const std::vector<task_failure> sorted = failures.sorted();
            if (!sorted.empty()) throw make_task_error(sorted.front().index, sorted.front().error);
            if constexpr (!std::is_void_v<R>)
                return std::vector<R>{};
            else
                return;
        }
    }
    return finish_map<R, collect>(input.size(), results, failures.sorted());
}

}  // namespace parkit::detail
