#include <parkit/parkit.hpp>

#include <catch2/catch.hpp>

#include "iota.hpp"
#include "reliability_support.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {
const parkit::options processes{.n_jobs = 2, .backend = parkit::backend::processes};
}  // namespace

TEST_CASE("processes backend: any callable, results in order, inputs shared", "[processes][parallel_map]") {
    const std::vector<double> big(1'000'000, 0.5);  // read by the workers, never copied
    const double offset = 10;
    const auto out = parkit::parallel_map(
        [&](int i) { return std::to_string(i) + ":" + std::to_string(big[static_cast<std::size_t>(i)] + offset); },
        parkit_test::iota(0, 1000), processes);
    REQUIRE(out.size() == 1000);
    CHECK(out[0] == "0:10.500000");
    CHECK(out[999] == "999:10.500000");
    const auto pids =
        parkit::parallel_map([](int) { return static_cast<int>(::getpid()); }, parkit_test::iota(0, 64), processes);
    CHECK(std::find(pids.begin(), pids.end(), static_cast<int>(::getpid())) == pids.end());
}

TEST_CASE("processes backend handles 100,000 tiny tasks and void functions", "[processes][parallel_map]") {
    const auto squares = parkit::parallel_map([](long x) { return x * x; }, parkit_test::iota(0L, 100'000L), processes);
    CHECK(std::accumulate(squares.begin(), squares.end(), 0LL) == 333'328'333'350'000LL);
    parkit::parallel_map([](int) {}, parkit_test::iota(0, 100), processes);
    CHECK(parkit::parallel_map([](int x) { return x; }, std::vector<int>{}, processes).empty());
}

TEST_CASE("processes backend: exceptions come back as remote_error with the index", "[processes][errors]") {
    auto f = [](int x) {
        if (x == 37) throw std::domain_error("bad 37");
        return x;
    };
    try {
        parkit::parallel_map(f, parkit_test::iota(0, 100), processes);
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 37);
        try {
            e.rethrow_original();
        } catch (const parkit::remote_error& r) {
            CHECK(r.type_name() == "std::domain_error");
            CHECK(r.message() == "bad 37");
        }
    }
}

TEST_CASE("processes backend: crashes fail only their task, every other result arrives", "[processes][crash]") {
    auto f = [](int x) {
        if (x == 100) return parkit_test::null_dereference();
        if (x == 2000) std::abort();
        if (x == 3000) std::exit(3);
        if (x == 4000) ::kill(::getpid(), SIGKILL);
        if (x == 5000) throw std::runtime_error("plain failure");
        return x * 2;
    };
    const auto out = parkit::parallel_map(f, parkit_test::iota(0, 10'000),
                                          {.n_jobs = 2,
                                           .backend = parkit::backend::processes,
                                           .on_error = parkit::on_error::collect});
    REQUIRE(out.errors.size() == 5);
    CHECK(out.errors[0].index == 100);
    CHECK(out.errors[0].type_name() == "parkit::worker_crashed");
    CHECK(out.errors[0].message().find("SIGSEGV") != std::string::npos);
    CHECK(out.errors[1].index == 2000);
    CHECK(out.errors[1].message().find("SIGABRT") != std::string::npos);
    CHECK(out.errors[2].message().find("exited with code 3") != std::string::npos);
    CHECK(out.errors[3].message().find("SIGKILL") != std::string::npos);
    CHECK(out.errors[4].type_name() == "parkit::remote_error");
    std::size_t ok = 0;
    for (std::size_t i = 0; i < out.results.size(); ++i) {
        if (out.results[i]) {
            REQUIRE(*out.results[i] == static_cast<int>(i) * 2);
            ++ok;
        }
    }
    CHECK(ok == 9'995);
}

TEST_CASE("processes backend: a task over task_timeout_s is killed", "[processes][timeout]") {
    auto f = [](int x) {
        if (x == 3) std::this_thread::sleep_for(std::chrono::seconds(30));
        return x;
    };
    const auto out = parkit::parallel_map(f, parkit_test::iota(0, 8),
                                          {.n_jobs = 2,
                                           .backend = parkit::backend::processes,
                                           .on_error = parkit::on_error::collect,
                                           .task_timeout_s = 0.3});
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].index == 3);
    CHECK(out.errors[0].type_name() == "parkit::task_timeout");
    CHECK(out.succeeded() == 7);
}

TEST_CASE("processes backend rejects a negative timeout by name", "[processes][errors]") {
    CHECK_THROWS_WITH(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1},
                                           {.backend = parkit::backend::processes, .task_timeout_s = -1}),
                      Catch::Contains("task_timeout_s"));
}

namespace {
struct no_serialize_member {
    std::string label;
};
}  // namespace

TEST_CASE("processes backend names a result type that cannot travel back", "[processes][errors]") {
    CHECK_THROWS_WITH(parkit::parallel_map([](int x) { return no_serialize_member{std::to_string(x)}; },
                                           std::vector<int>{1, 2}, processes),
                      Catch::Contains("no_serialize_member") && Catch::Contains("serialize(Archive& ar)"));
}

TEST_CASE("processes backend returns multi-megabyte results whole", "[processes][large]") {
    const auto out = parkit::parallel_map(
        [](int n) { return std::vector<double>(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0.25 * n); },
        std::vector<int>{1000, 3, 1000}, processes);
    REQUIRE(out.size() == 3);
    CHECK(out[0] == std::vector<double>(1'000'000, 250.0));
    CHECK(out[1] == std::vector<double>(9, 0.75));
    CHECK(out[2] == out[0]);
}

TEST_CASE("processes backend: forged headers in a worker's socket fail only their task",
          "[processes][crash][protocol]") {
    parkit_test::watchdog dog("forged headers on the process backend", std::chrono::seconds(120));
    auto f = [](int x) {
        if (x == 10) parkit_test::forge_reply_header(std::uint64_t{1} << 40);   // 1 TiB announced
        if (x == 20) parkit_test::forge_reply_header(std::uint64_t{64} << 20);  // 64 MiB announced
        if (x == 30) {
            parkit::detail::message_header header{parkit::detail::message_kind::chunk_done, 0, 0,
                                                  std::uint64_t{1} << 40};
            parkit_test::write_to_own_sockets(&header, sizeof header);  // this tree's tag: the size limit stops it
        }
        return x + 1;
    };
    const auto out = parkit::parallel_map(f, parkit_test::iota(0, 40),
                                          {.n_jobs = 2,
                                           .backend = parkit::backend::processes,
                                           .on_error = parkit::on_error::collect});
    std::set<std::size_t> failed;
    for (const auto& e : out.errors) {
        failed.insert(e.index);
        CHECK(e.type_name() == "parkit::worker_crashed");
        CHECK(e.message().find("protocol error") != std::string::npos);
    }
    CHECK(failed == std::set<std::size_t>{10, 20, 30});
    for (std::size_t i = 0; i < 40; ++i)
        if (failed.count(i) == 0) CHECK(out.results[i] == static_cast<int>(i) + 1);
    // Raise mode: the first failure, not std::bad_alloc for the whole map.
    CHECK_THROWS_AS(parkit::parallel_map(f, parkit_test::iota(0, 40), processes), parkit::task_error);
}

TEST_CASE("processes backend: a task that forks a helper and then crashes is reported at once", "[processes][crash]") {
    parkit_test::shared_page();  // before the workers fork: they share it
    parkit_test::watchdog dog("crash with a live helper on the process backend", std::chrono::seconds(90));
    auto f = [](int x) {
        if (x == 3) parkit_test::fork_helper_then_crash();  // the helper holds the socket 120 s
        return x;
    };
    const auto out = parkit::parallel_map(f, parkit_test::iota(0, 8),
                                          {.n_jobs = 2,
                                           .backend = parkit::backend::processes,
                                           .on_error = parkit::on_error::collect});
    parkit_test::release_helpers();
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].index == 3);
    CHECK(out.errors[0].message().find("SIGSEGV") != std::string::npos);
}
