// process_roundtrip: 2,000 tiny tasks through a running parkit::process_pool: what a task costs
// when it crosses a process boundary (serialize, write to the worker's socket, run, reply),
// both pipelined (submit all, then get all: throughput) and one at a time (submit, get, next:
// the round-trip latency). The chapter's ProcessPoolExecutor is timed both ways by
// python/chapter_peers.py.
#include <parkit/process_pool.hpp>

#include <memory>
#include <vector>

#include "../harness/registry.hpp"

namespace parkit_bench {

namespace {

/// The task sent to the workers: trivial, so only the round trip is measured.
long long next_value(long long x) {
    return x + 1;
}

/// Throughput: all n tasks submitted to a running pool, then all results collected (the pool
/// keeps several tasks in flight per worker).
runner pipelined(int workers, std::size_t n) {
    auto pool = std::make_shared<parkit::process_pool>(workers);
    return [=] {
        std::vector<parkit::future<long long>> futures;
        futures.reserve(n);
        for (std::size_t i = 0; i < n; ++i) futures.push_back(pool->submit(&next_value, static_cast<long long>(i)));
        long long sum = 0;
        for (auto& f : futures) sum += f.get();
        keep(sum);
    };
}

/// Latency: each task's result awaited before the next is submitted (one task in flight).
runner one_at_a_time(int workers, std::size_t n) {
    auto pool = std::make_shared<parkit::process_pool>(workers);
    return [=] {
        long long sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += pool->submit(&next_value, static_cast<long long>(i)).get();
        keep(sum);
    };
}

workload make_process_roundtrip() {
    return {"process_roundtrip", {2'000}, [](std::size_t n) {
                bench_case c;
                c.items = n;
                c.impls.push_back({"sequential",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<long long> out(n);
                                           for (std::size_t i = 0; i < n; ++i)
                                               out[i] = next_value(static_cast<long long>(i));
                                           keep_all(out);
                                       };
                                   },
                                   false});
                c.impls.push_back({"parkit_processes", [=](int workers) { return pipelined(workers, n); }});
                c.impls.push_back(
                    {"parkit_processes_one_at_a_time", [=](int workers) { return one_at_a_time(workers, n); }});
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(80, make_process_roundtrip);

}  // namespace parkit_bench
