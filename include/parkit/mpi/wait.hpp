#pragma once
/// @file
/// Waiting on MPI without burning a core: poll the request, spinning briefly and then sleeping
/// a little longer each round (up to 200 us), so a rank that waits leaves the CPU to ranks and
/// threads that compute (OpenMPI's blocking calls busy-poll). And the last resort when a rank
/// cannot follow the protocol any more: abort the whole job with a message, never hang; at the
/// start of a collective call, an error instead of a hang when a rank never joins it. And
/// `parkit::mpi::barrier()`, the polite barrier.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "environment.hpp"

namespace parkit::mpi::detail {

/// Polling pace: yields for the first rounds, then sleeps 5 us, 10 us, ... up to 200 us.
class backoff {
public:
    /// Waits a little before the next poll.
    void pause() {
        if (++rounds_ <= spin_rounds) {
            std::this_thread::yield();
            return;
        }
        const unsigned doublings = std::min(rounds_ - spin_rounds, 6u);
        std::this_thread::sleep_for(std::chrono::microseconds(std::min(5u << doublings, 200u)));
    }
    /// Something happened: poll fast again.
    void reset() noexcept { rounds_ = 0; }

private:
    static constexpr unsigned spin_rounds = 32;
    unsigned rounds_ = 0;
};

/// Waits until every request of `requests[0..count)` completes (MPI_Testall with backoff).
/// @throws std::runtime_error naming `what` when MPI reports an error.
inline void wait_all(MPI_Request* requests, int count, const char* what) {
    backoff pace;
    int done = 0;
    for (;;) {
        check(MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE), what);
        if (done != 0) return;
        pace.pause();
    }
}

/// Counts a collective call of parkit's (every rank counts the same calls) and returns its
/// number, 1 for the first: what `wait_collective` compares the departures with.
inline std::uint64_t enter_collective() noexcept {
    return ++departures().entered;
}

/// Waits for `request`, the first operation of parkit's collective call number `call`
/// (`enter_collective`) named `what`, on parkit's communicator `comm`; instead of hanging
/// forever, throws when a rank that never joined the call has left the job (see
/// `announce_departure`) or, with `timeout_s` > 0, when that many seconds pass.
/// @throws parkit::mpi::join_error / join_timeout (the request stays pending: the job cannot
/// go on and should end); std::runtime_error when MPI reports an error.
inline void wait_collective(MPI_Comm comm, MPI_Request& request, std::uint64_t call, const char* what,
                            double timeout_s) {
    backoff pace;
    const auto start = std::chrono::steady_clock::now();
    const auto here = [] { return " (on rank " + std::to_string(rank()) + ")"; };
    for (;;) {
        int done = 0;
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
        if (done != 0) return;
        collect_departures(comm);
        for (const auto& [who, calls] : departures().left) {
            if (calls < call) {
                throw join_error(std::string("parkit::mpi: rank ") + std::to_string(who) +
                                 " left the job (its parkit::mpi::environment ended) without joining " + what + here() +
                                 ": every rank must make the same parkit calls in the same order");
            }
        }
        if (timeout_s > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s) {
            char seconds[32];
            std::snprintf(seconds, sizeof seconds, "%g", timeout_s);
            throw join_timeout(std::string("parkit::mpi: waited ") + seconds + " s (options.mpi.join_timeout_s) in " +
                               what + here() +
                               " for ranks that never joined: every rank must make the same parkit calls in the "
                               "same order; the job cannot go on");
        }
        pace.pause();
    }
}

/// Prints "parkit::mpi: rank R: <why>; aborting the MPI job" and aborts every rank (a rank that
/// cannot go on with a map would otherwise leave the others waiting forever).
[[noreturn]] inline void abort_job(const char* why) noexcept {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "parkit::mpi: rank %d: %s; aborting the MPI job\n", rank, why);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 70);
    std::abort();
}

}  // namespace parkit::mpi::detail

namespace parkit::mpi {

/// Waits until every rank of MPI_COMM_WORLD reaches this call, like MPI_Barrier, but polling
/// with short sleeps instead of spinning, so waiting ranks leave the cores to those still
/// computing (e.g. while rank 0 alone times a sequential run). No-op when MPI is not running.
inline void barrier() {
    if (!detail::mpi_active()) return;
    MPI_Request request;
    detail::check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
    detail::wait_all(&request, 1, "MPI_Ibarrier");
}

}  // namespace parkit::mpi
