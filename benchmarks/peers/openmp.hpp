#pragma once
/// @file
/// OpenMP peer: `#pragma omp parallel for` with a static or a dynamic schedule (built only
/// when CMake finds OpenMP: PARKIT_BENCH_HAVE_OPENMP).

#include <algorithm>
#include <cstddef>

namespace parkit_bench::peers {

/// The OpenMP schedules compared.
enum class omp_schedule {
    static_blocks,  ///< schedule(static): one contiguous block per thread
    dynamic_chunks  ///< schedule(dynamic, n / (32 * workers)): threads take chunks as they finish
};

/// Chunk of the dynamic schedule: about 32 chunks per worker (a tuned user's choice; the
/// default chunk of 1 makes millions of tiny items far slower than a plain loop).
inline std::ptrdiff_t omp_dynamic_chunk(std::size_t n, int workers) {
    return std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(n / (32 * static_cast<std::size_t>(workers))));
}

#if PARKIT_BENCH_HAVE_OPENMP
/// Calls `body(i)` for i in [0, n) with `workers` OpenMP threads.
template <class Body>
void omp_for(std::size_t n, int workers, omp_schedule schedule, const Body& body) {
    const auto count = static_cast<std::ptrdiff_t>(n);
    if (schedule == omp_schedule::static_blocks) {
#pragma omp parallel for schedule(static) num_threads(workers)
        for (std::ptrdiff_t i = 0; i < count; ++i) body(static_cast<std::size_t>(i));
    } else {
        const std::ptrdiff_t chunk = omp_dynamic_chunk(n, workers);
#pragma omp parallel for schedule(dynamic, chunk) num_threads(workers)
        for (std::ptrdiff_t i = 0; i < count; ++i) body(static_cast<std::size_t>(i));
    }
}

/// Runs `f()` on one thread of a team of `workers` (`omp parallel` + `omp single`), so the
/// OpenMP tasks it makes run on the team; returns when the team is done.
template <class F>
void omp_single(int workers, const F& f) {
#pragma omp parallel num_threads(workers)
#pragma omp single
    f();
}

/// Runs `tasks` OpenMP tasks of `task(i)` from one thread of a team of `workers` and waits
/// (the task-overhead peer).
template <class Task>
void omp_tasks(std::size_t tasks, int workers, const Task& task) {
    omp_single(workers, [&] {
        for (std::size_t i = 0; i < tasks; ++i) {
#pragma omp task firstprivate(i)
            task(i);
        }
#pragma omp taskwait
    });
}

/// One fork-join step with OpenMP tasks: `spawned()` as an `omp task`, `inline_part()` on this
/// thread, then `omp taskwait`; returns the sum of both results (recursive workloads such as
/// fib; call it inside `omp_single`).
template <class Spawned, class Inline>
auto omp_fork_join(const Spawned& spawned, const Inline& inline_part) {
    decltype(spawned()) left{};
#pragma omp task shared(left, spawned)
    left = spawned();
    const auto right = inline_part();
#pragma omp taskwait
    return left + right;
}
#endif

}  // namespace parkit_bench::peers
