// Soak and stress tests: a million tasks with random durations, exceptions and nested
// submissions; pools made and destroyed over and over; shutdown while producers still submit.
// Every result or error must be accounted for, memory must not grow, nothing may hang (a
// watchdog aborts a test that overruns its bound). Fewer tasks under sanitizers.

#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "iota.hpp"
#include "reliability_support.hpp"

using namespace std::chrono_literals;
using parkit_test::scaled;
using parkit_test::watchdog;

namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64: the deterministic "random" of task x
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/// What soak task `i` does: 1 % throw, 1 % submit two nested tasks and wait for them, 0.1 %
/// sleep 20-200 µs, the rest spin for a random few hundred nanoseconds.
enum class task_kind { spin, sleep, nested, throws };
task_kind kind_of(std::uint64_t i) {
    const std::uint64_t r = mix(i) % 1000;
    return r < 10 ? task_kind::throws : r < 20 ? task_kind::nested : r < 21 ? task_kind::sleep : task_kind::spin;
}

std::uint64_t spin_value(std::uint64_t i) {
    std::uint64_t v = i;
    const std::uint64_t rounds = mix(i ^ 0x5bd1e995) % 64;
    for (std::uint64_t k = 0; k <= rounds; ++k) v = mix(v);
    return v;
}

/// The value task `i` returns (when it does not throw).
std::uint64_t expected_value(std::uint64_t i) {
    return kind_of(i) == task_kind::nested ? spin_value(2 * i + 1) + spin_value(2 * i + 2) : spin_value(i);
}

std::uint64_t run_soak_task(parkit::thread_pool& pool, std::uint64_t i, std::atomic<std::size_t>& nested_done) {
    switch (kind_of(i)) {
        case task_kind::throws:
            throw std::runtime_error("soak task " + std::to_string(i) + " failed on purpose");
        case task_kind::nested: {
            auto a = pool.submit(spin_value, 2 * i + 1);
            auto b = pool.submit(spin_value, 2 * i + 2);
            const std::uint64_t sum = a.get() + b.get();
            nested_done.fetch_add(2, std::memory_order_relaxed);
            return sum;
        }
        case task_kind::sleep:
            std::this_thread::sleep_for(std::chrono::microseconds(20 + mix(i) % 180));
            return spin_value(i);
        case task_kind::spin:
            break;
    }
    return spin_value(i);
}

int plus_one(int x) {
    return x + 1;
}

/// Every future of a destroyed pool is ready: with its value `expected(i)`, or (only when the
/// pool was shut down with `cancel_pending`) cancelled.
template <class T, class Expected>
void check_resolved(std::vector<parkit::future<T>>& futures, bool cancel_pending, Expected expected) {
    for (std::size_t i = 0; i < futures.size(); ++i) {
        REQUIRE(futures[i].ready());
        if (cancel_pending && futures[i].cancelled()) {
            CHECK_THROWS_AS(futures[i].get(), parkit::task_cancelled);
        } else {
            CHECK(futures[i].get() == expected(i));
        }
    }
}

/// True when this process has no child process left (running or zombie).
bool no_children_left() {
    errno = 0;
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST_CASE("soak: 1,000,000 thread_pool tasks with random durations, exceptions and nested submissions",
          "[soak][thread_pool]") {
    watchdog guard("soak: 1,000,000 thread_pool tasks", 120s);
    const std::uint64_t total = scaled(1'000'000);
    const std::uint64_t wave = 10'000;
    parkit::thread_pool pool(3);
    std::atomic<std::size_t> nested_done{0};
    std::size_t values = 0, errors = 0, expected_errors = 0, expected_nested = 0, wrong = 0;
    std::size_t rss_after_warmup = 0;

    std::vector<parkit::future<std::uint64_t>> futures;
    futures.reserve(wave);
    for (std::uint64_t begin = 0; begin < total; begin += wave) {
        const std::uint64_t end = std::min(total, begin + wave);
        futures.clear();
        for (std::uint64_t i = begin; i < end; ++i) {
            futures.push_back(pool.submit([&pool, &nested_done](
                                              std::uint64_t index) { return run_soak_task(pool, index, nested_done); },
                                          i));
        }
        for (std::uint64_t i = begin; i < end; ++i) {
            auto& f = futures[i - begin];
            const task_kind kind = kind_of(i);
            expected_errors += kind == task_kind::throws;
            expected_nested += kind == task_kind::nested ? 2 : 0;
            try {
                wrong += f.get() != expected_value(i);
                ++values;
            } catch (const std::runtime_error& e) {
                ++errors;
                wrong += std::string(e.what()) != "soak task " + std::to_string(i) + " failed on purpose";
            }
        }
        if (begin == 10 * wave) rss_after_warmup = parkit_test::resident_bytes();
    }
    CHECK(values + errors == total);
    CHECK(errors == expected_errors);
    CHECK(wrong == 0);
    CHECK(nested_done.load() == expected_nested);
    CHECK(expected_nested > 0);
    if (!parkit_test::under_sanitizer && rss_after_warmup > 0) {
        const std::size_t rss_end = parkit_test::resident_bytes();
        INFO("RSS after warm-up " << rss_after_warmup / 1024 << " KiB, at the end " << rss_end / 1024 << " KiB");
        CHECK(rss_end < rss_after_warmup + (16u << 20));
    }
}

TEST_CASE("soak: 1,000,000 parallel_map inputs with random exceptions, collected", "[soak][parallel_map]") {
    watchdog guard("soak: 1,000,000 parallel_map inputs", 120s);
    const std::uint64_t total = scaled(1'000'000);
    const auto task = [](std::uint64_t i) {
        if (kind_of(i) == task_kind::throws) throw std::runtime_error("input " + std::to_string(i));
        return spin_value(i);
    };
    const auto inputs = parkit_test::iota(std::uint64_t{0}, total);
    const auto out = parkit::parallel_map(task, inputs, {.n_jobs = 3, .on_error = parkit::on_error::collect});
    REQUIRE(out.results.size() == total);
    std::size_t wrong = 0, expected_errors = 0;
    for (std::uint64_t i = 0; i < total; ++i) {
        const bool throws = kind_of(i) == task_kind::throws;
        expected_errors += throws;
        wrong += throws ? out.results[i].has_value() : !out.results[i] || *out.results[i] != spin_value(i);
    }
    CHECK(wrong == 0);
    REQUIRE(out.errors.size() == expected_errors);
    for (const auto& failure : out.errors) {
        CHECK(kind_of(failure.index) == task_kind::throws);
        CHECK(failure.message() == "input " + std::to_string(failure.index));
    }
}

TEST_CASE("stress: thread_pool created and destroyed 500 times with work in flight", "[stress][thread_pool]") {
    watchdog guard("stress: thread_pool created and destroyed", 120s);
    const std::size_t rounds = scaled(500);
    const std::size_t threads_before = parkit_test::thread_count();
    std::size_t rss_after_warmup = 0;
    for (std::size_t round = 0; round < rounds; ++round) {
        std::vector<parkit::future<std::uint64_t>> futures;
        const bool cancel = round % 3 == 2;
        {
            parkit::thread_pool pool(static_cast<int>(1 + round % 4));
            const std::size_t tasks = mix(round) % 200;
            for (std::size_t i = 0; i < tasks; ++i) futures.push_back(pool.submit(spin_value, i));
            if (cancel) pool.shutdown({.wait = false, .cancel_pending = true});
            // The destructor waits for every task that was not cancelled.
        }
        check_resolved(futures, cancel, spin_value);
        if (round == rounds / 10) rss_after_warmup = parkit_test::resident_bytes();
    }
    CHECK(parkit_test::thread_count_settled(threads_before) == threads_before);
    if (!parkit_test::under_sanitizer && rss_after_warmup > 0)
        CHECK(parkit_test::resident_bytes() < rss_after_warmup + (8u << 20));
}

TEST_CASE("stress: process_pool created and destroyed 40 times leaves no process, thread or descriptor",
          "[stress][process_pool]") {
    watchdog guard("stress: process_pool created and destroyed", 120s);
    const std::size_t rounds = parkit_test::under_sanitizer ? 10 : 40;
    const std::size_t fds_before = parkit_test::open_descriptors();
    const std::size_t threads_before = parkit_test::thread_count();
    for (std::size_t round = 0; round < rounds; ++round) {
        std::vector<parkit::future<int>> futures;
        const bool cancel = round % 4 == 3;
        {
            parkit::process_pool pool(static_cast<int>(1 + round % 3));
            for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(plus_one, i));
            if (cancel) pool.shutdown({.wait = false, .cancel_pending = true});
        }
        check_resolved(futures, cancel, [](std::size_t i) { return static_cast<int>(i) + 1; });
        REQUIRE(no_children_left());
    }
    CHECK(parkit_test::open_descriptors() == fds_before);
    CHECK(parkit_test::thread_count_settled(threads_before) == threads_before);
}

namespace {

/// Producers submit `submit_one(i)` until the executor refuses with executor_closed; the main
/// thread shuts the executor down meanwhile. Checks that executor_closed is the only error a
/// producer sees and that every accepted task's future resolves: to its value, or to
/// task_cancelled when `cancel_pending`.
template <class Executor, class SubmitOne, class Expected>
void shutdown_while_producing(Executor& executor, bool cancel_pending, std::size_t producers,
                              std::size_t before_shutdown, SubmitOne submit_one, Expected expected) {
    using future_t = decltype(submit_one(executor, std::uint64_t{0}));
    std::vector<std::vector<std::pair<std::uint64_t, future_t>>> accepted(producers);
    std::vector<std::string> unexpected(producers);
    std::atomic<std::size_t> submitted{0};
    std::vector<std::thread> threads;
    for (std::size_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (std::uint64_t i = p;; i += producers) {
                try {
                    accepted[p].emplace_back(i, submit_one(executor, i));
                    submitted.fetch_add(1, std::memory_order_relaxed);
                } catch (const parkit::executor_closed&) {
                    return;
                } catch (const std::exception& e) {
                    unexpected[p] = e.what();
                    return;
                }
            }
        });
    }
    while (submitted.load(std::memory_order_relaxed) < before_shutdown) std::this_thread::yield();
    executor.shutdown({.cancel_pending = cancel_pending});
    for (auto& t : threads) t.join();

    std::size_t values = 0, cancelled = 0, wrong = 0, total = 0;
    for (std::size_t p = 0; p < producers; ++p) {
        CHECK(unexpected[p].empty());
        for (auto& [i, future] : accepted[p]) {
            ++total;
            REQUIRE(future.ready());
            try {
                wrong += future.get() != expected(i);
                ++values;
            } catch (const parkit::task_cancelled&) {
                ++cancelled;
            }
        }
    }
    INFO(values << " values, " << cancelled << " cancelled of " << total);
    CHECK(values + cancelled == total);
    CHECK(wrong == 0);
    CHECK(total >= before_shutdown);
    if (!cancel_pending) CHECK(cancelled == 0);
}

}  // namespace

TEST_CASE("stress: thread_pool shutdown while producers still submit loses nothing",
          "[stress][thread_pool][shutdown]") {
    watchdog guard("stress: thread_pool shutdown while producers submit", 60s);
    const bool cancel_pending = GENERATE(false, true);
    for (int round = 0; round < (parkit_test::under_sanitizer ? 3 : 20); ++round) {
        parkit::thread_pool pool(2);
        shutdown_while_producing(
            pool, cancel_pending, 3, scaled(20'000),
            [](parkit::thread_pool& p, std::uint64_t i) { return p.submit(spin_value, i); }, spin_value);
    }
}

TEST_CASE("stress: process_pool shutdown while producers still submit loses nothing",
          "[stress][process_pool][shutdown]") {
    watchdog guard("stress: process_pool shutdown while producers submit", 60s);
    const bool cancel_pending = GENERATE(false, true);
    for (int round = 0; round < (parkit_test::under_sanitizer ? 2 : 5); ++round) {
        parkit::process_pool pool(2);
        shutdown_while_producing(
            pool, cancel_pending, 3, 300,
            [](parkit::process_pool& p, std::uint64_t i) { return p.submit(spin_value, i); }, spin_value);
    }
    CHECK(no_children_left());
}
