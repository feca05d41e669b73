#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {
double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

TEST_CASE("thread_pool has the requested size", "[thread_pool]") {
    CHECK(parkit::thread_pool(3).size() == 3);
    CHECK(parkit::thread_pool(-1).size() == static_cast<std::size_t>(parkit::available_cores()));
    CHECK(parkit::thread_pool().size() == static_cast<std::size_t>(parkit::available_cores()));
}

TEST_CASE("thread_pool::map returns results in input order", "[thread_pool][map]") {
    parkit::thread_pool pool(4);
    std::vector<int> inputs(1000);
    std::iota(inputs.begin(), inputs.end(), 0);
    const std::vector<long> out = pool.map([](int x) { return static_cast<long>(x) * x; }, inputs);
    REQUIRE(out.size() == inputs.size());
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == static_cast<long>(i * i));
}

TEST_CASE("100,000 tiny tasks all complete with the right values", "[thread_pool]") {
    parkit::thread_pool pool(2);
    std::vector<parkit::future<std::size_t>> futures;
    futures.reserve(100'000);
    for (std::size_t i = 0; i < 100'000; ++i) futures.push_back(pool.submit([i] { return i * 2; }));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < futures.size(); ++i) wrong += futures[i].get() != i * 2;
    CHECK(wrong == 0);
}

TEST_CASE("a task that submits sub-tasks and waits for them does not deadlock", "[thread_pool][nested]") {
    parkit::thread_pool pool(2);
    // Every worker blocks in a task that waits on sub-tasks queued behind it: without helping,
    // this deadlocks a plain pool.
    std::vector<parkit::future<int>> outer;
    for (int t = 0; t < 8; ++t) {
        outer.push_back(pool.submit([&pool, t] {
            std::vector<parkit::future<int>> inner;
            for (int k = 0; k < 16; ++k) inner.push_back(pool.submit([t, k] { return t * 100 + k; }));
            int sum = 0;
            for (auto& f : inner) sum += f.get();
            return sum;
        }));
    }
    for (int t = 0; t < 8; ++t) CHECK(outer[static_cast<std::size_t>(t)].get() == t * 1600 + 120);
}

TEST_CASE("deeply nested waits complete (recursive fibonacci)", "[thread_pool][nested]") {
    parkit::thread_pool pool(2);
    struct fib {
        parkit::thread_pool& pool;
        long operator()(int n) const {
            if (n < 2) return n;
            auto left = pool.submit(fib{pool}, n - 1);
            const long right = (*this)(n - 2);
            return left.get() + right;
        }
    };
    CHECK(pool.submit(fib{pool}, 18).get() == 2584);
}

TEST_CASE("parallel_map inside a task on the same pool does not deadlock", "[thread_pool][nested]") {
    parkit::thread_pool pool(2);
    auto sums = pool.map(
        [&pool](int row) {
            std::vector<int> cols(200);
            std::iota(cols.begin(), cols.end(), 0);
            auto products = pool.map([row](int c) { return row * c; }, cols);
            return std::accumulate(products.begin(), products.end(), 0L);
        },
        std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    for (int row = 0; row < 8; ++row) CHECK(sums[static_cast<std::size_t>(row)] == row * 19900L);

    // The same with the process-wide pool behind parkit::parallel_map.
    auto nested = parkit::parallel_map(
        [](int row) {
            auto inner = parkit::parallel_map([row](int c) { return row + c; }, std::vector<int>(50, 1));
            return std::accumulate(inner.begin(), inner.end(), 0);
        },
        std::vector<int>{1, 2, 3, 4});
    CHECK(nested == std::vector<int>{100, 150, 200, 250});
}

TEST_CASE("an idle pool sleeps and uses no measurable CPU", "[thread_pool][idle]") {
    parkit::thread_pool pool(4);
    pool.submit([] { return 0; }).get();  // workers have run and gone idle
    std::this_thread::sleep_for(50ms);
    const double before = process_cpu_seconds();
    std::this_thread::sleep_for(1s);
    const double used = process_cpu_seconds() - before;
    CHECK(used < 0.02);  // 4 spinning workers would use ~4 s
    // and it still wakes up for new work
    CHECK(pool.submit([] { return 5; }).get() == 5);
}

TEST_CASE("destroying a pool runs all pending work first", "[thread_pool][shutdown]") {
    std::atomic<int> done{0};
    std::vector<parkit::future<int>> futures;
    {
        parkit::thread_pool pool(2);
        for (int i = 0; i < 200; ++i) {
            futures.push_back(pool.submit([&done, i] {
                std::this_thread::sleep_for(100us);
                ++done;
                return i;
            }));
        }
    }
    CHECK(done == 200);
    for (int i = 0; i < 200; ++i) {
        REQUIRE(futures[static_cast<std::size_t>(i)].ready());
        CHECK(futures[static_cast<std::size_t>(i)].get() == i);
    }
}

TEST_CASE("shutdown with cancel_pending cancels queued tasks only", "[thread_pool][shutdown][cancel]") {
    parkit::thread_pool pool(1);
    std::atomic<bool> started{false};
    auto running = pool.submit([&] {
        started = true;
        std::this_thread::sleep_for(50ms);
        return 1;
    });
    while (!started.load()) std::this_thread::sleep_for(1ms);
    std::vector<parkit::future<int>> queued;
    for (int i = 0; i < 10; ++i) queued.push_back(pool.submit([] { return 2; }));
    pool.shutdown({.cancel_pending = true});
    CHECK(running.get() == 1);
    for (auto& f : queued) {
        CHECK(f.cancelled());
        CHECK_THROWS_AS(f.get(), parkit::task_cancelled);
    }
}

// The flags are named at the call: two positional bools (or one) do not convert.
template <class Pool>
concept takes_positional_shutdown_flags = requires(Pool& pool) {
    pool.shutdown(false);
}
|| requires(Pool& pool) {
    pool.shutdown(true, true);
};
static_assert(!takes_positional_shutdown_flags<parkit::thread_pool>);
static_assert(!takes_positional_shutdown_flags<parkit::process_pool>);
static_assert(!std::is_convertible_v<bool, parkit::shutdown_options>);
static_assert(parkit::shutdown_options{}.wait && !parkit::shutdown_options{}.cancel_pending);

TEST_CASE("submit after shutdown is refused with a clear error", "[thread_pool][shutdown][errors]") {
    parkit::thread_pool pool(2);
    pool.shutdown();
    CHECK_THROWS_AS(pool.submit([] { return 1; }), parkit::executor_closed);
    CHECK_THROWS_WITH(pool.submit([] { return 1; }), Catch::Contains("shut down"));
    CHECK_THROWS_AS(pool.map([](int x) { return x; }, std::vector<int>(100, 1)), parkit::executor_closed);
    pool.shutdown();  // idempotent
}

TEST_CASE("shutdown without waiting returns at once and queued work still runs", "[thread_pool][shutdown]") {
    parkit::thread_pool pool(1);
    std::atomic<bool> release{false};
    auto slow = pool.submit([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
        return 7;
    });
    auto next = pool.submit([] { return 8; });
    pool.shutdown({.wait = false});  // would never return if it waited for `slow`
    release = true;
    CHECK(slow.get() == 7);
    CHECK(next.get() == 8);
}

TEST_CASE("a task may submit follow-up work while the pool drains", "[thread_pool][shutdown][nested]") {
    std::atomic<int> follow_ups{0};
    {
        parkit::thread_pool pool(2);
        for (int i = 0; i < 4; ++i) {
            pool.submit([&pool, &follow_ups] {
                std::this_thread::sleep_for(20ms);
                pool.submit([&follow_ups] { ++follow_ups; });
            });
        }
        pool.shutdown({.wait = false});
    }
    CHECK(follow_ups == 4);
}

TEST_CASE("waiting for shutdown from inside the pool is refused", "[thread_pool][shutdown][errors]") {
    parkit::thread_pool pool(2);
    auto f = pool.submit([&pool] { pool.shutdown({.wait = true}); });
    CHECK_THROWS_AS(f.get(), std::logic_error);
}

TEST_CASE("a one-thread pool runs a burst larger than its queue ring in submission order", "[thread_pool][queue]") {
    // The worker is held on a gate while 5,000 tasks queue up: more than the lock-free ring
    // holds, so most go to the overflow list. A pool of one thread must still run them all,
    // strictly in submission order (it is an ordered executor, like ThreadPoolExecutor(1)).
    parkit::thread_pool pool(1);
    std::atomic<bool> open{false};
    auto gate = pool.submit([&] {
        while (!open.load()) std::this_thread::yield();
    });
    constexpr int n = 5000;
    std::vector<int> order;
    order.reserve(n);
    std::vector<parkit::future<void>> futures;
    for (int i = 0; i < n; ++i) futures.push_back(pool.submit([&order, i] { order.push_back(i); }));
    open = true;
    gate.get();
    for (auto& f : futures) f.get();
    std::vector<int> expected(n);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(order == expected);
}

TEST_CASE("bursts from several producers beyond the ring sizes all complete once", "[thread_pool][queue]") {
    parkit::thread_pool pool(2);
    static constexpr int producers = 4, per_producer = 20'000;
    std::atomic<long long> sum{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            std::vector<parkit::future<int>> futures;
            futures.reserve(per_producer);
            for (int i = 0; i < per_producer; ++i)
                futures.push_back(pool.submit([p, i] { return p * per_producer + i; }));
            for (auto& f : futures) sum += f.get();
        });
    }
    for (auto& t : threads) t.join();
    const long long total = static_cast<long long>(producers) * per_producer;
    CHECK(sum.load() == total * (total - 1) / 2);
}

TEST_CASE("every worker gets a share of a burst submitted while one worker is still spinning",
          "[thread_pool][wakeup]") {
    // Each round submits one task per worker, and every task waits (up to 2 s) until all of the
    // round's tasks have started: they only all start if each gets its own worker. Rounds follow
    // each other at once, so the workers are still spinning for work (awake, not sleeping) when
    // the next burst comes; a submit skips the wake-up then, and the spinning worker that takes
    // a task must wake a sleeper for the rest. One worker running the whole burst alone shows
    // up as a task that timed out.
    for (const std::size_t workers : {std::size_t{2}, std::size_t{4}}) {
        parkit::thread_pool pool(workers);
        int lonely_rounds = 0;
        for (int round = 0; round < 300 && lonely_rounds == 0; ++round) {
            std::atomic<std::size_t> started{0};
            std::vector<parkit::future<bool>> tasks;
            for (std::size_t k = 0; k < workers; ++k) {
                tasks.push_back(pool.submit([&started, workers] {
                    started.fetch_add(1);
                    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
                    while (started.load() < workers) {
                        if (std::chrono::steady_clock::now() > give_up) return false;
                        std::this_thread::yield();
                    }
                    return true;
                }));
            }
            for (auto& t : tasks) lonely_rounds += t.get() ? 0 : 1;
        }
        CAPTURE(workers);
        CHECK(lonely_rounds == 0);
    }
}

TEST_CASE("50,000 queued tasks that each submit a sub-task and wait for it do not nest on the stack",
          "[thread_pool][nested]") {
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        parkit::thread_pool pool(threads);
        std::vector<parkit::future<long>> outer;
        outer.reserve(50'000);
        for (long t = 0; t < 50'000; ++t) {
            outer.push_back(pool.submit([&pool, t] { return pool.submit([t] { return 2 * t; }).get() + 1; }));
        }
        long wrong = 0;
        for (long t = 0; t < 50'000; ++t) wrong += outer[static_cast<std::size_t>(t)].get() != 2 * t + 1;
        CHECK(wrong == 0);
    }
}

TEST_CASE("50,000 queued tasks that all wait on one slow task neither overflow the stack nor deadlock",
          "[thread_pool][nested]") {
    // The awaited task runs elsewhere, so a waiter cannot run it itself: helping with the next
    // queued task each time would nest 50,000 waits deep. The help depth is bounded instead.
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        parkit::thread_pool pool(threads);
        std::atomic<bool> release{false};
        std::atomic<int> max_depth{0};
        thread_local int depth = 0;
        auto slow = std::make_shared<parkit::future<int>>(pool.submit([&] {
            while (!release.load()) std::this_thread::sleep_for(1ms);
            return 7;
        }));
        std::vector<parkit::future<int>> outer;
        outer.reserve(50'000);
        for (int t = 0; t < 50'000; ++t) {
            outer.push_back(pool.submit([slow, &max_depth] {
                ++depth;
                int seen = max_depth.load();
                while (depth > seen && !max_depth.compare_exchange_weak(seen, depth)) {
                }
                slow->wait();
                --depth;
                return 1;
            }));
        }
        std::this_thread::sleep_for(20ms);  // let the workers pile up waits (not a pass criterion)
        release = true;
        CHECK(slow->get() == 7);
        int done = 0;
        for (auto& f : outer) done += f.get();
        CHECK(done == 50'000);
        CHECK(max_depth.load() <= parkit::detail::max_help_depth + 1);
    }
}

TEST_CASE("submit to a parent's thread_pool in a forked child throws std::logic_error", "[thread_pool][fork][errors]") {
    parkit::thread_pool pool(2);
    CHECK(pool.submit([] { return 1; }).get() == 1);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 10;
        try {
            (void)pool.submit([] { return 2; });
            code = 11;  // accepted: would never run
        } catch (const std::logic_error& e) {
            const std::string what = e.what();
            code =
                what.find("parkit::thread_pool::submit") != std::string::npos && what.find("fork") != std::string::npos
                    ? 0
                    : 12;
        } catch (...) {
            code = 13;
        }
        if (code == 0) {
            try {
                (void)pool.map([](int x) { return x; }, std::vector<int>{1, 2});
                code = 14;
            } catch (const std::logic_error&) {
            }
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(pool.submit([] { return 3; }).get() == 3);  // the parent's pool is unaffected
}

namespace {
// Spins (bounded) until `condition()` holds; for states reached asynchronously.
template <class Condition>
bool eventually(Condition condition) {
    for (int i = 0; i < 20'000; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return condition();
}
}  // namespace

TEST_CASE("thread_pool::wait blocks until every queued and running task is done and the pool stays open",
          "[thread_pool][wait]") {
    parkit::thread_pool pool(2);
    std::atomic<int> done{0};
    for (int i = 0; i < 300; ++i) {
        (void)pool.submit([&pool, &done, i] {
            if (i % 10 == 0) (void)pool.submit([&done] { ++done; });  // follow-up work counts too
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            ++done;
        });
    }
    pool.wait();
    CHECK(done == 330);
    CHECK(pool.queued() == 0);
    CHECK(pool.running() == 0);
    CHECK(pool.submit([] { return 5; }).get() == 5);  // still open
    pool.wait();                                      // nothing left: returns at once
    auto inside = pool.submit([&pool] {
        try {
            pool.wait();
        } catch (const std::logic_error&) {
            return true;
        }
        return false;
    });
    CHECK(inside.get());
}

TEST_CASE("pause stops starting queued tasks until resume, and counters report them", "[thread_pool][pause]") {
    parkit::thread_pool pool(2);
    std::atomic<bool> gate{false};
    auto blocker = pool.submit([&] {
        for (int i = 0; i < 20'000 && !gate.load(); ++i) std::this_thread::sleep_for(1ms);
        return 1;
    });
    REQUIRE(eventually([&] { return pool.running() == 1; }));
    pool.pause();
    CHECK(pool.paused());
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i) (void)pool.submit([&ran] { ++ran; });
    CHECK(pool.queued() == 10);
    gate = true;
    pool.wait();  // paused: returns once the running task is done, the queued ones stay
    CHECK(blocker.get() == 1);
    CHECK(ran == 0);
    CHECK(pool.queued() == 10);
    CHECK(pool.running() == 0);
    pool.resume();
    CHECK_FALSE(pool.paused());
    pool.wait();
    CHECK(ran == 10);
    CHECK(pool.queued() == 0);
    // shutdown ends a pause, so the destructor does not wait forever.
    pool.pause();
    (void)pool.submit([&ran] { ++ran; });
    pool.shutdown();
    CHECK(ran == 11);
}

TEST_CASE("a high-priority task queued after 10,000 normal ones starts before them", "[thread_pool][priority]") {
    parkit::thread_pool pool(1);
    std::atomic<bool> gate{false};
    (void)pool.submit([&] {
        for (int i = 0; i < 20'000 && !gate.load(); ++i) std::this_thread::sleep_for(1ms);
    });
    std::atomic<int> order{0};
    std::atomic<int> low_at{-1};
    std::atomic<int> high_at{-1};
    auto low = pool.submit(parkit::priority::low, [&] { low_at = order++; });
    for (int i = 0; i < 10'000; ++i) (void)pool.submit([&] { ++order; });
    auto high = pool.submit(parkit::priority::high, [&] { high_at = order++; });
    gate = true;
    pool.wait();
    CHECK(high_at == 0);
    CHECK(low_at == 10'001);
    CHECK_THROWS_AS(pool.submit(static_cast<parkit::priority>(9), [] {}), std::invalid_argument);
}

TEST_CASE("this_worker::index is 0..size-1 inside a pool's tasks and empty outside", "[thread_pool][worker]") {
    CHECK_FALSE(parkit::this_worker::index().has_value());
    parkit::thread_pool pool(3);
    std::atomic<int> arrived{0};
    std::vector<parkit::future<std::size_t>> futures;
    for (int t = 0; t < 3; ++t) {
        futures.push_back(pool.submit([&arrived] {
            ++arrived;  // all three run at once, so each worker takes one
            for (int i = 0; i < 20'000 && arrived.load() < 3; ++i) std::this_thread::sleep_for(1ms);
            return parkit::this_worker::index().value_or(99);
        }));
    }
    std::vector<std::size_t> seen;
    for (auto& f : futures) seen.push_back(f.get());
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("worker_local gives each worker its own lazily built value", "[thread_pool][worker]") {
    parkit::thread_pool pool(3);
    parkit::worker_local<long> counts;
    pool.map([&](int) { ++counts.get(); }, std::vector<int>(5'000, 0));
    long total = 0;
    counts.for_each([&](long& c) { total += c; });
    CHECK(total == 5'000);
    CHECK(counts.size() >= 1);
    CHECK(counts.size() <= 4);  // three workers and the calling thread
    std::atomic<int> built{0};
    parkit::worker_local<std::vector<double>> workspace([&built] {
        ++built;
        return std::vector<double>(16, 1.5);
    });
    std::vector<parkit::future<double>> futures;
    for (int i = 0; i < 200; ++i) {
        futures.push_back(pool.submit([&workspace] {
            std::vector<double>& w = workspace.get();
            return &w == &workspace.get() ? w[3] : -1.0;  // the same object for the same worker
        }));
    }
    for (auto& f : futures) CHECK(f.get() == 1.5);
    CHECK(built == static_cast<int>(workspace.size()));
    CHECK(built <= 3);
}

TEST_CASE("a thread_pool initializer runs once in each worker before its first task", "[thread_pool][initializer]") {
    std::atomic<int> calls{0};
    std::mutex mutex;
    std::vector<std::size_t> indices;
    thread_local bool initialized = false;
    parkit::thread_pool pool(3, [&] {
        ++calls;
        initialized = true;
        std::lock_guard lock(mutex);
        indices.push_back(parkit::this_worker::index().value_or(99));
    });
    CHECK(calls == 3);
    std::sort(indices.begin(), indices.end());
    CHECK(indices == std::vector<std::size_t>{0, 1, 2});
    std::vector<parkit::future<bool>> futures;
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit([] { return initialized; }));
    int ok = 0;
    for (auto& f : futures) ok += f.get();
    CHECK(ok == 100);
    CHECK(calls == 3);
}

TEST_CASE("a throwing thread_pool initializer is a clear error, not a hang", "[thread_pool][initializer][errors]") {
    try {
        parkit::thread_pool pool(2, [] {
            if (parkit::this_worker::index() == 1u) throw std::runtime_error("no database");
        });
        FAIL("no initializer_error");
    } catch (const parkit::initializer_error& e) {
        CHECK(e.worker() == 1);
        CHECK(std::string(e.what()).find("no database") != std::string::npos);
        CHECK(std::string(e.what()).find("initializer") != std::string::npos);
    }
    CHECK_THROWS_AS(parkit::thread_pool(2, std::function<void()>{}), std::invalid_argument);
}

TEST_CASE("detach runs every task without a future and wait waits for them", "[thread_pool][detach]") {
    parkit::thread_pool pool(2);
    std::atomic<long> sum{0};
    for (long i = 1; i <= 100'000; ++i) pool.detach([&sum](long v) { sum.fetch_add(v, std::memory_order_relaxed); }, i);
    pool.wait();
    CHECK(sum.load() == 100'000L * 100'001L / 2);
    // From inside a task: detached sub-tasks go to the worker's queue and are waited for too.
    pool.detach([&] {
        for (int i = 0; i < 1'000; ++i) pool.detach([&sum] { sum.fetch_add(1, std::memory_order_relaxed); });
    });
    pool.wait();
    CHECK(sum.load() == 100'000L * 100'001L / 2 + 1'000);
}

TEST_CASE("wait rethrows the first exception of a detached task with the count, once",
          "[thread_pool][detach][errors]") {
    parkit::thread_pool pool(2);
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) {
        pool.detach(
            [&ran](int v) {
                ran.fetch_add(1);
                if (v % 10 == 3) throw std::domain_error("bad " + std::to_string(v));
            },
            i);
    }
    try {
        pool.wait();
        FAIL("no exception");
    } catch (const parkit::detached_task_error& e) {
        CHECK(e.count() == 10);
        CHECK_THAT(e.what(), Catch::Contains("parkit::thread_pool::wait") &&
                                 Catch::Contains("10 detached task(s) threw") && Catch::Contains("std::domain_error") &&
                                 Catch::Contains("bad "));
        CHECK_THROWS_AS(std::rethrow_exception(e.original()), std::domain_error);
    }
    CHECK(ran.load() == 100);    // a failure does not stop the others
    CHECK_NOTHROW(pool.wait());  // collected once
    pool.shutdown();
    CHECK_THROWS_AS(pool.detach([] {}), parkit::executor_closed);
}

TEST_CASE("detached tasks cancelled by shutdown never run", "[thread_pool][detach][cancel]") {
    std::atomic<int> ran{0};
    std::atomic<bool> release{false};
    parkit::thread_pool pool(1);
    pool.detach([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
    });
    for (int i = 0; i < 50; ++i) pool.detach([&ran] { ran.fetch_add(1); });
    // Cancels the 50 while the first still holds the only worker.
    pool.shutdown({.wait = false, .cancel_pending = true});
    release.store(true);
    pool.shutdown({.wait = true});
    CHECK(ran.load() == 0);
}

TEST_CASE("tasks submitted from inside a task run newest first on their worker, outside ones in order",
          "[thread_pool][order]") {
    parkit::thread_pool pool(1);
    std::vector<int> order;
    pool.submit([&] {
            for (int i = 0; i < 5; ++i) pool.detach([&order, i] { order.push_back(i); });
        })
        .get();
    pool.wait();
    CHECK(order == std::vector<int>{4, 3, 2, 1, 0});  // depth first, as a recursion unwinds
    order.clear();
    for (int i = 0; i < 5; ++i) pool.detach([&order, i] { order.push_back(i); });
    pool.wait();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("fine-grained fork-join through submit and get gives the right answer on 1 to 4 workers",
          "[thread_pool][nested]") {
    for (int workers : {1, 2, 4}) {
        CAPTURE(workers);
        parkit::thread_pool pool(workers);
        std::function<long(int)> fib = [&](int n) -> long {
            if (n < 8) return n < 2 ? n : fib(n - 1) + fib(n - 2);
            auto left = pool.submit(fib, n - 1);
            const long right = fib(n - 2);
            return left.get() + right;
        };
        CHECK(pool.submit(fib, 25).get() == 75'025);
    }
}
