// Tests of backend::mpi, run by ctest under mpiexec with 1, 2 and 4 ranks (tests/CMakeLists.txt).
//
// Every rank runs every test case in the same order. To stay collective-safe, a test case makes
// all its parallel_map calls unconditionally (exceptions captured, never escaping between two
// calls), and only then checks with CHECK; a failed check on one rank never leaves the others
// waiting in a collective. The main (mpi_catch_main.cpp) initialises MPI.
#include <parkit/mpi.hpp>
#include <parkit/parallel_for.hpp>

#include <catch2/catch.hpp>
#include "iota.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <numeric>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

const parkit::options on_mpi{.backend = parkit::backend::mpi};
const parkit::collect_options collect_on_mpi{.backend = parkit::backend::mpi, .on_error = parkit::on_error::collect};

bool is_root() {
    return parkit::mpi::rank() == 0;
}

// Runs `call`, returning the exception it threw (null if none).
std::exception_ptr thrown_by(const std::function<void()>& call) {
    try {
        call();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

// Sum of `value` over all ranks.
long long sum_over_ranks(long long value) {
    MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return value;
}

std::vector<int> iota_vector(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

// A result type with a cereal-style serialize member.
struct sample {
    int index = 0;
    std::string label;
    std::vector<double> values;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(index, label, values);
    }
    bool operator==(const sample&) const = default;
};

}  // namespace

TEST_CASE("mpi environment: rank and size agree with MPI", "[mpi]") {
    int world_size = 0, world_rank = -1;
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    CHECK(parkit::mpi::size() == world_size);
    CHECK(parkit::mpi::rank() == world_rank);
    CHECK_FALSE(parkit::mpi::processor_name().empty());
    parkit::mpi::environment again;  // MPI is already initialised: the guard uses it
    CHECK_FALSE(again.owns_mpi());
    CHECK(static_cast<int>(again.provided()) >= static_cast<int>(parkit::mpi::thread_level::funneled));
}

TEST_CASE("mpi backend: results in input order on rank 0, empty elsewhere", "[mpi]") {
    const auto inputs = iota_vector(2000);
    const auto squares = parkit::parallel_map([](int x) { return static_cast<long long>(x) * x; }, inputs, on_mpi);
    parkit::options one_per_chunk = on_mpi;
    one_per_chunk.chunk_size = 1;
    const auto labels = parkit::parallel_map([](int x) { return std::string("#").append(std::to_string(x)); },
                                             iota_vector(37), one_per_chunk);
    const auto none = parkit::parallel_map([](int x) { return x; }, std::vector<int>{}, on_mpi);
    const auto records = parkit::parallel_map(
        [](int x) {
            return sample{x, std::to_string(x), std::vector<double>(static_cast<std::size_t>(x % 5), x * 0.5)};
        },
        parkit_test::iota(0, 100), on_mpi);

    CHECK(none.empty());
    if (is_root()) {
        REQUIRE(squares.size() == inputs.size());
        for (std::size_t i = 0; i < squares.size(); ++i)
            CHECK(squares[i] == static_cast<long long>(i) * static_cast<long long>(i));
        REQUIRE(labels.size() == 37);
        for (std::size_t i = 0; i < labels.size(); ++i) CHECK(labels[i] == "#" + std::to_string(i));
        REQUIRE(records.size() == 100);
        CHECK(records[42] == sample{42, "42", std::vector<double>(2, 21.0)});
    } else {
        CHECK(squares.empty());
        CHECK(labels.empty());
        CHECK(records.empty());
    }
}

TEST_CASE("mpi backend: broadcast gives every rank the results", "[mpi]") {
    parkit::options everywhere = on_mpi;
    everywhere.mpi.broadcast = true;
    everywhere.chunk_size = 3;
    const auto out = parkit::parallel_map([](int x) { return 3 * x + 1; }, iota_vector(100), everywhere);
    REQUIRE(out.size() == 100);
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == 3 * static_cast<int>(i) + 1);
}

TEST_CASE("mpi backend: every task runs exactly once, void functions too", "[mpi]") {
    std::vector<int> runs(500, 0);  // this rank's count per task
    parkit::parallel_map([&](int i) { ++runs[static_cast<std::size_t>(i)]; }, iota_vector(500), on_mpi);
    MPI_Allreduce(MPI_IN_PLACE, runs.data(), static_cast<int>(runs.size()), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    for (int count : runs) CHECK(count == 1);
}

TEST_CASE("mpi backend: uneven tasks are dealt dynamically, stats say who ran what", "[mpi]") {
    // Every 7th task is 40x longer than the others; each result names the rank that ran it.
    auto uneven = [](int i) {
        std::this_thread::sleep_for(std::chrono::microseconds(i % 7 == 0 ? 8000 : 200));
        return std::pair<int, int>{i * 2, parkit::mpi::rank()};
    };
    const auto out = parkit::parallel_map(uneven, iota_vector(120), on_mpi);
    const parkit::mpi::map_stats stats = parkit::mpi::last_map_stats();
    if (is_root()) {
        REQUIRE(out.size() == 120);
        std::vector<std::size_t> ran(static_cast<std::size_t>(parkit::mpi::size()), 0);
        for (std::size_t i = 0; i < out.size(); ++i) {
            CHECK(out[i].first == 2 * static_cast<int>(i));
            REQUIRE(out[i].second >= 0);
            REQUIRE(out[i].second < parkit::mpi::size());
            ++ran[static_cast<std::size_t>(out[i].second)];
        }
        REQUIRE(stats.ranks.size() == ran.size());
        std::size_t other_ranks_chunks = 0;
        for (std::size_t r = 0; r < ran.size(); ++r) {
            CHECK(stats.ranks[r].tasks == ran[r]);
            CHECK(stats.ranks[r].chunks <= ran[r]);
            CHECK(stats.ranks[r].busy_s >= 0.0);
            if (r > 0) other_ranks_chunks += stats.ranks[r].chunks;
            // Every rank's static first chunk: task r, run without asking rank 0.
            CHECK(out[r].second == static_cast<int>(r));
        }
        // Rank 0 answers one request per chunk another rank ran, plus each rank's prefetch.
        CHECK(stats.requests == other_ranks_chunks + (ran.size() - 1));
        CHECK(stats.elapsed_s > 0.0);
    } else {
        CHECK(out.empty());
        CHECK(stats.ranks.empty());
    }
}

TEST_CASE("mpi backend: progress on rank 0 is reported while the map runs", "[mpi]") {
    std::vector<std::size_t> reported;  // rank 0's callbacks (done > 0 only)
    parkit::options watched = on_mpi;
    watched.mpi.threads_per_rank = 2;
    watched.on_progress = [&](const parkit::progress_info& info) {
        if (info.done > 0) reported.push_back(info.done);
    };
    // ~400 ms of work per slot, whatever the number of ranks: several 100 ms refreshes.
    const int total = 100 * 2 * parkit::mpi::size();
    const auto out = parkit::parallel_map(
        [](int i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(4));
            return i;
        },
        iota_vector(total), watched);
    if (is_root()) {
        REQUIRE(out.size() == static_cast<std::size_t>(total));
        REQUIRE(reported.size() >= 2);
        // Finished chunks are counted as they come back, not when the map ends.
        CHECK(reported.front() < static_cast<std::size_t>(total));
        CHECK(reported.back() == static_cast<std::size_t>(total));
    } else {
        CHECK(reported.empty());
    }
}

TEST_CASE("mpi backend: with hundreds of slots half the work is shared out statically", "[mpi]") {
    parkit::options many = on_mpi;
    many.mpi.threads_per_rank = 256 / parkit::mpi::size() + 1;  // > 200 slots in all
    const std::size_t slots = static_cast<std::size_t>(many.mpi.threads_per_rank * parkit::mpi::size());
    const int total = 4000;
    const auto out = parkit::parallel_map(
        [](int x) {
            return std::pair<int, int>{x, parkit::mpi::rank()};
        },
        iota_vector(total), many);
    const auto stats = parkit::mpi::last_map_stats();
    if (is_root()) {
        REQUIRE(out.size() == static_cast<std::size_t>(total));
        const std::size_t share = static_cast<std::size_t>(total) / (2 * slots);  // per slot
        const std::size_t threads = static_cast<std::size_t>(many.mpi.threads_per_rank);
        for (std::size_t i = 0; i < out.size(); ++i) {
            CHECK(out[i].first == static_cast<int>(i));
            // The static chunks: slot s = rank * threads + thread runs [s * share, (s + 1) * share).
            if (i < slots * share) CHECK(out[i].second == static_cast<int>(i / share / threads));
        }
        std::size_t tasks = 0;
        for (const auto& r : stats.ranks) tasks += r.tasks;
        CHECK(tasks == static_cast<std::size_t>(total));
    }
}

TEST_CASE("mpi backend: fewer tasks than slots: the idle slots ask at once and are refused", "[mpi]") {
    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 3;
    const auto out = parkit::parallel_map([](int x) { return x + 10; }, iota_vector(2), hybrid);
    const auto stats = parkit::mpi::last_map_stats();
    if (is_root()) {
        CHECK(out == std::vector<int>{10, 11});
        std::size_t tasks = 0;
        for (const auto& r : stats.ranks) tasks += r.tasks;
        CHECK(tasks == 2);
    }
}

TEST_CASE("mpi backend: large results come back intact", "[mpi]") {
    // 24 results of 2 MB each: well past the eager limit, so every message is a rendezvous.
    parkit::options big_chunks = on_mpi;
    big_chunks.mpi.broadcast = true;
    const auto out = parkit::parallel_map([](int i) { return std::vector<double>(250'000, static_cast<double>(i)); },
                                          iota_vector(24), big_chunks);
    REQUIRE(out.size() == 24);
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(out[i].size() == 250'000);
        CHECK(out[i].front() == static_cast<double>(i));
        CHECK(out[i].back() == static_cast<double>(i));
    }
}

TEST_CASE("mpi backend: a task exception reaches every rank as task_error with remote_error", "[mpi]") {
    const auto error = thrown_by([] {
        parkit::parallel_map(
            [](int i) {
                if (i == 61) throw std::domain_error("no solution for 61");
                return i;
            },
            iota_vector(200), on_mpi);
    });
    REQUIRE(error);
    try {
        std::rethrow_exception(error);
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 61);
        try {
            e.rethrow_original();
        } catch (const parkit::remote_error& remote) {
            CHECK(remote.index() == 61);
            CHECK(remote.type_name() == "std::domain_error");
            CHECK(remote.message() == "no solution for 61");
            CHECK(remote.rank() >= 0);
            CHECK(remote.rank() < parkit::mpi::size());
            CHECK(std::string(remote.what()).find("on MPI rank") != std::string::npos);
        }
    } catch (...) {
        FAIL("expected parkit::task_error");
    }
}

TEST_CASE("mpi backend: on_error::collect runs every task and lists every failure", "[mpi]") {
    auto flaky = [](int i) {
        if (i % 10 == 3) throw std::runtime_error("bad " + std::to_string(i));
        return i;
    };
    const auto on_root = parkit::parallel_map(flaky, iota_vector(100), collect_on_mpi);
    parkit::collect_options everywhere = collect_on_mpi;
    everywhere.mpi.broadcast = true;
    const auto shared = parkit::parallel_map(flaky, iota_vector(100), everywhere);

    for (const auto* c : {&shared, is_root() ? &on_root : nullptr}) {
        if (c == nullptr) continue;
        REQUIRE(c->results.size() == 100);
        CHECK(c->failed() == 10);
        CHECK(c->succeeded() == 90);
        for (std::size_t k = 0; k < c->errors.size(); ++k) {
            CHECK(c->errors[k].index == 10 * k + 3);
            CHECK(c->errors[k].type_name() == "parkit::remote_error");
            CHECK(c->errors[k].message().find("bad " + std::to_string(10 * k + 3)) != std::string::npos);
        }
        for (std::size_t i = 0; i < 100; ++i) CHECK(c->results[i].has_value() == (i % 10 != 3));
    }
    if (!is_root()) {
        CHECK(on_root.results.empty());
        CHECK(on_root.errors.empty());
    }
}

TEST_CASE("mpi backend: hybrid mode runs each rank's chunks on threads", "[mpi]") {
    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 2;
    std::atomic<int> most_at_once{0}, running{0};
    const auto out = parkit::parallel_map(
        [&](int i) {
            const int now = ++running;
            int seen = most_at_once.load();
            while (now > seen && !most_at_once.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(std::chrono::microseconds(300));
            --running;
            return i + 1;
        },
        iota_vector(400), hybrid);
    parkit::collect_options hybrid_collect = collect_on_mpi;
    hybrid_collect.mpi.threads_per_rank = 2;
    const auto collected = parkit::parallel_map(
        [](int i) {
            if (i == 5) throw std::invalid_argument("five");
            return i;
        },
        iota_vector(50), hybrid_collect);
    const auto bad_threads = thrown_by([] {
        parkit::options wrong = on_mpi;
        wrong.mpi.threads_per_rank = 0;
        parkit::parallel_map([](int i) { return i; }, iota_vector(4), wrong);
    });

    CHECK(most_at_once.load() >= 1);
    CHECK(most_at_once.load() <= 2);  // 2 threads per rank (rank 0's coordinator runs no tasks)
    if (is_root()) {
        REQUIRE(out.size() == 400);
        for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == static_cast<int>(i) + 1);
        REQUIRE(collected.errors.size() == 1);
        CHECK(collected.errors[0].index == 5);
        CHECK(collected.succeeded() == 49);
    }
    REQUIRE(bad_threads);
    CHECK_THROWS_WITH(std::rethrow_exception(bad_threads), Catch::Contains("threads_per_rank"));
}

TEST_CASE("mpi backend: threads_per_rank = 4 with an uneven mix keeps results in input order", "[mpi]") {
    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 4;
    const auto out = parkit::parallel_map(
        [](int i) {
            // one task in 50 takes 30x longer: threads of a rank finish their chunks out of order
            std::this_thread::sleep_for(std::chrono::microseconds(i % 50 == 0 ? 3000 : 100));
            return sample{i, "x" + std::to_string(i), std::vector<double>(static_cast<std::size_t>(i % 7), i * 0.5)};
        },
        iota_vector(1000), hybrid);
    if (is_root()) {
        REQUIRE(out.size() == 1000);
        for (int i = 0; i < 1000; ++i) {
            CHECK(out[static_cast<std::size_t>(i)] ==
                  sample{i, "x" + std::to_string(i), std::vector<double>(static_cast<std::size_t>(i % 7), i * 0.5)});
        }
    } else {
        CHECK(out.empty());
    }
}

TEST_CASE("mpi backend: under raise an early failure stops the dealing within a few chunks", "[mpi]") {
    for (const int threads : {1, 4}) {
        parkit::options opts = on_mpi;
        opts.mpi.threads_per_rank = threads;
        std::atomic<long long> ran{0};
        const auto error = thrown_by([&] {
            parkit::parallel_map(
                [&](int i) {
                    ++ran;
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                    if (i == 100) throw std::runtime_error("task 100 fails");
                    return i;
                },
                iota_vector(4000), opts);
        });
        REQUIRE(error);
        CHECK_THROWS_AS(std::rethrow_exception(error), parkit::task_error);
        const long long total = sum_over_ranks(ran.load());
        // Once rank 0 knows of the failure it deals nothing more: each slot finishes the chunk it
        // holds, and a rank the chunk it prefetched. Guided chunks only shrink, so no slot holds
        // more than two of the longest; how many ran before the news arrived is up to the OS
        // (16 threads share 2 cores in CI), so the bound is the mechanism's, not a timing.
        const std::size_t slots = static_cast<std::size_t>(parkit::mpi::size() * threads);
        const long long bound =
            101 + static_cast<long long>(2 * slots * parkit::detail::guided_chunk_length(4000, slots));
        INFO("threads_per_rank " << threads << ": " << total << " of 4000 tasks ran; bound " << bound);
        CHECK(total > 100);
        CHECK(total < std::min<long long>(bound, 4000));
    }
}

TEST_CASE("mpi backend: misuse fails clearly on every rank", "[mpi]") {
    // Ranks passing different inputs (only detectable with more than one rank).
    const auto mismatch =
        thrown_by([] { parkit::parallel_map([](int i) { return i; }, iota_vector(10 + parkit::mpi::rank()), on_mpi); });
    // A backend::mpi map inside a task.
    const auto nested = parkit::parallel_map(
        [](int i) {
            try {
                parkit::parallel_map([](int j) { return j; }, iota_vector(3), on_mpi);
            } catch (const std::logic_error&) {
                return -i;
            }
            return i;
        },
        iota_vector(8), on_mpi);
    // Progress on rank 0.
    std::size_t last_done = 0;
    parkit::options with_progress = on_mpi;
    with_progress.on_progress = [&](const parkit::progress_info& p) { last_done = p.done; };
    parkit::parallel_map([](int i) { return i; }, iota_vector(300), with_progress);

    if (parkit::mpi::size() > 1) {
        REQUIRE(mismatch);
        CHECK_THROWS_AS(std::rethrow_exception(mismatch), std::invalid_argument);
    } else {
        CHECK_FALSE(mismatch);
    }
    if (is_root()) {
        REQUIRE(nested.size() == 8);
        for (std::size_t i = 0; i < 8; ++i) CHECK(nested[i] == -static_cast<int>(i));
        CHECK(last_done == 300);
    } else {
        CHECK(last_done == 0);
    }
}

TEST_CASE("mpi backend: results equal the thread backend's", "[mpi]") {
    auto f = [](int i) {
        double x = i;
        for (int k = 0; k < 200; ++k) x = x * 0.999 + 1.0 / (1.0 + x);
        return x;
    };
    const auto distributed = parkit::parallel_map(f, iota_vector(3000), on_mpi);
    const auto threaded = parkit::parallel_map(f, iota_vector(3000), {.n_jobs = 2});
    if (is_root()) CHECK(distributed == threaded);
    CHECK(sum_over_ranks(1) == parkit::mpi::size());
}

// Not run by default: ctest runs it with 2 ranks and expects the job to fail quickly (a rank
// that dies takes the whole job down; nothing hangs).
TEST_CASE("mpi backend: a dying rank ends the job", "[.rank_death]") {
    parkit::parallel_map(
        [](int i) {
            if (parkit::mpi::rank() == parkit::mpi::size() - 1 && i >= 4) std::abort();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return i;
        },
        iota_vector(200), on_mpi);
}

namespace {

// The rank whose inputs a mismatch test changes (it and every later rank): 1 on two ranks, 2
// on more; none on one rank.
int first_changed_rank() {
    return parkit::mpi::size() > 2 ? 2 : 1;
}

// Whether `error` is an invalid_argument naming the call, the argument and rank `rank`.
bool names_differing_rank(const std::exception_ptr& error, int rank) {
    try {
        std::rethrow_exception(error);
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        return what.find("parkit::parallel_map") != std::string::npos && what.find("inputs") != std::string::npos &&
               what.find("rank " + std::to_string(rank) + " ") != std::string::npos;
    } catch (...) {
    }
    return false;
}

}  // namespace

TEST_CASE("mpi input check: differing values name the first differing rank on every rank", "[mpi]") {
    const int changed = first_changed_rank();
    const bool mine_changed = parkit::mpi::rank() >= changed;
    std::vector<double> numbers(1000, 0.5);
    if (mine_changed) numbers[700] = 0.25;
    std::vector<std::string> words(50, "same");
    if (mine_changed) words[3] = "other";
    std::vector<sample> samples(20);
    if (mine_changed) samples[19].values.push_back(1.0);
    auto counts = iota_vector(10);
    if (mine_changed) counts.push_back(10);

    const auto in_place = thrown_by([&] { parkit::parallel_map([](double x) { return x; }, numbers, on_mpi); });
    const auto element_wise =
        thrown_by([&] { parkit::parallel_map([](const std::string& s) { return s.size(); }, words, collect_on_mpi); });
    const auto user_type =
        thrown_by([&] { parkit::parallel_map([](const sample& s) { return s.index; }, samples, on_mpi); });
    const auto count = thrown_by([&] { parkit::parallel_map([](int x) { return x; }, counts, on_mpi); });
    parkit::options unchecked = on_mpi;
    unchecked.mpi.check_inputs = false;
    const auto off = thrown_by([&] { parkit::parallel_map([](double x) { return x; }, numbers, unchecked); });
    const auto same = thrown_by([&] { parkit::parallel_map([](int x) { return x; }, iota_vector(100), on_mpi); });

    if (parkit::mpi::size() > 1) {
        CHECK(names_differing_rank(in_place, changed));
        CHECK(names_differing_rank(element_wise, changed));
        CHECK(names_differing_rank(user_type, changed));
        CHECK(names_differing_rank(count, changed));
    } else {
        CHECK_FALSE(in_place);
        CHECK_FALSE(element_wise);
        CHECK_FALSE(user_type);
        CHECK_FALSE(count);
    }
    CHECK_FALSE(off);
    CHECK_FALSE(same);
}

TEST_CASE("mpi broadcast and scatter share rank 0 values with every rank", "[mpi]") {
    std::vector<sample> built;
    if (is_root()) built = {{1, "one", {1.0}}, {2, "two", {2.0, 2.5}}};
    const std::vector<sample> shared = parkit::mpi::broadcast(built);
    const std::string text = parkit::mpi::broadcast(std::string(is_root() ? "from root" : ""));
    const int last = parkit::mpi::size() - 1;
    const int from_last = parkit::mpi::broadcast(parkit::mpi::rank() * 10, {.root = last});
    const int from_last_too = parkit::mpi::broadcast(parkit::mpi::rank() * 10, last);
    const std::vector<int> block_of_last = parkit::mpi::scatter(std::vector<int>(3 * parkit::mpi::size(), last), last);
    const auto bad_root = thrown_by([] { parkit::mpi::broadcast(1, {.root = parkit::mpi::size()}); });

    std::vector<int> all;
    if (is_root()) all = iota_vector(11);
    const std::vector<int> mine = parkit::mpi::scatter(all);

    REQUIRE(shared.size() == 2);
    CHECK(shared[1] == sample{2, "two", {2.0, 2.5}});
    CHECK(text == "from root");
    CHECK(from_last == 10 * last);
    CHECK(from_last_too == 10 * last);
    CHECK(block_of_last == std::vector<int>(3, last));
    CHECK(bad_root);
    // Rank r gets [r*11/size, (r+1)*11/size) in the block split (blocks differ by at most one).
    const auto n = std::size_t{11}, ranks = static_cast<std::size_t>(parkit::mpi::size());
    const auto r = static_cast<std::size_t>(parkit::mpi::rank());
    const std::size_t begin = r * (n / ranks) + std::min(r, n % ranks);
    REQUIRE(mine.size() == n / ranks + (r < n % ranks ? 1 : 0));
    for (std::size_t k = 0; k < mine.size(); ++k) CHECK(mine[k] == static_cast<int>(begin + k));
    CHECK(sum_over_ranks(static_cast<long long>(mine.size())) == 11);
}

TEST_CASE("mpi parallel_reduce: the same bits as the thread backend for any ranks and threads", "[mpi]") {
    auto term = [](std::int64_t i) { return 1.0 / (1.0 + static_cast<double>(i) * 0.37); };
    const std::int64_t n = 200000;
    const double threaded = parkit::parallel_reduce(std::int64_t{0}, n, 0.0, term, std::plus<>{}, {.n_jobs = 2});
    const double distributed = parkit::parallel_reduce(std::int64_t{0}, n, 0.0, term, std::plus<>{}, on_mpi);
    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 2;
    const double hybrid_sum = parkit::parallel_reduce(std::int64_t{0}, n, 0.0, term, std::plus<>{}, hybrid);
    parkit::options blocks = on_mpi;
    blocks.chunk_size = 777;
    const double fixed_blocks = parkit::parallel_reduce(std::int64_t{0}, n, 0.0, term, std::plus<>{}, blocks);
    const double fixed_threads =
        parkit::parallel_reduce(std::int64_t{0}, n, 0.0, term, std::plus<>{}, {.n_jobs = 3, .chunk_size = 777});
    const auto failure = thrown_by([] {
        parkit::parallel_reduce(
            0, 1000, 0, [](int i) { return i == 500 ? throw std::runtime_error("bad") : i; }, std::plus<>{}, on_mpi);
    });
    const int empty = parkit::parallel_reduce(
        5, 5, 42, [](int i) { return i; }, std::plus<>{}, on_mpi);

    // Bit for bit, on every rank (the thread backend's sum does not depend on the rank count).
    CHECK(std::bit_cast<std::uint64_t>(distributed) == std::bit_cast<std::uint64_t>(threaded));
    CHECK(std::bit_cast<std::uint64_t>(hybrid_sum) == std::bit_cast<std::uint64_t>(threaded));
    CHECK(std::bit_cast<std::uint64_t>(fixed_blocks) == std::bit_cast<std::uint64_t>(fixed_threads));
    REQUIRE(failure);
    CHECK_THROWS_AS(std::rethrow_exception(failure), parkit::task_error);
    CHECK(empty == 42);
}

TEST_CASE("mpi parallel_for runs every index exactly once on some rank", "[mpi]") {
    std::vector<long long> visits(5000, 0);
    parkit::parallel_for(
        0, 5000, [&](int i) { ++visits[static_cast<std::size_t>(i)]; }, on_mpi);
    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 2;
    std::vector<std::atomic<int>> hybrid_visits(300);
    parkit::parallel_for(
        std::size_t{0}, std::size_t{300}, [&](std::size_t i) { ++hybrid_visits[i]; }, hybrid);
    const auto failure = thrown_by([] {
        parkit::parallel_for(
            0, 100,
            [](int i) {
                if (i == 60) throw std::invalid_argument("index 60");
            },
            on_mpi);
    });

    MPI_Allreduce(MPI_IN_PLACE, visits.data(), static_cast<int>(visits.size()), MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    CHECK(std::all_of(visits.begin(), visits.end(), [](long long v) { return v == 1; }));
    long long hybrid_total = 0;
    for (const auto& v : hybrid_visits) hybrid_total += v.load();
    CHECK(sum_over_ranks(hybrid_total) == 300);
    REQUIRE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 60);
    }
}
