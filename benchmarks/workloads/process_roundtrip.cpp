// process_roundtrip: 2,000 tiny tasks submitted to a running parkit::process_pool and waited
// for (submit + get): what a task costs when it crosses a process boundary (serialize, write
// to the worker's socket, run, reply). The chapter's ProcessPoolExecutor is timed the same way
// by python/chapter_peers.py.
#include <parkit/process_pool.hpp>

#include <memory>
#include <vector>

#include "../harness/registry.hpp"

namespace parkit_bench {

namespace {

/// The task sent to the workers: trivial, so only the round trip is measured.
long long next_value(long long x) { return x + 1; }

workload make_process_roundtrip() {
    return {"process_roundtrip", {2'000}, [](std::size_t n) {
                bench_case c;
                c.items = n;
                c.impls.push_back({"sequential",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<long long> out(n);
                                           for (std::size_t i = 0; i < n; ++i) out[i] = next_value(static_cast<long long>(i));
                                           keep_all(out);
                                       };
                                   },
                                   false});
                c.impls.push_back({"parkit_processes", [=](int workers) -> runner {
                                       auto pool = std::make_shared<parkit::process_pool>(workers);
                                       return [=] {
                                           std::vector<parkit::future<long long>> futures;
                                           futures.reserve(n);
                                           for (std::size_t i = 0; i < n; ++i)
                                               futures.push_back(pool->submit(&next_value, static_cast<long long>(i)));
                                           long long sum = 0;
                                           for (auto& f : futures) sum += f.get();
                                           keep(sum);
                                       };
                                   }});
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(80, make_process_roundtrip);

}  // namespace parkit_bench
