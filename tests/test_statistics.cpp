// numpy parity of parkit/kernels/statistics.hpp: means, standard deviations (ddof 0 and 1)
// and percentiles (every method) against numpy 1.24's answers committed in
// reference/statistics_reference.hpp (made by reference/make_statistics_reference.py from the
// same formula for the data), bit for bit; NaN policies; the piecewise path against the
// contiguous one for any cut and any for_each.
#include <parkit/kernels/statistics.hpp>

#include <catch2/catch.hpp>

#include "piece_support.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reference/statistics_reference.hpp"

namespace pk = parkit::kernels;
namespace ref = stats_reference;

namespace {

// --- the data formula of make_statistics_reference.py ------------------------------------------
enum family : int { random_family = 0, offset_family = 1, ties_family = 2, large_family = 3, nans_family = 4 };

std::uint64_t splitmix64(std::uint64_t x) {
    std::uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double value(int fam, std::size_t n, std::size_t i) {
    const std::uint64_t seed = (static_cast<std::uint64_t>(fam) * 1000003u + n) * 0x100000001ull + i;
    const double u = static_cast<double>(splitmix64(seed) >> 11) * 0x1p-53;
    switch (fam) {
        case random_family:
            return (u - 0.5) * 200.0;
        case offset_family:
            return 1e9 + u;
        case ties_family:
            return std::floor(u * 10.0);
        case large_family:
            return u * 1e9 + static_cast<double>(i);
        case nans_family:
            return (i * 7 + n) % 11 == 0 ? std::nan("") : (u - 0.5) * 200.0;
        default:
            throw std::logic_error("no such family");
    }
}

std::vector<double> data(int fam, std::size_t n) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = value(fam, n, i);
    return x;
}

// --- helpers -------------------------------------------------------------------------------------

/// The same double, NaN equal to NaN (0 and -0 equal, as numpy's answers do not distinguish).
bool same(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

constexpr pk::percentile_method all_methods[] = {pk::percentile_method::linear, pk::percentile_method::lower,
                                                 pk::percentile_method::higher, pk::percentile_method::nearest,
                                                 pk::percentile_method::midpoint};

using parkit_test::random_pieces;

/// A parallel for_each on plain threads, bodies claimed from the top down (so out of order).
struct threads_for_each {
    unsigned threads = 3;
    template <class Body>
    void operator()(std::size_t n, const Body& body) const {
        std::atomic<std::size_t> left{n};
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (std::size_t k; (k = left.fetch_sub(1)) > 0 && k <= n;) body(k - 1);
            });
        for (auto& th : pool) th.join();
    }
};

bool same_summary(const pk::sample_summary& a, const pk::sample_summary& b) {
    return a.count == b.count && a.nans == b.nans && same(a.mean, b.mean) && same(a.stddev, b.stddev) &&
           same(a.lower, b.lower) && same(a.upper, b.upper);
}

/// Checks that `f` throws std::invalid_argument naming `where` and saying the data contain NaN.
template <class F>
void check_raises_nan(F&& f, const std::string& where) {
    try {
        f();
        FAIL_CHECK("no exception from " << where);
    } catch (const std::invalid_argument& e) {
        CHECK_THAT(e.what(), Catch::Contains(where) && Catch::Contains("contains NaN"));
    }
}

}  // namespace

TEST_CASE("mean and std equal numpy's bit for bit for every size", "[kernels][statistics][numpy]") {
    for (const auto& c : ref::moments) {
        const auto x = data(c.family, c.n);
        const pk::nan_policy nans = c.family == nans_family ? pk::nan_policy::omit : pk::nan_policy::propagate;
        CAPTURE(c.family, c.n);
        const auto s0 = pk::summarize(x, {.ddof = 0, .nans = nans});
        const auto s1 = pk::summarize(x, {.ddof = 1, .nans = nans});
        CHECK(same(s0.mean, c.mean));
        CHECK(same(s0.stddev, c.std0));
        CHECK(same(s1.mean, c.mean));
        CHECK(same(s1.stddev, c.std1));
        const auto m = pk::partial_moments::of(x, nans);
        CHECK(same(m.mean(), c.mean));
        CHECK(same(std::sqrt(m.variance(0)), c.std0));
        CHECK(same(std::sqrt(m.variance(1)), c.std1));
        // the piecewise path: numpy's chunks of the concatenation, any cut, any for_each
        for (std::size_t max_piece : {std::size_t{1}, std::size_t{5}, std::size_t{4096}, 1 + c.n / 3}) {
            const auto pieces = random_pieces(x, max_piece, static_cast<unsigned>(c.n + max_piece));
            CAPTURE(max_piece);
            CHECK(same_summary(pk::summarize_pieces(pieces, {.ddof = 1, .nans = nans}), s1));
            CHECK(same_summary(pk::summarize_pieces(pieces, {.nans = nans}, threads_for_each{}), s0));
        }
    }
}

TEST_CASE("std of data offset by 1e9 keeps numpy's accuracy", "[kernels][statistics][numpy]") {
    // Values 1e9 + u, u uniform in [0, 1): the std is 1/sqrt(12) ~ 0.2887 to a few 1e-8 (the
    // data are rounded to 1.2e-7) and numpy's two-pass result is matched exactly.
    for (const auto& c : ref::moments) {
        if (c.family != offset_family || c.n < 1000) continue;
        CAPTURE(c.n);
        const auto s = pk::summarize(data(offset_family, c.n));
        CHECK(s.stddev == c.std0);
        CHECK(s.stddev == Approx(1.0 / std::sqrt(12.0)).epsilon(0.02));
    }
}

TEST_CASE("percentiles equal numpy's for every method, size and q", "[kernels][statistics][numpy]") {
    const std::size_t nq = ref::qs.size();
    for (const auto& c : ref::percentiles) {
        const auto x = data(c.family, c.n);
        const pk::nan_policy nans = c.family == nans_family ? pk::nan_policy::omit : pk::nan_policy::propagate;
        const auto pieces = random_pieces(x, 1 + c.n / 7, static_cast<unsigned>(c.n));
        for (std::size_t m = 0; m < ref::methods; ++m) {
            const pk::percentile_options o{.method = all_methods[m], .nans = nans};
            CAPTURE(c.family, c.n, m);
            const auto bracketed = pk::detail::percentiles_of_pieces(pieces, ref::qs, pk::sequential_for_each{}, 4, o);
            const auto parallel = pk::percentiles_of_pieces(pieces, ref::qs, o, threads_for_each{});
            for (std::size_t k = 0; k < nq; ++k) {
                CAPTURE(ref::qs[k]);
                const double expected = c.p[m * nq + k];
                std::vector<double> copy = x;
                CHECK(same(pk::percentile_in_place(copy, ref::qs[k], o), expected));
                CHECK(same(bracketed[k], expected));
                CHECK(same(parallel[k], expected));
            }
            const auto s =
                pk::summarize(x,
                              {.lower_q = ref::qs[1], .upper_q = ref::qs[5], .nans = nans, .method = all_methods[m]});
            CHECK(same(s.lower, c.p[m * nq + 1]));
            CHECK(same(s.upper, c.p[m * nq + 5]));
        }
    }
}

TEST_CASE("infinities give numpy's answers, NaNs included", "[kernels][statistics][numpy]") {
    const std::size_t nq = ref::qs.size();
    for (const auto& c : ref::explicit_cases) {
        CAPTURE(c.x);
        const auto s = pk::summarize(c.x, {.ddof = 1});
        CHECK(same(s.mean, c.mean));
        CHECK(same(s.stddev, c.std1));
        CHECK(same(pk::summarize(c.x).stddev, c.std0));
        const std::vector<std::span<const double>> pieces{std::span<const double>(c.x).first(1),
                                                          std::span<const double>(c.x).subspan(1)};
        for (std::size_t m = 0; m < ref::methods; ++m) {
            const pk::percentile_options o{.method = all_methods[m]};
            const auto p = pk::detail::percentiles_of_pieces(pieces, ref::qs, pk::sequential_for_each{}, 1, o);
            for (std::size_t k = 0; k < nq; ++k) {
                CAPTURE(m, ref::qs[k]);
                std::vector<double> copy = c.x;
                CHECK(same(pk::percentile_in_place(copy, ref::qs[k], o), c.p[m * nq + k]));
                CHECK(same(p[k], c.p[m * nq + k]));
            }
        }
    }
}

TEST_CASE("NaN propagates, is omitted or raises, the same in every path", "[kernels][statistics][nan]") {
    for (std::size_t n : {11u, 13u, 1000u, 100'000u}) {  // sizes whose data hold a NaN
        const auto x = data(nans_family, n);
        const auto pieces = random_pieces(x, 1 + n / 5, 9);
        std::vector<pk::partial_moments> omit_moments;
        std::vector<pk::partial_moments> plain_moments;
        for (const auto& piece : pieces) {
            omit_moments.push_back(pk::partial_moments::of(piece, pk::nan_policy::omit));
            plain_moments.push_back(pk::partial_moments::of(piece));
        }
        const std::size_t nans = pk::detail::count_nans(x);
        REQUIRE(nans > 0);
        CAPTURE(n);

        // propagate (the default): every statistic is NaN, like np.mean / np.std / np.percentile
        const auto p = pk::summarize(x);
        CHECK(p.count == n);
        CHECK(p.nans == nans);
        CHECK((std::isnan(p.mean) && std::isnan(p.stddev) && std::isnan(p.lower) && std::isnan(p.upper)));
        CHECK(same_summary(pk::summarize_pieces(pieces), p));
        CHECK(same_summary(pk::summarize_pieces(pieces, {}, threads_for_each{}), p));
        CHECK(same_summary(pk::summarize_pieces(pieces, plain_moments), p));
        CHECK(same_summary(pk::summarize_pieces(pieces, omit_moments, pk::summary_options{}), p));
        for (double v : pk::percentiles_of_pieces(pieces, ref::qs)) CHECK(std::isnan(v));
        std::vector<double> copy = x;
        CHECK(std::isnan(pk::percentile_in_place(copy, 50)));

        // omit: np.nan*; the contiguous and the piecewise path agree bit for bit
        const pk::summary_options omit{.ddof = 1, .nans = pk::nan_policy::omit};
        const auto o = pk::summarize(x, omit);
        CHECK(o.count == n - nans);
        CHECK(o.nans == nans);
        CHECK(same_summary(pk::summarize_pieces(pieces, omit), o));
        CHECK(same_summary(pk::summarize_pieces(pieces, omit, threads_for_each{2}), o));
        const auto om = pk::summarize_pieces(pieces, omit_moments, omit, threads_for_each{});
        CHECK(om.count == o.count);
        CHECK(om.nans == o.nans);
        CHECK(same(om.lower, o.lower));
        CHECK(same(om.upper, o.upper));
        if (o.count > 1) {
            CHECK(om.mean == Approx(o.mean).epsilon(1e-13));
            CHECK(om.stddev == Approx(o.stddev).epsilon(1e-12));
        }
        // moments taken with propagate cannot serve omit
        CHECK_THROWS_WITH(pk::summarize_pieces(pieces, plain_moments, omit),
                          Catch::Contains("summarize_pieces") && Catch::Contains("nan_policy::omit"));

        // raise: every entry point throws naming itself
        const pk::summary_options raise{.nans = pk::nan_policy::raise};
        check_raises_nan([&] { (void)pk::summarize(x, raise); }, "parkit::kernels::summarize:");
        check_raises_nan([&] { (void)pk::summarize_pieces(pieces, raise); }, "summarize_pieces");
        check_raises_nan([&] { (void)pk::summarize_pieces(pieces, plain_moments, raise); }, "summarize_pieces");
        check_raises_nan([&] { (void)pk::percentiles_of_pieces(pieces, ref::qs, {.nans = pk::nan_policy::raise}); },
                         "percentiles_of_pieces");
        check_raises_nan([&] { (void)pk::percentile_in_place(copy, 50, {.nans = pk::nan_policy::raise}); },
                         "percentile_in_place");
        check_raises_nan([&] { (void)pk::partial_moments::of(x, pk::nan_policy::raise); }, "partial_moments::of");
        // ... and is numpy's default when there is no NaN
        const auto clean = data(random_family, n);
        CHECK(same_summary(pk::summarize(clean, raise), pk::summarize(clean)));
    }
}

TEST_CASE("all-NaN data and ddof >= count give NaN, as numpy", "[kernels][statistics][nan]") {
    const std::vector<double> all_nan(20, std::nan(""));
    const std::vector<std::span<const double>> pieces{std::span<const double>(all_nan).first(7),
                                                      std::span<const double>(all_nan).subspan(7)};
    const pk::summary_options omit{.nans = pk::nan_policy::omit};
    for (const auto& s : {pk::summarize(all_nan, omit), pk::summarize_pieces(pieces, omit)}) {
        CHECK(s.count == 0);
        CHECK(s.nans == 20);
        CHECK((std::isnan(s.mean) && std::isnan(s.stddev) && std::isnan(s.lower) && std::isnan(s.upper)));
    }
    std::vector<double> copy = all_nan;
    CHECK(std::isnan(pk::percentile_in_place(copy, 50, {.nans = pk::nan_policy::omit})));

    const std::vector<double> three{1, 2, 4};
    CHECK(pk::summarize(three, {.ddof = 2}).stddev == 2.1602468994692865);  // np.std([1, 2, 4], ddof=2)
    CHECK(std::isnan(pk::summarize(three, {.ddof = 3}).stddev));
    CHECK(std::isnan(pk::summarize(three, {.ddof = 30}).stddev));
    CHECK(pk::summarize(three, {.ddof = 3}).mean == 2.3333333333333335);  // the rest stays valid
    CHECK(std::isnan(pk::partial_moments::of(three).variance(3)));
    CHECK(pk::summarize(std::vector<double>{5}).stddev == 0);
}

TEST_CASE("default options are numpy's defaults and the old forms", "[kernels][statistics]") {
    const auto x = data(random_family, 5000);
    const auto pieces = random_pieces(x, 700, 4);
    CHECK(same_summary(pk::summarize(x), pk::summarize(x, pk::summary_options{})));
    CHECK(same_summary(pk::summarize(x, 10, 90), pk::summarize(x, {.lower_q = 10, .upper_q = 90})));
    CHECK(same_summary(pk::summarize_pieces(pieces, 10, 90), pk::summarize(x, 10, 90)));
    CHECK(same_summary(pk::summarize_pieces(pieces, 10, 90, threads_for_each{}), pk::summarize(x, 10, 90)));
    std::vector<double> copy = x;
    CHECK(pk::percentile_in_place(copy, 33) == pk::percentile_in_place(copy, 33, {}));
}

TEST_CASE("bad statistics options are refused naming the call and the argument", "[kernels][statistics][errors]") {
    const auto x = data(random_family, 10);
    const std::vector<std::span<const double>> pieces{std::span<const double>(x)};
    const auto bad_policy = static_cast<pk::nan_policy>(7);
    const auto bad_method = static_cast<pk::percentile_method>(9);
    CHECK_THROWS_WITH(pk::summarize(x, {.nans = bad_policy}),
                      Catch::Contains("parkit::kernels::summarize") && Catch::Contains("options.nans"));
    CHECK_THROWS_WITH(pk::summarize(x, {.method = bad_method}), Catch::Contains("options.method"));
    CHECK_THROWS_WITH(pk::summarize_pieces(pieces, {.lower_q = -1}),
                      Catch::Contains("summarize_pieces") && Catch::Contains("options.lower_q must be in [0, 100]"));
    CHECK_THROWS_WITH(pk::summarize(x, {.upper_q = std::nan("")}), Catch::Contains("options.upper_q"));
    CHECK_THROWS_WITH(pk::summarize(x, 2.5, 101), Catch::Contains("q must be in [0, 100]"));
    std::vector<double> copy = x;
    CHECK_THROWS_WITH(pk::percentile_in_place(copy, 50, {.method = bad_method}),
                      Catch::Contains("percentile_in_place") && Catch::Contains("options.method"));
    CHECK_THROWS_WITH(pk::percentiles_of_pieces(pieces, ref::qs, {.nans = bad_policy}),
                      Catch::Contains("percentiles_of_pieces") && Catch::Contains("options.nans"));
    CHECK_THROWS_WITH(pk::partial_moments::of(x, bad_policy), Catch::Contains("partial_moments::of"));
    CHECK_THROWS_WITH(pk::summarize(std::vector<double>{}), Catch::Contains("values is empty"));
    std::vector<double> none;
    CHECK_THROWS_WITH(pk::percentile_in_place(none, 5), Catch::Contains("values is empty"));
    const std::vector<std::span<const double>> empty{std::span<const double>()};
    CHECK_THROWS_WITH(pk::summarize_pieces(empty, pk::summary_options{}), Catch::Contains("pieces hold no values"));
    const std::vector<pk::partial_moments> wrong(1, pk::partial_moments{.count = 3});
    CHECK_THROWS_WITH(pk::summarize_pieces(pieces, wrong), Catch::Contains("moments[0] has count 3"));
}
