#pragma once
/// @file
/// How many workers to use: the cores this process may run on, and joblib's `n_jobs` rule.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif
#include "../detail/support/file_start.hpp"

namespace parkit {

namespace detail {

/// CPUs in this process's affinity mask (taskset, cpusets), or 0 when unknown.
inline int affinity_cores() noexcept {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
    return 0;
}

/// The first line of a small text file (a cgroup setting), or an empty string when it cannot
/// be read. POSIX reads rather than <fstream>, which every parkit user would otherwise parse.
inline std::string first_line_of(const char* path) noexcept {
    std::string line;
    char buffer[128];
    const long got = detail::read_file_start(path, buffer, sizeof buffer);
    if (got <= 0) return line;
    const std::size_t length = static_cast<std::size_t>(got);
    const auto* newline = static_cast<const char*>(std::memchr(buffer, '\n', length));
    try {
        line.assign(buffer, newline != nullptr ? static_cast<std::size_t>(newline - buffer) : length);
    } catch (...) {
        line.clear();
    }
    return line;
}

/// CPUs allowed by a cgroup CPU quota (a container limited to 1.5 CPUs gives 2), or 0 when
/// there is none. Reads cgroup v2 (`cpu.max`: "QUOTA PERIOD" or "max PERIOD") and v1
/// (`cpu.cfs_quota_us` / `cpu.cfs_period_us`) at the usual mount points.
inline int cgroup_quota_cores() noexcept {
    auto cores = [](long long quota, long long period) {
        return quota > 0 && period > 0 ? static_cast<int>((quota + period - 1) / period) : 0;
    };
    auto number = [](const char* text, char** end) { return std::strtoll(text, end, 10); };
    if (const std::string v2 = first_line_of("/sys/fs/cgroup/cpu.max"); !v2.empty()) {
        if (v2.rfind("max", 0) == 0) return 0;
        char* end = nullptr;
        const long long quota = number(v2.c_str(), &end);
        return cores(quota, number(end, nullptr));
    }
    const std::string v1_quota = first_line_of("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    const std::string v1_period = first_line_of("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (v1_quota.empty() || v1_period.empty()) return 0;
    return cores(number(v1_quota.c_str(), nullptr), number(v1_period.c_str(), nullptr));
}

/// joblib's `n_jobs` rule against `capacity` workers (cores, or a pool's size): positive = that
/// many, -1 = capacity, -2 = capacity - 1, ..., -capacity = 1.
/// @throws std::invalid_argument naming `n_jobs`, the value and the allowed range (`of` says
///         what the capacity is, e.g. "cores").
inline int resolve_workers(int n_jobs, int capacity, const char* of) {
    if (n_jobs > 0) return n_jobs;
    if (n_jobs < 0 && n_jobs >= -capacity) return capacity + 1 + n_jobs;
    throw std::invalid_argument("parkit: n_jobs = " + std::to_string(n_jobs) +
                                " is invalid; use a positive worker count, or -1 (all " + std::to_string(capacity) +
                                ", " + of + ") down to -" + std::to_string(capacity) + " (one worker)");
}

/// Most workers one map starts, whatever `n_jobs` asks for: room for waiting work (downloads,
/// sleeps) far beyond the cores, while a runaway `n_jobs` (100000, INT_MAX) cannot exhaust the
/// system's threads, processes or memory.
inline constexpr int max_map_workers = 1024;

}  // namespace detail

/// The number of cores this process may use: the affinity mask, capped by a cgroup CPU quota
/// (as joblib/loky count them), falling back to `std::thread::hardware_concurrency()`; at least 1.
/// Computed once per process.
inline int available_cores() noexcept {
    static const int cores = [] {
        int n = detail::affinity_cores();
        if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
        if (const int quota = detail::cgroup_quota_cores(); quota > 0) n = std::min(n, quota);
        return std::max(n, 1);
    }();
    return cores;
}

/// Turns joblib's `n_jobs` into a worker count: a positive value is taken as is, `-1` means all
/// cores, `-2` all but one, and so on down to `-available_cores()` (one worker).
/// @throws std::invalid_argument for 0 or a value below `-available_cores()`, naming `n_jobs`
///         and the allowed range.
inline int resolve_n_jobs(int n_jobs) {
    return detail::resolve_workers(n_jobs, available_cores(), "the available cores");
}

}  // namespace parkit
