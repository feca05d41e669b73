#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

TEST_CASE("available_cores is positive and stable", "[n_jobs]") {
    const int cores = parkit::available_cores();
    CHECK(cores >= 1);
    CHECK(parkit::available_cores() == cores);
}

TEST_CASE("n_jobs follows joblib's rule", "[n_jobs]") {
    const int cores = parkit::available_cores();
    CHECK(parkit::resolve_n_jobs(1) == 1);
    CHECK(parkit::resolve_n_jobs(7) == 7);
    CHECK(parkit::resolve_n_jobs(-1) == cores);
    CHECK(parkit::resolve_n_jobs(-cores) == 1);
    if (cores >= 2) CHECK(parkit::resolve_n_jobs(-2) == cores - 1);
}

TEST_CASE("invalid n_jobs is rejected with a message naming it", "[n_jobs][errors]") {
    const int cores = parkit::available_cores();
    for (int bad : {0, -cores - 1, -1000}) {
        try {
            parkit::resolve_n_jobs(bad);
            FAIL("no exception for n_jobs = " << bad);
        } catch (const std::invalid_argument& e) {
            const std::string what = e.what();
            CHECK(what.find("n_jobs") != std::string::npos);
            CHECK(what.find(std::to_string(bad)) != std::string::npos);
        }
    }
    CHECK_THROWS_AS(parkit::thread_pool(0), std::invalid_argument);
    CHECK_THROWS_AS(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2}, {.n_jobs = 0}),
                    std::invalid_argument);
    CHECK_THROWS_AS(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2}, {.n_jobs = -cores - 1}),
                    std::invalid_argument);
}

TEST_CASE("a map's workers are clamped to its chunks and to max_map_workers", "[n_jobs][bad_input]") {
    using parkit::detail::workers_for_work;
    constexpr int int_max = std::numeric_limits<int>::max();
    constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();
    REQUIRE(workers_for_work(100000, 10, 0) == 10);
    REQUIRE(workers_for_work(int_max, 10, 0) == 10);
    REQUIRE(workers_for_work(8, 100, 30) == 4);  // 4 chunks
    REQUIRE(workers_for_work(3, 10, size_max) == 1);
    REQUIRE(workers_for_work(4, 0, 0) == 1);
    REQUIRE(workers_for_work(2, 1000, 0) == 2);  // below the work: as asked
    REQUIRE(workers_for_work(int_max, size_max, 0) == parkit::detail::max_map_workers);
    REQUIRE(workers_for_work(int_max, size_max, 1) == parkit::detail::max_map_workers);
}
