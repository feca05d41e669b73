#include <parkit/kernels/fin_monte_carlo.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace pk = parkit::kernels;

TEST_CASE("percentile interpolates like numpy", "[kernels][statistics]") {
    std::vector<double> v{4, 1, 3, 2};
    CHECK(pk::percentile_in_place(v, 25) == Approx(1.75));
    CHECK(pk::percentile_in_place(v, 50) == Approx(2.5));
    CHECK(pk::percentile_in_place(v, 0) == 1);
    CHECK(pk::percentile_in_place(v, 100) == 4);
    const std::vector<double> w{1, 2, 3, 4, 5};
    const auto s = pk::summarize(w, 10, 90);
    CHECK(s.count == 5);
    CHECK(s.mean == Approx(3));
    CHECK(s.stddev == Approx(std::sqrt(2.0)));
    CHECK(s.lower == Approx(1.4));
    CHECK(s.upper == Approx(4.6));
    std::vector<double> empty;
    CHECK_THROWS_AS(pk::percentile_in_place(empty, 50), std::invalid_argument);
    CHECK_THROWS_WITH(pk::percentile_in_place(v, 101), Catch::Contains("q must be in [0, 100]"));
}

TEST_CASE("fin tip temperature matches the chapter", "[kernels][fin]") {
    CHECK(pk::fin_tip_temperature(50) == Approx(73.60).margin(0.005));
    CHECK(pk::fin_tip_temperature(0) == Approx(100.0));
    pk::fin_parameters longer;
    longer.L = 1.0;
    CHECK(pk::fin_tip_temperature(50, longer) == Approx(25.0).margin(0.01));
    CHECK_THROWS_WITH(pk::fin_tip_temperature(-1), Catch::Contains("h must be finite and >= 0"));
}

TEST_CASE("fin Monte Carlo reproduces the chapter's statistics", "[kernels][fin]") {
    const auto r = pk::fin_monte_carlo();
    CHECK(r.nominal_tip_temperature == Approx(73.60).margin(0.005));
    CHECK(r.tip_temperature.count == 10000);
    CHECK(r.tip_temperature.mean == Approx(73.66).margin(0.1));
    CHECK(r.tip_temperature.stddev == Approx(1.86).margin(0.1));
    CHECK(r.tip_temperature.lower == Approx(70.16).margin(0.25));
    CHECK(r.tip_temperature.upper == Approx(77.48).margin(0.25));
    CHECK(r.h_samples.empty());
}

TEST_CASE("fin Monte Carlo is bit-identical for any n_jobs, chunk size and backend", "[kernels][fin][random]") {
    pk::fin_study_options o;
    o.n_samples = 20'000;
    o.block_size = 1000;
    o.keep_samples = true;
    o.execution.backend = parkit::backend::sequential;
    const auto reference = pk::fin_monte_carlo(o);
    REQUIRE(reference.h_samples.size() == 20'000);
    REQUIRE(reference.tip_temperatures.size() == 20'000);
    CHECK(std::all_of(reference.h_samples.begin(), reference.h_samples.end(), [](double h) { return h > 0; }));
    for (int n_jobs : {1, 2, 3, -1}) {
        for (std::size_t chunk : {0u, 1u, 5u}) {
            CAPTURE(n_jobs, chunk);
            o.execution = {.n_jobs = n_jobs, .chunk_size = chunk};
            const auto r = pk::fin_monte_carlo(o);
            CHECK(r.h_samples == reference.h_samples);
            CHECK(r.tip_temperatures == reference.tip_temperatures);
            CHECK(r.tip_temperature.mean == reference.tip_temperature.mean);
            CHECK(r.tip_temperature.upper == reference.tip_temperature.upper);
        }
    }
    o.seed = 43;
    CHECK(pk::fin_monte_carlo(o).h_samples != reference.h_samples);
}

TEST_CASE("fin Monte Carlo rejects bad settings naming the field", "[kernels][fin][errors]") {
    pk::fin_study_options o;
    o.n_samples = 0;
    CHECK_THROWS_WITH(pk::fin_monte_carlo(o), Catch::Contains("n_samples"));
    o = {};
    o.block_size = 0;
    CHECK_THROWS_WITH(pk::fin_monte_carlo(o), Catch::Contains("block_size"));
    o = {};
    o.h_std = -1;
    CHECK_THROWS_WITH(pk::fin_monte_carlo(o), Catch::Contains("h_std"));
    o = {};
    o.h_nominal = -100;
    CHECK_THROWS_AS(pk::fin_monte_carlo(o), std::invalid_argument);
}
