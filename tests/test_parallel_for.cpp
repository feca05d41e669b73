#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <parkit/parallel_for.hpp>

TEST_CASE("parallel_for visits every index exactly once at sizes 0, 1, prime and large", "[parallel_for]") {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7919}, std::size_t{200'000}}) {
        std::vector<std::atomic<int>> visits(n);
        parkit::parallel_for(std::size_t{0}, n, [&](std::size_t i) { visits[i].fetch_add(1); }, {.n_jobs = 2});
        for (std::size_t i = 0; i < n; ++i) REQUIRE(visits[i].load() == 1);
    }
}

TEST_CASE("parallel_for handles offsets, negative and reversed ranges and mixed index types", "[parallel_for]") {
    std::vector<int> seen(20, 0);
    parkit::parallel_for(-10, 10, [&](int i) { seen[static_cast<std::size_t>(i + 10)] = i; });
    for (int i = -10; i < 10; ++i) REQUIRE(seen[static_cast<std::size_t>(i + 10)] == i);

    std::atomic<int> calls{0};
    parkit::parallel_for(5, 5, [&](int) { ++calls; });
    parkit::parallel_for(5, -5, [&](int) { ++calls; });
    REQUIRE(calls.load() == 0);

    const std::vector<double> v(100, 1.0);
    std::vector<double> out(v.size());
    parkit::parallel_for(0, v.size(), [&](std::size_t i) { out[i] = 2 * v[i]; });
    REQUIRE(out == std::vector<double>(100, 2.0));

    // The whole range of a small signed type, without overflow.
    std::atomic<int> count{0};
    parkit::parallel_for(std::numeric_limits<std::int8_t>::min(), std::numeric_limits<std::int8_t>::max(),
                         [&](std::int8_t) { ++count; });
    REQUIRE(count.load() == 255);
}

TEST_CASE("parallel_for with fixed chunks, sequential backend and progress", "[parallel_for]") {
    std::vector<int> out(1000, 0);
    std::size_t reported = 0;
    parkit::parallel_for(0, 1000, [&](int i) { out[static_cast<std::size_t>(i)] = i * i; },
                         {.n_jobs = 2, .chunk_size = 64, .on_progress = [&](const parkit::progress_info& p) {
                              reported = p.done;
                          }});
    for (int i = 0; i < 1000; ++i) REQUIRE(out[static_cast<std::size_t>(i)] == i * i);
    REQUIRE(reported == 1000);

    std::vector<int> seq(10, 0);
    parkit::parallel_for(0, 10, [&](int i) { seq[static_cast<std::size_t>(i)] = 1; },
                         {.backend = parkit::backend::sequential});
    REQUIRE(seq == std::vector<int>(10, 1));
}

TEST_CASE("parallel_for reports the failing position and refuses bad options", "[parallel_for]") {
    try {
        parkit::parallel_for(100, 200, [](int i) {
            if (i == 142) throw std::runtime_error("bad index");
        });
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        REQUIRE(e.index() == 42);
        REQUIRE(std::string(e.what()).find("bad index") != std::string::npos);
    }
    REQUIRE_THROWS_AS(parkit::parallel_for(0, 10, [](int) {}, {.backend = parkit::backend::processes}),
                      std::invalid_argument);
    REQUIRE_THROWS_AS(parkit::parallel_for(0, 10, [](int) {}, {.n_jobs = 0}), std::invalid_argument);
    REQUIRE_THROWS_AS(parkit::parallel_reduce(0, 10, 0, [](int i) { return i; }, std::plus<>{},
                                              {.backend = parkit::backend::processes}),
                      std::invalid_argument);
}

TEST_CASE("parallel_reduce is correct at sizes 0, 1, prime and large", "[parallel_reduce]") {
    auto sum_to = [](std::int64_t n) {
        return parkit::parallel_reduce(std::int64_t{0}, n, std::int64_t{0}, [](std::int64_t i) { return i; },
                                       std::plus<>{}, {.n_jobs = 2});
    };
    REQUIRE(sum_to(0) == 0);
    REQUIRE(sum_to(1) == 0);
    REQUIRE(sum_to(7919) == 7919LL * 7918 / 2);
    REQUIRE(sum_to(1'000'003) == 1'000'003LL * 1'000'002 / 2);
    REQUIRE(parkit::parallel_reduce(
                3, 3, 17, [](int i) { return i; }, std::plus<>{}) == 17);
    REQUIRE(parkit::parallel_reduce(
                0, 1, 17, [](int i) { return i + 5; }, std::plus<>{}) == 22);
}

TEST_CASE("parallel_reduce keeps the order of a non-commutative reduction", "[parallel_reduce]") {
    // String concatenation is associative but not commutative.
    auto digits = [](int i) { return std::string(1, static_cast<char>('0' + i % 10)); };
    auto concat = [](std::string a, const std::string& b) { return a + b; };
    std::string expected = ">";
    for (int i = 0; i < 997; ++i) expected += digits(i);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{13}, std::size_t{5000}}) {
        REQUIRE(parkit::parallel_reduce(0, 997, std::string(">"), digits, concat, {.n_jobs = 2, .chunk_size = chunk}) ==
                expected);
    }
}

TEST_CASE("parallel_reduce floating-point sums are bit-identical across n_jobs and backends", "[parallel_reduce]") {
    auto term = [](int i) { return 1.0 / (1.0 + i) * (i % 3 == 0 ? -1e6 : 1.0) + std::sin(i); };
    for (std::size_t chunk : {std::size_t{0}, std::size_t{100}}) {
        const double reference = parkit::parallel_reduce(0, 300'007, 0.0, term, std::plus<>{},
                                                         {.backend = parkit::backend::sequential, .chunk_size = chunk});
        for (int jobs : {1, 2, 3, 8}) {
            for (int repeat = 0; repeat < 3; ++repeat) {
                const double sum = parkit::parallel_reduce(0, 300'007, 0.0, term, std::plus<>{},
                                                           {.n_jobs = jobs, .chunk_size = chunk});
                REQUIRE(std::memcmp(&sum, &reference, sizeof sum) == 0);
            }
        }
    }
}

TEST_CASE("parallel_reduce propagates a failing map as task_error with the block number", "[parallel_reduce]") {
    auto failing = [](int i) -> double {
        if (i == 50) throw std::domain_error("negative variance");
        return i;
    };
    try {
        (void)parkit::parallel_reduce(0, 100, 0.0, failing, std::plus<>{}, {.chunk_size = 10});
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        REQUIRE(e.index() == 5);
        REQUIRE(std::string(e.what()).find("negative variance") != std::string::npos);
    }
}

TEST_CASE("chunk sizes up to SIZE_MAX hand every index out exactly once", "[parallel_for][chunking][bad_input]") {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    for (const std::size_t chunk : {std::size_t{1} << 62, (std::size_t{1} << 63) + 1, max - 1, max}) {
        // Few slow indices and many workers: every worker claims while the first chunk runs, and
        // a counter advanced by the chunk size would wrap round after four claims.
        std::vector<std::atomic<int>> visits(10);
        parkit::parallel_for(std::size_t{0}, visits.size(),
                             [&](std::size_t i) {
                                 visits[i].fetch_add(1);
                                 std::this_thread::sleep_for(std::chrono::milliseconds(1));
                             },
                             {.n_jobs = 8, .chunk_size = chunk});
        for (const auto& v : visits) REQUIRE(v.load() == 1);
        const auto squares = parkit::parallel_map([](int x) { return x * x; }, std::vector<int>{1, 2, 3, 4, 5},
                                                  {.n_jobs = 4, .chunk_size = chunk});
        REQUIRE(squares == std::vector<int>{1, 4, 9, 16, 25});
    }
}

TEST_CASE("the chunk dispenser never wraps its counter, whatever the range and chunk size",
          "[parallel_for][chunking]") {
    using parkit::detail::chunk_dispenser;
    using parkit::detail::index_range;
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    // Many workers claiming from a small range with a huge chunk: one chunk of everything.
    chunk_dispenser small(10, std::size_t{1} << 62, 8);
    std::vector<chunk_dispenser::cursor> cursors(8);
    index_range range;
    REQUIRE(small.next(cursors[0], range));
    REQUIRE(range.begin == 0);
    REQUIRE(range.end == 10);
    for (int round = 0; round < 4; ++round) {
        for (auto& c : cursors) REQUIRE_FALSE(small.next(c, range));
    }
    // A range of SIZE_MAX indices in chunks of 2^62: four chunks, the last one short, then none.
    chunk_dispenser huge(max, std::size_t{1} << 62, 4);
    std::size_t covered = 0;
    std::size_t chunks = 0;
    while (huge.next(cursors[chunks % 4], range)) {
        REQUIRE(range.begin == covered);
        REQUIRE(range.end > range.begin);
        covered = range.end;
        ++chunks;
        REQUIRE(chunks <= 4);
    }
    REQUIRE(chunks == 4);
    REQUIRE(covered == max);
    for (auto& c : cursors) REQUIRE_FALSE(huge.next(c, range));
    REQUIRE(chunk_dispenser::max_chunks(max, std::size_t{1} << 62) == 4);
    REQUIRE(chunk_dispenser::max_chunks(10, max) == 1);
    REQUIRE(chunk_dispenser::max_chunks(0, 3) == 0);
}

TEST_CASE("parallel_reduce with chunk sizes near SIZE_MAX computes one block, never returns init",
          "[parallel_reduce][chunking][bad_input]") {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    auto plus = [](long a, long b) { return a + b; };
    auto identity = [](long i) { return i; };
    for (const std::size_t chunk : {std::size_t{1} << 62, max / 2 + 1, max - 1, max}) {
        REQUIRE(parkit::parallel_reduce(0L, 1000L, 7L, identity, plus, {.n_jobs = 4, .chunk_size = chunk}) ==
                7 + 499500);
        REQUIRE(parkit::detail::reduce_block_size(1000, chunk) == 1000);
    }
    // At the top of the index type: the indices, not only their count, stay exact.
    const std::int64_t top = std::numeric_limits<std::int64_t>::max();
    REQUIRE(parkit::parallel_reduce(
                top - 10, top, std::int64_t{0}, [&](std::int64_t i) { return top - i; },
                [](std::int64_t a, std::int64_t b) { return a + b; }, {.n_jobs = 3, .chunk_size = max}) == 55);
}
