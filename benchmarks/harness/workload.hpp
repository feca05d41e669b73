#pragma once
/// @file
/// What a benchmark workload is: named sizes, and per size a set of implementations that the
/// harness times interleaved. A workload is one file in workloads/ that ends with
/// `PARKIT_BENCH_REGISTER(rank, make)` (see registry.hpp; the ranks in use are in workloads/,
/// lower runs first).

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace parkit_bench {

/// One timed run of a workload at one size (e.g. map 10,000,000 items once).
using runner = std::function<void()>;

/// Prepares an implementation for a worker count (starts pools, arenas, ...) and returns the
/// function that is timed. Whatever it sets up lives as long as the returned runner.
using preparer = std::function<runner(int workers)>;

/// One way of running a workload: `sequential`, `parkit_threads`, `tbb`, ...
struct implementation {
    std::string name;      ///< as in the JSON's "impl"
    preparer prepare;      ///< makes the runner for a worker count
    bool parallel = true;  ///< false: runs once, with 1 worker (the sequential baseline)
};

/// A workload at one size, ready to run: its data are owned by the implementations' closures.
struct bench_case {
    std::vector<implementation> impls;  ///< the first one must be `sequential` (the baseline)
    /// Items one run handles, for the "per item" column (tasks for task_overhead, round trips
    /// for process_roundtrip); 0 = no per-item column.
    std::size_t items = 0;
    /// Worker counts to use instead of the --workers list (io_wait: {32}); empty = the list.
    std::vector<int> fixed_workers = {};
};

/// A named workload with its sizes; `make` builds the case for one size (data are made there,
/// so only one size's data exist at a time).
struct workload {
    std::string name;                               ///< as in the JSON's "workload"
    std::vector<std::size_t> sizes;                 ///< the n values
    std::function<bench_case(std::size_t n)> make;  ///< builds the case for size n
};

/// Keeps the compiler from optimizing away a computed value (it "escapes" to memory).
template <class T>
inline void keep(const T& value) {
    asm volatile("" : : "r,m"(value) : "memory");
}

/// Returns `value` hidden from the optimizer, so a run with a constant argument (fib(30)) is
/// computed at run time, not folded at compile time.
template <class T>
inline T opaque(T value) {
    asm volatile("" : "+m"(value) : : "memory");
    return value;
}

/// Keeps a container's contents alive to the optimizer.
template <class Container>
inline void keep_all(const Container& values) {
    keep(values.data());
    keep(values.size());
}

}  // namespace parkit_bench
