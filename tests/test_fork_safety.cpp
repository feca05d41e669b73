#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <catch2/catch.hpp>

#include "iota.hpp"
#include "reliability_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <ranges>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Forks; the child runs `body` and exits with its return value (via `exit_fn`); returns the
// child's wait status.
template <class Body>
int in_child(Body body, bool use_exit) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 1;
        try {
            code = body();
        } catch (...) {
            code = 2;
        }
        if (use_exit) std::exit(code);  // runs static destructors: must not wait for the parent's threads
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

int sum_in_parallel() {
    const auto squares = parkit::parallel_map([](int x) { return x * x; }, parkit_test::iota(0, 10'000));
    long long total = std::accumulate(squares.begin(), squares.end(), 0LL);
    return total == 333'283'335'000LL ? 0 : 3;
}

}  // namespace

TEST_CASE("a forked child gets its own default pool and can exit normally", "[fork]") {
    // The parent's default pool exists and is busy-capable before the fork.
    REQUIRE(sum_in_parallel() == 0);
    for (bool use_exit : {false, true}) {
        CAPTURE(use_exit);
        const int status = in_child(sum_in_parallel, use_exit);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    // The parent's pool still works afterwards.
    CHECK(sum_in_parallel() == 0);
}

TEST_CASE("forking while the parent's pool is running tasks is safe for the child", "[fork]") {
    parkit::thread_pool pool(2);
    std::vector<parkit::future<int>> busy;
    std::atomic<int> started{0};
    for (int i = 0; i < 64; ++i) {
        busy.push_back(pool.submit([i, &started] {
            thread_local bool counted = false;  // one count per worker thread
            if (!std::exchange(counted, true)) started.fetch_add(1);
            volatile int s = 0;
            for (int k = 0; k < 100'000; ++k) s = s + k % 7;
            return i;
        }));
    }
    // Both workers are inside tasks (past their own start-up, which allocates: a fork then could
    // copy a held allocator lock into the child, and GCC 12's AddressSanitizer allocator has no
    // fork handlers to release it).
    while (started.load() < 2) std::this_thread::yield();
    const int status = in_child(sum_in_parallel, true);
    REQUIRE(WIFEXITED(status));
#if defined(__SANITIZE_THREAD__)
    // TSan cannot track threads started in the child of a fork taken while other threads ran
    // ("dup thread with used id") and exits with its own code 66; Release and ASan check this.
    CHECK((WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 66));
#else
    CHECK(WEXITSTATUS(status) == 0);
#endif
    for (int i = 0; i < 64; ++i) CHECK(busy[static_cast<std::size_t>(i)].get() == i);
}

namespace {
int cube(int x) {
    return x * x * x;
}
}  // namespace

TEST_CASE("a user's plain fork child does not block process_pool shutdown", "[fork][process_pool]") {
    parkit_test::watchdog dog("shutdown with a user's child alive", std::chrono::seconds(60));
    parkit::process_pool pool(2);
    CHECK(pool.submit(cube, 3).get() == 27);
    int hold[2];
    REQUIRE(::pipe(hold) == 0);    // after the pool: only this process and the child hold it
    const pid_t child = ::fork();  // no exec: it has a copy of every descriptor of the parent
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(hold[1]);
        char byte = 0;
        [[maybe_unused]] const ssize_t n = ::read(hold[0], &byte, 1);  // lives until the parent lets it go
        ::_exit(0);
    }
    ::close(hold[0]);
    pool.shutdown();  // the workers see end of stream although the child lives
    CHECK(parkit_test::process_exists(child));
    ::close(hold[1]);  // now the child ends
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
}

namespace {
std::unique_ptr<parkit::process_pool> held_pool;  // destroyed by exit() in a forked child too
}  // namespace

TEST_CASE("a forked child that exits normally abandons its copy of the parent's process_pool", "[fork][process_pool]") {
    parkit_test::watchdog dog("exit() in a child with a static process_pool", std::chrono::seconds(60));
    held_pool = std::make_unique<parkit::process_pool>(1);
    CHECK(held_pool->submit(cube, 2).get() == 8);
    const int status = in_child([] { return 0; }, true);  // exit(0) runs ~process_pool on the copy
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(held_pool->submit(cube, 3).get() == 27);  // the parent's pool is untouched
    held_pool.reset();
}
