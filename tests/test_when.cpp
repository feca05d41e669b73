// Continuations and composition of futures: then, add_done_callback, when_all, when_any, wait.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// A task that runs until `gate` opens (bounded, so a broken test cannot hang).
auto gated(std::atomic<bool>& gate, int value) {
    return [&gate, value] {
        for (int i = 0; i < 20'000 && !gate.load(); ++i) std::this_thread::sleep_for(1ms);
        return value;
    };
}

int slow_square(int x) {
    if (x == 0) ::usleep(300'000);
    return x * x;
}

int fail_on_three(int x) {
    if (x == 3) throw std::runtime_error("three");
    return x;
}

}  // namespace

TEST_CASE("then runs on the result and chains", "[future][then]") {
    parkit::thread_pool pool(2);
    auto f = pool.submit([] { return 20; });
    auto g = f.then([](int x) { return x + 1; }).then([](int x) { return std::to_string(x * 2); });
    CHECK_FALSE(f.valid());
    CHECK(g.get() == "42");
    // On a future that is already done the continuation runs at once.
    auto done = pool.submit([] { return 5; });
    done.wait();
    CHECK(done.then([](int x) { return x * 3; }).get() == 15);
    // void on either side.
    std::atomic<int> seen{0};
    auto v = pool.submit([] {}).then([&] { seen = 7; });
    v.get();
    CHECK(seen == 7);
    CHECK(pool.submit([] { return 4; }).then([](int) {}).then([] { return 9; }).get() == 9);
    CHECK_THROWS_AS(f.then([](int x) { return x; }), std::logic_error);
}

TEST_CASE("then propagates the task's exception and its own", "[future][then][errors]") {
    parkit::thread_pool pool(1);
    std::atomic<bool> called{false};
    auto failed = pool.submit([]() -> int { throw std::out_of_range("task"); }).then([&](int x) {
        called = true;
        return x;
    });
    CHECK_THROWS_AS(failed.get(), std::out_of_range);
    CHECK_FALSE(called);
    auto throwing = pool.submit([] { return 1; }).then([](int) -> int { throw std::domain_error("f"); });
    CHECK_THROWS_AS(throwing.get(), std::domain_error);

    std::atomic<bool> gate{false};
    auto blocker = pool.submit(gated(gate, 0));
    auto queued = pool.submit([] { return 1; });
    auto next = queued.then([](int x) { return x; });
    CHECK(queued.cancel());
    gate = true;
    CHECK_THROWS_AS(next.get(), parkit::task_cancelled);
    CHECK(blocker.get() == 0);
}

TEST_CASE("add_done_callback runs once, at once when already done", "[future][callback]") {
    parkit::thread_pool pool(2);
    std::atomic<bool> gate{false};
    auto f = pool.submit(gated(gate, 3));
    std::atomic<int> calls{0};
    std::atomic<int> plain_calls{0};
    std::atomic<bool> view_ok{false};
    f.add_done_callback([&](const parkit::future<int>& view) {  // no CHECK here: a worker thread
        view_ok = view.ready() && !view.exception();
        ++calls;
    });
    f.add_done_callback([&] { ++plain_calls; });
    CHECK(calls == 0);
    gate = true;
    CHECK(f.get() == 3);  // the callback did not take the value
    for (int i = 0; i < 10'000 && (calls < 1 || plain_calls < 1); ++i) std::this_thread::sleep_for(1ms);
    CHECK(calls == 1);
    CHECK(plain_calls == 1);
    CHECK(view_ok);
    // Already done: runs here, now, in this thread.
    const auto here = std::this_thread::get_id();
    std::thread::id ran_on;
    f.add_done_callback([&] { ran_on = std::this_thread::get_id(); });
    CHECK(ran_on == here);
    // A throwing callback is reported and ignored; the future is unaffected.
    auto g = pool.submit([] { return 1; });
    g.wait();
    g.add_done_callback([] { throw std::runtime_error("callback failure (expected in this test)"); });
    CHECK(g.get() == 1);
    parkit::future<int> empty;
    CHECK_THROWS_AS(empty.add_done_callback([] {}), std::logic_error);
}

TEST_CASE("when_all gives every result in input order", "[when][when_all]") {
    parkit::thread_pool pool(3);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit([i] { return i * i; }));
    auto all = parkit::when_all(futures);
    const std::vector<int> values = all.get();
    REQUIRE(values.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(values[static_cast<std::size_t>(i)] == i * i);
    CHECK(futures[7].get() == 49);  // lvalue input: results were copied, the futures stay usable

    std::vector<parkit::future<std::unique_ptr<int>>> owned;
    for (int i = 0; i < 3; ++i) owned.push_back(pool.submit([i] { return std::make_unique<int>(i); }));
    auto moved = parkit::when_all(std::move(owned)).get();
    CHECK(*moved[2] == 2);

    std::vector<parkit::future<void>> voids;
    std::atomic<int> ran{0};
    for (int i = 0; i < 5; ++i) voids.push_back(pool.submit([&] { ++ran; }));
    parkit::when_all(voids).get();
    CHECK(ran == 5);

    std::vector<parkit::future<int>> none;
    CHECK(parkit::when_all(none).get().empty());
}

TEST_CASE("when_all fails with the first failure in input order", "[when][when_all][errors]") {
    parkit::thread_pool pool(2);
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit([] { return 1; }));
    futures.push_back(pool.submit([]() -> int { throw std::out_of_range("second"); }));
    futures.push_back(pool.submit([]() -> int { throw std::domain_error("third"); }));
    CHECK_THROWS_AS(parkit::when_all(futures).get(), std::out_of_range);
    std::vector<parkit::future<int>> with_empty(1);
    CHECK_THROWS_AS(parkit::when_all(with_empty), std::invalid_argument);
}

TEST_CASE("when_any gives the position of the first to finish", "[when][when_any]") {
    parkit::thread_pool pool(3);
    std::atomic<bool> gate{false};
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit(gated(gate, 0)));
    futures.push_back(pool.submit(gated(gate, 1)));
    futures.push_back(pool.submit([] { return 2; }));
    auto first = parkit::when_any(futures);
    CHECK(first.get() == 2);
    CHECK(futures[2].get() == 2);
    gate = true;
    CHECK(futures[0].get() == 0);
    // A failure counts as finishing.
    std::vector<parkit::future<int>> failing;
    gate = false;  // before the submit: an open gate lets the task finish before the failure
    failing.push_back(pool.submit(gated(gate, 0)));
    failing.push_back(pool.submit([]() -> int { throw std::runtime_error("x"); }));
    CHECK(parkit::when_any(failing).get() == 1);
    gate = true;
    std::vector<parkit::future<int>> none;
    CHECK_THROWS_AS(parkit::when_any(none), std::invalid_argument);
    // Already done inputs.
    std::vector<parkit::future<int>> done;
    done.push_back(pool.submit([] { return 1; }));
    done[0].wait();
    CHECK(parkit::when_any(done).get() == 0);
}

TEST_CASE("wait returns done and not_done for each return_when", "[when][wait]") {
    parkit::thread_pool pool(3);
    std::atomic<bool> gate{false};
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit(gated(gate, 0)));
    futures.push_back(pool.submit([] { return 1; }));
    futures.push_back(pool.submit([]() -> int { throw std::runtime_error("fails"); }));

    auto first = parkit::wait(futures, parkit::return_when::first_completed);
    CHECK_FALSE(first.done.empty());
    CHECK(first.done.size() + first.not_done.size() == 3);
    CHECK(std::find(first.not_done.begin(), first.not_done.end(), 0u) != first.not_done.end());

    futures[1].wait();
    auto failed = parkit::wait(futures, parkit::return_when::first_exception, 10s);
    CHECK(std::find(failed.done.begin(), failed.done.end(), 2u) != failed.done.end());
    CHECK(failed.not_done == std::vector<std::size_t>{0});

    auto timed = parkit::wait(futures, parkit::return_when::all_completed, 20ms);
    CHECK(timed.done == std::vector<std::size_t>{1, 2});
    CHECK(timed.not_done == std::vector<std::size_t>{0});

    gate = true;
    auto all = parkit::wait(futures);
    CHECK(all.done == std::vector<std::size_t>{0, 1, 2});
    CHECK(all.not_done.empty());
    CHECK(futures[0].get() == 0);  // wait leaves the results in place

    // first_exception without any failure waits for all.
    std::vector<parkit::future<int>> fine;
    for (int i = 0; i < 4; ++i) fine.push_back(pool.submit([i] { return i; }));
    CHECK(parkit::wait(fine, parkit::return_when::first_exception).done.size() == 4);

    CHECK_THROWS_AS(parkit::wait(fine, parkit::return_when::all_completed, -1s), std::invalid_argument);
    CHECK_THROWS_AS(parkit::wait(fine, static_cast<parkit::return_when>(42)), std::invalid_argument);
}

TEST_CASE("then, when_all, when_any and wait work with process_pool futures", "[when][process_pool]") {
    parkit::process_pool pool(2);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 6; ++i) futures.push_back(pool.submit(slow_square, i));
    CHECK(parkit::when_any(futures).get() != 0);
    auto all = parkit::when_all(futures).get();
    CHECK(all == std::vector<int>{0, 1, 4, 9, 16, 25});
    CHECK(pool.submit(slow_square, 4).then([](int x) { return x + 1; }).get() == 17);

    std::vector<parkit::future<int>> mixed;
    for (int i = 1; i < 6; ++i) mixed.push_back(pool.submit(fail_on_three, i));
    const auto result = parkit::wait(mixed, parkit::return_when::first_exception, 30s);
    CHECK(std::find(result.done.begin(), result.done.end(), 2u) != result.done.end());
    CHECK_THROWS(parkit::when_all(mixed).get());

    std::atomic<int> calls{0};
    auto f = pool.submit(slow_square, 3);
    f.add_done_callback([&] { ++calls; });
    CHECK(f.get() == 9);
    for (int i = 0; i < 10'000 && calls == 0; ++i) std::this_thread::sleep_for(1ms);
    CHECK(calls == 1);
}

TEST_CASE("a pool task waiting on when_all of its sub-tasks does not deadlock a one-thread pool", "[when][nested]") {
    parkit::thread_pool pool(1);
    std::vector<parkit::future<int>> outer;
    for (int t = 0; t < 2'000; ++t) {
        outer.push_back(pool.submit([&pool, t] {
            std::vector<parkit::future<int>> subs;
            for (int k = 0; k < 3; ++k) subs.push_back(pool.submit([t, k] { return t + k; }));
            const auto v = parkit::when_all(std::move(subs)).get();
            return pool.submit([] { return 1; }).then([](int x) { return x; }).get() + v[0] + v[1] + v[2];
        }));
    }
    long wrong = 0;
    for (int t = 0; t < 2'000; ++t) wrong += outer[static_cast<std::size_t>(t)].get() != 3 * t + 4;
    CHECK(wrong == 0);
}
