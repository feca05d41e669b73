// io_wait: 32 tasks that each wait 50 ms (the chapter's simulated file reads), run with 32
// workers: threads beyond the cores pay off for waiting work. Target: under 0.1 s.
#include <parkit/parallel_map.hpp>

#include <chrono>
#include <ranges>
#include <thread>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

constexpr int io_workers = 32;

int simulated_read(std::size_t i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return static_cast<int>(i);
}

workload make_io_wait() {
    return {"io_wait", {32}, [](std::size_t n) {
                bench_case c;
                c.fixed_workers = {io_workers};
                const auto ids = std::views::iota(std::size_t{0}, n);
                c.impls.push_back({"parkit_threads", [=](int workers) -> runner {
                                       return [=] {
                                           keep_all(parkit::parallel_map(simulated_read, ids, {.n_jobs = workers}));
                                       };
                                   }});
                c.impls.push_back(
                    {"parkit_processes", [=](int workers) -> runner {
                         return [=] {
                             keep_all(parkit::parallel_map(simulated_read, ids,
                                                           {.n_jobs = workers, .backend = parkit::backend::processes}));
                         };
                     }});
                peers::add_loop_impls(c.impls, n, simulated_read);
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(70, make_io_wait);

}  // namespace parkit_bench
