// task_overhead: 100,000 trivial tasks submitted one by one and waited for: what one task
// costs (ns per task) in parkit::thread_pool (submit + future::get, and detach + wait: no
// future) against tbb::task_group::run + wait and OpenMP tasks. std::async is left out: it starts a
// thread per task, and 100,000 threads alive at once fail with EAGAIN.
#include <parkit/thread_pool.hpp>

#include <memory>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/openmp.hpp"
#include "../peers/tbb.hpp"

namespace parkit_bench {

namespace {

/// The trivial task: returns its index (kept out of line so no runtime can fold it away).
[[gnu::noinline]] std::size_t trivial(std::size_t i) {
    return i;
}

workload make_task_overhead() {
    return {"task_overhead", {100'000}, [](std::size_t n) {
                bench_case c;
                c.items = n;
                c.impls.push_back({"sequential",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<std::size_t> out(n);
                                           for (std::size_t i = 0; i < n; ++i) out[i] = trivial(i);
                                           keep_all(out);
                                       };
                                   },
                                   false});
                c.impls.push_back({"parkit_threads", [=](int workers) -> runner {
                                       auto pool = std::make_shared<parkit::thread_pool>(workers);
                                       return [=] {
                                           std::vector<parkit::future<std::size_t>> futures;
                                           futures.reserve(n);
                                           for (std::size_t i = 0; i < n; ++i)
                                               futures.push_back(pool->submit(trivial, i));
                                           std::size_t sum = 0;
                                           for (auto& f : futures) sum += f.get();
                                           keep(sum);
                                       };
                                   }});
                c.impls.push_back({"parkit_detach", [=](int workers) -> runner {
                                       auto pool = std::make_shared<parkit::thread_pool>(workers);
                                       return [=] {
                                           std::vector<std::size_t> out(n);
                                           for (std::size_t i = 0; i < n; ++i) {
                                               pool->detach([&out, i] { out[i] = trivial(i); });
                                           }
                                           pool->wait();
                                           keep_all(out);
                                       };
                                   }});
#if PARKIT_BENCH_HAVE_OPENMP
                c.impls.push_back({"openmp_tasks", [=](int workers) -> runner {
                                       return [=] {
                                           std::vector<std::size_t> out(n);
                                           peers::omp_tasks(n, workers, [&](std::size_t i) { out[i] = trivial(i); });
                                           keep_all(out);
                                       };
                                   }});
#endif
#if PARKIT_BENCH_HAVE_TBB
                c.impls.push_back({"tbb", [=](int workers) -> runner {
                                       auto arena = std::make_shared<peers::tbb_workers>(workers);
                                       return [=] {
                                           std::vector<std::size_t> out(n);
                                           arena->run_tasks(n, [&](std::size_t i) { out[i] = trivial(i); });
                                           keep_all(out);
                                       };
                                   }});
#endif
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(10, make_task_overhead);

}  // namespace parkit_bench
