// fib: recursive fibonacci fib(30) with a serial cutoff (the sizes are the cutoffs 12 and 20:
// below the cutoff a call recurses serially), the fork-join test of a scheduler: one spawn per
// call at or above the cutoff (10,945 for cutoff 12, 232 for 20; the "items"), whose serial
// leaves are fib(11) / fib(10) (well under a µs) or fib(19) / fib(18) (~200x more), and whose
// parent waits for it inside a task. Every run checks its sum against fib(30) = 832040.
#include <parkit/parallel_map.hpp>
#include <parkit/thread_pool.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/openmp.hpp"
#include "../peers/tbb.hpp"

namespace parkit_bench {

namespace {

/// The argument of every run.
constexpr int fib_n = 30;

/// fib(n) by plain recursion (the serial part below the cutoff, and the `sequential` row).
long fib_serial(int n) {
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

/// fib(30), what every run must return (a literal: clang's constexpr step limit is too small
/// to compute it at compile time).
constexpr long fib_expected = 832040;

/// Spawns of one run: one per call with n >= cutoff (each forks its fib(n - 1)).
std::size_t spawns(int n, int cutoff) {
    return n < cutoff ? 0 : 1 + spawns(n - 1, cutoff) + spawns(n - 2, cutoff);
}

/// fib(n) with the recursion forked at and above `cutoff`: `fork(spawned, inline_part)` runs
/// `spawned()` (fib(n - 1)) as a task and `inline_part()` (fib(n - 2)) on this thread, waits for
/// the task and returns the sum. Each runtime supplies its own `fork`.
template <class Fork>
long fib_forked(int n, int cutoff, const Fork& fork) {
    if (n < cutoff) return fib_serial(n);
    return fork([&] { return fib_forked(n - 1, cutoff, fork); }, [&] { return fib_forked(n - 2, cutoff, fork); });
}

/// fib(n) through nested `parkit::parallel_map(fib, {n - 1, n - 2})` at and above the cutoff
/// (the recursion as a map of two items, on the default thread backend with `workers` jobs).
struct nested_map_fib {
    int cutoff;   ///< serial below this n
    int workers;  ///< n_jobs of every parallel_map
    /// fib(n).
    long operator()(int n) const {
        if (n < cutoff) return fib_serial(n);
        const std::vector<long> halves =
            parkit::parallel_map(*this, std::vector<int>{n - 1, n - 2}, {.n_jobs = workers});
        return halves[0] + halves[1];
    }
};

/// Throws unless `result` is fib(30) (a broken scheduler must not produce a timing).
void check(long result, const char* impl) {
    if (result != fib_expected) {
        throw std::runtime_error(std::string("parkit-bench: fib: ") + impl + " returned " + std::to_string(result) +
                                 ", not fib(30) = " + std::to_string(fib_expected));
    }
}

workload make_fib() {
    return {"fib", {12, 20}, [](std::size_t size) {
                const int cutoff = static_cast<int>(size);
                bench_case c;
                c.items = spawns(fib_n, cutoff);
                c.impls.push_back({"sequential",
                                   [](int) -> runner { return [] { check(fib_serial(opaque(fib_n)), "sequential"); }; },
                                   false});
                c.impls.push_back({"parkit_submit_get", [=](int workers) -> runner {
                                       auto pool = std::make_shared<parkit::thread_pool>(workers);
                                       // auto f = pool.submit(fib, n - 1); long b = fib(n - 2); return f.get() + b;
                                       const auto fork = [p = pool.get()](const auto& spawned,
                                                                          const auto& inline_part) {
                                           auto f = p->submit(spawned);
                                           const long b = inline_part();
                                           return f.get() + b;
                                       };
                                       return [=] {
                                           const int n = opaque(fib_n);
                                           check(pool->submit([=] { return fib_forked(n, cutoff, fork); }).get(),
                                                 "parkit_submit_get");
                                       };
                                   }});
                c.impls.push_back({"parkit_nested_map", [=](int workers) -> runner {
                                       return [=] {
                                           check(nested_map_fib{cutoff, workers}(opaque(fib_n)), "parkit_nested_map");
                                       };
                                   }});
#if PARKIT_BENCH_HAVE_TBB
                c.impls.push_back({"tbb", [=](int workers) -> runner {
                                       auto arena = std::make_shared<peers::tbb_workers>(workers);
                                       return [=] {
                                           const int n = opaque(fib_n);
                                           const auto fork = [](const auto& spawned, const auto& inline_part) {
                                               return peers::tbb_fork_join(spawned, inline_part);
                                           };
                                           check(arena->execute([&] { return fib_forked(n, cutoff, fork); }), "tbb");
                                       };
                                   }});
#endif
#if PARKIT_BENCH_HAVE_OPENMP
                c.impls.push_back({"openmp_tasks", [=](int workers) -> runner {
                                       return [=] {
                                           const int n = opaque(fib_n);
                                           const auto fork = [](const auto& spawned, const auto& inline_part) {
                                               return peers::omp_fork_join(spawned, inline_part);
                                           };
                                           long result = 0;
                                           peers::omp_single(workers, [&] { result = fib_forked(n, cutoff, fork); });
                                           check(result, "openmp_tasks");
                                       };
                                   }});
#endif
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(15, make_fib);

}  // namespace parkit_bench
