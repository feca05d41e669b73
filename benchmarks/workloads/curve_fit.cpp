// curve_fit: the chapter's batch of synthetic first-order decay experiments C0 exp(-k t)
// (20 points, 5 % noise), each fitted with curve_fit(p0 = [0.5, 1], bounds = (0, [10, 10])):
// 100 and 10,000 experiments through parkit::kernels::batch_curve_fit and peer loops.
#include <parkit/core/random.hpp>
#include <parkit/kernels/curve_fit.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

namespace pk = parkit::kernels;

double first_order_model(double t, const Eigen::VectorXd& p) {
    return p[1] * std::exp(-p[0] * t);
}

/// Experiment i (from its own random stream): k ~ U(0.1, 2), C0 ~ U(0.5, 2), t = linspace(0, 10, 20).
pk::curve_fit_dataset<> make_experiment(std::size_t i) {
    auto rng = parkit::seed_sequence{123}.stream(i);
    const double k = 0.1 + 1.9 * rng.uniform01();
    const double c0 = 0.5 + 1.5 * rng.uniform01();
    std::normal_distribution<double> noise(0.0, 0.05 * c0);
    pk::curve_fit_dataset<> d;
    for (int j = 0; j < 20; ++j) {
        const double t = 10.0 * j / 19;
        d.x.push_back(t);
        d.y.push_back(std::max(0.0, c0 * std::exp(-k * t) + noise(rng)));
    }
    return d;
}

const std::vector<double> p0{0.5, 1.0};
const pk::curve_fit_bounds bounds{.lower = {0}, .upper = {10, 10}};

pk::curve_fit_result fit(const pk::curve_fit_dataset<>& d) {
    return pk::curve_fit(first_order_model, d.x, d.y, p0, bounds);
}

workload make_curve_fit() {
    return {"curve_fit", {100, 10'000}, [](std::size_t n) {
                auto data = std::make_shared<std::vector<pk::curve_fit_dataset<>>>();
                for (std::size_t i = 0; i < n; ++i) data->push_back(make_experiment(i));
                bench_case c;
                c.impls.push_back({"parkit_threads", [=](int workers) -> runner {
                                       return [=] {
                                           keep_all(pk::batch_curve_fit(*data, first_order_model, p0, bounds, {},
                                                                        {.n_jobs = workers}));
                                       };
                                   }});
                // batch_fit_entry (with its Eigen result) does not travel between processes, so
                // the process backend returns the fitted parameters (Eigen vectors do).
                c.impls.push_back(
                    {"parkit_processes", [=](int workers) -> runner {
                         return [=] {
                             keep_all(
                                 parkit::parallel_map([](const pk::curve_fit_dataset<>& d) { return fit(d).params; },
                                                      *data,
                                                      {.n_jobs = workers, .backend = parkit::backend::processes}));
                         };
                     }});
                peers::add_loop_impls(c.impls, n, [data](std::size_t i) { return fit((*data)[i]); });
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(50, make_curve_fit);

}  // namespace parkit_bench
