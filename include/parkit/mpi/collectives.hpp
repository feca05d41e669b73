#pragma once
/// @file
/// `parkit::mpi::broadcast` and `parkit::mpi::scatter`: rank 0 builds (or reads) big inputs
/// once and shares them, instead of every rank building them. Any type parkit can serialize
/// (parkit/core/serialization.hpp) travels; the calls are collective (every rank makes them,
/// in the same order) on parkit's own communicator, so they never mix with the program's
/// messages, and wait politely (wait.hpp) rather than spinning.
///
/// @code
/// std::vector<params> xs;
/// if (parkit::mpi::rank() == 0) xs = read_parameters("grid.csv");
/// xs = parkit::mpi::broadcast(xs);                        // every rank holds rank 0's inputs
/// auto ys = parkit::parallel_map(solve, xs, {.backend = parkit::backend::mpi});
/// @endcode

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../core/serialization.hpp"
#include "environment.hpp"  // first: <mpi.h> without its C++ bindings
#include "wait.hpp"

namespace parkit::mpi {

/// Settings of `broadcast` and `scatter`.
struct collective_options {
    /// The rank whose value is shared.
    int root = 0;
    /// Seconds to wait for every rank to join before throwing `parkit::mpi::join_timeout`;
    /// 0 = forever (see `mpi_options::join_timeout_s` for why that is the default). A rank
    /// that left the job without joining gives `parkit::mpi::join_error` at once.
    double join_timeout_s = 0.0;
};

namespace detail {

/// Largest broadcast piece (MPI counts are ints).
inline constexpr std::size_t broadcast_piece_bytes = std::size_t{1} << 30;

/// Broadcasts `bytes` from `root` (in pieces of at most 1 GiB); other ranks receive into it.
/// With `call` != 0 this starts parkit's collective call number `call` (enter_collective),
/// named `what`: a rank that never joins it gives join_error / join_timeout (`timeout_s` > 0).
inline void broadcast_bytes(MPI_Comm comm, std::vector<std::byte>& bytes, int root = 0, std::uint64_t call = 0,
                            const char* what = "MPI_Ibcast", double timeout_s = 0.0) {
    std::uint64_t size = bytes.size();
    MPI_Request request;
    check(MPI_Ibcast(&size, 1, MPI_UINT64_T, root, comm, &request), "MPI_Ibcast");
    if (call != 0)
        wait_collective(comm, request, call, what, timeout_s);
    else
        wait_all(&request, 1, "MPI_Ibcast");
    bytes.resize(static_cast<std::size_t>(size));
    for (std::size_t offset = 0; offset < bytes.size(); offset += broadcast_piece_bytes) {
        const int piece = static_cast<int>(std::min(broadcast_piece_bytes, bytes.size() - offset));
        check(MPI_Ibcast(bytes.data() + offset, piece, MPI_BYTE, root, comm, &request), "MPI_Ibcast");
        wait_all(&request, 1, "MPI_Ibcast");
    }
}

/// Checks a collective helper can run: MPI initialised, `root` a rank. Returns the size.
/// @throws std::logic_error / std::invalid_argument naming `function`.
inline int check_collective(const char* function, const collective_options& opts) {
    if (!mpi_active()) {
        throw std::logic_error(std::string("parkit::mpi::") + function +
                               ": MPI is not initialised: create a parkit::mpi::environment at the start of "
                               "main and keep it alive");
    }
    const int ranks = size();
    if (opts.root < 0 || opts.root >= ranks) {
        throw std::invalid_argument(std::string("parkit::mpi::") + function + ": options.root is " +
                                    std::to_string(opts.root) + ", not a rank of the " + std::to_string(ranks) +
                                    "-rank job");
    }
    if (!(opts.join_timeout_s >= 0)) {
        throw std::invalid_argument(std::string("parkit::mpi::") + function +
                                    ": options.join_timeout_s must be >= 0 (0 = wait forever)");
    }
    return ranks;
}

/// Rows [r * n / ranks, (r + 1) * n / ranks) of `n` go to rank r: blocks differ by at most one.
inline std::size_t block_begin(std::size_t n, int ranks, int r) noexcept {
    const auto q = n / static_cast<std::size_t>(ranks), rest = n % static_cast<std::size_t>(ranks);
    const auto rr = static_cast<std::size_t>(r);
    return rr * q + std::min(rr, rest);
}

}  // namespace detail

/// Returns `value` as `opts.root` (rank 0) passed it, on every rank: rank 0 builds a big input
/// once, the others receive a copy (whatever they passed is ignored; a default-constructed
/// value will do). Collective: every rank must call it. One rank alone gets `value` back.
/// @throws std::logic_error without MPI; parkit::mpi::join_error (see collective_options).
template <class T>
T broadcast(const T& value, const collective_options& opts = {}) {
    static_assert(is_serializable_v<T>,
                  "parkit::mpi::broadcast: the value's type must be serializable "
                  "(parkit/core/serialization.hpp)");
    const int ranks = detail::check_collective("broadcast", opts);
    if (ranks == 1) return value;
    std::vector<std::byte> bytes;
    if (rank() == opts.root) bytes = to_bytes(value);
    detail::broadcast_bytes(detail::communicator(), bytes, opts.root, detail::enter_collective(),
                            "parkit::mpi::broadcast", opts.join_timeout_s);
    if (rank() == opts.root) return value;
    return from_bytes<T>(bytes);
}

/// `broadcast(value, {.root = root})`, as mpi4py's `comm.bcast(value, root)`.
template <class T>
T broadcast(const T& value, int root) {
    return broadcast(value, collective_options{.root = root});
}

/// Cuts `values` as `opts.root` (rank 0) passed it into one contiguous block per rank, in rank
/// order (sizes differ by at most one: rank r gets elements [r*n/size, (r+1)*n/size)), and
/// returns this rank's block; the other ranks' `values` are ignored. Each rank then holds only
/// its share (e.g. to `parallel_map` it with a thread backend). Collective.
/// @throws std::logic_error without MPI; std::length_error when one block's serialized bytes
/// exceed what one MPI message carries (2 GiB); parkit::mpi::join_error.
template <class T>
std::vector<T> scatter(const std::vector<T>& values, const collective_options& opts = {}) {
    static_assert(is_serializable_v<T>,
                  "parkit::mpi::scatter: the element type must be serializable "
                  "(parkit/core/serialization.hpp)");
    const int ranks = detail::check_collective("scatter", opts);
    if (ranks == 1) return values;
    const bool root = rank() == opts.root;
    const MPI_Comm comm = detail::communicator();
    std::vector<std::byte> send;
    std::vector<int> counts, offsets;
    if (root) {
        counts.resize(static_cast<std::size_t>(ranks));
        offsets.resize(static_cast<std::size_t>(ranks));
        for (int r = 0; r < ranks; ++r) {
            const std::size_t begin = detail::block_begin(values.size(), ranks, r);
            const std::size_t end = detail::block_begin(values.size(), ranks, r + 1);
            const std::size_t start = send.size();
            output_archive{send}(std::vector<T>(values.begin() + static_cast<std::ptrdiff_t>(begin),
                                                values.begin() + static_cast<std::ptrdiff_t>(end)));
            if (send.size() > static_cast<std::size_t>(INT_MAX)) {  // every rank learns it: count -1
                std::fill(counts.begin(), counts.end(), -1);
                break;
            }
            offsets[static_cast<std::size_t>(r)] = static_cast<int>(start);
            counts[static_cast<std::size_t>(r)] = static_cast<int>(send.size() - start);
        }
    }
    int mine = 0;
    MPI_Request request;
    const std::uint64_t call = detail::enter_collective();
    detail::check(MPI_Iscatter(counts.data(), 1, MPI_INT, &mine, 1, MPI_INT, opts.root, comm, &request),
                  "MPI_Iscatter");
    detail::wait_collective(comm, request, call, "parkit::mpi::scatter", opts.join_timeout_s);
    if (mine < 0) {
        throw std::length_error(
            "parkit::mpi::scatter: the serialized values take more than one MPI message "
            "carries (2 GiB); scatter fewer or smaller values at a time");
    }
    std::vector<std::byte> block(static_cast<std::size_t>(mine));
    detail::check(MPI_Iscatterv(send.data(), counts.data(), offsets.data(), MPI_BYTE, block.data(), mine, MPI_BYTE,
                                opts.root, comm, &request),
                  "MPI_Iscatterv");
    detail::wait_all(&request, 1, "MPI_Iscatterv");
    return from_bytes<std::vector<T>>(block);
}

/// `scatter(values, {.root = root})`, as mpi4py's `comm.scatter(values, root)`.
template <class T>
std::vector<T> scatter(const std::vector<T>& values, int root) {
    return scatter(values, collective_options{.root = root});
}

}  // namespace parkit::mpi
