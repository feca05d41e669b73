#pragma once
/// @file
/// The workload registry. Adding a workload is one file in workloads/ ending with
/// `PARKIT_BENCH_REGISTER(rank, make_function);` (the sources are globbed by CMake).

#include <vector>

#include "workload.hpp"

namespace parkit_bench {

/// A registered workload: its place in the run order and the function that describes it.
struct registered_workload {
    int rank;            ///< lower runs first
    workload (*make)();  ///< describes the workload (cheap; data are made per size)
};

/// Every registered workload, in registration order (sort by rank before use).
inline std::vector<registered_workload>& registered_workloads() {
    static std::vector<registered_workload> all;
    return all;
}

/// Adds a workload to the registry during static initialization.
struct registration {
    /// Registers `make` with run order `rank`.
    registration(int rank, workload (*make)()) { registered_workloads().push_back({rank, make}); }
};

/// The registered workloads, made and sorted by rank.
std::vector<workload> all_workloads();

}  // namespace parkit_bench

#define PARKIT_BENCH_CONCAT_INNER(a, b) a##b
#define PARKIT_BENCH_CONCAT(a, b) PARKIT_BENCH_CONCAT_INNER(a, b)
/// Registers `make` (a function `parkit_bench::workload make()`) to run at place `rank`.
#define PARKIT_BENCH_REGISTER(rank, make) \
    static const ::parkit_bench::registration PARKIT_BENCH_CONCAT(parkit_bench_registration_, __LINE__)(rank, make)
