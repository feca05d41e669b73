#pragma once
/// @file
/// The options of `parallel_map` and `map`: workers, backend, chunking, progress, error policy.

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace parkit {

/// The disk cache of parkit/memory.hpp, declared here so that `checkpoint_store` can hold one.
class memory;

/// Where a map keeps its finished results so that a rerun after a crash recomputes only what
/// was lost: `parallel_map(f, xs, {.checkpoint = parkit::memory{"ckpt"}})`, or with a name
/// for the function, `{.checkpoint = {parkit::memory{"ckpt"}, "solve_v1"}}`. Each result is
/// stored in that disk cache as soon as its task finishes (by the thread, worker process or
/// MPI rank that computed it), keyed by the function's name and the input's value, and each
/// task first looks for its entry (a hit costs a few microseconds). Without a name, a lambda
/// or function object is named after its type; a plain function needs a name (all functions
/// of one signature share a type). Change the name when the function's code changes, as with
/// `memory::cache`.
class checkpoint_store {
public:
    /// No checkpoint (the default).
    checkpoint_store() = default;

    /// Checkpoints into `cache`, naming the function `name` (empty: after the callable's type).
    template <class Memory>
    requires std::same_as<std::remove_cvref_t<Memory>, memory> checkpoint_store(
        Memory&& cache, std::string name = {})  // NOLINT(google-explicit-constructor): `.checkpoint = memory{dir}`
        : cache_(std::make_shared<const memory>(std::forward<Memory>(cache))), name_(std::move(name)) {}

    /// True when a cache was given.
    explicit operator bool() const noexcept { return cache_ != nullptr; }
    /// The cache (null without one).
    [[nodiscard]] const memory* cache() const noexcept { return cache_.get(); }
    /// The function's name in the cache (empty: derived from the callable's type).
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::shared_ptr<const memory> cache_;
    std::string name_;
};

/// Where `parallel_map` runs its tasks.
enum class backend {
    sequential,  ///< a plain loop on the calling thread (same error and progress semantics)
    threads,     ///< the process-wide thread pool (or a pool of n_jobs threads if larger)
    processes,   ///< worker processes forked for the call (crash isolation; Linux/POSIX only)
    mpi,         ///< the ranks of an MPI job (needs `#include <parkit/mpi.hpp>`, see docs/distributed.md)
};

/// Settings that only `backend::mpi` reads.
struct mpi_options {
    /// Also send the assembled results to every rank (otherwise only rank 0 gets them and the
    /// other ranks get an empty vector / an empty `collected`).
    bool broadcast = false;
    /// Threads each rank runs its chunks on (hybrid MPI + threads): 1 = the rank's own thread
    /// only; k > 1 = k threads; -1 = all cores of the node, -2 = all but one (joblib rule).
    int threads_per_rank = 1;
    /// Check, at the start of the call, that every rank passed the same inputs: each rank
    /// hashes its inputs' serialized bytes (MurmurHash3; measured ~1 GB/s for a vector of
    /// doubles hashed in place, ~5 million elements/s for strings or user types serialized
    /// one by one) and one 16-byte hash per rank is gathered; a difference throws
    /// std::invalid_argument on every rank naming the first rank whose inputs differ from
    /// rank 0's. Inputs of a type that cannot be serialized are only counted. Single-rank
    /// runs hash nothing. Turn off (`false`) to skip the hashing when the inputs are huge and
    /// known to agree (their count is always checked).
    bool check_inputs = true;
    /// Seconds a rank waits for the others to join a collective call of parkit (the start of
    /// a map, `parkit::mpi::broadcast`, `scatter`) before it throws `parkit::mpi::join_timeout`
    /// instead of hanging; 0 = wait forever (the default: ranks legitimately arrive minutes
    /// apart when rank 0 alone reads or builds the inputs, and a wrong guess would kill a
    /// healthy job). Set it to a bound on that skew to turn a rank that skipped the call into
    /// an error. A rank that leaves the job (its `parkit::mpi::environment` ends) without
    /// joining is reported at once (`parkit::mpi::join_error`) whatever this setting, on rank 0
    /// (and, when rank 0 is the one that left, on every rank).
    double join_timeout_s = 0.0;
};

/// What a `parallel_map` call does when a task throws.
namespace on_error {
/// Policy type of `on_error::raise`.
struct raise_t {};
/// Policy type of `on_error::collect`.
struct collect_t {
    /// Only `on_error::collect` is a collect_t, so leaving out `.on_error` always means raise.
    struct token {};
    /// Constructs the policy value (use `on_error::collect`).
    explicit constexpr collect_t(token) noexcept {}
};
/// Stop at the first failure: cancel the remaining work and throw `parkit::task_error`
/// (task index + the task's exception, nested). The default.
inline constexpr raise_t raise{};
/// Run every task; return all results and all errors with their indices (`parkit::collected`).
inline constexpr collect_t collect{collect_t::token{}};
}  // namespace on_error

/// A snapshot of a running map, given to the progress callback.
struct progress_info {
    std::size_t done = 0;     ///< tasks finished (successfully or not)
    std::size_t total = 0;    ///< tasks in the call
    double elapsed_s = 0.0;   ///< seconds since the call started
    int workers = 1;          ///< workers taking part
    bool total_known = true;  ///< false for a stream of unknown length (`imap` over an unsized range)

    /// Tasks per second so far (0 before the first finishes).
    [[nodiscard]] double rate() const noexcept { return elapsed_s > 0 ? done / elapsed_s : 0.0; }
    /// Estimated seconds left at the current rate (0 when done or unknown).
    [[nodiscard]] double eta_s() const noexcept {
        return total_known && done > 0 && done < total ? elapsed_s * static_cast<double>(total - done) / done : 0.0;
    }
    /// Fraction done in [0, 1] (1 for an empty call, 0 while the total is unknown).
    [[nodiscard]] double fraction() const noexcept {
        if (!total_known) return 0.0;
        return total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    }
};

/// Options of `parallel_map` / `map`, written with designated initializers:
/// @code
/// parkit::parallel_map(f, xs, {.n_jobs = 4, .chunk_size = 100, .progress = true});
/// parkit::parallel_map(f, xs, {.on_error = parkit::on_error::collect});  // -> collected<R>
/// @endcode
/// `OnError` is the error policy's type, so the result type follows from the options:
/// `std::vector<R>` with `on_error::raise` (the default, `parkit::options`), and
/// `parkit::collected<R>` with `on_error::collect` (`parkit::collect_options`). This primary
/// template is the collecting one: its `on_error` has no default, so a braced list that leaves
/// `.on_error` out can only mean `parkit::options`.
template <class OnError>
struct basic_options {
    /// Workers, as in joblib: positive = that many, -1 = all cores, -2 = all but one, ...
    int n_jobs = -1;
    /// Where the tasks run.
    parkit::backend backend = parkit::backend::threads;
    /// Tasks per chunk; 0 = automatic (adapts to the measured task time, so tiny tasks are
    /// batched and long ones spread over all workers).
    std::size_t chunk_size = 0;
    /// Report progress on stderr: joblib-style lines, or a live bar when stderr is a terminal.
    bool progress = false;
    /// Called with a snapshot after chunks finish (at most every 100 ms, and once at the end);
    /// never concurrently with itself. Independent of `progress`.
    std::function<void(const progress_info&)> on_progress = {};
    /// Error policy; must be named: `.on_error = parkit::on_error::collect`.
    OnError on_error;
    /// A task running longer than this many seconds fails the call; 0 = no limit. Processes:
    /// its worker is killed and the task fails with `parkit::task_timeout`. Threads and
    /// sequential: the call throws `parkit::timeout_error` (the task finishes in the
    /// background, its result dropped: a thread cannot be killed). Not mpi.
    double task_timeout_s = 0.0;
    /// backend::mpi only: broadcast of the results, threads per rank.
    mpi_options mpi{};
    /// `imap` / `imap_unordered` only: most inputs taken from the input range ahead of the
    /// consumer (running, queued, or finished and not yet consumed); 0 = automatic (two
    /// chunks per worker, at most `detail::max_auto_in_flight` inputs), like joblib's
    /// `pre_dispatch='2*n_jobs'`. Memory stays bounded by this window however long the input.
    std::size_t max_in_flight = 0;
    /// `parallel_map` only: keep each finished result in a disk cache and take it from there
    /// when the call is run again (resuming after a crash), see `checkpoint_store`.
    checkpoint_store checkpoint{};
};

/// The default options (`on_error::raise`); the fields mean what they mean in `basic_options`.
template <>
struct basic_options<on_error::raise_t> {
    int n_jobs = -1;                                             ///< workers (joblib rule)
    parkit::backend backend = parkit::backend::threads;          ///< where tasks run
    std::size_t chunk_size = 0;                                  ///< tasks per chunk, 0 = automatic
    bool progress = false;                                       ///< report on stderr
    std::function<void(const progress_info&)> on_progress = {};  ///< progress callback
    on_error::raise_t on_error = on_error::raise;                ///< stop at the first failure
    double task_timeout_s = 0.0;                                 ///< per-task limit, 0 = none
    mpi_options mpi{};                                           ///< mpi only: broadcast, threads per rank
    std::size_t max_in_flight = 0;                               ///< imap only: inputs taken ahead, 0 = auto
    checkpoint_store checkpoint{};                               ///< parallel_map only: resume from a disk cache
};

/// Options with the default error policy (`on_error::raise`).
using options = basic_options<on_error::raise_t>;
/// Options with `on_error::collect`.
using collect_options = basic_options<on_error::collect_t>;

}  // namespace parkit
