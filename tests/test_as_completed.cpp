#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("as_completed yields futures in completion order", "[as_completed]") {
    // Task i finishes only after task i+1 (a chain of releases), so the completion order is the
    // reverse of the submission order whatever the scheduling. One worker per task, as each
    // task blocks its worker until released.
    constexpr int n = 6;
    parkit::thread_pool pool(n);
    std::vector<std::atomic<bool>> may_finish(n + 1);
    may_finish[n] = true;
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < n; ++i) {
        futures.push_back(pool.submit([&, i] {
            while (!may_finish[static_cast<std::size_t>(i + 1)].load()) std::this_thread::sleep_for(100us);
            return i * i;
        }));
    }
    std::vector<int> order;
    for (parkit::future<int>& f : parkit::as_completed(futures)) {
        const int i = static_cast<int>(f.index());
        CHECK(f.get() == i * i);
        order.push_back(i);
        may_finish[static_cast<std::size_t>(i)] = true;
    }
    CHECK(order == std::vector<int>{5, 4, 3, 2, 1, 0});
}

TEST_CASE("as_completed handles tasks that finished before it was called", "[as_completed]") {
    parkit::thread_pool pool(2);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 50; ++i) futures.push_back(pool.submit([i] { return i; }));
    for (auto& f : futures) f.wait();
    int count = 0;
    long sum = 0;
    for (auto& f : parkit::as_completed(futures)) {
        sum += f.get();
        ++count;
    }
    CHECK(count == 50);
    CHECK(sum == 49 * 50 / 2);
}

TEST_CASE("as_completed delivers errors and cancellations like results", "[as_completed][errors]") {
    parkit::thread_pool pool(2);
    std::vector<parkit::future<int>> futures;
    for (int v = 0; v < 10; ++v) {
        futures.push_back(pool.submit([v] {
            if (v == 5) throw std::invalid_argument("Cannot process x=5");
            return v * v;
        }));
    }
    std::vector<std::pair<std::size_t, int>> results;
    std::vector<std::pair<std::size_t, std::string>> errors;
    for (auto& f : parkit::as_completed(futures)) {
        try {
            results.emplace_back(f.index(), f.get());
        } catch (const std::exception& e) {
            errors.emplace_back(f.index(), e.what());
        }
    }
    CHECK(results.size() == 9);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].first == 5);
    CHECK(errors[0].second == "Cannot process x=5");
}

TEST_CASE("leaving as_completed early is safe and the futures stay usable", "[as_completed]") {
    parkit::thread_pool pool(2);
    std::atomic<bool> release{false};
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit([] { return 1; }));
    for (int i = 0; i < 5; ++i) {
        futures.push_back(pool.submit([&release, i] {
            while (!release.load()) std::this_thread::sleep_for(1ms);
            return 10 + i;
        }));
    }
    for (auto& f : parkit::as_completed(futures)) {
        CHECK(f.get() == 1);
        break;  // the range is destroyed while 5 tasks are still pending
    }
    release = true;
    int sum = 0;
    for (auto& f : parkit::as_completed(futures)) {
        if (f.valid()) sum += f.get();
    }
    CHECK(sum == 10 + 11 + 12 + 13 + 14);
}

TEST_CASE("as_completed rejects empty futures and lets two ranges watch the same futures", "[as_completed][errors]") {
    parkit::thread_pool pool(1);
    std::vector<parkit::future<int>> futures(2);
    futures[0] = pool.submit([] { return 1; });
    CHECK_THROWS_AS(parkit::as_completed(futures), std::invalid_argument);

    std::atomic<bool> release{false};
    std::vector<parkit::future<int>> pending;
    pending.push_back(pool.submit([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
        return 2;
    }));
    pending.push_back(pool.submit([] { return 3; }));
    std::vector<int> seen;
    {
        auto first = parkit::as_completed(pending);
        std::vector<std::size_t> second_order;
        {
            auto second = parkit::as_completed(pending);
            release = true;
            for (auto& f : second) second_order.push_back(f.index());
        }
        CHECK(second_order.size() == 2);
        // the second range, now gone, must not disturb the first one
        for (auto& f : first) seen.push_back(f.get());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<int>{2, 3});
}

TEST_CASE("as_completed with a timeout throws timeout_error naming the pending tasks", "[as_completed][timeout]") {
    parkit::thread_pool pool(2);
    std::atomic<bool> release{false};
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit([] { return 1; }));
    futures.push_back(pool.submit([&] {
        for (int i = 0; i < 20'000 && !release.load(); ++i) std::this_thread::sleep_for(1ms);
        return 2;
    }));
    int got = 0;
    try {
        for (auto& f : parkit::as_completed(futures, 50ms)) got += f.get();
        FAIL("no timeout_error");
    } catch (const parkit::timeout_error& e) {
        CHECK(e.pending() == 1);
        CHECK(std::string(e.what()).find("1 of 2 tasks still pending") != std::string::npos);
        CHECK(std::string(e.what()).find("parkit::as_completed") != std::string::npos);
    }
    CHECK(got == 1);
    release = true;
    CHECK(futures[1].get() == 2);  // the task finished in the background
    // Enough time: no error, every future yielded.
    std::vector<parkit::future<int>> quick;
    for (int i = 0; i < 10; ++i) quick.push_back(pool.submit([i] { return i; }));
    int count = 0;
    for (auto& f : parkit::as_completed(quick, std::chrono::seconds(60))) count += f.valid();
    CHECK(count == 10);
    CHECK_THROWS_AS(parkit::as_completed(quick, -1ms), std::invalid_argument);
}

TEST_CASE("as_completed of an empty vector yields nothing", "[as_completed]") {
    std::vector<parkit::future<int>> none;
    int count = 0;
    for (auto& f : parkit::as_completed(none)) {
        (void)f;
        ++count;
    }
    CHECK(count == 0);
}
