#pragma once
/// @file
/// `parkit::mpi::environment`: the RAII guard that initialises and finalises MPI, and the
/// `rank()` / `size()` helpers. Needs MPI (link the `parkit::mpi` CMake target).

#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1  // only MPI's C interface is used; its deprecated C++ one warns
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace parkit::mpi {

/// Thrown by a collective call of parkit (a `backend::mpi` map, `broadcast`, `scatter`) that
/// some rank will never join — it left the job without making the call — instead of hanging.
/// The call stays pending, so the job should end (letting the exception leave `main` ends
/// every rank).
class join_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A `join_error` for a rank that did not join within `join_timeout_s` (it skipped the call,
/// or is stuck or still busy elsewhere).
class join_timeout : public join_error {
public:
    using join_error::join_error;
};

/// How many threads of a rank may call MPI (MPI's thread support levels).
enum class thread_level : int {
    single = MPI_THREAD_SINGLE,          ///< only one thread exists
    funneled = MPI_THREAD_FUNNELED,      ///< only the thread that initialised MPI calls it
    serialized = MPI_THREAD_SERIALIZED,  ///< any thread, never two at once
    multiple = MPI_THREAD_MULTIPLE,      ///< any thread, concurrently
};

namespace detail {

/// Throws std::runtime_error "parkit::mpi: <what> failed: <MPI's message>" unless `code` is
/// MPI_SUCCESS (parkit's communicator returns errors instead of aborting).
inline void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(std::string("parkit::mpi: ") + what +
                             " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

/// True between MPI_Init and MPI_Finalize.
inline bool mpi_active() noexcept {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized != 0 && finalized == 0;
}

/// parkit's own duplicate of MPI_COMM_WORLD (so its messages never mix with the program's),
/// with MPI_ERRORS_RETURN; MPI_COMM_NULL until first used.
inline MPI_Comm& communicator_slot() noexcept {
    static MPI_Comm comm = MPI_COMM_NULL;
    return comm;
}

/// parkit's communicator, created on first use (collectively: every rank's first map call).
inline MPI_Comm communicator() {
    MPI_Comm& comm = communicator_slot();
    if (comm == MPI_COMM_NULL) {
        check(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
        check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    }
    return comm;
}

/// Tag of "this rank leaves the job; it had entered N collective calls of parkit" (a rank's
/// `environment` ending: ranks 1..n-1 tell rank 0, rank 0 tells every rank).
inline constexpr int departure_tag = 7003;

/// What this rank knows about departures (see `announce_departure`).
struct departure_log {
    std::uint64_t entered = 0;                        ///< parkit collective calls this rank entered
    std::vector<std::pair<int, std::uint64_t>> left;  ///< (rank, calls it had entered) of ranks gone
};

/// This process's departure log.
inline departure_log& departures() noexcept {
    static departure_log log;
    return log;
}

/// Receives the departure notices that arrived on `comm` into `departures().left`.
inline void collect_departures(MPI_Comm comm) {
    for (;;) {
        int arrived = 0;
        MPI_Status status;
        check(MPI_Iprobe(MPI_ANY_SOURCE, departure_tag, comm, &arrived, &status), "MPI_Iprobe");
        if (arrived == 0) return;
        std::uint64_t calls = 0;
        check(MPI_Recv(&calls, 1, MPI_UINT64_T, status.MPI_SOURCE, departure_tag, comm, MPI_STATUS_IGNORE), "MPI_Recv");
        departures().left.emplace_back(status.MPI_SOURCE, calls);
    }
}

/// Tells the job that this rank leaves, so that a rank waiting in a parkit collective call this
/// one never joined fails with a message instead of hanging (wait.hpp, `wait_collective`):
/// ranks 1..n-1 tell rank 0, rank 0 tells all (O(ranks) messages of 8 bytes); then waits for
/// the notices it is owed (rank 0: from every rank; others: from rank 0), as MPI_Finalize
/// would wait for them anyway. Errors are ignored (the job is ending).
inline void announce_departure(MPI_Comm comm) noexcept {
    int me = 0, ranks = 1;
    if (MPI_Comm_rank(comm, &me) != MPI_SUCCESS || MPI_Comm_size(comm, &ranks) != MPI_SUCCESS || ranks == 1) return;
    const std::uint64_t calls = departures().entered;
    std::vector<MPI_Request> sends;
    for (int r = 0; r < ranks; ++r) {
        if (r == me || (me != 0 && r != 0)) continue;
        sends.emplace_back();
        if (MPI_Isend(&calls, 1, MPI_UINT64_T, r, departure_tag, comm, &sends.back()) != MPI_SUCCESS) sends.pop_back();
    }
    const std::size_t owed = me == 0 ? static_cast<std::size_t>(ranks - 1) : 1;
    try {
        while (departures().left.size() < owed) {
            collect_departures(comm);
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    } catch (...) {
    }
    MPI_Waitall(static_cast<int>(sends.size()), sends.data(), MPI_STATUSES_IGNORE);
}

/// Frees parkit's communicator, if it was created (before MPI_Finalize).
inline void free_communicator() noexcept {
    MPI_Comm& comm = communicator_slot();
    if (comm != MPI_COMM_NULL && mpi_active()) MPI_Comm_free(&comm);
    comm = MPI_COMM_NULL;
}

}  // namespace detail

/// Initialises MPI for the lifetime of the object and finalises it at the end, like mpi4py's
/// import: create one at the top of `main`:
/// @code
/// int main(int argc, char** argv) {
///     parkit::mpi::environment env{argc, argv};
///     auto results = parkit::parallel_map(f, xs, {.backend = parkit::backend::mpi});
/// }
/// @endcode
/// It asks for `thread_level::funneled` by default, which is what `backend::mpi` needs (rank 0
/// computes on a helper thread while its main thread talks MPI; only the main thread calls
/// MPI). If MPI is already initialised (by the program or another library), the guard uses it
/// and leaves finalising to whoever initialised it. Without `mpirun` the program is a single
/// rank (an MPI "singleton").
class environment {
public:
    /// Initialises MPI with the program's arguments (MPI may remove its own from them).
    /// @throws std::logic_error if MPI was already finalised; std::runtime_error if MPI fails.
    environment(int& argc, char**& argv, thread_level required = thread_level::funneled)
        : environment(&argc, &argv, required) {}
    /// Initialises MPI without the program's arguments.
    explicit environment(thread_level required = thread_level::funneled) : environment(nullptr, nullptr, required) {}

    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;

    /// If this guard initialised MPI: frees parkit's communicator and finalises MPI.
    ~environment() {
        if (!owns_) return;
        if (detail::communicator_slot() != MPI_COMM_NULL && detail::mpi_active())
            detail::announce_departure(detail::communicator_slot());
        detail::free_communicator();
        if (detail::mpi_active()) MPI_Finalize();
    }

    /// The thread level MPI provides (may be lower than asked for; `backend::mpi` needs at
    /// least `funneled`).
    [[nodiscard]] thread_level provided() const noexcept { return provided_; }
    /// Whether this guard initialised MPI (and so finalises it).
    [[nodiscard]] bool owns_mpi() const noexcept { return owns_; }

private:
    environment(int* argc, char*** argv, thread_level required) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (finalized != 0) {
            throw std::logic_error(
                "parkit::mpi::environment: MPI was already finalised; it cannot be initialised again");
        }
        int initialized = 0;
        MPI_Initialized(&initialized);
        int provided = MPI_THREAD_SINGLE;
        if (initialized == 0) {
            detail::check(MPI_Init_thread(argc, argv, static_cast<int>(required), &provided), "MPI_Init_thread");
            owns_ = true;
        } else {
            detail::check(MPI_Query_thread(&provided), "MPI_Query_thread");
        }
        provided_ = static_cast<thread_level>(provided);
        detail::communicator();  // collective: made here, where every rank surely comes
    }

    bool owns_ = false;
    thread_level provided_ = thread_level::single;
};

/// This process's rank in MPI_COMM_WORLD; 0 when MPI is not initialised.
inline int rank() {
    if (!detail::mpi_active()) return 0;
    int r = 0;
    detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
    return r;
}

/// The number of ranks in MPI_COMM_WORLD; 1 when MPI is not initialised.
inline int size() {
    if (!detail::mpi_active()) return 1;
    int s = 1;
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &s), "MPI_Comm_size");
    return s;
}

/// The name of the host this rank runs on (MPI_Get_processor_name); "" when MPI is not
/// initialised.
inline std::string processor_name() {
    if (!detail::mpi_active()) return {};
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    detail::check(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
    return std::string(name, static_cast<std::size_t>(length));
}

}  // namespace parkit::mpi
