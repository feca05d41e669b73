// Fault matrix: 10,000-task maps on the process backend in which chosen tasks segfault, abort,
// exit(3), throw, hang past their time limit, run out of memory, write a forged reply header
// into their worker's socket or fork a helper and then crash, while another thread
// SIGKILLs worker processes at random moments. Every other result must arrive, each failure
// must be reported with its index and kind, and no child process may be left behind.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <catch2/catch.hpp>

#include "iota.hpp"
#include "reliability_support.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <new>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool under_sanitizer = true;  // their allocators reserve terabytes: RLIMIT_AS breaks them
#else
constexpr bool under_sanitizer = false;
#endif
#if defined(__SANITIZE_THREAD__)
constexpr bool under_thread_sanitizer = true;  // exit() in a forked child can hang in its at-exit work
#else
constexpr bool under_thread_sanitizer = false;
#endif

enum class fault { none, segfault, abort, exit3, exception, hang, out_of_memory, forged_header, helper_then_crash };

// Which fault task i injects: a few of each kind, spread over the whole map.
fault fault_of(int i) {
    switch (i % 1000) {
        case 11:
            return fault::segfault;
        case 223:
            return fault::abort;
        case 437:
            return fault::exit3;
        case 541:
            return fault::exception;
        case 659:
            return i < 3000 ? fault::hang : fault::none;  // each hang costs a time limit
        case 773:
            return under_sanitizer ? fault::none : fault::out_of_memory;
        case 887:
            return fault::forged_header;
        case 941:
            return i < 3000 ? fault::helper_then_crash : fault::none;  // each helper lives until released
        default:
            return fault::none;
    }
}

// Allocates until the address-space limit (set low for this worker only) makes malloc fail,
// then uses the null pointer as careless C code would: the worker dies by SIGSEGV.
[[noreturn]] void exhaust_memory() {
    rlimit limit{};
    ::getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = 512ull << 20;
    ::setrlimit(RLIMIT_AS, &limit);
    for (;;) {
        auto* block = static_cast<volatile char*>(std::malloc(8 << 20));
        block[0] = 1;  // null once the limit is reached
        block[4096] = 1;
    }
}

// ~10 us of arithmetic whose result depends on i.
long expected_value(int i) {
    unsigned long x = static_cast<unsigned long>(i);
    for (int k = 0; k < 2000; ++k) x = (x * 2862933555777941757UL + 3037000493UL) % 1000003UL;
    return static_cast<long>(x);
}

long task(int i) {
    switch (fault_of(i)) {
        case fault::segfault:
            ::raise(SIGSEGV);
            break;
        case fault::abort:
            std::abort();
        case fault::exit3:
            std::exit(3);
        case fault::exception:
            throw std::out_of_range("task " + std::to_string(i) + " is out of range");
        case fault::hang:
            std::this_thread::sleep_for(std::chrono::seconds(60));
            break;
        case fault::out_of_memory:
            exhaust_memory();
        case fault::forged_header:
            parkit_test::forge_reply_header(std::uint64_t{1} << 40);
            break;
        case fault::helper_then_crash:
            parkit_test::fork_helper_then_crash();
        case fault::none:
            break;
    }
    return expected_value(i);  // ~10 us of work
}

// Live (positive) and zombie (negative) children of this process.
std::vector<int> children() {
    return parkit_test::child_processes();
}

// The worker processes of a process_pool: the children of its fork server.
std::vector<int> pool_workers() {
    return parkit_test::grandchild_processes();
}

// SIGKILLs a random live worker every few milliseconds while it runs: faults from outside.
// `workers` lists them (live positive, zombies negative).
class random_killer {
public:
    explicit random_killer(int max_kills, std::vector<int> (*workers)() = children)
        : workers_(workers), thread_([this, max_kills] { run(max_kills); }) {}
    ~random_killer() { stop(); }
    int stop() {
        done_.store(true);
        if (thread_.joinable()) thread_.join();
        return kills_.load();
    }

private:
    void run(int max_kills) {
        std::mt19937 rng(12345);
        while (!done_.load() && kills_.load() < max_kills) {
            std::this_thread::sleep_for(std::chrono::milliseconds(15 + rng() % 20));
            std::vector<int> live;
            for (int pid : workers_())
                if (pid > 0) live.push_back(pid);
            if (live.empty()) continue;
            if (::kill(live[rng() % live.size()], SIGKILL) == 0) kills_.fetch_add(1);
        }
    }
    std::vector<int> (*workers_)();
    std::atomic<bool> done_{false};
    std::atomic<int> kills_{0};
    std::thread thread_;
};

// Checks one failure against the fault injected into its task. A task may also have been hit
// by the random killer first (SIGKILL), which is the only failure allowed for healthy tasks.
// Returns true when the failure is the injected one.
bool check_failure(const parkit::task_failure& failure) {
    const int i = static_cast<int>(failure.index);
    CAPTURE(i, failure.message());
    const fault injected = fault_of(i);
    try {
        std::rethrow_exception(failure.error);
    } catch (const parkit::worker_crashed& e) {
        CHECK(e.index() == failure.index);
        if (e.signal() == SIGKILL) return false;  // the random killer
        switch (injected) {
            case fault::segfault:
                CHECK(e.signal() == SIGSEGV);
                break;
            case fault::helper_then_crash:
                CHECK(e.signal() == SIGSEGV);
                break;
            case fault::forged_header:
                CHECK(std::string(e.what()).find("protocol error") != std::string::npos);
                break;
            case fault::out_of_memory:
                CHECK(e.signal() == SIGSEGV);
                break;
            case fault::abort:
                CHECK(e.signal() == SIGABRT);
                break;
            case fault::exit3:
                CHECK(e.exit_code() == 3);
                break;
            default:
                FAIL("unexpected crash of a healthy task: " << e.what());
        }
    } catch (const parkit::remote_error& e) {
        CHECK(injected == fault::exception);
        CHECK(e.index() == failure.index);
        CHECK(e.type_name() == "std::out_of_range");
        CHECK(e.message() == "task " + std::to_string(i) + " is out of range");
    } catch (const parkit::task_timeout& e) {
        CHECK((injected == fault::hang || (under_thread_sanitizer && injected == fault::exit3)));
        CHECK(e.index() == failure.index);
    } catch (const std::exception& e) {
        FAIL("unexpected error kind: " << e.what());
    }
    return true;
}

// Verifies a collected 10,000-task map: every healthy result is right, every injected fault is
// reported (or the task was killed from outside), nothing else failed.
void check_map(const parkit::collected<long>& out, int kills) {
    constexpr int n = 10'000;
    REQUIRE(out.results.size() == static_cast<std::size_t>(n));
    std::map<std::size_t, const parkit::task_failure*> failed;
    int killed = 0;
    for (const auto& failure : out.errors) {
        failed[failure.index] = &failure;
        const bool injected_failure = check_failure(failure);
        if (!injected_failure && fault_of(static_cast<int>(failure.index)) == fault::none) ++killed;
    }
    CHECK(killed <= kills);
    int injected = 0;
    for (int i = 0; i < n; ++i) {
        const auto index = static_cast<std::size_t>(i);
        if (fault_of(i) != fault::none) {
            ++injected;
            CHECK(failed.count(index) == 1);  // an injected fault never goes unreported
            CHECK_FALSE(out.results[index].has_value());
        } else if (failed.count(index) == 0) {
            REQUIRE(out.results[index].has_value());
            REQUIRE(*out.results[index] == expected_value(i));
        }
    }
    CHECK(out.failed() == static_cast<std::size_t>(injected + killed));  // nothing else failed
}

void require_no_children_left() {
    for (int attempt = 0; attempt < 100 && !children().empty(); ++attempt)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(children().empty());
}

}  // namespace

TEST_CASE("fault matrix: parallel_map on processes survives every kind of crash", "[fault][crash][processes]") {
    REQUIRE(children().empty());
    parkit_test::shared_page();  // before the workers: the helpers' release flag
    parkit::collected<long> out;
    int kills = 0;
    {
        random_killer killer(20);
        out = parkit::parallel_map(task, parkit_test::iota(0, 10'000),
                                   {.n_jobs = 2,
                                    .backend = parkit::backend::processes,
                                    .on_error = parkit::on_error::collect,
                                    .task_timeout_s = 0.5});
        kills = killer.stop();
    }
    parkit_test::release_helpers();
    check_map(out, kills);
    require_no_children_left();
    // The next call works as if nothing happened.
    const auto again = parkit::parallel_map(expected_value, parkit_test::iota(0, 100),
                                            {.n_jobs = 2, .backend = parkit::backend::processes});
    CHECK(again[99] == expected_value(99));
    require_no_children_left();
}

TEST_CASE("fault matrix: process_pool map survives every kind of crash and stays usable",
          "[fault][crash][process_pool]") {
    REQUIRE(children().empty());
    parkit_test::shared_page();  // before the pool: the helpers' release flag
    {
        parkit::process_pool pool({.n_jobs = 2, .task_timeout_s = 0.5});
        std::vector<int> inputs(10'000);
        for (int i = 0; i < 10'000; ++i) inputs[static_cast<std::size_t>(i)] = i;
        parkit::collected<long> out;
        int kills = 0;
        {
            random_killer killer(20, pool_workers);
            out = pool.map(task, inputs, parkit::collect_options{.on_error = parkit::on_error::collect});
            kills = killer.stop();
        }
        parkit_test::release_helpers();
        check_map(out, kills);
        // A worker killed at the very end may still be on its way out: let the pool see it.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(pool.submit(expected_value, 7).get() == expected_value(7));  // still usable
        CHECK(children().size() == 1);                                     // the fork server
        CHECK(pool_workers().size() == 2);                                 // workers replaced
    }
    require_no_children_left();
}

TEST_CASE("fault matrix: the thread backend reports every exception and loses nothing", "[fault][threads]") {
    auto throwing = [](int i) -> long {
        if (fault_of(i) != fault::none) throw std::out_of_range("task " + std::to_string(i) + " is out of range");
        return expected_value(i);
    };
    const auto out = parkit::parallel_map(throwing, parkit_test::iota(0, 10'000),
                                          {.n_jobs = 2, .on_error = parkit::on_error::collect});
    std::size_t injected = 0;
    for (int i = 0; i < 10'000; ++i) {
        const auto index = static_cast<std::size_t>(i);
        if (fault_of(i) != fault::none) {
            ++injected;
            CHECK_FALSE(out.results[index].has_value());
        } else {
            REQUIRE(*out.results[index] == expected_value(i));
        }
    }
    REQUIRE(out.errors.size() == injected);
    for (const auto& failure : out.errors) {
        CHECK(fault_of(static_cast<int>(failure.index)) != fault::none);
        CHECK(failure.type_name() == "std::out_of_range");
    }
}
