#include <catch2/catch.hpp>
#include "iota.hpp"

#include <parkit/parkit.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("parallel_map keeps input order on every backend and chunking", "[parallel_map]") {
    std::vector<int> inputs(10'007);
    std::iota(inputs.begin(), inputs.end(), -5000);
    std::vector<long> expected;
    for (int x : inputs) expected.push_back(3L * x + 1);
    auto f = [](int x) { return 3L * x + 1; };
    CHECK(parkit::parallel_map(f, inputs) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.n_jobs = 2}) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.n_jobs = 1}) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.backend = parkit::backend::sequential}) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.chunk_size = 1}) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.chunk_size = 333}) == expected);
    CHECK(parkit::parallel_map(f, inputs, {.chunk_size = 1'000'000}) == expected);  // > input: fine
    CHECK(parkit::parallel_map(f, inputs, {.n_jobs = 7}) == expected);              // > cores
}

TEST_CASE("parallel_map accepts any sized range", "[parallel_map]") {
    auto sq = [](int x) { return x * x; };
    CHECK(parkit::parallel_map(sq, parkit_test::iota(0, 5)) == std::vector<int>{0, 1, 4, 9, 16});
    std::list<int> list{3, 1, 2};
    CHECK(parkit::parallel_map(sq, list) == std::vector<int>{9, 1, 4});
    const std::vector<int> data{1, 2, 3, 4};
    CHECK(parkit::parallel_map(sq, std::span<const int>(data).subspan(1)) == std::vector<int>{4, 9, 16});
    std::map<std::string, int> table{{"a", 1}, {"b", 2}};
    auto keys = parkit::parallel_map([](const auto& kv) { return kv.first + std::to_string(kv.second); }, table);
    CHECK(keys == std::vector<std::string>{"a1", "b2"});
    CHECK(parkit::parallel_map(sq, {5, 6}) == std::vector<int>{25, 36});
}

TEST_CASE("parallel_map on empty input returns an empty result", "[parallel_map]") {
    std::vector<double> none;
    std::atomic<int> calls{0};
    auto out = parkit::parallel_map(
        [&](double x) {
            ++calls;
            return x;
        },
        none);
    CHECK(out.empty());
    CHECK(calls == 0);
    auto collected = parkit::parallel_map([](double x) { return x; }, none, {.on_error = parkit::on_error::collect});
    CHECK(collected.results.empty());
    CHECK(collected.ok());
}

TEST_CASE("parallel_map with void functions runs each element once", "[parallel_map]") {
    std::vector<std::atomic<int>> hits(5000);
    std::vector<std::size_t> idx(hits.size());
    std::iota(idx.begin(), idx.end(), 0);
    parkit::parallel_map([&](std::size_t i) { hits[i].fetch_add(1); }, idx);
    int wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    CHECK(wrong == 0);
    static_assert(std::is_void_v<decltype(parkit::parallel_map([](int) {}, std::vector<int>{}))>);
}

TEST_CASE("parallel_map supports move-only and non-default-constructible results", "[parallel_map]") {
    auto boxes = parkit::parallel_map([](int x) { return std::make_unique<int>(x + 1); }, parkit_test::iota(0, 300));
    REQUIRE(boxes.size() == 300);
    for (int i = 0; i < 300; ++i) CHECK(*boxes[static_cast<std::size_t>(i)] == i + 1);

    struct no_default {
        explicit no_default(int v) : value(v) {}
        int value;
    };
    auto values = parkit::parallel_map([](int x) { return no_default(x * 2); }, parkit_test::iota(0, 100));
    CHECK(values[99].value == 198);

    auto flags = parkit::parallel_map([](int x) { return x % 3 == 0; }, parkit_test::iota(0, 30'000));
    static_assert(std::is_same_v<decltype(flags), std::vector<bool>>);
    CHECK(std::count(flags.begin(), flags.end(), true) == 10'000);
}

TEST_CASE("parallel_map spreads long tasks over all workers", "[parallel_map][chunking]") {
    // 40 tasks of 5 ms: with automatic chunking both workers (threads) must take part.
    std::mutex mutex;
    std::set<std::thread::id> threads;
    parkit::parallel_map(
        [&](int) {
            std::this_thread::sleep_for(5ms);
            std::lock_guard lock(mutex);
            threads.insert(std::this_thread::get_id());
        },
        parkit_test::iota(0, 40), {.n_jobs = 2});
    CHECK(threads.size() == 2);
}

TEST_CASE("a fixed chunk_size still spreads the work over the workers", "[parallel_map][chunking]") {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}}) {
        std::mutex mutex;
        std::set<std::thread::id> threads;
        parkit::parallel_map(
            [&](int) {
                std::this_thread::sleep_for(2ms);
                std::lock_guard lock(mutex);
                threads.insert(std::this_thread::get_id());
            },
            parkit_test::iota(0, 200), {.n_jobs = 2, .chunk_size = chunk});
        CHECK(threads.size() == 2);
    }
}

TEST_CASE("parallel_map with more jobs than cores runs waiting tasks concurrently", "[parallel_map]") {
    // 16 tasks that each wait for all others to start: only possible with 16 concurrent workers.
    std::atomic<int> started{0};
    auto out = parkit::parallel_map(
        [&](int x) {
            ++started;
            const auto deadline = std::chrono::steady_clock::now() + 10s;
            while (started.load() < 16 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
            return started.load() >= 16 ? x : -1;
        },
        parkit_test::iota(0, 16), {.n_jobs = 16});
    CHECK(out == parkit::parallel_map([](int x) { return x; }, parkit_test::iota(0, 16)));
}

TEST_CASE("parallel_map on an explicit pool uses that pool's threads", "[parallel_map][thread_pool]") {
    parkit::thread_pool pool(3);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    auto out = parkit::parallel_map(
        pool,
        [&](int x) {
            std::this_thread::sleep_for(2ms);
            std::lock_guard lock(mutex);
            threads.insert(std::this_thread::get_id());
            return x;
        },
        parkit_test::iota(0, 60));
    CHECK(out.size() == 60);
    CHECK(threads.size() >= 2);
    CHECK(threads.size() <= 3);  // 2 pool workers as runners + the calling thread
}

TEST_CASE("map on a pool counts n_jobs from the pool's size", "[parallel_map][thread_pool]") {
    parkit::thread_pool pool(4);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    auto record = [&](int x) {
        std::this_thread::sleep_for(2ms);
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        return x;
    };
    CHECK(pool.map(record, parkit_test::iota(0, 100), {.n_jobs = -3}).size() == 100);  // 4 - 2 = 2
    CHECK(threads.size() <= 2);
    CHECK_THROWS_AS(pool.map(record, parkit_test::iota(0, 10), {.n_jobs = -5}), std::invalid_argument);
    auto collected = pool.map(record, parkit_test::iota(0, 10), {.n_jobs = 2, .on_error = parkit::on_error::collect});
    CHECK(collected.succeeded() == 10);
    auto via_free_function =
        parkit::parallel_map(pool, record, parkit_test::iota(0, 10), {.on_error = parkit::on_error::collect});
    CHECK(via_free_function.ok());
    auto braced = parkit::parallel_map(record, {1, 2, 3}, {.on_error = parkit::on_error::collect});
    CHECK(braced.values() == std::vector<int>{1, 2, 3});
}

TEST_CASE("sequential backend runs on the calling thread", "[parallel_map]") {
    std::set<std::thread::id> threads;
    parkit::parallel_map([&](int) { threads.insert(std::this_thread::get_id()); }, parkit_test::iota(0, 1000),
                         {.backend = parkit::backend::sequential});
    CHECK(threads == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("repeated small maps are consistent (pool reuse)", "[parallel_map]") {
    std::vector<double> xs(257);
    std::iota(xs.begin(), xs.end(), 0.0);
    const auto first = parkit::parallel_map([](double x) { return std::sqrt(x); }, xs);
    int mismatches = 0;
    for (int round = 0; round < 300; ++round) {
        mismatches += parkit::parallel_map([](double x) { return std::sqrt(x); }, xs) != first;
    }
    CHECK(mismatches == 0);
}

namespace {

/// Threads of this process now, from /proc/self/status (0 when unknown).
int threads_now() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    }
    return 0;
}

}  // namespace

TEST_CASE("n_jobs far above the inputs starts at most one thread per input", "[parallel_map][bad_input]") {
    (void)parkit::parallel_map([](int x) { return x; }, parkit_test::iota(0, 64));  // the process-wide pool exists
    const int before = threads_now();
    for (const int n_jobs : {100000, std::numeric_limits<int>::max()}) {
        std::atomic<int> most{0};
        auto note_threads = [&] {
            const int now = threads_now();
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
        };
        const auto out = parkit::parallel_map(
            [&](int x) {
                note_threads();
                std::this_thread::sleep_for(2ms);
                return 2 * x;
            },
            parkit_test::iota(0, 10), {.n_jobs = n_jobs});
        REQUIRE(out == std::vector<int>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
        if (before > 0) CHECK(most.load() <= before + 9);  // the caller runs one of the 10 itself
        // Fixed chunks: one thread per chunk at most.
        std::atomic<int> calls{0};
        parkit::parallel_for(0, 10,
                             [&](int) {
                                 ++calls;
                                 note_threads();
                             },
                             {.n_jobs = n_jobs, .chunk_size = 5});
        REQUIRE(calls == 10);
        if (before > 0) CHECK(most.load() <= before + 9);
        // On a given pool and on worker processes as well.
        parkit::thread_pool pool(2);
        REQUIRE(pool.map([](int x) { return x + 1; }, std::vector<int>{1, 2, 3}, {.n_jobs = n_jobs}) ==
                std::vector<int>{2, 3, 4});
    }
    REQUIRE(parkit::parallel_map([](int x) { return x + 1; }, std::vector<int>{1, 2, 3},
                                 {.n_jobs = 100000, .backend = parkit::backend::processes}) ==
            std::vector<int>{2, 3, 4});
}

TEST_CASE("a big map of trivially copyable results (pages touched in parallel) returns every value",
          "[parallel_map][big]") {
    constexpr std::size_t n = 3'000'000;  // 24 MB of doubles: above result_store's touch threshold
    const auto out = parkit::parallel_map([](std::size_t i) { return 2.0 * static_cast<double>(i) + 1.0; },
                                          parkit::indices(n), {.n_jobs = 2});
    REQUIRE(out.size() == n);
    bool all_right = true;
    for (std::size_t i = 0; i < n; ++i) all_right = all_right && out[i] == 2.0 * static_cast<double>(i) + 1.0;
    CHECK(all_right);
    // The same through a pool's map, and with a struct result.
    struct pair_result {
        std::uint32_t a;
        float b;
    };
    parkit::thread_pool pool(2);
    const auto pairs = pool.map(
        [](std::size_t i) {
            return pair_result{static_cast<std::uint32_t>(i), 0.5f};
        },
        parkit::indices(n));
    REQUIRE(pairs.size() == n);
    CHECK(pairs[n - 1].a == n - 1);
    CHECK(pairs[12345].b == 0.5f);
}
