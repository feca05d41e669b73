// options::task_timeout_s on threads and sequentially: a task over the limit fails the call
// with timeout_error (the task finishes in the background), within the limit nothing changes.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <parkit/parallel_map.hpp>
#include <parkit/thread_pool.hpp>

namespace {

std::vector<int> first_integers(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
}

}  // namespace

TEST_CASE("task_timeout_s on threads: a task over the limit throws timeout_error naming the pending tasks") {
    using namespace std::chrono_literals;
    for (auto b : {parkit::backend::threads, parkit::backend::sequential}) {
        const auto start = std::chrono::steady_clock::now();
        try {
            (void)parkit::parallel_map(
                [](int x) {
                    if (x == 3) std::this_thread::sleep_for(3s);
                    return x;
                },
                first_integers(20), {.n_jobs = 2, .backend = b, .task_timeout_s = 0.2});
            FAIL("no timeout");
        } catch (const parkit::timeout_error& e) {
            REQUIRE(e.pending() >= 1);
            REQUIRE(std::string(e.what()).find("task_timeout_s") != std::string::npos);
            REQUIRE(std::string(e.what()).find("of 20 tasks still pending") != std::string::npos);
        }
        REQUIRE(std::chrono::steady_clock::now() - start < 2s);  // did not wait for the 3 s task
    }
}

TEST_CASE("task_timeout_s within the limit gives the same results, errors and collect as without") {
    const auto xs = first_integers(500);
    const auto twice = [](int x) { return 2 * x; };
    REQUIRE(parkit::parallel_map(twice, xs, {.n_jobs = 2, .task_timeout_s = 5.0}) == parkit::parallel_map(twice, xs));
    auto throwing = [](int x) {
        if (x % 100 == 7) throw std::domain_error("bad " + std::to_string(x));
        return x;
    };
    auto collected =
        parkit::parallel_map(throwing, xs, {.n_jobs = 2, .on_error = parkit::on_error::collect, .task_timeout_s = 5.0});
    REQUIRE(collected.errors.size() == 5);
    REQUIRE(collected.errors.front().index == 7);
    REQUIRE(*collected.results[8] == 8);
    try {
        (void)parkit::parallel_map(throwing, xs, {.backend = parkit::backend::sequential, .task_timeout_s = 5.0});
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        REQUIRE(e.index() == 7);
    }
    std::atomic<int> calls{0};
    parkit::parallel_map([&calls](int) { calls.fetch_add(1); }, xs, {.n_jobs = 2, .task_timeout_s = 5.0});
    REQUIRE(calls.load() == 500);
}

TEST_CASE("task_timeout_s is refused where it cannot be honoured, with the call and the option named") {
    std::vector<std::unique_ptr<int>> move_only;
    move_only.push_back(std::make_unique<int>(1));
    REQUIRE_THROWS_WITH(parkit::parallel_map([](const std::unique_ptr<int>& p) { return *p; }, move_only,
                                             {.task_timeout_s = 1.0}),
                        Catch::Contains("task_timeout_s") && Catch::Contains("copyable"));
    REQUIRE_THROWS_WITH(parkit::parallel_map([](int x) { return x; }, first_integers(3),
                                             {.backend = parkit::backend::mpi, .task_timeout_s = 1.0}),
                        Catch::Contains("task_timeout_s") && Catch::Contains("mpi"));
    parkit::thread_pool pool(2);
    REQUIRE_THROWS_WITH(pool.map([](int x) { return x; }, first_integers(3), {.task_timeout_s = 1.0}),
                        Catch::Contains("parkit::thread_pool::map") && Catch::Contains("task_timeout_s"));
}
