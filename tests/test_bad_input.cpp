// Bad-input audit of the core entry points: every invalid argument must give a clear exception
// (its type, and a message naming the argument), never a crash, a hang or undefined behaviour.
// The kernels' cases are in test_bad_input_kernels.cpp.

#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

using Catch::Contains;

namespace {

int square(int x) {
    return x * x;
}
int doubled(int x) {
    return 2 * x;
}
using int_function = int (*)(int);
constexpr int_function null_function = nullptr;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

const std::vector<int> some_inputs{1, 2, 3, 4};

/// A message whose first 8 bytes claim `n` elements, followed by `extra` bytes.
std::vector<std::byte> claiming(std::uint64_t n, std::size_t extra = 16) {
    std::vector<std::byte> bytes(sizeof n + extra, std::byte{1});
    std::memcpy(bytes.data(), &n, sizeof n);
    return bytes;
}

}  // namespace

TEST_CASE("bad input: n_jobs of 0 or below -cores is refused by every executor", "[bad_input][n_jobs]") {
    const int too_negative = -parkit::available_cores() - 1;
    for (const int n_jobs : {0, too_negative, INT_MIN}) {
        INFO("n_jobs = " << n_jobs);
        CHECK_THROWS_WITH(parkit::thread_pool(n_jobs), Contains("n_jobs"));
        CHECK_THROWS_AS(parkit::thread_pool(n_jobs), std::invalid_argument);
        CHECK_THROWS_WITH(parkit::process_pool(n_jobs), Contains("n_jobs"));
        CHECK_THROWS_AS(parkit::process_pool(n_jobs), std::invalid_argument);
        for (const auto backend : {parkit::backend::sequential, parkit::backend::threads, parkit::backend::processes}) {
            CHECK_THROWS_WITH(parkit::parallel_map(square, some_inputs, {.n_jobs = n_jobs, .backend = backend}),
                              Contains("n_jobs"));
            CHECK_THROWS_AS(parkit::parallel_map(square, some_inputs, {.n_jobs = n_jobs, .backend = backend}),
                            std::invalid_argument);
        }
        parkit::thread_pool pool(2);
        CHECK_THROWS_WITH(pool.map(square, some_inputs, {.n_jobs = n_jobs}), Contains("n_jobs"));
    }
}

TEST_CASE("bad input: negative, NaN and infinite task time limits are refused", "[bad_input][timeout]") {
    for (const double limit : {-1.0, -1e-9, not_a_number, infinity, -infinity, 1e300}) {
        INFO("task_timeout_s = " << limit);
        CHECK_THROWS_WITH(parkit::process_pool({.n_jobs = 1, .task_timeout_s = limit}), Contains("task_timeout_s"));
        CHECK_THROWS_AS(parkit::process_pool({.n_jobs = 1, .task_timeout_s = limit}), std::invalid_argument);
        for (const auto backend : {parkit::backend::sequential, parkit::backend::threads, parkit::backend::processes}) {
            CHECK_THROWS_WITH(parkit::parallel_map(square, some_inputs, {.backend = backend, .task_timeout_s = limit}),
                              Contains("task_timeout_s"));
        }
    }
    parkit::process_pool pool(1);
    CHECK_THROWS_WITH(pool.map(square, some_inputs, {.task_timeout_s = not_a_number}), Contains("task_timeout_s"));
}

TEST_CASE("bad input: a zero time limit means none, and the largest allowed one works", "[bad_input][timeout]") {
    parkit::process_pool unlimited({.n_jobs = 1, .task_timeout_s = 0.0});
    CHECK(unlimited.submit(square, 7).get() == 49);
    parkit::process_pool longest({.n_jobs = 1, .task_timeout_s = parkit::detail::max_task_timeout_s});
    CHECK(longest.submit(square, 8).get() == 64);
    CHECK(longest.map(square, some_inputs, {.chunk_size = 4}) == std::vector<int>{1, 4, 9, 16});
    const auto out =
        parkit::parallel_map(square, some_inputs, {.backend = parkit::backend::processes, .task_timeout_s = 1e9});
    CHECK(out == std::vector<int>{1, 4, 9, 16});
}

TEST_CASE("bad input: a null function pointer is refused at submit, not run", "[bad_input][null]") {
    parkit::thread_pool threads(2);
    CHECK_THROWS_WITH(threads.submit(null_function, 1), Contains("f is a null function pointer") && Contains("submit"));
    CHECK_THROWS_AS(threads.submit(null_function, 1), std::invalid_argument);
    CHECK_THROWS_WITH(threads.map(null_function, some_inputs), Contains("null function pointer"));
    CHECK_THROWS_WITH(threads.submit(std::function<int(int)>{}, 1), Contains("empty std::function"));

    parkit::process_pool processes(1);
    CHECK_THROWS_WITH(processes.submit(null_function, 1),
                      Contains("f is a null function pointer") && Contains("submit"));
    CHECK_THROWS_AS(processes.submit(null_function, 1), std::invalid_argument);
    CHECK_THROWS_WITH(processes.map(null_function, some_inputs), Contains("null function pointer"));

    for (const auto backend : {parkit::backend::sequential, parkit::backend::threads, parkit::backend::processes}) {
        CHECK_THROWS_WITH(parkit::parallel_map(null_function, some_inputs, {.backend = backend}),
                          Contains("null function pointer"));
    }
    CHECK_THROWS_WITH(parkit::parallel_map(std::function<int(int)>{}, some_inputs), Contains("empty std::function"));

    // The executors are unharmed.
    CHECK(threads.submit(square, 3).get() == 9);
    CHECK(processes.submit(square, 4).get() == 16);
}

TEST_CASE("bad input: an unknown backend value is refused", "[bad_input]") {
    CHECK_THROWS_WITH(parkit::parallel_map(square, some_inputs, {.backend = static_cast<parkit::backend>(42)}),
                      Contains("backend"));
}

TEST_CASE("bad input: misused futures throw logic_error", "[bad_input][future]") {
    parkit::future<int> empty;
    CHECK_THROWS_AS(empty.get(), std::logic_error);
    CHECK_THROWS_AS(empty.wait(), std::logic_error);
    parkit::thread_pool pool(1);
    auto f = pool.submit(square, 2);
    CHECK(f.get() == 4);
    CHECK_THROWS_AS(f.get(), std::logic_error);
}

TEST_CASE("bad input: a length prefix of 2^60 elements is refused before allocating", "[bad_input][serialization]") {
    const auto huge = claiming(std::uint64_t{1} << 60);
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<int>>(huge), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<double>>(huge), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<std::string>(huge), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<std::string>>(huge), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<std::list<int>>(huge), parkit::serialization_error);
    CHECK_THROWS_AS((parkit::from_bytes<std::map<int, std::string>>(huge)), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<bool>>(huge), parkit::serialization_error);
    const auto max = claiming(std::numeric_limits<std::uint64_t>::max());
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<std::int64_t>>(max), parkit::serialization_error);
    CHECK_THROWS_WITH(parkit::from_bytes<std::vector<int>>(huge), Contains("corrupt message"));
}

TEST_CASE("bad input: corrupt bools, optionals and variants give serialization_error", "[bad_input][serialization]") {
    const std::vector<std::byte> two{std::byte{2}};
    CHECK_THROWS_AS(parkit::from_bytes<bool>(two), parkit::serialization_error);
    // optional<int> and variant<int, float> are trivially copyable, yet their flag and index
    // are checked, not copied as raw bytes.
    auto optional_bytes = parkit::to_bytes(std::optional<int>{5});
    optional_bytes[0] = std::byte{7};
    CHECK_THROWS_AS(parkit::from_bytes<std::optional<int>>(optional_bytes), parkit::serialization_error);
    CHECK(parkit::from_bytes<std::optional<int>>(parkit::to_bytes(std::optional<int>{5})) == 5);
    auto variant_bytes = parkit::to_bytes(std::variant<int, float>{1.5f});
    variant_bytes[0] = std::byte{9};
    CHECK_THROWS_AS((parkit::from_bytes<std::variant<int, float>>(variant_bytes)), parkit::serialization_error);
    CHECK(std::get<float>(
              parkit::from_bytes<std::variant<int, float>>(parkit::to_bytes(std::variant<int, float>{1.5f}))) == 1.5f);
    const auto truncated = parkit::to_bytes(std::int64_t{42});
    CHECK_THROWS_WITH(parkit::from_bytes<std::int64_t>(std::span(truncated).first(4)), Contains("truncated"));
    const auto short_string = parkit::to_bytes(std::string("a string cut short"));
    CHECK_THROWS_AS(parkit::from_bytes<std::string>(std::span(short_string).first(12)), parkit::serialization_error);
}

TEST_CASE("bad input: a malformed task outcome gives serialization_error", "[bad_input][serialization]") {
    std::vector<std::byte> reply{std::byte{9}};
    parkit::input_archive archive(reply);
    CHECK_THROWS_AS(parkit::detail::decode_outcome<int>(
                        archive, 0, [](int) {}, [](std::exception_ptr) {}),
                    parkit::serialization_error);
}

TEST_CASE("bad input: options a call does not honour are refused naming the field, never ignored",
          "[bad_input][options]") {
    const std::vector<int> xs{1, 2, 3};
    auto twice = [](int x) { return 2 * x; };
    parkit::thread_pool pool(2);
    // A thread_pool's map runs on its threads: another backend is an error, not threads in disguise.
    CHECK_THROWS_WITH(pool.map(twice, xs, {.backend = parkit::backend::processes}),
                      Catch::Contains("parkit::thread_pool::map") && Catch::Contains("options.backend"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.backend = parkit::backend::sequential}),
                      Catch::Contains("options.backend"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.max_in_flight = 4}), Catch::Contains("options.max_in_flight"));
    parkit::options mpi_set;
    mpi_set.mpi.threads_per_rank = 4;
    CHECK_THROWS_WITH(pool.map(twice, xs, mpi_set), Catch::Contains("options.mpi"));
    CHECK(pool.map(twice, xs, {.backend = parkit::backend::threads}) == std::vector<int>{2, 4, 6});
    // parallel_map: a stream window, or MPI settings without backend::mpi.
    CHECK_THROWS_WITH(parkit::parallel_map(twice, xs, {.max_in_flight = 8}),
                      Catch::Contains("parkit::parallel_map") && Catch::Contains("options.max_in_flight"));
    CHECK_THROWS_WITH(parkit::parallel_map(twice, xs, mpi_set),
                      Catch::Contains("parkit::parallel_map") && Catch::Contains("options.mpi"));
    // Loops and streams.
    CHECK_THROWS_WITH(parkit::parallel_for(0, 3, [](int) {}, {.max_in_flight = 2}),
                      Catch::Contains("options.max_in_flight"));
    CHECK_THROWS_WITH(parkit::parallel_reduce(
                          0, 3, 0, [](int i) { return i; }, std::plus<>{}, mpi_set),
                      Catch::Contains("parkit::parallel_reduce") && Catch::Contains("options.mpi"));
    CHECK(parkit::parallel_reduce(
              0, 4, 0, [](int i) { return i; }, std::plus<>{}) == 6);
    CHECK_THROWS_WITH(parkit::imap(twice, xs, mpi_set), Catch::Contains("options.mpi"));
    // A process_pool's map takes backend::processes (its own kind), not threads-only fields.
    parkit::process_pool procs(1);
    CHECK(procs.map(doubled, xs, {.backend = parkit::backend::processes}) == std::vector<int>{2, 4, 6});
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.backend = parkit::backend::mpi}),
                      Catch::Contains("parkit::process_pool::map") && Catch::Contains("options.backend"));
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.max_in_flight = 3}), Catch::Contains("options.max_in_flight"));
}

TEST_CASE("bad input: a pool's map refuses every option that cannot apply to it, naming the field",
          "[bad_input][options]") {
    const std::vector<int> xs{1, 2, 3};
    auto twice = [](int x) { return 2 * x; };
    const auto cache_dir = std::filesystem::temp_directory_path() / "parkit_test_bad_input_checkpoint";
    const parkit::checkpoint_store checkpoint{parkit::memory{cache_dir}};
    parkit::options mpi_set;
    mpi_set.mpi.broadcast = true;

    parkit::thread_pool pool(2);
    // Another backend names the value and where it can be had instead.
    CHECK_THROWS_WITH(pool.map(twice, xs, {.backend = parkit::backend::processes}),
                      Contains("parkit::thread_pool::map: options.backend = processes cannot apply") &&
                          Contains("its threads") &&
                          Contains("parallel_map(f, inputs, {.backend = parkit::backend::processes})"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.backend = parkit::backend::mpi}),
                      Contains("options.backend = mpi cannot apply"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.backend = static_cast<parkit::backend>(42)}),
                      Contains("options.backend has an unknown value (42)"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.task_timeout_s = 1.0}),
                      Contains("parkit::thread_pool::map") && Contains("options.task_timeout_s"));
    CHECK_THROWS_WITH(pool.map(twice, xs, {.checkpoint = checkpoint}),
                      Contains("parkit::thread_pool::map") && Contains("options.checkpoint"));
    CHECK_THROWS_WITH(pool.map(twice, xs, mpi_set), Contains("parkit::thread_pool::map") && Contains("options.mpi"));
    // The collecting overload makes the same checks.
    CHECK_THROWS_WITH(pool.map(twice, xs,
                               parkit::collect_options{.backend = parkit::backend::processes,
                                                       .on_error = parkit::on_error::collect}),
                      Contains("options.backend = processes"));
    CHECK_THROWS_WITH(pool.map(twice, xs,
                               parkit::collect_options{.on_error = parkit::on_error::collect, .task_timeout_s = 2.0}),
                      Contains("options.task_timeout_s"));
    CHECK_THROWS_WITH(parkit::parallel_map(pool, twice, xs, {.backend = parkit::backend::sequential}),
                      Contains("options.backend = sequential"));
    // What does apply still runs.
    CHECK(pool.map(twice, xs, {.n_jobs = 1, .chunk_size = 1}) == std::vector<int>{2, 4, 6});

    parkit::process_pool procs(1);
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.backend = parkit::backend::sequential}),
                      Contains("parkit::process_pool::map: options.backend = sequential cannot apply") &&
                          Contains("worker processes"));
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.n_jobs = 2}),
                      Contains("parkit::process_pool::map: options.n_jobs = 2 cannot apply"));
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.task_timeout_s = 1.0}), Contains("parkit::process_pool::map") &&
                                                                           Contains("options.task_timeout_s") &&
                                                                           Contains(".task_timeout_s = ..."));
    CHECK_THROWS_WITH(procs.map(doubled, xs, {.checkpoint = checkpoint}), Contains("options.checkpoint"));
    CHECK_THROWS_WITH(procs.map(doubled, xs, mpi_set), Contains("options.mpi"));
    CHECK_THROWS_AS(procs.map(doubled, xs, parkit::collect_options{.n_jobs = 3, .on_error = parkit::on_error::collect}),
                    std::invalid_argument);
    CHECK(procs.map(doubled, xs, {.chunk_size = 2}) == std::vector<int>{2, 4, 6});
    std::filesystem::remove_all(cache_dir);  // nothing was stored in it
}
