#include <catch2/catch.hpp>
#include "iota.hpp"

#include <parkit/parkit.hpp>

#include <atomic>
#include <chrono>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {
int risky_computation(int x) {
    if (x == 5) throw std::invalid_argument("Cannot process x=" + std::to_string(x));
    return x * x;
}
}  // namespace

TEST_CASE("a failing task raises task_error with its index and the original exception", "[errors][parallel_map]") {
    for (auto b : {parkit::backend::sequential, parkit::backend::threads}) {
        try {
            parkit::parallel_map(risky_computation, parkit_test::iota(0, 10), {.backend = b});
            FAIL("no exception");
        } catch (const parkit::task_error& e) {
            CHECK(e.index() == 5);
            CHECK(std::string(e.what()).find("task 5") != std::string::npos);
            CHECK(std::string(e.what()).find("std::invalid_argument") != std::string::npos);
            CHECK(std::string(e.what()).find("Cannot process x=5") != std::string::npos);
            CHECK_THROWS_AS(e.rethrow_original(), std::invalid_argument);
            CHECK_THROWS_WITH(std::rethrow_if_nested(e), "Cannot process x=5");
        }
    }
}

TEST_CASE("the lowest failing index is reported", "[errors][parallel_map]") {
    auto fails_from_100 = [](int x) {
        if (x >= 100) throw std::runtime_error("bad " + std::to_string(x));
        return x;
    };
    try {
        parkit::parallel_map(fails_from_100, parkit_test::iota(0, 1000), {.backend = parkit::backend::sequential});
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 100);
    }
}

TEST_CASE("after a failure the remaining work is cancelled", "[errors][parallel_map][cancel]") {
    std::atomic<int> ran{0};
    auto f = [&](int x) {
        ++ran;
        if (x == 0) throw std::runtime_error("first task fails");
        std::this_thread::sleep_for(200us);
        return x;
    };
    CHECK_THROWS_AS(parkit::parallel_map(f, parkit_test::iota(0, 2000), {.n_jobs = 2}), parkit::task_error);
    CHECK(ran.load() < 2000);
    CHECK(ran.load() >= 1);
}

TEST_CASE("on_error::collect returns every result and every error", "[errors][collect]") {
    // The chapter's error-handling experiment: 10 tasks, x == 5 fails.
    for (auto b : {parkit::backend::sequential, parkit::backend::threads}) {
        parkit::collected<int> out = parkit::parallel_map(risky_computation, parkit_test::iota(0, 10),
                                                          {.backend = b, .on_error = parkit::on_error::collect});
        CHECK(out.succeeded() == 9);
        CHECK(out.failed() == 1);
        CHECK_FALSE(out.ok());
        REQUIRE(out.results.size() == 10);
        for (int x = 0; x < 10; ++x) {
            if (x == 5) {
                CHECK_FALSE(out.results[5].has_value());
            } else {
                CHECK(out.results[static_cast<std::size_t>(x)] == x * x);
            }
        }
        REQUIRE(out.errors.size() == 1);
        CHECK(out.errors[0].index == 5);
        CHECK(out.errors[0].message() == "Cannot process x=5");
        CHECK(out.errors[0].type_name() == "std::invalid_argument");
        CHECK_THROWS_AS(out.errors[0].rethrow(), std::invalid_argument);
        CHECK_THROWS_AS(out.throw_if_failed(), parkit::task_error);
        CHECK(out.values().size() == 9);
    }
}

TEST_CASE("collect mode keeps going through many failures", "[errors][collect]") {
    auto out = parkit::parallel_map(
        [](int x) {
            if (x % 7 == 0) throw std::domain_error("multiple of 7");
            return x;
        },
        parkit_test::iota(0, 7000), {.chunk_size = 50, .on_error = parkit::on_error::collect});
    CHECK(out.failed() == 1000);
    CHECK(out.succeeded() == 6000);
    for (std::size_t k = 1; k < out.errors.size(); ++k) CHECK(out.errors[k - 1].index < out.errors[k].index);
    CHECK(out.errors.back().index == 6993);

    auto void_out = parkit::parallel_map(
        [](int x) {
            if (x == 3) throw std::runtime_error("three");
        },
        parkit_test::iota(0, 10), {.on_error = parkit::on_error::collect});
    CHECK(void_out.total == 10);
    CHECK(void_out.succeeded() == 9);
    CHECK(void_out.errors.at(0).index == 3);
}

TEST_CASE("non-standard exceptions are carried too", "[errors]") {
    auto out = parkit::parallel_map(
        [](int x) {
            if (x == 1) throw 42;
            return x;
        },
        parkit_test::iota(0, 3), {.on_error = parkit::on_error::collect});
    REQUIRE(out.failed() == 1);
    CHECK(out.errors[0].type_name() == "int");
    try {
        out.errors[0].rethrow();
    } catch (int v) {
        CHECK(v == 42);
    }
}

TEST_CASE("an exception from the progress callback stops the map and propagates as is", "[errors][progress]") {
    struct stop_now : std::runtime_error {
        stop_now() : std::runtime_error("user stop") {}
    };
    std::atomic<int> ran{0};
    auto call = [&] {
        parkit::parallel_map(
            [&](int x) {
                ++ran;
                std::this_thread::sleep_for(1ms);
                return x;
            },
            parkit_test::iota(0, 5000), {.on_progress = [](const parkit::progress_info&) { throw stop_now(); }});
    };
    CHECK_THROWS_AS(call(), stop_now);
    CHECK(ran.load() < 5000);
}
