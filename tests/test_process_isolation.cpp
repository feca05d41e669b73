// Several process pools and process maps in one program: no worker may hold another pool's
// sockets open (that would hide a worker's exit and hang a shutdown).
#include <parkit/parallel_map.hpp>
#include <parkit/process_pool.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <memory>
#include <thread>
#include <vector>

namespace {
long identity(long x) {
    return x;
}
long crash_at_zero(long x) {
    if (x == 0) ::raise(SIGSEGV);
    return x;
}
}  // namespace

TEST_CASE("an earlier process_pool shuts down while a later one is alive", "[process_pool][isolation]") {
    auto first = std::make_unique<parkit::process_pool>(2);
    parkit::process_pool second(2);  // its workers were forked while first's sockets were open
    CHECK(first->submit(identity, 1L).get() == 1);
    first.reset();  // must not wait for second's workers
    CHECK(second.submit(identity, 2L).get() == 2);
}

TEST_CASE("a pool replacing a crashed worker while a process map forks does not hang either",
          "[processes][isolation]") {
    for (int round = 0; round < 10; ++round) {
        parkit::process_pool pool(2);
        auto crashed = pool.submit(crash_at_zero, 0L);
        long last = 0;  // Catch2 assertions are not thread-safe: check after the join
        std::thread other([&last] {
            const auto out = parkit::parallel_map([](long x) { return x + 1; }, std::vector<long>(100, 1),
                                                  {.n_jobs = 4, .backend = parkit::backend::processes});
            last = out[99];
        });
        CHECK_THROWS_AS(crashed.get(), parkit::worker_crashed);  // the manager forks a replacement now
        CHECK(pool.map(identity, std::vector<long>{1, 2, 3})[2] == 3);
        other.join();
        CHECK(last == 2);
    }
}
