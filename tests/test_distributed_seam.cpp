// The core's side of backend::mpi, without MPI: the task outcome codec, remote_error's rank,
// the clear error when no engine is registered, and run_distributed_map driven by a fake
// in-process engine (rank 0 with results, or another rank without them).
#include <parkit/detail/process/task_codec.hpp>
#include <parkit/parkit.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const parkit::options on_mpi{.backend = parkit::backend::mpi};

// A fake engine: runs every chunk (3 tasks each) in this process, as rank `fake_rank` of
// `fake_size`; with fake_rank != 0 it returns what a non-root rank gets.
int fake_rank = 0;
int fake_size = 1;

parkit::detail::distributed_topology fake_topology() {
    return {fake_rank, fake_size};
}

// What the last job told the engine about its inputs' hash.
bool last_hashed = false;
parkit::detail::hash128 last_hash{};

parkit::detail::distributed_map_outcome fake_run(const parkit::detail::distributed_map_job& job) {
    last_hashed = job.inputs_hashed;
    last_hash = {job.input_hash[0], job.input_hash[1]};
    const bool has_results = fake_rank == 0 || job.broadcast;
    // Chunks arrive out of order, as from ranks of different speeds: the last one first.
    std::vector<parkit::detail::distributed_chunk> chunks;
    for (std::size_t begin = 0; begin < job.total; begin += 3) {
        parkit::detail::distributed_chunk chunk;
        chunk.begin = begin;
        chunk.rank = static_cast<std::int32_t>(begin / 3 % 2);
        job.run_chunk({begin, std::min(begin + 3, job.total)}, chunk);
        if (job.advance) job.advance(chunk.count);
        chunks.push_back(std::move(chunk));
        if (chunks.back().failed && job.stop_at_failure) break;
    }
    std::reverse(chunks.begin(), chunks.end());
    for (const auto& chunk : chunks) {
        // A non-root rank only hears of the first failure (raise mode).
        if (has_results || (chunk.failed && job.stop_at_failure)) job.take_chunk(chunk);
    }
    return parkit::detail::distributed_map_outcome{has_results};
}

const parkit::detail::distributed_engine fake_engine{&fake_topology, &fake_run};

// Registers the fake engine for one test case, as rank `rank` of `size`.
struct fake_engine_scope {
    fake_engine_scope(int rank, int size) {
        fake_rank = rank;
        fake_size = size;
        parkit::detail::register_distributed_engine(&fake_engine);
    }
    ~fake_engine_scope() { parkit::detail::register_distributed_engine(nullptr); }
};

}  // namespace

TEST_CASE("backend::mpi without parkit/mpi.hpp fails with a clear logic_error", "[mpi][parallel_map]") {
    CHECK_THROWS_AS(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2}, on_mpi), std::logic_error);
    CHECK_THROWS_WITH(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2}, on_mpi),
                      Catch::Contains("#include <parkit/mpi.hpp>"));
}

TEST_CASE("task outcomes round-trip through the codec", "[mpi][serialization]") {
    std::vector<std::byte> bytes;
    CHECK(parkit::detail::run_and_encode_task<std::string>(bytes, [] { return std::string("ok"); }));
    CHECK_FALSE(parkit::detail::run_and_encode_task<std::string>(bytes, []() -> std::string {
        throw std::range_error("out");
    }));
    CHECK(parkit::detail::run_and_encode_task<void>(bytes, [] {}));
    parkit::input_archive archive(bytes);
    std::vector<std::string> seen;
    auto on_failure = [&](std::string type, std::string message) { seen.push_back(type + "|" + message); };
    parkit::detail::decode_task<std::string>(
        archive, [&](std::string v) { seen.push_back(v); }, on_failure);
    parkit::detail::decode_task<std::string>(
        archive, [&](std::string v) { seen.push_back(v); }, on_failure);
    parkit::detail::decode_task<void>(
        archive, [&] { seen.push_back("void"); }, on_failure);
    CHECK(seen == std::vector<std::string>{"ok", "std::range_error|out", "void"});
    CHECK(archive.remaining() == 0);
}

TEST_CASE("remote_error names the MPI rank when there is one", "[mpi][errors]") {
    const parkit::remote_error local(3, "std::runtime_error", "boom");
    const parkit::remote_error ranked(3, "std::runtime_error", "boom", 2);
    CHECK(local.rank() == -1);
    CHECK(std::string(local.what()) == "parkit: task 3 threw std::runtime_error in a worker process: boom");
    CHECK(ranked.rank() == 2);
    CHECK(std::string(ranked.what()) == "parkit: task 3 threw std::runtime_error on MPI rank 2: boom");
}

TEST_CASE("run_distributed_map assembles results, errors and ranks in input order", "[mpi][parallel_map]") {
    const fake_engine_scope scope(0, 2);
    const auto squares =
        parkit::parallel_map([](int x) { return x * x; }, std::vector<int>{0, 1, 2, 3, 4, 5, 6}, on_mpi);
    CHECK(squares == std::vector<int>{0, 1, 4, 9, 16, 25, 36});

    auto flaky = [](int x) {
        if (x % 4 == 1) throw std::invalid_argument("x = " + std::to_string(x));
        return x;
    };
    const auto c = parkit::parallel_map(flaky, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7},
                                        {.backend = parkit::backend::mpi, .on_error = parkit::on_error::collect});
    REQUIRE(c.results.size() == 8);
    REQUIRE(c.errors.size() == 2);
    CHECK(c.errors[0].index == 1);
    CHECK(c.errors[1].index == 5);
    try {
        c.errors[1].rethrow();
    } catch (const parkit::remote_error& e) {
        CHECK(e.rank() == 1);  // the fake engine ran chunk [3, 6) "on rank 1"
        CHECK(e.type_name() == "std::invalid_argument");
        CHECK(e.message() == "x = 5");
    }
    CHECK_THROWS_AS(parkit::parallel_map(flaky, std::vector<int>{0, 1, 2}, on_mpi), parkit::task_error);

    parkit::options hybrid = on_mpi;
    hybrid.mpi.threads_per_rank = 2;
    const auto doubled = parkit::parallel_map([](int x) { return 2 * x; }, std::vector<int>{1, 2, 3, 4, 5}, hybrid);
    CHECK(doubled == std::vector<int>{2, 4, 6, 8, 10});
}

TEST_CASE("run_distributed_map on a non-root rank: empty results, same task_error", "[mpi][parallel_map]") {
    const fake_engine_scope scope(1, 2);
    CHECK(parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2, 3, 4}, on_mpi).empty());
    const auto c = parkit::parallel_map([](int x) { return x; }, std::vector<int>{1, 2, 3},
                                        {.backend = parkit::backend::mpi, .on_error = parkit::on_error::collect});
    CHECK(c.results.empty());
    CHECK(c.errors.empty());
    try {
        parkit::parallel_map(
            [](int x) {
                if (x == 4) throw std::domain_error("four");
                return x;
            },
            std::vector<int>{0, 1, 2, 3, 4, 5}, on_mpi);
        FAIL("expected task_error");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 4);
        CHECK(std::string(e.what()).find("four") != std::string::npos);
    }
    parkit::options everywhere = on_mpi;
    everywhere.mpi.broadcast = true;
    CHECK(parkit::parallel_map([](int x) { return x + 1; }, std::vector<int>{1, 2}, everywhere) ==
          std::vector<int>{2, 3});
}

TEST_CASE("run_distributed_map hashes the inputs for the cross-rank check", "[mpi][parallel_map]") {
    const fake_engine_scope scope(0, 2);
    auto hash_of = [](const auto& inputs, parkit::options o = on_mpi) {
        parkit::parallel_map([](const auto& x) { return sizeof(x); }, inputs, o);
        return last_hashed ? std::optional<parkit::detail::hash128>(last_hash) : std::nullopt;
    };
    struct padded {  // 7 padding bytes: equal values must hash alike whatever those hold
        char c = 0;
        double x = 0;
    };
    std::vector<padded> a(4), b;
    for (int i = 0; i < 4; ++i) {
        padded p;
        std::memset(static_cast<void*>(&p), i + 1, sizeof p);  // different padding bytes
        p.c = 'a';
        p.x = 0.5;
        b.push_back(p);
        a[static_cast<std::size_t>(i)].c = 'a';
        a[static_cast<std::size_t>(i)].x = 0.5;
    }
    const std::vector<double> xs{1, 2, 3}, ys{1, 2, 4};
    const std::vector<std::string> words{"a", "bc"}, other_words{"ab", "c"};
    const auto hx = hash_of(xs);
    REQUIRE(hx);
    CHECK(hash_of(xs) == hx);
    CHECK(hash_of(ys) != hx);
    CHECK(hash_of(words) != hash_of(other_words));  // element boundaries count
    CHECK(hash_of(a) == hash_of(b));
    parkit::options unchecked = on_mpi;
    unchecked.mpi.check_inputs = false;
    CHECK_FALSE(hash_of(xs, unchecked));
    std::vector<std::function<int()>> functions(2, [] { return 1; });  // not serializable: counted only
    CHECK_FALSE(hash_of(functions));
    const parkit::detail::iota_range first_five{0, 5}, shifted{1, 6};  // index ranges: their bounds
    CHECK(parkit::detail::hash_inputs(first_five, first_five) != parkit::detail::hash_inputs(shifted, shifted));
}

TEST_CASE("run_distributed_map on one rank hashes nothing", "[mpi][parallel_map]") {
    const fake_engine_scope scope(0, 1);
    parkit::parallel_map([](double x) { return x; }, std::vector<double>{1, 2}, on_mpi);
    CHECK_FALSE(last_hashed);
}
