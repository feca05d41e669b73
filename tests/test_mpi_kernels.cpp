// The kernels on backend::mpi (part of parkit_mpi_tests when the kernels are built): every
// kernel's results cross ranks and equal the thread backend's. Collective-safe as test_mpi.cpp:
// every rank makes every call, checks come after.
#include <parkit/kernels/curve_fit.hpp>
#include <parkit/kernels/fin_monte_carlo.hpp>
#include <parkit/kernels/ode_sweep.hpp>
#include <parkit/mpi.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace pk = parkit::kernels;

namespace {

parkit::options on_all_ranks() {
    parkit::options o{.backend = parkit::backend::mpi};
    o.mpi.broadcast = true;  // every rank compares
    return o;
}

}  // namespace

TEST_CASE("mpi batch_curve_fit gives the thread backend's entries on every rank", "[mpi][kernels]") {
    const auto t = pk::linspace(0, 10, 20);
    const parkit::seed_sequence seeds{11};
    std::vector<pk::curve_fit_dataset<>> datasets;
    for (int e = 0; e < 24; ++e) {
        auto rng = seeds.stream(static_cast<std::uint64_t>(e));
        const double k = 0.1 + 1.9 * rng.uniform01(), c0 = 0.5 + 1.5 * rng.uniform01();
        pk::curve_fit_dataset<> d{t, {}, {}};
        for (double ti : t) d.y.push_back(c0 * std::exp(-k * ti) + 0.02 * c0 * (rng.uniform01() - 0.5));
        datasets.push_back(std::move(d));
    }
    datasets[5].y.pop_back();  // an entry with an error travels too
    const auto model = [](double ti, const Eigen::VectorXd& p) { return p[1] * std::exp(-p[0] * ti); };
    const pk::curve_fit_bounds bounds{.lower = {0}, .upper = {10, 10}};

    const auto threaded = pk::batch_curve_fit(datasets, model, {0.5, 1.0}, bounds, {}, {.n_jobs = 2});
    const auto distributed = pk::batch_curve_fit(datasets, model, {0.5, 1.0}, bounds, {}, on_all_ranks());
    auto differing = datasets;  // the input check sees datasets that differ across ranks
    if (parkit::mpi::rank() > 0) differing[20].y[3] += 1e-9;
    bool refused = false;
    try {
        pk::batch_curve_fit(differing, model, {0.5, 1.0}, bounds, {}, on_all_ranks());
    } catch (const std::invalid_argument&) {
        refused = true;
    }

    REQUIRE(distributed.size() == threaded.size());
    for (std::size_t i = 0; i < threaded.size(); ++i) {
        CHECK(distributed[i].error == threaded[i].error);
        REQUIRE(distributed[i].fit.has_value() == threaded[i].fit.has_value());
        if (!threaded[i].fit) continue;
        CHECK(distributed[i].fit->params == threaded[i].fit->params);
        CHECK(distributed[i].fit->covariance == threaded[i].fit->covariance);
        CHECK(distributed[i].fit->nfev == threaded[i].fit->nfev);
    }
    CHECK_FALSE(distributed[5].ok());
    CHECK(refused == (parkit::mpi::size() > 1));
}

TEST_CASE("mpi ode_sweep and fin_monte_carlo give the thread backend's results", "[mpi][kernels]") {
    using vec = std::vector<double>;
    const auto ks = pk::linspace(0.1, 2.0, 30);
    const auto make = [](double k) { return [k](const vec& y, vec& d, double) { d[0] = -k * y[0]; }; };
    const auto threaded = pk::ode_sweep(make, vec{1.0}, 0.0, 5.0, ks, {.execution = {.n_jobs = 2}});
    const auto distributed = pk::ode_sweep(make, vec{1.0}, 0.0, 5.0, ks, {.execution = on_all_ranks()});

    const pk::fin_study_options study{.n_samples = 20000, .block_size = 1000};
    pk::fin_study_options study_mpi = study;
    study_mpi.execution = on_all_ranks();
    const auto fin_threads = pk::fin_monte_carlo(study);
    const auto fin_mpi = pk::fin_monte_carlo(study_mpi);
    const auto fin_shared = parkit::mpi::broadcast(fin_mpi);

    REQUIRE(distributed.size() == threaded.size());
    for (std::size_t i = 0; i < threaded.size(); ++i) {
        CHECK(distributed[i].y == threaded[i].y);
        CHECK(distributed[i].steps == threaded[i].steps);
    }
    CHECK(fin_mpi.tip_temperature.mean == fin_threads.tip_temperature.mean);
    CHECK(fin_mpi.tip_temperature.stddev == fin_threads.tip_temperature.stddev);
    CHECK(fin_mpi.tip_temperature.lower == fin_threads.tip_temperature.lower);
    CHECK(fin_mpi.tip_temperature.upper == fin_threads.tip_temperature.upper);
    CHECK(fin_shared.tip_temperature.mean == fin_threads.tip_temperature.mean);
}
