// svd: the chapter's numpy_heavy_computation: 20 independent 200x200 random matrices, the sum
// of each one's singular values (Eigen's BDCSVD, values only, like numpy's gesdd with
// compute_uv=False). Each task makes its own matrix from its own random stream.
#include <parkit/core/random.hpp>
#include <parkit/parallel_map.hpp>

#include <Eigen/SVD>

#include <random>
#include <ranges>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

constexpr Eigen::Index svd_size = 200;

double singular_value_sum(std::size_t task) {
    auto rng = parkit::seed_sequence{7}.stream(task);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd a(svd_size, svd_size);
    for (Eigen::Index j = 0; j < a.cols(); ++j)
        for (Eigen::Index i = 0; i < a.rows(); ++i) a(i, j) = normal(rng);
    return Eigen::BDCSVD<Eigen::MatrixXd>(a).singularValues().sum();
}

workload make_svd() {
    return {"svd", {20}, [](std::size_t n) {
                bench_case c;
                const auto tasks = std::views::iota(std::size_t{0}, n);
                for (const auto& [name, backend] : {std::pair{"parkit_threads", parkit::backend::threads},
                                                    std::pair{"parkit_processes", parkit::backend::processes}}) {
                    c.impls.push_back({name, [=, backend = backend](int workers) -> runner {
                                           return [=] {
                                               keep_all(parkit::parallel_map(singular_value_sum, tasks,
                                                                             {.n_jobs = workers, .backend = backend}));
                                           };
                                       }});
                }
                peers::add_loop_impls(c.impls, n, singular_value_sum);
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(60, make_svd);

}  // namespace parkit_bench
