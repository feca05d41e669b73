#pragma once
/// @file
/// oneTBB peer: `tbb::parallel_for` and `tbb::task_group` in a `task_arena` of the wanted size
/// (built only when CMake finds TBB: PARKIT_BENCH_HAVE_TBB).

#if PARKIT_BENCH_HAVE_TBB
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <cstddef>
#include <memory>
#include <thread>
#include <utility>

namespace parkit_bench::peers {

/// A TBB arena of `workers` threads (and, beyond the hardware threads, a global_control that
/// lets TBB start that many: waiting work such as io_wait).
class tbb_workers {
public:
    /// Makes the arena.
    explicit tbb_workers(int workers)
        : limit_(static_cast<unsigned>(workers) > std::thread::hardware_concurrency()
                     ? std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                             static_cast<std::size_t>(workers))
                     : nullptr),
          arena_(workers) {}

    /// Calls `body(i)` for i in [0, n) with tbb::parallel_for (auto partitioner).
    template <class Body>
    void parallel_for(std::size_t n, const Body& body) {
        arena_.execute([&] {
            tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n), [&](const tbb::blocked_range<std::size_t>& r) {
                for (std::size_t i = r.begin(); i != r.end(); ++i) body(i);
            });
        });
    }

    /// Runs `f()` inside the arena (so tbb::task_group and parallel algorithms called by `f`
    /// use this arena's workers) and returns its result.
    template <class F>
    auto execute(F&& f) {
        return arena_.execute(std::forward<F>(f));
    }

    /// Runs `tasks` tasks `task(i)` through one tbb::task_group and waits.
    template <class Task>
    void run_tasks(std::size_t tasks, const Task& task) {
        arena_.execute([&] {
            tbb::task_group group;
            for (std::size_t i = 0; i < tasks; ++i) group.run([&task, i] { task(i); });
            group.wait();
        });
    }

private:
    std::unique_ptr<tbb::global_control> limit_;
    tbb::task_arena arena_;
};

/// One fork-join step as a TBB user writes it: `spawned()` through tbb::task_group::run,
/// `inline_part()` on this thread, then task_group::wait; returns the sum of both results
/// (recursive workloads such as fib; call it inside `tbb_workers::execute`).
template <class Spawned, class Inline>
auto tbb_fork_join(const Spawned& spawned, const Inline& inline_part) {
    decltype(spawned()) left{};
    tbb::task_group group;
    group.run([&] { left = spawned(); });
    const auto right = inline_part();
    group.wait();
    return left + right;
}

}  // namespace parkit_bench::peers
#endif
