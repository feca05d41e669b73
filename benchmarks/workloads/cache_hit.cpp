// cache_hit: 1,000 and 10,000 calls of a parkit::memory-cached function whose entries all exist (the
// chapter's joblib.Memory demo, second run): what a hit costs per call (open + read + decode of
// a small entry), on one thread and from parallel_map tasks on threads and processes.
#include <parkit/memory.hpp>
#include <parkit/parallel_map.hpp>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <ranges>
#include <string>
#include <system_error>
#include <vector>

#include "../harness/registry.hpp"

namespace parkit_bench {

namespace {

/// The cached function: cheap, since only the cache's own cost is measured.
double simulate(int parameter) {
    return 0.5 * parameter;
}

/// A cache directory filled with one entry per key, removed when the case ends.
class filled_cache {
public:
    explicit filled_cache(std::size_t keys)
        : dir_(std::filesystem::temp_directory_path() / ("parkit-bench-cache-" + std::to_string(::getpid()))),
          memory_(dir_),
          cached_(memory_.cache("simulate_v1", simulate)) {
        for (std::size_t i = 0; i < keys; ++i) keep(cached_(static_cast<int>(i)));  // misses: fill
    }
    filled_cache(const filled_cache&) = delete;
    filled_cache& operator=(const filled_cache&) = delete;
    ~filled_cache() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    /// One call of the cached function (a hit).
    double operator()(std::size_t i) const { return cached_(static_cast<int>(i)); }

private:
    std::filesystem::path dir_;
    parkit::memory memory_;
    decltype(std::declval<parkit::memory&>().cache("", simulate)) cached_;
};

workload make_cache_hit() {
    return {"cache_hit", {1'000, 10'000}, [](std::size_t n) {
                auto cache = std::make_shared<filled_cache>(n);
                const auto keys = std::views::iota(std::size_t{0}, n);
                bench_case c;
                c.items = n;
                c.impls.push_back({"sequential",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<double> out(n);
                                           for (std::size_t i = 0; i < n; ++i) out[i] = (*cache)(i);
                                           keep_all(out);
                                       };
                                   },
                                   false});
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back({name, [=, backend = backend](int workers) -> runner {
                                           return [=] {
                                               keep_all(parkit::parallel_map([&](std::size_t i) { return (*cache)(i); },
                                                                             keys,
                                                                             {.n_jobs = workers, .backend = backend}));
                                           };
                                       }});
                }
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(90, make_cache_hit);

}  // namespace parkit_bench
