#include <parkit/parkit.hpp>

#include <catch2/catch.hpp>
#include "iota.hpp"

#include <cmath>
#include <cstdint>
#include <random>
#include <ranges>
#include <set>
#include <vector>

namespace {

std::vector<std::uint64_t> draw(parkit::random_stream g, int n) {
    std::vector<std::uint64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(g());
    return out;
}

}  // namespace

TEST_CASE("random_stream is a uniform random bit generator", "[random]") {
    STATIC_REQUIRE(std::uniform_random_bit_generator<parkit::random_stream>);
    parkit::random_stream g = parkit::seed_sequence{1}.stream(0);
    std::normal_distribution<double> normal(10.0, 2.0);
    double sum = 0;
    for (int i = 0; i < 20000; ++i) sum += normal(g);
    CHECK(sum / 20000 == Approx(10.0).margin(0.1));
}

TEST_CASE("a stream depends only on the root seed and its index", "[random]") {
    const parkit::seed_sequence a{42}, b{42}, c{43};
    CHECK(draw(a.stream(7), 16) == draw(b.stream(7), 16));
    CHECK(draw(a.stream(7), 16) != draw(a.stream(8), 16));
    CHECK(draw(a.stream(7), 16) != draw(c.stream(7), 16));
    CHECK(draw(a.spawn(1).stream(0), 16) == draw(b.spawn(1).stream(0), 16));
    CHECK(draw(a.spawn(1).stream(0), 16) != draw(a.spawn(2).stream(0), 16));
    CHECK(draw(a.spawn(0).stream(0), 16) != draw(a.stream(0), 16));
}

TEST_CASE("neighbouring streams do not collide", "[random]") {
    const parkit::seed_sequence seq{0};
    std::set<std::uint64_t> firsts;
    for (std::uint64_t i = 0; i < 10000; ++i) firsts.insert(seq.stream(i)());
    CHECK(firsts.size() == 10000);
}

TEST_CASE("uniform01 lies in the half-open unit interval with mean one half", "[random]") {
    parkit::random_stream g = parkit::seed_sequence{3}.stream(0);
    double sum = 0, lo = 1, hi = 0;
    for (int i = 0; i < 100000; ++i) {
        const double u = g.uniform01();
        REQUIRE(u >= 0.0);
        REQUIRE(u < 1.0);
        sum += u;
        lo = std::min(lo, u);
        hi = std::max(hi, u);
    }
    CHECK(sum / 100000 == Approx(0.5).margin(0.005));
    CHECK(lo < 0.001);
    CHECK(hi > 0.999);
}

TEST_CASE("per-task streams give identical results for any n_jobs and chunk size", "[random][parallel_map]") {
    const parkit::seed_sequence seq{2024};
    auto sample = [&](int task) {
        parkit::random_stream g = seq.stream(static_cast<std::uint64_t>(task));
        double s = 0;
        for (int k = 0; k < 100; ++k) s += g.uniform01();
        return s;
    };
    const auto tasks = parkit_test::iota(0, 500);
    const auto reference = parkit::parallel_map(sample, tasks, {.backend = parkit::backend::sequential});
    for (int n_jobs : {1, 2, 3, -1}) {
        for (std::size_t chunk : {0u, 1u, 7u, 1000u}) {
            CAPTURE(n_jobs, chunk);
            CHECK(parkit::parallel_map(sample, tasks, {.n_jobs = n_jobs, .chunk_size = chunk}) == reference);
        }
    }
}

TEST_CASE("random_stream normal draws have the right moments and fixed bits on every standard library", "[random]") {
    auto rng = parkit::seed_sequence{42}.stream(0);
    // The exact bits of the first draws (also what the libc++ build prints, see the ctest
    // other_compiler.libcxx_same_draws).
    CHECK(rng.uniform01() == 0x1.1992f09313a48p-1);
    CHECK(rng.normal(50.0, 5.0) == 0x1.849ca96b2f188p+5);
    CHECK(rng.uniform01() == 0x1.33284cbf37aep-3);
    CHECK(rng.normal(50.0, 5.0) == 0x1.8892ac0bafa1dp+5);

    auto g = parkit::seed_sequence{3}.stream(1);
    const int n = 200000;
    double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0;
    int beyond_two = 0;
    for (int i = 0; i < n; ++i) {
        const double z = g.normal();
        sum += z;
        sum2 += z * z;
        sum3 += z * z * z;
        sum4 += z * z * z * z;
        if (std::abs(z) > 2) ++beyond_two;
    }
    CHECK(sum / n == Approx(0).margin(0.01));
    CHECK(sum2 / n == Approx(1).margin(0.01));
    CHECK(sum3 / n == Approx(0).margin(0.03));
    CHECK(sum4 / n == Approx(3).margin(0.06));
    CHECK(static_cast<double>(beyond_two) / n == Approx(0.0455).margin(0.002));
    auto shifted = parkit::seed_sequence{3}.stream(1);
    auto plain = parkit::seed_sequence{3}.stream(1);
    CHECK(shifted.normal(-2.0, 0.5) == -2.0 + 0.5 * plain.normal());
}
