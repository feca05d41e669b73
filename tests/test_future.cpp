#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("future returns the value and reports readiness", "[future]") {
    parkit::thread_pool pool(2);
    std::atomic<bool> release{false};
    auto f = pool.submit([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
        return std::string("done");
    });
    CHECK(f.valid());
    CHECK_FALSE(f.ready());
    CHECK_FALSE(f.wait_for(20ms));
    release = true;
    CHECK(f.wait_for(5s));
    CHECK(f.ready());
    CHECK(f.get() == "done");
    CHECK_FALSE(f.valid());
    CHECK_THROWS_AS(f.get(), std::logic_error);
}

TEST_CASE("future index is the submission order", "[future]") {
    parkit::thread_pool pool(2);
    auto a = pool.submit([] { return 1; });
    auto b = pool.submit([] { return 2; });
    auto c = pool.submit([] { return 3; });
    CHECK(a.index() == 0);
    CHECK(b.index() == 1);
    CHECK(c.index() == 2);
    CHECK(a.get() + b.get() + c.get() == 6);
    CHECK(c.index() == 2);  // still readable after get()
}

TEST_CASE("future<void> works", "[future]") {
    parkit::thread_pool pool(2);
    std::atomic<int> hits{0};
    parkit::future<void> f = pool.submit([&] { ++hits; });
    f.get();
    CHECK(hits == 1);
    auto g = pool.submit([] { throw std::runtime_error("void failed"); });
    CHECK_THROWS_WITH(g.get(), "void failed");
}

TEST_CASE("submit forwards arguments and supports move-only results and arguments", "[future]") {
    parkit::thread_pool pool(2);
    auto f = pool.submit([](std::unique_ptr<int> p, int add) { return std::make_unique<int>(*p + add); },
                         std::make_unique<int>(40), 2);
    std::unique_ptr<int> r = f.get();
    REQUIRE(r);
    CHECK(*r == 42);
}

TEST_CASE("a task's exception reaches get() unchanged", "[future][errors]") {
    struct custom_error : std::runtime_error {
        int code;
        explicit custom_error(int c) : std::runtime_error("custom"), code(c) {}
    };
    parkit::thread_pool pool(2);
    auto f = pool.submit([]() -> int { throw custom_error(17); });
    try {
        (void)f.get();
        FAIL("no exception");
    } catch (const custom_error& e) {
        CHECK(e.code == 17);
    }
    auto g = pool.submit([]() -> int { throw std::out_of_range("range"); });
    CHECK(g.exception() != nullptr);
    CHECK_THROWS_AS(g.get(), std::out_of_range);
}

TEST_CASE("futures are move-only", "[future]") {
    static_assert(!std::is_copy_constructible_v<parkit::future<int>>);
    static_assert(!std::is_copy_assignable_v<parkit::future<int>>);
    static_assert(std::is_nothrow_move_constructible_v<parkit::future<int>>);
    parkit::thread_pool pool(1);
    auto f = pool.submit([] { return 9; });
    parkit::future<int> g = std::move(f);
    CHECK_FALSE(f.valid());
    CHECK(g.get() == 9);
}

TEST_CASE("a callable whose copy throws fails submit cleanly", "[future][errors]") {
    struct throws_on_copy {
        throws_on_copy() = default;
        throws_on_copy(const throws_on_copy&) { throw std::runtime_error("copy failed"); }
        int operator()() const { return 1; }
    };
    parkit::thread_pool pool(2);
    const throws_on_copy callable;
    CHECK_THROWS_WITH(pool.submit(callable), "copy failed");
    CHECK(pool.submit([] { return 4; }).get() == 4);  // the pool is intact and shuts down
}

TEST_CASE("empty futures give a clear error", "[future][errors]") {
    parkit::future<int> f;
    CHECK_FALSE(f.valid());
    CHECK_THROWS_AS(f.get(), std::logic_error);
    CHECK_THROWS_AS(f.wait(), std::logic_error);
    CHECK_THROWS_WITH(f.ready(), Catch::Contains("empty"));
}

TEST_CASE("cancel stops a queued task but not a running one", "[future][cancel]") {
    parkit::thread_pool pool(1);
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    auto blocker = pool.submit([&] {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(1ms);
        return 1;
    });
    while (!started.load()) std::this_thread::sleep_for(1ms);
    std::atomic<bool> ran{false};
    auto queued = pool.submit([&] {
        ran = true;
        return 2;
    });
    CHECK_FALSE(blocker.cancel());  // running
    CHECK(queued.cancel());
    CHECK(queued.cancelled());
    CHECK(queued.ready());
    release = true;
    CHECK(blocker.get() == 1);
    CHECK_THROWS_AS(queued.get(), parkit::task_cancelled);
    pool.shutdown();
    CHECK_FALSE(ran.load());
}
