#include <parkit/kernels/fin_monte_carlo.hpp>
#include <parkit/parallel_for.hpp>

#include <catch2/catch.hpp>

#include "piece_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

namespace pk = parkit::kernels;

namespace {

using parkit_test::random_pieces;

/// n values: normal noise, or (with ties) integers 0..9 so that many values repeat.
std::vector<double> random_values(std::size_t n, bool ties, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(73.0, 2.0);
    std::uniform_int_distribution<int> digit(0, 9);
    std::vector<double> v(n);
    for (auto& x : v) x = ties ? digit(rng) : normal(rng);
    return v;
}

/// np.percentile on a copy of `values` (the sequential reference).
double reference_percentile(std::vector<double> values, double q) {
    return pk::percentile_in_place(values, q);
}

/// A parallel for_each for the piecewise statistics: parkit::parallel_for on `n_jobs` threads.
struct threads_for_each {
    int n_jobs = 2;
    template <class Body>
    void operator()(std::size_t n, const Body& body) const {
        parkit::parallel_for(std::size_t{0}, n, body, {.n_jobs = n_jobs, .chunk_size = 3});
    }
};

constexpr double qs[] = {0, 2.5, 25, 33.3, 50, 97.5, 99.9, 100};

}  // namespace

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

TEST_CASE("partial moments merged in order match the moments of the whole", "[kernels][statistics]") {
    const auto values = random_values(100'003, false, 1);
    const auto whole = pk::partial_moments::of(values);
    for (std::size_t max_piece : {1u, 7u, 4096u, 60'000u}) {
        CAPTURE(max_piece);
        pk::partial_moments merged;
        for (const auto& piece : random_pieces(values, max_piece, 2)) merged.merge(pk::partial_moments::of(piece));
        CHECK(merged.count == whole.count);
        CHECK(merged.mean() == Approx(whole.mean()).epsilon(1e-13));
        CHECK(merged.variance() == Approx(whole.variance()).epsilon(1e-12));
    }
    pk::partial_moments none;
    CHECK(none.mean() == 0);
    CHECK(none.variance() == 0);
    CHECK(none.merge({}).count == 0);
}

TEST_CASE("piecewise percentiles equal numpy's on the concatenation", "[kernels][statistics]") {
    for (std::size_t n : {1u, 2u, 3u, 97u, 1009u, 100'003u}) {
        for (bool ties : {false, true}) {
            const auto values = random_values(n, ties, static_cast<unsigned>(n));
            const auto pieces = random_pieces(values, 1 + n / 13, 3);
            // sample_size 1, 4, 16: the bracketed path even on tiny samples; default: the public path.
            for (std::size_t sample_size :
                 {std::size_t{1}, std::size_t{4}, std::size_t{16}, pk::detail::default_percentile_sample}) {
                CAPTURE(n, ties, sample_size);
                const auto sequential =
                    pk::detail::percentiles_of_pieces(pieces, qs, pk::sequential_for_each{}, sample_size);
                const auto parallel = pk::detail::percentiles_of_pieces(pieces, qs, threads_for_each{}, sample_size);
                for (std::size_t k = 0; k < std::size(qs); ++k) {
                    CAPTURE(qs[k]);
                    CHECK(sequential[k] == reference_percentile(values, qs[k]));
                    CHECK(parallel[k] == sequential[k]);
                }
            }
        }
    }
}

TEST_CASE("piecewise percentiles fall back when the bracket misses", "[kernels][statistics]") {
    // Every 25th value (the strided sample of 100 values with sample_size 4) is 0, the others
    // increase: the sample brackets nothing but zeros, so the median's bracket misses.
    std::vector<double> values(100);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = i % 25 == 0 ? 0.0 : static_cast<double>(i);
    const std::vector<std::span<const double>> pieces{std::span<const double>(values)};
    const auto p = pk::detail::percentiles_of_pieces(pieces, qs, pk::sequential_for_each{}, 4);
    for (std::size_t k = 0; k < std::size(qs); ++k) CHECK(p[k] == reference_percentile(values, qs[k]));
}

TEST_CASE("summarize_pieces matches summarize", "[kernels][statistics]") {
    const auto values = random_values(200'000, false, 5);
    const auto pieces = random_pieces(values, 5000, 6);
    const auto whole = pk::summarize(values, 2.5, 97.5);
    for (const auto& s : {pk::summarize_pieces(pieces), pk::summarize_pieces(pieces, 2.5, 97.5, threads_for_each{7})}) {
        CHECK(s.count == whole.count);
        CHECK(s.lower == whole.lower);
        CHECK(s.upper == whole.upper);
        CHECK(s.mean == whole.mean);  // numpy's summation order over the concatenation
        CHECK(s.stddev == whole.stddev);
    }
    std::vector<pk::partial_moments> moments;
    for (const auto& piece : pieces) moments.push_back(pk::partial_moments::of(piece));
    const auto merged = pk::summarize_pieces(pieces, moments, 2.5, 97.5, threads_for_each{3});
    CHECK(merged.lower == whole.lower);
    CHECK(merged.upper == whole.upper);
    CHECK(merged.mean == Approx(whole.mean).epsilon(1e-13));  // Chan's merge: to rounding
    CHECK(merged.stddev == Approx(whole.stddev).epsilon(1e-12));
    const auto small = pk::summarize_pieces(random_pieces(values, 3, 7), 10, 90);
    CHECK(small.lower == pk::summarize(values, 10, 90).lower);

    const std::vector<pk::partial_moments> too_few(1);
    CHECK_THROWS_WITH(pk::summarize_pieces(pieces, too_few), Catch::Contains("moments"));
    const std::vector<std::span<const double>> empty{std::span<const double>()};
    CHECK_THROWS_AS(pk::summarize_pieces(empty), std::invalid_argument);
    CHECK_THROWS_WITH(pk::summarize_pieces(pieces, -1, 50), Catch::Contains("q must be in [0, 100]"));
    CHECK_THROWS_WITH(pk::percentiles_of_pieces(pieces, std::vector<double>{101}),
                      Catch::Contains("q must be in [0, 100]"));
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

namespace {

/// Every field of two summaries is the same double.
bool same_summary(const pk::sample_summary& a, const pk::sample_summary& b) {
    return a.count == b.count && a.mean == b.mean && a.stddev == b.stddev && a.lower == b.lower && a.upper == b.upper;
}

/// Checks that `o` gives `reference` for n_jobs 1, 2, 7, -1, chunk sizes 0, 1, 5, the thread
/// and process backends, with and without keep_samples.
void check_identical_everywhere(pk::fin_study_options o, const pk::fin_study_result& reference) {
    for (auto backend : {parkit::backend::threads, parkit::backend::processes}) {
        for (int n_jobs : {1, 2, 7, -1}) {
            for (std::size_t chunk : {0u, 1u, 5u}) {
                CAPTURE(static_cast<int>(backend), n_jobs, chunk);
                o.execution = {.n_jobs = n_jobs, .backend = backend, .chunk_size = chunk};
                o.keep_samples = true;
                const auto r = pk::fin_monte_carlo(o);
                CHECK(r.h_samples == reference.h_samples);
                CHECK(r.tip_temperatures == reference.tip_temperatures);
                CHECK(same_summary(r.tip_temperature, reference.tip_temperature));
                o.keep_samples = false;
                const auto lean = pk::fin_monte_carlo(o);
                CHECK(lean.h_samples.empty());
                CHECK(lean.tip_temperatures.empty());
                CHECK(same_summary(lean.tip_temperature, reference.tip_temperature));
            }
        }
    }
}

/// The kernel's summary against `summarize` on its kept temperatures: the percentiles are the
/// same order statistics, mean and std agree to rounding (moments merged per block).
void check_against_summarize(const pk::fin_study_result& r) {
    const auto whole = pk::summarize(r.tip_temperatures);
    CHECK(r.tip_temperature.count == whole.count);
    CHECK(r.tip_temperature.lower == whole.lower);
    CHECK(r.tip_temperature.upper == whole.upper);
    CHECK(r.tip_temperature.mean == Approx(whole.mean).epsilon(1e-12));
    CHECK(r.tip_temperature.stddev == Approx(whole.stddev).epsilon(1e-12));
}

}  // namespace

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
    check_against_summarize(reference);
    check_identical_everywhere(o, reference);
    o.seed = 43;
    CHECK(pk::fin_monte_carlo(o).h_samples != reference.h_samples);
}

TEST_CASE("fin Monte Carlo's bracketed percentiles are bit-identical and exact", "[kernels][fin][random]") {
    pk::fin_study_options o;
    o.n_samples = 150'001;  // over 2 x 32,768: the bracketed selection; a last, short block
    o.keep_samples = true;
    o.execution.backend = parkit::backend::sequential;
    const auto reference = pk::fin_monte_carlo(o);
    check_against_summarize(reference);
    check_identical_everywhere(o, reference);
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
    o.h_nominal = -30;  // P(h > 0) = 1e-9: refused instead of redrawing for days
    o.h_std = 5;
    CHECK_THROWS_WITH(pk::fin_monte_carlo(o), Catch::Contains("fin_min_positive_probability"));
}
