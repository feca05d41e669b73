// parkit::imap / imap_unordered: streaming maps over sized, unsized and single-pass inputs,
// the in-flight window, errors, cancellation, processes and progress.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <parkit/core/process_errors.hpp>
#include <parkit/imap.hpp>
#include <parkit/parallel_map.hpp>

namespace {

/// An unsized, single-pass input range of 0, 1, 2, ... that counts how many values were read.
class counting_input {
public:
    explicit counting_input(std::atomic<long>& reads, long limit = -1) : reads_(&reads), limit_(limit) {}

    class iterator {
    public:
        using value_type = long;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(counting_input* owner) : owner_(owner) {}
        long operator*() const { return owner_->next_; }
        iterator& operator++() {
            ++owner_->next_;
            owner_->reads_->fetch_add(1);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.owner_->exhausted(); }

    private:
        counting_input* owner_ = nullptr;
    };
    iterator begin() { return iterator(this); }
    /// True once `limit` values were read (never for a negative limit).
    bool exhausted() const { return limit_ >= 0 && next_ >= limit_; }
    std::default_sentinel_t end() const { return {}; }

private:
    std::atomic<long>* reads_;
    long limit_;
    long next_ = 0;
};

std::vector<int> iota_vector(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
}

}  // namespace

static_assert(std::ranges::input_range<counting_input>);
static_assert(!std::ranges::sized_range<counting_input>);

TEST_CASE("imap yields the results in input order on every backend") {
    const std::vector<int> xs = iota_vector(5000);
    auto square = [](int x) { return static_cast<long>(x) * x; };
    for (auto b : {parkit::backend::sequential, parkit::backend::threads, parkit::backend::processes}) {
        std::vector<long> got;
        for (long y : parkit::imap(square, xs, {.n_jobs = 2, .backend = b})) got.push_back(y);
        REQUIRE(got == parkit::parallel_map(square, xs));
    }
}

// clang 14 cannot compile libstdc++ 12's take_view and istream_view (parkit::lines is the
// portable input of a file).
#if !defined(__clang__) || __clang_major__ >= 15
TEST_CASE("imap is a view: it composes with std::views::take and stops early") {
    auto range = parkit::imap([](int x) { return 2 * x; }, iota_vector(1000));
    static_assert(std::ranges::input_range<decltype(range)>);
    static_assert(std::ranges::view<decltype(range)>);
    std::vector<int> first;
    for (int y : std::move(range) | std::views::take(5)) first.push_back(y);
    REQUIRE(first == std::vector<int>{0, 2, 4, 6, 8});
}

TEST_CASE("imap reads an unbounded single-pass input lazily and leaving the loop stops it") {
    std::atomic<long> reads{0};
    std::atomic<long> calls{0};
    long sum = 0;
    {
        counting_input input(reads);
        int seen = 0;
        for (long y : parkit::imap(
                 [&](long x) {
                     calls.fetch_add(1);
                     return x + 1;
                 },
                 input, {.n_jobs = 2, .max_in_flight = 16})) {
            sum += y;
            if (++seen == 100) break;
        }
    }
    REQUIRE(sum == 100 * 101 / 2);
    CHECK(reads.load() <= 100 + 16);
    CHECK(calls.load() <= 100 + 16);
}

TEST_CASE("imap never takes more than max_in_flight inputs ahead of the consumer") {
    for (std::size_t window : {std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{64}}) {
        std::atomic<long> reads{0};
        counting_input input(reads, 2000);
        long yielded = 0;
        long worst = 0;
        for (long y : parkit::imap([](long x) { return x; }, input, {.n_jobs = 4, .max_in_flight = window})) {
            REQUIRE(y == yielded);
            ++yielded;
            worst = std::max(worst, reads.load() - yielded);
        }
        REQUIRE(yielded == 2000);
        CHECK(worst <= static_cast<long>(window));
    }
}

TEST_CASE("imap_unordered yields every input exactly once with its index") {
    std::istringstream text("5 3 9 1 7 2 8 6 4 0 11 10");
    std::set<std::size_t> indices;
    long sum = 0;
    for (auto [index, y] : parkit::imap_unordered([](int x) { return x * 10; }, std::views::istream<int>(text),
                                                  {.n_jobs = 2, .backend = parkit::backend::processes})) {
        REQUIRE(indices.insert(index).second);
        sum += y;
    }
    REQUIRE(indices.size() == 12);
    REQUIRE(*indices.rbegin() == 11);
    REQUIRE(sum == 10 * (11 * 12 / 2));
}
#endif

TEST_CASE("imap_unordered streams the lines of a file through worker processes") {
    char path[] = "/tmp/parkit_imap_lines_XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
        std::ofstream out(path);
        for (int i = 0; i < 10'000; ++i) out << "line " << i << '\n';
        out << "last line without newline";
    }
    std::ifstream in(path);
    std::vector<std::size_t> lengths(10'001, 0);
    std::size_t count = 0;
    for (auto [index, length] :
         parkit::imap_unordered([](const std::string& line) { return line.size(); }, parkit::lines(in),
                                {.n_jobs = 2, .backend = parkit::backend::processes, .max_in_flight = 256})) {
        REQUIRE(index < lengths.size());
        REQUIRE(lengths[index] == 0);
        lengths[index] = length;
        ++count;
    }
    std::remove(path);
    REQUIRE(count == 10'001);
    REQUIRE(lengths[0] == 6);        // "line 0"
    REQUIRE(lengths[9999] == 9);     // "line 9999"
    REQUIRE(lengths[10'000] == 25);  // the last line, without its missing newline
}

TEST_CASE("imap_unordered over threads with tasks of uneven length") {
    const std::vector<int> xs = iota_vector(200);
    std::vector<int> seen(200, 0);
    for (auto&& [index, y] : parkit::imap_unordered(
             [](int x) {
                 if (x % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                 return x;
             },
             xs, {.n_jobs = 3})) {
        REQUIRE(static_cast<int>(index) == y);
        ++seen[index];
    }
    for (int count : seen) REQUIRE(count == 1);
}

TEST_CASE("imap with on_error::raise throws task_error at the failing element, after the ones before it") {
    for (auto b : {parkit::backend::sequential, parkit::backend::threads, parkit::backend::processes}) {
        std::vector<int> got;
        auto f = [](int x) {
            if (x == 37) throw std::runtime_error("bad input 37");
            return x;
        };
        try {
            for (int y : parkit::imap(f, iota_vector(500), {.n_jobs = 2, .backend = b})) got.push_back(y);
            FAIL("no exception");
        } catch (const parkit::task_error& e) {
            REQUIRE(e.index() == 37);
            REQUIRE(std::string(e.what()).find("bad input 37") != std::string::npos);
        }
        REQUIRE(got == iota_vector(37));
    }
}

TEST_CASE("imap with on_error::collect yields a task_outcome for every input") {
    auto f = [](int x) {
        if (x % 10 == 3) throw std::invalid_argument("three");
        return x * 2;
    };
    for (auto b : {parkit::backend::threads, parkit::backend::processes}) {
        std::size_t next = 0;
        int failures = 0;
        for (auto& outcome :
             parkit::imap(f, iota_vector(100), {.n_jobs = 2, .backend = b, .on_error = parkit::on_error::collect})) {
            REQUIRE(outcome.index == next);
            if (next % 10 == 3) {
                REQUIRE_FALSE(outcome.ok());
                REQUIRE(outcome.what().find("three") != std::string::npos);
                REQUIRE_THROWS_AS(outcome.get(), parkit::task_error);
                ++failures;
            } else {
                REQUIRE(outcome.ok());
                REQUIRE(outcome.get() == static_cast<int>(2 * next));
            }
            ++next;
        }
        REQUIRE(next == 100);
        REQUIRE(failures == 10);
    }
}

TEST_CASE("imap on processes: a crashing input fails alone, the other results arrive") {
    auto f = [](int x) {
        if (x == 20) std::abort();
        return x + 1000;
    };
    int ok = 0;
    for (auto&& [index, outcome] : parkit::imap_unordered(f, iota_vector(60),
                                                          {.n_jobs = 2,
                                                          .backend = parkit::backend::processes,
                                                          .on_error = parkit::on_error::collect})) {
        if (index == 20) {
            REQUIRE_FALSE(outcome.ok());
            REQUIRE_THROWS_AS(std::rethrow_exception(outcome.error), parkit::worker_crashed);
        } else {
            REQUIRE(*outcome.value == static_cast<int>(index) + 1000);
            ++ok;
        }
    }
    REQUIRE(ok == 59);
}

TEST_CASE("imap on processes honours task_timeout_s") {
    auto f = [](int x) {
        if (x == 1) std::this_thread::sleep_for(std::chrono::seconds(30));
        return x;
    };
    std::vector<bool> ok(4, false);
    for (auto& outcome : parkit::imap(f, iota_vector(4),
                                      {.n_jobs = 2,
                                      .backend = parkit::backend::processes,
                                      .on_error = parkit::on_error::collect,
                                      .task_timeout_s = 0.5})) {
        if (outcome.index == 1) {
            REQUIRE_THROWS_AS(std::rethrow_exception(outcome.error), parkit::task_timeout);
        } else {
            REQUIRE(outcome.get() == static_cast<int>(outcome.index));
        }
    }
}

TEST_CASE("imap reports progress, and an unsized input has no known total") {
    std::atomic<long> reads{0};
    counting_input input(reads, 300);
    parkit::progress_info last;
    int calls = 0;
    long n = 0;
    for (long y : parkit::imap([](long x) { return x; }, input,
                               {.n_jobs = 2, .on_progress = [&](const parkit::progress_info& p) {
                                    last = p;
                                    ++calls;
                                }})) {
        n += y >= 0;
    }
    REQUIRE(n == 300);
    REQUIRE(calls >= 1);
    REQUIRE_FALSE(last.total_known);
    REQUIRE(last.done == 300);
    REQUIRE(last.fraction() == 0.0);

    const std::vector<int> xs = iota_vector(50);
    for (int y : parkit::imap([](int x) { return x; }, xs,
                              {.on_progress = [&](const parkit::progress_info& p) { last = p; }})) {
        (void)y;
    }
    REQUIRE(last.total_known);
    REQUIRE(last.total == 50);
    REQUIRE(last.done == 50);
}

TEST_CASE("imap inside a pool task does not deadlock the pool") {
    const std::vector<int> outer = iota_vector(8);
    auto sums = parkit::parallel_map(
        [](int k) {
            long s = 0;
            for (int y : parkit::imap([k](int x) { return x + k; }, iota_vector(100))) s += y;
            return s;
        },
        outer);
    for (int k = 0; k < 8; ++k) REQUIRE(sums[static_cast<std::size_t>(k)] == 4950 + 100L * k);
}

TEST_CASE("imap rejects what it cannot honour, naming the call and the option") {
    auto f = [](int x) { return x; };
    const std::vector<int> xs = iota_vector(3);
    REQUIRE_THROWS_WITH(parkit::imap(f, xs, {.task_timeout_s = 1.0}),
                        Catch::Contains("parkit::imap") && Catch::Contains("task_timeout_s"));
    REQUIRE_THROWS_WITH(parkit::imap(f, xs, {.backend = parkit::backend::mpi}),
                        Catch::Contains("parkit::imap") && Catch::Contains("mpi"));
    REQUIRE_THROWS_WITH(parkit::imap_unordered(f, xs, {.n_jobs = 0}), Catch::Contains("n_jobs"));
    auto range = parkit::imap(f, xs);
    (void)range.begin();
    REQUIRE_THROWS_AS(range.begin(), std::logic_error);
    int (*null_function)(int) = nullptr;
    REQUIRE_THROWS_AS(parkit::imap(null_function, xs), std::invalid_argument);
}
