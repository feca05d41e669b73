// The threads' chunk dispenser: per-worker ranges with stealing must hand out every index
// exactly once, whatever the worker count, the chunk size, when the range is shared and
// whether every runner starts.
#include <parkit/detail/map/chunking.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <random>
#include <thread>
#include <vector>

using parkit::detail::chunk_dispenser;
using parkit::detail::index_range;

namespace {

// Runs `runners` threads beside a caller over a dispenser of `total` tasks; the caller shares
// after `claims_before_share` chunks. Returns how often each index was handed out, and checks
// chunk alignment for a fixed chunk size.
std::vector<int> claim_everything(std::size_t total, std::size_t chunk_size, int workers, int runners,
                                  int claims_before_share, unsigned seed) {
    chunk_dispenser chunks(total, chunk_size, workers);
    std::vector<std::atomic<int>> seen(total);
    std::atomic<bool> misaligned{false};
    auto take = [&](chunk_dispenser::cursor& c, std::mt19937& rng) {
        index_range r;
        if (!chunks.next(c, r)) return false;
        if (chunk_size != 0 && (r.begin % chunk_size != 0 || (r.size() != chunk_size && r.end != total)))
            misaligned = true;
        for (std::size_t i = r.begin; i < r.end; ++i) seen[i].fetch_add(1, std::memory_order_relaxed);
        // an adaptive chunk size that jumps around, as measurements do
        chunks.record(c, r.size(), static_cast<double>(std::uniform_int_distribution<int>(1, 200'000)(rng)));
        return true;
    };
    chunk_dispenser::cursor caller;
    std::mt19937 caller_rng(seed);
    int claimed = 0;
    while (claimed < claims_before_share && take(caller, caller_rng)) ++claimed;
    chunks.share();
    std::vector<std::thread> threads;
    for (int k = 0; k < runners; ++k) {
        threads.emplace_back([&, k] {
            chunk_dispenser::cursor c;
            if (!chunks.join(c)) return;
            std::mt19937 rng(seed + 1 + static_cast<unsigned>(k));
            while (take(c, rng)) {
            }
        });
    }
    while (take(caller, caller_rng)) {
    }
    for (auto& t : threads) t.join();
    CHECK_FALSE(misaligned.load());
    std::vector<int> counts(total);
    for (std::size_t i = 0; i < total; ++i) counts[i] = seen[i].load();
    return counts;
}

}  // namespace

TEST_CASE("the chunk dispenser hands out every index exactly once, with stealing", "[chunking]") {
    unsigned seed = 1;
    for (const int workers : {1, 2, 3, 4, 7, 16}) {
        for (const std::size_t total :
             {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{1000}, std::size_t{100'003}}) {
            for (const std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
                for (const int before_share : {0, 3}) {
                    // every runner, and a map whose runners did not all start (their ranges are
                    // stolen)
                    for (const int runners : {workers - 1, (workers - 1) / 2}) {
                        INFO("workers " << workers << ", total " << total << ", chunk " << chunk << ", " << runners
                                        << " runners, share after " << before_share);
                        const auto counts = claim_everything(total, chunk, workers, runners, before_share, seed++);
                        std::size_t wrong = 0;
                        for (const int n : counts) wrong += n != 1 ? 1 : 0;
                        REQUIRE(wrong == 0);
                    }
                }
            }
        }
    }
}

TEST_CASE("the chunk dispenser: a runner beyond the slots gets none, and stop ends the claims", "[chunking]") {
    chunk_dispenser chunks(100, 0, 2);
    chunk_dispenser::cursor first;
    chunk_dispenser::cursor second;
    CHECK(chunks.join(first));
    CHECK_FALSE(chunks.join(second));
    chunks.share();
    index_range r;
    REQUIRE(chunks.next(first, r));
    CHECK(r.begin == 50);  // the runner's half
    chunks.stop();
    chunk_dispenser::cursor caller;
    CHECK_FALSE(chunks.next(caller, r));
    CHECK_FALSE(chunks.next(first, r));
}

TEST_CASE("the chunk dispenser deals the caller's rest out in equal parts when shared", "[chunking]") {
    chunk_dispenser chunks(1000, 0, 4);
    chunk_dispenser::cursor caller;
    index_range r;
    REQUIRE(chunks.next(caller, r));  // one task claimed alone
    CHECK(r.begin == 0);
    CHECK(r.end == 1);
    chunks.share();
    std::vector<std::size_t> starts;
    for (int k = 0; k < 3; ++k) {
        chunk_dispenser::cursor runner;
        REQUIRE(chunks.join(runner));
        REQUIRE(chunks.next(runner, r));
        starts.push_back(r.begin);
    }
    // 999 left: 250, 250, 250 and 249 (the caller keeps the first part)
    CHECK(starts == std::vector<std::size_t>{251, 501, 751});
}
