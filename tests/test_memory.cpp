#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <parkit/memory.hpp>
#include <parkit/parallel_map.hpp>

namespace fs = std::filesystem;

namespace {

/// A fresh directory for one test, removed afterwards.
struct scratch_dir {
    fs::path path;
    scratch_dir() {
        static std::atomic<int> counter{0};
        path = fs::temp_directory_path() /
               ("parkit-test-memory-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path);
    }
    ~scratch_dir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

std::vector<fs::path> files_under(const fs::path& dir, const std::string& needle) {
    std::vector<fs::path> out;
    for (const auto& f : fs::recursive_directory_iterator(dir)) {
        if (f.is_regular_file() && f.path().filename().string().find(needle) != std::string::npos) {
            out.push_back(f.path());
        }
    }
    return out;
}

double slow_square(double x) { return x * x; }

}  // namespace

TEST_CASE("memory: a repeated call is a hit, also from another memory object on the same directory", "[memory]") {
    scratch_dir dir;
    std::atomic<int> calls{0};
    auto simulate = [&](int n, const std::string& label) {
        ++calls;
        return std::map<std::string, std::vector<double>>{{label, std::vector<double>(static_cast<std::size_t>(n), 0.5)}};
    };
    parkit::memory mem{dir.path / "nested" / "cache"};  // created on demand
    auto cached = mem.cache("simulate_v1", simulate);
    const auto first = cached(3, std::string("a"));
    const auto second = cached(3, std::string("a"));
    REQUIRE(first == second);
    REQUIRE(first.at("a").size() == 3);
    REQUIRE(calls == 1);
    (void)cached(4, std::string("a"));  // other arguments: another entry
    REQUIRE(calls == 2);
    REQUIRE(mem.stats().hits == 1);
    REQUIRE(mem.stats().misses == 2);
    REQUIRE(mem.entry_count() == 2);

    parkit::memory again{dir.path / "nested" / "cache"};
    auto cached_again = again.cache("simulate_v1", simulate);
    REQUIRE(cached_again(3, std::string("a")) == first);
    REQUIRE(calls == 2);
    REQUIRE(again.stats().hits == 1);

    // Another name is another cache.
    auto other = again.cache("simulate_v2", simulate);
    (void)other(3, std::string("a"));
    REQUIRE(calls == 3);
}

TEST_CASE("memory: entries written by another process are hits", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    auto cached = mem.cache("square", slow_square);
    const std::vector<double> xs{1, 2, 3, 4, 5, 6, 7, 8};
    const auto in_children = parkit::parallel_map([&](double x) { return cached(x); }, xs,
                                                  {.n_jobs = 2, .backend = parkit::backend::processes});
    REQUIRE(in_children == std::vector<double>{1, 4, 9, 16, 25, 36, 49, 64});
    REQUIRE(mem.stats().misses == 0);  // the children computed; this process did not
    for (double x : xs) REQUIRE(cached(x) == x * x);
    REQUIRE(mem.stats().hits == xs.size());
    REQUIRE(mem.stats().misses == 0);
}

TEST_CASE("memory: truncated, corrupt and foreign entries are misses and get rewritten", "[memory]") {
    scratch_dir dir;
    std::atomic<int> calls{0};
    std::vector<parkit::cache_event_kind> events;
    parkit::memory mem{dir.path, {.on_event = [&](const parkit::cache_event& e) { events.push_back(e.kind); }}};
    auto cached = mem.cache("vec", [&](int n) {
        ++calls;
        return std::vector<int>(static_cast<std::size_t>(n), n);
    });
    const std::vector<int> expected(50, 50);
    REQUIRE(cached(50) == expected);
    const auto entries = files_under(dir.path, ".entry");
    REQUIRE(entries.size() == 1);
    const fs::path entry = entries.front();
    const auto full_size = fs::file_size(entry);

    auto damage_and_check = [&](auto damage) {
        damage();
        const int before = calls;
        REQUIRE(cached(50) == expected);  // recomputed, not garbage
        REQUIRE(calls == before + 1);
        REQUIRE(fs::file_size(entry) == full_size);  // rewritten
        REQUIRE(cached(50) == expected);             // and now a hit again
        REQUIRE(calls == before + 1);
    };
    SECTION("truncated") { damage_and_check([&] { fs::resize_file(entry, full_size / 2); }); }
    SECTION("truncated header") { damage_and_check([&] { fs::resize_file(entry, 5); }); }
    SECTION("empty") { damage_and_check([&] { fs::resize_file(entry, 0); }); }
    SECTION("flipped payload byte") {
        damage_and_check([&] {
            std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(full_size - 3));
            f.put('\x7f');
        });
    }
    SECTION("appended garbage") {
        damage_and_check([&] { std::ofstream(entry, std::ios::app | std::ios::binary) << "garbage"; });
    }
    SECTION("entry of another key under this key's name (a collision)") {
        REQUIRE(cached(7) == std::vector<int>(7, 7));
        const auto all = files_under(dir.path, ".entry");
        REQUIRE(all.size() == 2);
        const fs::path other = all[0] == entry ? all[1] : all[0];
        damage_and_check([&] { fs::copy_file(other, entry, fs::copy_options::overwrite_existing); });
    }
    REQUIRE(mem.stats().corrupt == 1);
    REQUIRE(std::count(events.begin(), events.end(), parkit::cache_event_kind::corrupt) == 1);
}

TEST_CASE("memory: many threads hammering one key and a few others", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    auto cached = mem.cache("hammer", [](int k) { return std::vector<double>(100, k * 1.5); });
    std::vector<int> tasks(400);
    for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i] = i % 2 == 0 ? 7 : static_cast<int>(i % 5);
    const auto results = parkit::parallel_map(
        [&](int k) { return cached(k) == std::vector<double>(100, k * 1.5); }, tasks, {.n_jobs = 8, .chunk_size = 1});
    REQUIRE(std::all_of(results.begin(), results.end(), [](bool ok) { return ok; }));
    REQUIRE(mem.entry_count() == 6);
    REQUIRE(files_under(dir.path, ".tmp.").empty());
    const auto s = mem.stats();
    REQUIRE(s.hits + s.misses == tasks.size());
    REQUIRE(s.corrupt == 0);
}

TEST_CASE("memory: many processes hammering one key", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    auto cached = mem.cache("hammer_processes", [](int k) { return std::string(5000, static_cast<char>('a' + k)); });
    std::vector<int> tasks(96);
    for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i] = static_cast<int>(i % 3);
    const auto ok = parkit::parallel_map(
        [&](int k) {
            bool all = true;
            for (int repeat = 0; repeat < 5; ++repeat) all = all && cached(k) == std::string(5000, static_cast<char>('a' + k));
            return all;
        },
        tasks, {.n_jobs = 4, .backend = parkit::backend::processes, .chunk_size = 1});
    REQUIRE(std::all_of(ok.begin(), ok.end(), [](bool b) { return b; }));
    REQUIRE(mem.entry_count() == 3);
    REQUIRE(files_under(dir.path, ".tmp.").empty());
    for (int k = 0; k < 3; ++k) REQUIRE(cached(k) == std::string(5000, static_cast<char>('a' + k)));
    REQUIRE(mem.stats().hits == 3);
    REQUIRE(mem.stats().misses == 0);
}

TEST_CASE("memory: clear, clear(name), size and entry count", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    std::ofstream(dir.path / "keep.txt") << "not ours";
    auto a = mem.cache("a", [](int x) { return x + 1; });
    auto b = mem.cache("b", [](int x) { return std::vector<double>(1000, x); });
    REQUIRE(mem.entry_count() == 0);
    REQUIRE(mem.size_bytes() == 0);
    for (int i = 0; i < 3; ++i) {
        (void)a(i);
        (void)b(i);
    }
    REQUIRE(mem.entry_count() == 6);
    REQUIRE(mem.size_bytes() > 3 * 8000);
    mem.clear("b");
    REQUIRE(mem.entry_count() == 3);
    REQUIRE(mem.size_bytes() < 3000);
    (void)b(1);  // the function's directory comes back
    REQUIRE(mem.entry_count() == 4);
    mem.clear();
    REQUIRE(mem.entry_count() == 0);
    REQUIRE(mem.size_bytes() == 0);
    REQUIRE(fs::exists(dir.path / "keep.txt"));  // clear() touches only its own folder
    REQUIRE(a(41) == 42);
    REQUIRE(mem.entry_count() == 1);
}

TEST_CASE("memory: exceptions propagate and store nothing, verbose logging works", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path, {.verbose = true}};
    auto failing = mem.cache("failing", [](int x) -> int {
        if (x < 0) throw std::domain_error("negative");
        return x;
    });
    REQUIRE_THROWS_AS(failing(-1), std::domain_error);
    REQUIRE(mem.entry_count() == 0);
    REQUIRE(failing(2) == 2);
    REQUIRE(failing(2) == 2);
    REQUIRE(mem.stats().hits == 1);
}

TEST_CASE("memory: a result that cannot be stored is still returned", "[memory]") {
    scratch_dir dir;
    std::vector<std::string> reasons;
    parkit::memory mem{dir.path, {.on_event = [&](const parkit::cache_event& e) {
                                      if (e.kind == parkit::cache_event_kind::store_failed) reasons.emplace_back(e.reason);
                                  }}};
    std::ofstream(dir.path / "parkit" / "blocked") << "a file where the function's folder should be";
    auto blocked = mem.cache("blocked", [](int x) { return x * 2; });
    REQUIRE(blocked(21) == 42);
    REQUIRE(mem.stats().store_failed == 1);
    REQUIRE(reasons.size() == 1);
}

TEST_CASE("memory: bad directories and names are refused with a clear message", "[memory]") {
    scratch_dir dir;
    fs::create_directories(dir.path);
    std::ofstream(dir.path / "a_file") << "x";
    try {
        parkit::memory mem{dir.path / "a_file" / "cache"};
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        REQUIRE(std::string(e.what()).find("cache_dir") != std::string::npos);
        REQUIRE(std::string(e.what()).find("a_file") != std::string::npos);
    }
    REQUIRE_THROWS_AS(parkit::memory{""}, std::invalid_argument);
    parkit::memory mem{dir.path / "ok"};
    for (const char* bad : {"", "../escape", "a/b", ".hidden", "sp ace"}) {
        try {
            (void)mem.cache(bad, slow_square);
            FAIL("no exception for '" << bad << "'");
        } catch (const std::invalid_argument& e) {
            REQUIRE(std::string(e.what()).find("name") != std::string::npos);
        }
    }
    REQUIRE_THROWS_AS(mem.clear("../x"), std::invalid_argument);
}

TEST_CASE("memory's key hash is MurmurHash3_x64_128 (SMHasher verification value)", "[memory]") {
    // SMHasher's VerificationTest: hash keys {0}, {0,1}, ... of lengths 0..255 with seed 256 - n,
    // hash the concatenated results with seed 0; the first 4 bytes must read 0x6384BA69.
    std::vector<std::byte> key(256);
    std::vector<std::byte> hashes;
    for (std::size_t n = 0; n < 256; ++n) {
        key[n] = static_cast<std::byte>(n);
        const auto h = parkit::detail::murmur3_128(std::span<const std::byte>(key.data(), n),
                                                   static_cast<std::uint32_t>(256 - n));
        for (std::size_t b = 0; b < 16; ++b) hashes.push_back(static_cast<std::byte>(h[b / 8] >> (8 * (b % 8))));
    }
    const auto final_hash = parkit::detail::murmur3_128(hashes, 0);
    REQUIRE((final_hash[0] & 0xffffffffu) == 0x6384BA69u);
    REQUIRE(parkit::detail::hash_hex(parkit::detail::murmur3_128(std::as_bytes(std::span("hello", 5)))) ==
            "cbd8a7b341bd9b025b1e906a48ae1d19");
}
