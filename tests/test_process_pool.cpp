#include <parkit/core/as_completed.hpp>
#include <parkit/core/worker_local.hpp>
#include <parkit/parallel_map.hpp>
#include <parkit/process_pool.hpp>
#include <parkit/thread_pool.hpp>

#include <catch2/catch.hpp>

#include "reliability_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

int square(int x) {
    return x * x;
}
std::string greet(const std::string& name, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += "hi " + name + ";";
    return out;
}
std::map<std::string, std::vector<double>> histogram(std::vector<double> xs) {
    std::map<std::string, std::vector<double>> out;
    for (double x : xs) out[x < 0 ? "neg" : "pos"].push_back(x);
    return out;
}
int my_pid(int) {
    return static_cast<int>(::getpid());
}
int throws_invalid(int x) {
    if (x == 3) throw std::invalid_argument("x must not be 3");
    return x;
}
int crash(int how) {
    switch (how) {
        case 0:
            return parkit_test::null_dereference();
        case 1:
            std::abort();
        case 2:
            std::exit(7);
        case 3:
            ::kill(::getpid(), SIGKILL);
            break;
        default:
            break;
    }
    return how;
}
int sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ms;
}
void nothing() {}
int crash_on_5000(int x) {
    if (x == 5000) ::raise(SIGSEGV);
    if (x % 1000 == 7) throw std::domain_error("bad " + std::to_string(x));
    return x;
}
std::vector<double> big_matrix(int n) {  // an n x n matrix, row-major
    std::vector<double> m(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<double>(i) * 0.5;
    return m;
}

std::size_t child_count() {
    return parkit_test::child_processes().size();
}

// The live worker processes of this process's pools (children of their fork servers).
std::vector<int> live_workers() {
    std::vector<int> out;
    for (int pid : parkit_test::grandchild_processes())
        if (pid > 0) out.push_back(pid);
    return out;
}

// Waits for futures of sleep_ms(ms): how many returned ms and how many failed with
// worker_crashed by SIGKILL (anything else fails the test).
std::pair<int, int> outcomes_of_sleeps(std::vector<parkit::future<int>>& futures, int ms) {
    int ok = 0, crashed = 0;
    for (auto& f : futures) {
        try {
            const int value = f.get();
            CHECK(value == ms);
            ++ok;
        } catch (const parkit::worker_crashed& e) {
            CHECK(e.signal() == SIGKILL);
            ++crashed;
        }
    }
    return {ok, crashed};
}

}  // namespace

TEST_CASE("process_pool runs functions in other processes", "[process_pool]") {
    parkit::process_pool pool(2);
    CHECK(pool.size() == 2);
    CHECK(pool.submit(square, 7).get() == 49);
    CHECK(pool.submit(greet, std::string("ada"), 2).get() == "hi ada;hi ada;");
    const auto h = pool.submit(histogram, std::vector<double>{-1, 2, -3}).get();
    CHECK(h.at("neg") == std::vector<double>{-1, -3});
    CHECK(pool.submit([](int a, int b) { return a + b; }, 2, 3).get() == 5);
    CHECK(pool.submit(my_pid, 0).get() != static_cast<int>(::getpid()));
    auto v = pool.submit(nothing);
    v.get();
}

TEST_CASE("process_pool map keeps order and 10,000 tasks pass through 2 workers", "[process_pool]") {
    parkit::process_pool pool(2);
    std::vector<int> xs(10'000);
    for (int i = 0; i < 10'000; ++i) xs[static_cast<std::size_t>(i)] = i;
    const std::vector<int> ys = pool.map(square, xs);
    REQUIRE(ys.size() == xs.size());
    for (int i = 0; i < 10'000; ++i) REQUIRE(ys[static_cast<std::size_t>(i)] == i * i);
}

TEST_CASE("an exception in a worker comes back as remote_error and the worker lives on", "[process_pool][errors]") {
    parkit::process_pool pool(1);
    const int pid_before = pool.submit(my_pid, 0).get();
    auto f = pool.submit(throws_invalid, 3);
    try {
        f.get();
        FAIL("no exception");
    } catch (const parkit::remote_error& e) {
        CHECK(e.type_name() == "std::invalid_argument");
        CHECK(e.message() == "x must not be 3");
        CHECK(e.index() == 1);
    }
    CHECK(pool.submit(my_pid, 0).get() == pid_before);
    CHECK_THROWS_AS(pool.map(throws_invalid, std::vector<int>{1, 2, 3, 4}), parkit::task_error);
}

TEST_CASE("a crashing worker fails only its task and the pool replaces it", "[process_pool][crash]") {
    parkit::process_pool pool(2);
    for (int how : {0, 1, 2, 3}) {
        CAPTURE(how);
        std::vector<parkit::future<int>> healthy;
        for (int i = 0; i < 20; ++i) healthy.push_back(pool.submit(square, i));
        auto bad = pool.submit(crash, how);
        for (int i = 20; i < 40; ++i) healthy.push_back(pool.submit(square, i));
        try {
            bad.get();
            FAIL("no exception");
        } catch (const parkit::worker_crashed& e) {
            if (how == 0) CHECK(e.signal() == SIGSEGV);
            if (how == 1) CHECK(e.signal() == SIGABRT);
            if (how == 2) CHECK(e.exit_code() == 7);
            if (how == 3) CHECK(e.signal() == SIGKILL);
            CHECK(std::string(e.what()).find("died") != std::string::npos);
        }
        for (int i = 0; i < 40; ++i) CHECK(healthy[static_cast<std::size_t>(i)].get() == i * i);
    }
    CHECK(pool.submit(square, 12).get() == 144);
}

TEST_CASE("a worker killed from outside fails its task and the others complete", "[process_pool][crash]") {
    parkit::process_pool pool(2);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 10; ++i) futures.push_back(pool.submit(sleep_ms, 30));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::vector<int> workers = live_workers();
    REQUIRE(workers.size() == 2);
    ::kill(workers.front(), SIGKILL);
    const auto [ok, crashed] = outcomes_of_sleeps(futures, 30);
    CHECK(crashed == 1);
    CHECK(ok == 9);
}

TEST_CASE("a fork server killed from outside takes only the running tasks with it", "[process_pool][crash]") {
    parkit::process_pool pool(2);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 10; ++i) futures.push_back(pool.submit(sleep_ms, 30));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::vector<int> servers = parkit_test::child_processes();
    REQUIRE(servers.size() == 1);
    REQUIRE(servers.front() > 0);
    ::kill(servers.front(), SIGKILL);  // its workers die with it
    const auto [ok, crashed] = outcomes_of_sleeps(futures, 30);
    CHECK(crashed >= 1);  // the tasks running then (a worker between two tasks loses none)
    CHECK(crashed <= 2);
    CHECK(ok == 10 - crashed);
    // A new server was forked, with a full set of workers.
    CHECK(pool.submit(square, 5).get() == 25);
    const std::vector<int> now = parkit_test::child_processes();
    REQUIRE(now.size() == 1);
    CHECK(now.front() != servers.front());
    CHECK(live_workers().size() == 2);
}

TEST_CASE("a pool made on a thread that has ended keeps its workers", "[process_pool]") {
    std::unique_ptr<parkit::process_pool> pool;
    std::thread([&] { pool = std::make_unique<parkit::process_pool>(2); }).join();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // PR_SET_PDEATHSIG would have fired
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 20; ++i) futures.push_back(pool->submit(square, i));
    for (int i = 0; i < 20; ++i) CHECK(futures[static_cast<std::size_t>(i)].get() == i * i);  // no worker_crashed
    CHECK(live_workers().size() == 2);
}

TEST_CASE("a task over the time limit fails with task_timeout", "[process_pool][timeout]") {
    parkit::process_pool pool({.n_jobs = 1, .task_timeout_s = 0.2});
    auto slow = pool.submit(sleep_ms, 5'000);
    auto after = pool.submit(square, 5);
    CHECK_THROWS_AS(slow.get(), parkit::task_timeout);
    CHECK(after.get() == 25);
}

TEST_CASE("as_completed works on process futures", "[process_pool][as_completed]") {
    parkit::process_pool pool(2);
    std::vector<parkit::future<int>> futures;
    futures.push_back(pool.submit(sleep_ms, 200));
    futures.push_back(pool.submit(sleep_ms, 1));
    std::vector<std::size_t> order;
    for (auto& f : parkit::as_completed(futures)) {
        order.push_back(f.index());
        f.get();
    }
    CHECK(order == std::vector<std::size_t>{1, 0});
}

TEST_CASE("shutdown refuses new work and cancels queued tasks on request", "[process_pool][shutdown]") {
    parkit::process_pool pool(1);
    auto running = pool.submit(sleep_ms, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto queued = pool.submit(square, 3);
    pool.shutdown({.cancel_pending = true});
    CHECK(running.get() == 100);
    CHECK_THROWS_AS(queued.get(), parkit::task_cancelled);
    CHECK_THROWS_AS(pool.submit(square, 1), parkit::executor_closed);
}

TEST_CASE("no zombie or orphan processes are left behind", "[process_pool][zombies]") {
    const std::size_t before = child_count();
    std::vector<int> workers;
    {
        parkit::process_pool pool(3);
        CHECK(child_count() == before + 1);  // the fork server; the workers are its children
        workers = live_workers();
        CHECK(workers.size() == 3);
        auto f = pool.submit(crash, 1);
        CHECK_THROWS_AS(f.get(), parkit::worker_crashed);
        CHECK(pool.submit(square, 2).get() == 4);
        const std::vector<int> now = live_workers();
        workers.insert(workers.end(), now.begin(), now.end());
    }
    CHECK(child_count() == before);
    for (int pid : workers) CHECK(!parkit_test::process_exists(pid));
    try {
        parkit::process_pool pool(2);
        auto f = pool.submit(sleep_ms, 10'000);
        throw std::runtime_error("interrupted");
    } catch (const std::runtime_error&) {
    }
    CHECK(child_count() == before);
}

TEST_CASE("bad process_pool arguments are rejected by name", "[process_pool][errors]") {
    CHECK_THROWS_WITH(parkit::process_pool(0),
                      Catch::Contains("parkit::process_pool") && Catch::Contains("n_jobs = 0"));
    CHECK_THROWS_AS(parkit::process_pool({.n_jobs = 0}), std::invalid_argument);
    CHECK_THROWS_WITH(parkit::process_pool({.n_jobs = 1, .task_timeout_s = -1.0}),
                      Catch::Contains("parkit::process_pool") && Catch::Contains("task_timeout_s"));
    CHECK_THROWS_AS(parkit::process_pool({.n_jobs = 1, .task_timeout_s = -1.0}), std::invalid_argument);
}

// The settings are named: a bare number after n_jobs does not read as a time limit.
static_assert(!std::is_constructible_v<parkit::process_pool, int, double>);
static_assert(!std::is_constructible_v<parkit::process_pool, int, double, std::function<void()>>);
static_assert(!std::is_convertible_v<int, parkit::process_pool>);
static_assert(std::is_constructible_v<parkit::process_pool, int, std::function<void()>>);
static_assert(std::is_default_constructible_v<parkit::process_pool>);

TEST_CASE("process_pool takes its settings as named options", "[process_pool][options]") {
    {
        parkit::process_pool pool({.n_jobs = 2, .task_timeout_s = 0.5});
        CHECK(pool.size() == 2);
        CHECK(pool.submit(square, 4).get() == 16);
        auto slow = pool.submit(sleep_ms, 2000);
        CHECK_THROWS_AS(slow.get(), parkit::task_timeout);  // the limit is in force
    }
    {
        parkit::process_pool pool{{.n_jobs = 1}};
        CHECK(pool.size() == 1);
        CHECK(pool.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9});
    }
    parkit::process_pool two(2);
    CHECK(two.size() == 2);
    parkit::process_pool all;
    CHECK(all.size() == static_cast<std::size_t>(parkit::available_cores()));
}

TEST_CASE("process_pool map batches inputs yet fails only the inputs at fault", "[process_pool][crash]") {
    parkit::process_pool pool(2);
    std::vector<int> xs(10'000);
    std::iota(xs.begin(), xs.end(), 0);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{333}}) {
        CAPTURE(chunk);
        std::vector<parkit::progress_info> reports;
        const auto out =
            pool.map(crash_on_5000, xs,
                     parkit::collect_options{.chunk_size = chunk,
                                             .on_progress =
                                                 [&](const parkit::progress_info& p) { reports.push_back(p); },
                                             .on_error = parkit::on_error::collect});
        REQUIRE(out.errors.size() == 11);  // 10 exceptions (x % 1000 == 7) + the crash
        std::size_t crashes = 0;
        for (const auto& failure : out.errors) {
            try {
                std::rethrow_exception(failure.error);
            } catch (const parkit::worker_crashed& e) {
                ++crashes;
                CHECK(failure.index == 5000);
                CHECK(e.index() == 5000);
                CHECK(e.signal() == SIGSEGV);
            } catch (const parkit::remote_error& e) {
                CHECK(failure.index % 1000 == 7);
                CHECK(e.index() == failure.index);
                CHECK(e.type_name() == "std::domain_error");
            }
        }
        CHECK(crashes == 1);
        std::size_t ok = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (out.results[i]) {
                ++ok;
                REQUIRE(*out.results[i] == static_cast<int>(i));
            }
        }
        CHECK(ok == 10'000 - 11);
        REQUIRE(!reports.empty());
        CHECK(reports.back().done == 10'000);
    }
    try {
        pool.map(crash_on_5000, xs);
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 7);  // the first failure by index
    }
    CHECK(pool.submit(square, 9).get() == 81);  // still usable
    CHECK_THROWS_WITH(pool.map(square, xs, {.task_timeout_s = 1.0}), Catch::Contains("task_timeout_s"));
}

TEST_CASE("process_pool map with a time limit fails only the overdue input", "[process_pool][timeout]") {
    parkit::process_pool pool({.n_jobs = 2, .task_timeout_s = 0.3});
    const auto out = pool.map(sleep_ms, std::vector<int>{1, 2, 5'000, 3, 4},
                              parkit::collect_options{.on_error = parkit::on_error::collect});
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].index == 2);
    CHECK_THROWS_AS(std::rethrow_exception(out.errors[0].error), parkit::task_timeout);
    CHECK(*out.results[4] == 4);
}

TEST_CASE("multi-megabyte results travel back whole", "[process_pool][large]") {
    parkit::process_pool pool(2);
    const std::vector<double> expected = big_matrix(1000);  // 8 MB
    auto a = pool.submit(big_matrix, 1000);
    auto b = pool.submit(big_matrix, 1000);
    CHECK(a.get() == expected);
    CHECK(b.get() == expected);
    const auto all = pool.map(big_matrix, std::vector<int>{1000, 10, 1000});
    CHECK(all[0] == expected);
    CHECK(all[1].size() == 100);
    CHECK(all[2] == expected);
}

namespace {

int sleepy_pid(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return static_cast<int>(::getpid());
}

// Runs tiny tasks so that the pool learns its tasks are short and sends several ahead to each
// worker (see detail::pipeline_depth).
void warm_up(parkit::process_pool& pool) {
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 50; ++i) futures.push_back(pool.submit(square, i));
    for (auto& f : futures) f.get();
}

}  // namespace

TEST_CASE("a worker killed with tasks pipelined fails only the running one, the rest run elsewhere",
          "[process_pool][crash][pipeline]") {
    parkit::process_pool pool(1);
    warm_up(pool);
    const int first_worker = pool.submit(my_pid, 0).get();
    auto running = pool.submit(sleep_ms, 300);
    std::vector<parkit::future<int>> queued;
    for (int i = 0; i < 30; ++i) queued.push_back(pool.submit(my_pid, i));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all sent; the sleep runs
    ::kill(first_worker, SIGKILL);
    try {
        running.get();
        FAIL("no exception");
    } catch (const parkit::worker_crashed& e) {
        CHECK(e.signal() == SIGKILL);
        CHECK(e.index() == running.index());
    }
    for (auto& f : queued) CHECK(f.get() != first_worker);  // requeued to the replacement, not lost
}

TEST_CASE("a crash in the middle of a pipeline fails only the crashing task", "[process_pool][crash][pipeline]") {
    parkit::process_pool pool(1);
    warm_up(pool);
    for (int how : {0, 1, 2}) {
        CAPTURE(how);
        std::vector<parkit::future<int>> before, after;
        for (int i = 0; i < 20; ++i) before.push_back(pool.submit(square, i));
        auto bad = pool.submit(crash, how);
        for (int i = 0; i < 20; ++i) after.push_back(pool.submit(square, i));
        CHECK_THROWS_AS(bad.get(), parkit::worker_crashed);
        for (int i = 0; i < 20; ++i) {
            CHECK(before[static_cast<std::size_t>(i)].get() == i * i);
            CHECK(after[static_cast<std::size_t>(i)].get() == i * i);
        }
    }
}

TEST_CASE("time limits of pipelined tasks start when each task starts", "[process_pool][timeout][pipeline]") {
    parkit::process_pool pool({.n_jobs = 1, .task_timeout_s = 0.3});
    warm_up(pool);
    // Sent together; the second would be overdue if its clock started when it was sent.
    auto a = pool.submit(sleep_ms, 200);
    auto b = pool.submit(sleep_ms, 200);
    auto hang = pool.submit(sleep_ms, 5'000);
    auto c = pool.submit(sleep_ms, 200);
    auto d = pool.submit(square, 4);
    CHECK(a.get() == 200);
    CHECK(b.get() == 200);
    try {
        hang.get();
        FAIL("no exception");
    } catch (const parkit::task_timeout& e) {
        CHECK(e.index() == hang.index());
    }
    CHECK(c.get() == 200);  // sent behind the overdue task: requeued, not failed
    CHECK(d.get() == 16);
}

TEST_CASE("a burst of tasks on a warm pool is spread over the workers", "[process_pool][pipeline]") {
    parkit::process_pool pool(2);
    warm_up(pool);
    std::vector<parkit::future<int>> futures;
    for (int i = 0; i < 8; ++i) futures.push_back(pool.submit(sleepy_pid, 50));
    std::set<int> workers;
    for (auto& f : futures) workers.insert(f.get());
    CHECK(workers.size() == 2);
}

TEST_CASE("no task is sent ahead to a worker busy with a long task", "[process_pool][pipeline]") {
    parkit::process_pool pool(2);
    warm_up(pool);
    auto slow = pool.submit(sleepy_pid, 400);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // it has run long enough to tell
    std::vector<parkit::future<int>> quick;
    for (int i = 0; i < 10; ++i) quick.push_back(pool.submit(sleepy_pid, 1));
    std::set<int> quick_workers;
    for (auto& f : quick) quick_workers.insert(f.get());
    CHECK_FALSE(slow.ready());  // the quick ones did not wait for it
    CHECK(quick_workers.count(slow.get()) == 0);
}

namespace {
double sum_of(const std::vector<double>& xs) {
    return std::accumulate(xs.begin(), xs.end(), 0.0);
}
}  // namespace

TEST_CASE("large arguments and results pass through pipelines intact", "[process_pool][large][pipeline]") {
    parkit::process_pool pool(2);
    warm_up(pool);
    std::vector<parkit::future<double>> sums;
    std::vector<double> expected;
    for (int i = 0; i < 40; ++i) {
        // 8, 16, 800 and 32 KB of arguments: the small ones are sent ahead, the largest only to
        // idle workers (over the byte budget of a pipeline).
        const std::size_t blocks = i % 4 == 2 ? 100 : static_cast<std::size_t>(1 + i % 4);
        std::vector<double> xs(1'000 * blocks, 0.5 * i);
        expected.push_back(sum_of(xs));
        sums.push_back(pool.submit(sum_of, xs));
    }
    auto big = pool.submit(big_matrix, 1000);  // 8 MB back, read through the reply buffer
    std::vector<parkit::future<int>> small;
    for (int i = 0; i < 20; ++i) small.push_back(pool.submit(square, i));
    for (std::size_t i = 0; i < sums.size(); ++i) CHECK(sums[i].get() == expected[i]);
    CHECK(big.get() == big_matrix(1000));
    for (int i = 0; i < 20; ++i) CHECK(small[static_cast<std::size_t>(i)].get() == i * i);
}

namespace {

// A static object of the parent whose destructor, if a worker ran it, would end that worker
// with code 42 instead of the code its task exits with.
struct parent_static {
    pid_t owner = ::getpid();
    ~parent_static() {
        if (::getpid() != owner) ::_exit(42);
    }
};

int exit_with_3(int) {
    std::exit(3);
}

// Blocks until a byte arrives on `fd` (a pipe the test writes to): a task that hangs until told.
int wait_for_byte(int fd) {
    char byte = 0;
    return static_cast<int>(::read(fd, &byte, 1));
}

int forks_helper_then_crashes(int) {
    parkit_test::fork_helper_then_crash();
}

// Writes into its worker's socket a header announcing `bytes` of payload: with the message tag
// of this process tree (a size check must stop it), or the old 24-byte header (no tag).
int forges_header(std::uint64_t bytes, bool tagged) {
    if (tagged) {
        parkit::detail::message_header header{parkit::detail::message_kind::result, 0, 0, bytes};
        parkit_test::write_to_own_sockets(&header, sizeof header);
    } else {
        parkit_test::forge_reply_header(bytes);
    }
    return 1;
}

int forge_one_tib(int) {
    return forges_header(std::uint64_t{1} << 40, false);
}
int forge_64_mib(int) {
    return forges_header(std::uint64_t{64} << 20, false);
}
int forge_tagged_one_tib(int) {
    return forges_header(std::uint64_t{1} << 40, true);
}

}  // namespace

TEST_CASE("a task calling exit in a worker runs none of the parent's static destructors",
          "[process_pool][crash][exit]") {
    static parent_static guard;             // destroyed at exit: must not run in a worker
    static parkit::thread_pool threads(2);  // a static pool of the parent, with live threads
    CHECK(threads.submit([] { return 5; }).get() == 5);
    parkit_test::watchdog dog("exit(3) in a worker", std::chrono::seconds(60));
    parkit::process_pool pool(2);
    auto exiting = pool.submit(exit_with_3, 0);
    auto fine = pool.submit(square, 9);
    try {
        exiting.get();
        FAIL("exit(3) was not reported");
    } catch (const parkit::worker_crashed& e) {
        CHECK(e.exit_code() == 3);
        CHECK(e.signal() == 0);
        CHECK(std::string(e.what()).find("exited with code 3") != std::string::npos);
    }
    CHECK(fine.get() == 81);
    CHECK(pool.submit(square, 4).get() == 16);  // the slot was refilled
}

TEST_CASE("tasks sent ahead behind a hung task run on idle workers", "[process_pool][pipeline]") {
    parkit_test::watchdog dog("tasks behind a hung task", std::chrono::seconds(120));
    int release[2];
    REQUIRE(::pipe(release) == 0);  // made before the pool: its workers inherit it
    {
        parkit::process_pool pool(2);  // no time limit
        warm_up(pool);                 // short tasks: the pool pipelines
        auto hung = pool.submit(wait_for_byte, release[0]);
        std::vector<parkit::future<int>> innocent;
        for (int i = 0; i < 299; ++i) innocent.push_back(pool.submit(square, i));
        int completed = 0;
        for (auto& f : innocent) completed += f.wait_for(std::chrono::seconds(30)) ? 1 : 0;
        CHECK(completed == 299);
        CHECK_FALSE(hung.ready());
        REQUIRE(::write(release[1], "x", 1) == 1);
        CHECK(hung.get() == 1);
        for (int i = 0; i < 299; ++i) CHECK(innocent[static_cast<std::size_t>(i)].get() == i * i);
        CHECK(pool.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9});  // replaced workers work
    }
    ::close(release[0]);
    ::close(release[1]);
}

TEST_CASE("a task that forks a helper and then crashes is reported without waiting for the helper",
          "[process_pool][crash]") {
    parkit_test::shared_page();  // before the pool: its workers share it
    parkit_test::watchdog dog("crash with a live helper", std::chrono::seconds(120));
    {
        parkit::process_pool pool(2);
        auto crashing = pool.submit(forks_helper_then_crashes, 0);
        REQUIRE(crashing.wait_for(std::chrono::seconds(30)));  // the helper lives 120 s
        try {
            crashing.get();
            FAIL("the crash was not reported");
        } catch (const parkit::worker_crashed& e) {
            CHECK(e.signal() == SIGSEGV);
        }
        CHECK(pool.submit(square, 3).get() == 9);
    }
    parkit_test::release_helpers();
}

TEST_CASE("bytes a task writes into its worker's socket fail only that task", "[process_pool][crash][protocol]") {
    parkit_test::watchdog dog("forged headers", std::chrono::seconds(120));
    parkit::process_pool pool(2);
    for (auto* forge : {&forge_one_tib, &forge_64_mib, &forge_tagged_one_tib}) {
        std::vector<parkit::future<int>> others;
        for (int i = 0; i < 20; ++i) others.push_back(pool.submit(square, i));
        auto forged = pool.submit(forge, 0);
        for (int i = 20; i < 40; ++i) others.push_back(pool.submit(square, i));
        REQUIRE(forged.wait_for(std::chrono::seconds(30)));
        try {
            forged.get();
            FAIL("the forged reply was trusted");
        } catch (const parkit::worker_crashed& e) {
            CHECK(std::string(e.what()).find("protocol error") != std::string::npos);
        }
        for (int i = 0; i < 40; ++i) {
            REQUIRE(others[static_cast<std::size_t>(i)].wait_for(std::chrono::seconds(30)));
            CHECK(others[static_cast<std::size_t>(i)].get() == i * i);
        }
    }
    const auto results = pool.map(forge_tagged_one_tib, std::vector<int>{0, 1, 2},
                                  parkit::collect_options{.on_error = parkit::on_error::collect});
    CHECK(results.failed() == 3);  // each fails alone: the others of its batch are retried
}

TEST_CASE("every descriptor a process_pool opens is close-on-exec", "[process_pool][fork]") {
    std::set<int> before;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        before.insert(std::stoi(entry.path().filename().string()));
    parkit::process_pool pool(2);
    CHECK(pool.submit(square, 2).get() == 4);
    int opened = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        const int fd = std::stoi(entry.path().filename().string());
        if (before.count(fd) != 0) continue;
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0) continue;  // the directory iterator's own descriptor, closed meanwhile
        CAPTURE(fd);
        CHECK((flags & FD_CLOEXEC) != 0);
        ++opened;
    }
    CHECK(opened >= 5);  // wake pipe, fork server, two workers' sockets (and pidfds)
}

namespace {

/// Counters in memory shared with forked workers (an anonymous shared mapping made before the
/// pool, so every worker process writes the same page).
struct shared_counters {
    std::atomic<int> initializer_calls{0};
};

shared_counters* make_shared_counters() {
    void* memory = ::mmap(nullptr, sizeof(shared_counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory != MAP_FAILED);
    return new (memory) shared_counters();
}

/// Waits up to 10 s for `counter` to reach `value`; returns what it holds then.
int wait_for_count(const std::atomic<int>& counter, int value) {
    for (int i = 0; i < 1000 && counter.load() < value; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return counter.load();
}

int pid_after_short_wait(int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return static_cast<int>(::getpid());
}

long worker_index_of_task(int) {
    const auto index = parkit::this_worker::index();
    return index ? static_cast<long>(*index) : -1L;
}

int abort_task(int) {
    std::abort();
}

}  // namespace

TEST_CASE("process_pool initializer runs once in each worker process, and again in a replacement") {
    shared_counters* counters = make_shared_counters();
    {
        parkit::process_pool pool(2, [counters] { counters->initializer_calls.fetch_add(1); });
        std::vector<parkit::future<int>> pids;
        for (int i = 0; i < 40; ++i) pids.push_back(pool.submit(pid_after_short_wait, i));
        std::set<int> distinct;
        for (auto& f : pids) distinct.insert(f.get());
        REQUIRE(wait_for_count(counters->initializer_calls, 2) == 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        REQUIRE(counters->initializer_calls.load() == 2);  // not once per task

        auto crash = pool.submit(abort_task, 0);
        REQUIRE_THROWS_AS(crash.get(), parkit::worker_crashed);
        for (int i = 0; i < 20; ++i) (void)pool.submit(pid_after_short_wait, i).get();
        REQUIRE(wait_for_count(counters->initializer_calls, 3) == 3);  // the replacement ran it
    }
    ::munmap(counters, sizeof(shared_counters));
}

TEST_CASE("process_pool: a throwing initializer fails the tasks with a clear error, never hangs") {
    parkit::process_pool pool(2, [] { throw std::runtime_error("no licence server"); });
    auto f = pool.submit(pid_after_short_wait, 1);
    try {
        (void)f.get();
        FAIL("no exception");
    } catch (const parkit::remote_error& e) {
        REQUIRE(e.type_name() == "parkit::initializer_error");
        REQUIRE(std::string(e.what()).find("initializer threw") != std::string::npos);
        REQUIRE(std::string(e.what()).find("no licence server") != std::string::npos);
    }
    REQUIRE_THROWS_AS(pool.map(pid_after_short_wait, std::vector<int>{1, 2, 3}), parkit::task_error);
}

TEST_CASE("this_worker::index() inside worker processes is the worker's slot") {
    parkit::process_pool pool(2);
    std::set<long> seen;
    for (int i = 0; i < 30; ++i) seen.insert(pool.submit(worker_index_of_task, i).get());
    for (long index : seen) REQUIRE((index == 0 || index == 1));
    const std::vector<int> xs(200, 1);
    const auto indices = parkit::parallel_map(worker_index_of_task, xs,
                                              {.n_jobs = 2, .backend = parkit::backend::processes, .chunk_size = 1});
    for (long index : indices) REQUIRE((index == 0 || index == 1));
    REQUIRE_FALSE(parkit::this_worker::index().has_value());
}

TEST_CASE("process_pool_options: an initializer named in the options runs in each worker", "[process_pool][options]") {
    shared_counters* counters = make_shared_counters();
    {
        parkit::process_pool pool(
            {.n_jobs = 1, .initializer = [counters] { counters->initializer_calls.fetch_add(1); }});
        CHECK(pool.submit(pid_after_short_wait, 5).get() > 0);
        CHECK(wait_for_count(counters->initializer_calls, 1) == 1);
    }
    ::munmap(counters, sizeof(shared_counters));
}
