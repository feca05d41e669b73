#pragma once
/// @file
/// `parkit::parallel_for` and `parkit::parallel_reduce`: loops over an integer index range on
/// the thread backend or across the ranks of an MPI job — numba's `prange`, OpenMP's
/// `parallel for` / `reduction(+:...)`.
///
/// Both run on the `parallel_map` engine (same `parkit::options`: `n_jobs`, `chunk_size`,
/// `progress`, `on_progress`, errors as `parkit::task_error`), so nothing about scheduling,
/// chunking or progress is duplicated here.
///
/// Reproducible reductions: `parallel_reduce` splits [first, last) into fixed *blocks* that
/// depend only on the range length and `chunk_size` — never on `n_jobs`, the scheduling or the
/// timing — reduces each block left to right, then folds the block results left to right
/// into `init`. A floating-point sum is therefore bit-identical for any `n_jobs` (and for
/// `backend::sequential`), run after run, and with `backend::mpi` for any number of ranks and
/// any `options.mpi.threads_per_rank` (the blocks are dealt to the ranks like map tasks; every
/// rank gets every block result and folds them in block order).

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/options.hpp"
#include "detail/map/chunking.hpp"
#include "detail/support/iota_range.hpp"
#include "parallel_map.hpp"

namespace parkit {

namespace detail {

/// Refuses the backend a loop cannot use: forked worker processes would lose the body's side
/// effects with the process. (`backend::mpi` is allowed: every rank is the user's own process,
/// see `parallel_for`.)
inline void require_loop_backend(backend b, const char* function) {
    if (b == backend::processes) {
        throw std::invalid_argument(std::string("parkit::") + function +
                                    ": options.backend must be threads, sequential or mpi (a loop "
                                    "body's effects would be lost in a forked worker process)");
    }
}

/// Number of indices in [first, last); 0 when last <= first (an empty loop, like `for`).
template <std::integral I>
std::size_t index_count(I first, I last) noexcept {
    if (!(first < last)) return 0;
    using U = std::make_unsigned_t<I>;
    return static_cast<std::size_t>(static_cast<U>(static_cast<U>(last) - static_cast<U>(first)));
}

/// `first + offset` computed without signed overflow (offset < index_count(first, last)).
template <std::integral I>
I index_at(I first, std::size_t offset) noexcept {
    using U = std::make_unsigned_t<I>;
    return static_cast<I>(static_cast<U>(static_cast<U>(first) + static_cast<U>(offset)));
}

/// An integer type for loop indices (bool is no index).
template <class I>
concept loop_index = std::integral<I> && !std::same_as<I, bool>;

/// Most blocks an automatic reduction uses; each block is at least one index.
inline constexpr std::size_t max_auto_reduce_blocks = 4096;

/// Indices per reduction block: `chunk_size` when given (at most `n`: a larger one is one block
/// of the whole range), otherwise ceil(n / 4096) — a function of the range length only, so the
/// bracketing of the reduction never depends on `n_jobs`.
inline std::size_t reduce_block_size(std::size_t n, std::size_t chunk_size) noexcept {
    if (chunk_size != 0) return std::min(chunk_size, std::max<std::size_t>(n, 1));
    return std::max<std::size_t>(1, chunk_dispenser::max_chunks(n, max_auto_reduce_blocks));
}

}  // namespace detail

/// Calls `f(i)` for every integer `i` in [first, last) in parallel (`i` has the common type of
/// `first` and `last`, so `parallel_for(0, v.size(), f)` works) (an empty range when
/// `last <= first`, like a `for` loop), on the process-wide thread pool.
///
/// Options as in `parallel_map` (`backend::threads`, `sequential` or `mpi`; not `processes`):
/// `chunk_size` = indices per chunk (0 = automatic, adapts to the measured body time), progress
/// counts indices. A throwing body stops the loop and is rethrown as `parkit::task_error` whose
/// `index()` is the position in the range, i.e. `i - first`.
///
/// `f` runs concurrently on several threads: writes to distinct elements (`out[i] = ...`) are
/// fine; shared accumulators need atomics — or use `parallel_reduce`.
///
/// With `backend::mpi` (collective: every rank makes the same call) the ranks share the range:
/// each index runs exactly once, on one rank, and its side effects happen in that rank's
/// process only — write per-index output (a file per index, a slot of a shared file system
/// array) or use `parallel_reduce` / `parallel_map` to bring values back. A throwing body makes
/// every rank throw the same `task_error` (nesting a `remote_error` naming the rank).
/// @throws std::invalid_argument for an invalid `n_jobs` or `backend::processes`.
template <detail::loop_index First, detail::loop_index Last, class F, class I = std::common_type_t<First, Last>>
requires std::invocable<F&, I>
void parallel_for(First first_index, Last last_index, F&& f, const options& opts = {}) {
    detail::require_loop_backend(opts.backend, "parallel_for");
    detail::require_no_checkpoint(opts.checkpoint, "parkit::parallel_for");
    detail::require_no_in_flight_window(opts.max_in_flight, "parkit::parallel_for");
    detail::require_no_mpi_settings(opts.mpi, opts.backend, "parkit::parallel_for");
    const I first = static_cast<I>(first_index);
    const std::size_t n = detail::index_count(first, static_cast<I>(last_index));
    auto body = [&f, first](std::size_t offset) { std::invoke(f, detail::index_at(first, offset)); };
    detail::dispatch_backend(body, detail::iota_range{0, n}, opts);
}

/// Reduces `map(i)` for every integer `i` in [first, last) with `reduce`, starting from `init`,
/// in parallel; returns `init` for an empty range. `T` is the type of `init`; `map(i)` must
/// convert to `T` and `reduce(T, T)` must return something convertible to `T`.
///
/// Fixed bracketing (so the result is reproducible bit for bit): the range is cut into blocks
/// of `chunk_size` indices (automatic, `chunk_size` = 0: ceil(n / 4096) indices, at most 4096
/// blocks); block b gives `P_b = reduce(...reduce(T(map(b0)), T(map(b0 + 1)))..., T(map(b_end - 1)))`
/// and the result is `reduce(...reduce(init, P_0), P_1)..., P_last)`. The blocks depend only on
/// `last - first` and `chunk_size`, never on `n_jobs`, the backend or the timing, so a
/// floating-point sum is identical for any `n_jobs`; with a different `chunk_size` it may differ
/// in the last bits. `reduce` should be associative (as for OpenMP reductions) for the result to
/// equal the sequential fold; it need not be commutative.
///
/// Blocks are scheduled like `parallel_map` tasks (automatic batching of cheap blocks, progress
/// counts blocks). Errors: the first failing block is rethrown as `parkit::task_error` whose
/// `index()` is the block number.
///
/// With `backend::mpi` (collective) the blocks are shared among the ranks (`T` must be
/// serializable: the block results travel) and every rank returns the same result, with the
/// same bits as the thread backend and any rank count.
/// @throws std::invalid_argument for an invalid `n_jobs` or `backend::processes`.
template <detail::loop_index First, detail::loop_index Last, class T, class Map, class Reduce,
          class I = std::common_type_t<First, Last>>
requires std::invocable<Map&, I> && std::convertible_to<std::invoke_result_t<Map&, I>, T> &&
    std::invocable<Reduce&, T, T> && std::convertible_to<std::invoke_result_t<Reduce&, T, T>, T>
        T parallel_reduce(First first_index, Last last_index, T init, Map&& map, Reduce&& reduce,
                          const options& opts = {}) {
    detail::require_loop_backend(opts.backend, "parallel_reduce");
    detail::require_no_checkpoint(opts.checkpoint, "parkit::parallel_reduce");
    detail::require_no_in_flight_window(opts.max_in_flight, "parkit::parallel_reduce");
    detail::require_no_mpi_settings(opts.mpi, opts.backend, "parkit::parallel_reduce");
    const I first = static_cast<I>(first_index);
    const std::size_t n = detail::index_count(first, static_cast<I>(last_index));
    if (n == 0) return init;
    const std::size_t block = detail::reduce_block_size(n, opts.chunk_size);
    const std::size_t blocks = detail::chunk_dispenser::max_chunks(n, block);

    auto reduce_block = [&, first, block, n](std::size_t b) -> T {
        const std::size_t begin = b * block;  // < n: b < blocks
        const std::size_t end = begin + std::min(block, n - begin);
        auto index = [first](std::size_t offset) { return detail::index_at(first, offset); };
        T partial = static_cast<T>(std::invoke(map, index(begin)));
        for (std::size_t k = begin + 1; k < end; ++k) {
            partial =
                static_cast<T>(std::invoke(reduce, std::move(partial), static_cast<T>(std::invoke(map, index(k)))));
        }
        return partial;
    };
    options block_opts = opts;
    block_opts.chunk_size = 0;  // the blocks are fixed above; how they are batched does not matter
    if (opts.backend == backend::mpi) block_opts.mpi.broadcast = true;  // every rank folds every block result
    std::vector<T> partials = detail::dispatch_backend(reduce_block, detail::iota_range{0, blocks}, block_opts);

    T result = std::move(init);
    for (T& partial : partials) {
        result = static_cast<T>(std::invoke(reduce, std::move(result), std::move(partial)));
    }
    return result;
}

}  // namespace parkit
