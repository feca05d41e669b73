// parkit::threads::parallel_map, from its own header only: the same results, errors and
// progress as parkit::parallel_map on threads, and a clear error for an option it cannot apply.
#include <catch2/catch.hpp>

#include <parkit/thread_map.hpp>

#include <atomic>
#include <filesystem>
#include <list>
#include <stdexcept>
#include <vector>

using Catch::Matchers::Contains;

TEST_CASE("threads::parallel_map returns the results in input order", "[thread_map]") {
    std::vector<int> xs(10'000);
    for (int i = 0; i < 10'000; ++i) xs[static_cast<std::size_t>(i)] = i;
    auto square = [](int x) { return static_cast<long>(x) * x; };
    const std::vector<long> ys = parkit::threads::parallel_map(square, xs);
    REQUIRE(ys.size() == xs.size());
    for (std::size_t i = 0; i < ys.size(); ++i) CHECK(ys[i] == static_cast<long>(i) * static_cast<long>(i));
    // Any sized range, any n_jobs, fixed chunks, the calling thread alone.
    const std::list<int> some{3, 1, 2};
    CHECK(parkit::threads::parallel_map(square, some, {.n_jobs = 2, .chunk_size = 1}) == std::vector<long>{9, 1, 4});
    CHECK(parkit::threads::parallel_map(square, some, {.backend = parkit::backend::sequential}) ==
          std::vector<long>{9, 1, 4});
    CHECK(parkit::threads::parallel_map(square, std::vector<int>{}).empty());
}

TEST_CASE("threads::parallel_map raises the first failure or collects every one", "[thread_map]") {
    const std::vector<int> xs{0, 1, 2, 3, 4, 5};
    auto odd_fails = [](int x) {
        if (x % 2 == 1) throw std::runtime_error("odd");
        return x;
    };
    try {
        (void)parkit::threads::parallel_map(odd_fails, xs, {.chunk_size = 1});
        FAIL("no task_error");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 1);
    }
    const parkit::collected<int> all =
        parkit::threads::parallel_map(odd_fails, xs, {.chunk_size = 1, .on_error = parkit::on_error::collect});
    CHECK(all.succeeded() == 3);
    CHECK(all.values() == std::vector<int>{0, 2, 4});
    REQUIRE(all.errors.size() == 3);
    CHECK(all.errors[0].index == 1);
    CHECK(all.errors[2].index == 5);
}

TEST_CASE("threads::parallel_map reports progress and nests", "[thread_map]") {
    std::atomic<std::size_t> last{0};
    const std::vector<int> xs(100, 1);
    const auto sums = parkit::threads::parallel_map(
        [](int x) { return parkit::threads::parallel_map([](int y) { return y + 1; }, std::vector<int>(10, x)); }, xs,
        {.n_jobs = 2, .on_progress = [&](const parkit::progress_info& p) { last = p.done; }});
    REQUIRE(sums.size() == 100);
    CHECK(sums[99] == std::vector<int>(10, 2));
    CHECK(last == 100);
}

TEST_CASE("threads::parallel_map refuses every option only other backends read, naming it", "[thread_map][bad_input]") {
    const std::vector<int> xs{1, 2, 3};
    auto twice = [](int x) { return 2 * x; };
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, {.backend = parkit::backend::processes}),
                      Contains("parkit::threads::parallel_map: options.backend = processes cannot apply") &&
                          Contains("threads only") && Contains("<parkit/parallel_map.hpp>"));
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, {.backend = parkit::backend::mpi}),
                      Contains("options.backend = mpi cannot apply"));
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, {.task_timeout_s = 0.1}),
                      Contains("parkit::threads::parallel_map") && Contains("options.task_timeout_s"));
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, {.max_in_flight = 4}),
                      Contains("options.max_in_flight"));
    parkit::options mpi_set;
    mpi_set.mpi.threads_per_rank = 2;
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, mpi_set), Contains("options.mpi"));
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs, {.n_jobs = 0}), Contains("n_jobs"));
    CHECK_THROWS_AS(parkit::threads::parallel_map(static_cast<int (*)(int)>(nullptr), xs), std::invalid_argument);
    CHECK_THROWS_WITH(parkit::threads::parallel_map(twice, xs,
                                                    parkit::collect_options{.backend = parkit::backend::processes,
                                                                            .on_error = parkit::on_error::collect}),
                      Contains("options.backend = processes"));
}
