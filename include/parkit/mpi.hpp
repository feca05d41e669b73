#pragma once
/// @file
/// parkit on MPI: `parallel_map(f, xs, {.backend = parkit::backend::mpi})` across the ranks of an
/// MPI job — one machine (`mpirun -n 4 ./app`) or a cluster (`mpirun --hostfile`, `srun`) —
/// plus the `parkit::mpi::environment` guard and `rank()` / `size()`. Link the `parkit::mpi`
/// CMake target (parkit + MPI::MPI_CXX). See docs/distributed.md.
///
/// @code
/// #include <parkit/mpi.hpp>
/// int main(int argc, char** argv) {
///     parkit::mpi::environment env{argc, argv};
///     std::vector<double> ks = ...;                      // every rank holds the inputs
///     auto xs = parkit::parallel_map(solve, ks, {.backend = parkit::backend::mpi});
///     if (parkit::mpi::rank() == 0) print(xs);           // results (in input order) on rank 0
/// }
/// @endcode
///
/// Semantics of `backend::mpi`:
/// - Every rank makes the same call with the same inputs (checked: a different input count or,
///   with `.mpi.check_inputs` (the default), a different hash of the input values throws
///   std::invalid_argument on every rank, naming the first differing rank). The function and
///   the inputs never travel; chunks of indices go out, serialized results
///   (parkit/core/serialization.hpp) come back. `parkit::mpi::broadcast` / `scatter` share
///   inputs that rank 0 built.
/// - `parallel_for` / `parallel_reduce` take `backend::mpi` too (parallel_for.hpp).
/// - A rank that leaves the job without joining a collective call gives the waiting ranks a
///   `parkit::mpi::join_error` instead of a hang; `.mpi.join_timeout_s` bounds the wait.
/// - Rank 0 gets the results in input order; the other ranks get an empty vector (an empty
///   `collected` with `on_error::collect`) unless `.mpi = {.broadcast = true}`.
/// - A task that throws on any rank becomes a `parkit::remote_error` (index, rank, type, what())
///   — nested in the `task_error` that every rank throws in raise mode, or listed in
///   `collected::errors` with `on_error::collect`.
/// - `.mpi = {.threads_per_rank = k}`: each rank runs k threads, each taking its own chunks (hybrid).
/// - `n_jobs` is not used (the ranks are the workers); `chunk_size` fixes the chunk length
///   (0 = guided chunks, at least ~2 ms of work each); `progress` reports on rank 0.
/// - Call it from the thread that created the environment; tasks must not call MPI.

#include "mpi/chunk_dealer.hpp"
#include "mpi/collectives.hpp"
#include "mpi/environment.hpp"
#include "mpi/map_engine.hpp"
#include "mpi/wait.hpp"
#include "parallel_map.hpp"
