// fin_monte_carlo: the chapter's cooling-fin uncertainty study with 10,000 and 10,000,000
// samples of h ~ N(50, 5): parkit::kernels::fin_monte_carlo (blocks of 4,096 samples, one
// random stream each, then the summary) against the same blocks in peer loops.
#include <parkit/core/random.hpp>
#include <parkit/kernels/fin_monte_carlo.hpp>

#include <random>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

namespace pk = parkit::kernels;

const std::size_t block_size = pk::fin_study_options{}.block_size;

/// Block `block` of an n-sample study: (h, T_tip) pairs, the kernel's own per-block work.
std::vector<double> fin_block(std::size_t n, std::size_t block) {
    const pk::fin_study_options o{};
    const std::size_t first = block * block_size;
    const std::size_t count = std::min(block_size, n - first);
    auto rng = parkit::seed_sequence{o.seed}.stream(block);
    std::normal_distribution<double> normal(o.h_nominal, o.h_std);
    std::vector<double> pairs;
    pairs.reserve(2 * count);
    for (std::size_t i = 0; i < count; ++i) {
        double h;
        do h = normal(rng);
        while (!(h > 0.0));
        pairs.push_back(h);
        pairs.push_back(pk::fin_tip_temperature(h, o.fin));
    }
    return pairs;
}

/// The kernel's last, sequential step: gather every T_tip and summarize them.
struct summarize_blocks {
    std::size_t n;
    void operator()(const std::vector<std::vector<double>>& blocks) const {
        std::vector<double> temps;
        temps.reserve(n);
        for (const auto& pairs : blocks)
            for (std::size_t i = 1; i < pairs.size(); i += 2) temps.push_back(pairs[i]);
        keep(pk::summarize(temps).mean);
    }
};

workload make_fin_monte_carlo() {
    return {"fin_monte_carlo", {10'000, 10'000'000}, [](std::size_t n) {
                bench_case c;
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back({name, [=, backend = backend](int workers) -> runner {
                                           return [=] {
                                               keep(pk::fin_monte_carlo({.n_samples = n,
                                                                         .execution = {.n_jobs = workers, .backend = backend}})
                                                        .tip_temperature.mean);
                                           };
                                       }});
                }
                const std::size_t blocks = (n + block_size - 1) / block_size;
                peers::add_loop_impls(c.impls, blocks, [n](std::size_t b) { return fin_block(n, b); },
                                      summarize_blocks{n});
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(40, make_fin_monte_carlo);

}  // namespace parkit_bench
