// fin_monte_carlo: the chapter's cooling-fin uncertainty study with 10,000 and 10,000,000
// samples of h ~ N(50, 5): parkit::kernels::fin_monte_carlo (blocks of 4,096 samples, one
// random stream each, each block's moments in its task, then the piecewise summary) against the
// same blocks and the same summary in peer loops (its counting pass on the peer's own workers).
#include <parkit/core/random.hpp>
#include <parkit/kernels/fin_monte_carlo.hpp>

#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

namespace pk = parkit::kernels;

const std::size_t block_size = pk::fin_study_options{}.block_size;

/// The kernel's own per-block work for block `block` of an n-sample study: its T_tip values and
/// their moments (h is not kept, as in the kernel without keep_samples).
pk::detail::fin_block_result fin_block(std::size_t n, std::size_t block) {
    const pk::fin_study_options o{.n_samples = n};
    return pk::detail::fin_block(o, parkit::seed_sequence{o.seed}, block);
}

/// The kernel's last step on the implementation's own loop: moments merged in block order and
/// the bracketed percentile selection, its counting pass run by `for_each` (a plain loop for
/// `sequential`, the peer's parallel loop otherwise).
struct summarize_blocks {
    template <class ForEach>
    void operator()(const std::vector<pk::detail::fin_block_result>& blocks, const ForEach& for_each) const {
        std::vector<pk::partial_moments> moments;
        moments.reserve(blocks.size());
        for (const auto& b : blocks) moments.push_back(b.moments);
        const auto pieces = pk::detail::block_pieces(blocks, &pk::detail::fin_block_result::tip_temperatures);
        keep(pk::summarize_pieces(pieces, moments, 2.5, 97.5, for_each).mean);
    }
};

workload make_fin_monte_carlo() {
    return {"fin_monte_carlo", {10'000, 10'000'000}, [](std::size_t n) {
                bench_case c;
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back(
                        {name, [=, backend = backend](int workers) -> runner {
                             return [=] {
                                 keep(pk::fin_monte_carlo(
                                          {.n_samples = n, .execution = {.n_jobs = workers, .backend = backend}})
                                          .tip_temperature.mean);
                             };
                         }});
                }
                const std::size_t blocks = (n + block_size - 1) / block_size;
                peers::add_loop_impls(
                    c.impls, blocks, [n](std::size_t b) { return fin_block(n, b); }, summarize_blocks{});
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(40, make_fin_monte_carlo);

}  // namespace parkit_bench
