#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <parkit/imap.hpp>
#include <parkit/memory.hpp>
#include <parkit/parallel_for.hpp>
#include <parkit/parallel_map.hpp>

#include "reliability_support.hpp"

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

double slow_square(double x) {
    return x * x;
}

}  // namespace

TEST_CASE("memory: a repeated call is a hit, also from another memory object on the same directory", "[memory]") {
    scratch_dir dir;
    std::atomic<int> calls{0};
    auto simulate = [&](int n, const std::string& label) {
        ++calls;
        return std::map<std::string, std::vector<double>>{
            {label, std::vector<double>(static_cast<std::size_t>(n), 0.5)}};
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
    SECTION("truncated") {
        damage_and_check([&] { fs::resize_file(entry, full_size / 2); });
    }
    SECTION("truncated header") {
        damage_and_check([&] { fs::resize_file(entry, 5); });
    }
    SECTION("empty") {
        damage_and_check([&] { fs::resize_file(entry, 0); });
    }
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
    const auto results = parkit::parallel_map([&](int k) { return cached(k) == std::vector<double>(100, k * 1.5); },
                                              tasks, {.n_jobs = 8, .chunk_size = 1});
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
            for (int repeat = 0; repeat < 5; ++repeat)
                all = all && cached(k) == std::string(5000, static_cast<char>('a' + k));
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
        const auto h =
            parkit::detail::murmur3_128(std::span<const std::byte>(key.data(), n), static_cast<std::uint32_t>(256 - n));
        for (std::size_t b = 0; b < 16; ++b) hashes.push_back(static_cast<std::byte>(h[b / 8] >> (8 * (b % 8))));
    }
    const auto final_hash = parkit::detail::murmur3_128(hashes, 0);
    REQUIRE((final_hash[0] & 0xffffffffu) == 0x6384BA69u);
    REQUIRE(parkit::detail::hash_hex(parkit::detail::murmur3_128(std::as_bytes(std::span("hello", 5)))) ==
            "cbd8a7b341bd9b025b1e906a48ae1d19");
}

namespace {

/// A trivially copyable argument with 7 padding bytes after `tag` and 4 after `count`.
struct padded_argument {
    char tag;
    double value;
    int count;
};

/// A `padded_argument` whose padding bytes are all `fill`.
padded_argument padded_with(unsigned char fill, char tag, double value, int count) {
    alignas(padded_argument) unsigned char storage[sizeof(padded_argument)];
    std::memset(storage, fill, sizeof storage);
    auto* p = new (storage) padded_argument;  // default-initialized: padding keeps `fill`
    p->tag = tag;
    p->value = value;
    p->count = count;
    padded_argument out;
    std::memcpy(&out, storage, sizeof out);  // padding travels with the bytes
    return out;
}

/// The one entry file of the function cached under `name`.
fs::path only_entry(const fs::path& dir, const std::string& name) {
    auto entries = files_under(dir / "parkit" / name, ".entry");
    std::erase_if(entries, [](const fs::path& p) { return p.extension() != ".entry"; });
    REQUIRE(entries.size() == 1);
    return entries.front();
}

/// The current and the peak resident set size of this process (kB), from /proc/self/status.
std::pair<long, long> resident_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    long rss = -1;
    long peak = -1;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0) peak = std::stol(line.substr(6));
    }
    return {rss, peak};
}

}  // namespace

TEST_CASE("memory: the key is a function of the arguments' values, never of padding bytes", "[memory][bad_input]") {
    STATIC_REQUIRE(parkit::detail::trivial_key_layout<padded_argument> == 1);
    scratch_dir dir;
    parkit::memory mem{dir.path};
    int calls = 0;
    auto cached = mem.cache("padded_v1", [&](const padded_argument& a, const std::vector<padded_argument>& more) {
        ++calls;
        return a.value * a.count + static_cast<double>(more.size());
    });
    const padded_argument zeros = padded_with(0x00, 'x', 2.5, 4);
    const padded_argument ones = padded_with(0xff, 'x', 2.5, 4);
    REQUIRE(std::memcmp(&zeros, &ones, sizeof zeros) != 0);  // same value, different bytes
    REQUIRE(cached(zeros, std::vector<padded_argument>{zeros, ones}) == 12.0);
    REQUIRE(cached(ones, std::vector<padded_argument>{ones, zeros}) == 12.0);
    REQUIRE(calls == 1);
    REQUIRE(mem.stats().hits == 1);
    // A different value is still a different key.
    REQUIRE(cached(padded_with(0xff, 'y', 2.5, 4), std::vector<padded_argument>{}) == 10.0);
    REQUIRE(calls == 2);

    // The key bytes: to_bytes's format with every padding byte zero.
    std::vector<std::byte> key_zeros;
    std::vector<std::byte> key_ones;
    parkit::detail::key_writer{key_zeros}(zeros, std::optional<padded_argument>(zeros),
                                          std::tuple<int, padded_argument>(1, zeros));
    parkit::detail::key_writer{key_ones}(ones, std::optional<padded_argument>(ones),
                                         std::tuple<int, padded_argument>(1, ones));
    REQUIRE(key_zeros == key_ones);
    REQUIRE(key_zeros.size() ==
            parkit::to_bytes(zeros, std::optional<padded_argument>(zeros), std::tuple<int, padded_argument>(1, zeros))
                .size());
    // Padding-free arguments keep to_bytes's bytes exactly.
    std::vector<std::byte> plain;
    parkit::detail::key_writer{plain}(2.5, std::string("abc"), std::vector<int>{1, 2, 3});
    REQUIRE(plain == parkit::to_bytes(2.5, std::string("abc"), std::vector<int>{1, 2, 3}));
}

TEST_CASE("memory: a FIFO, a symlink, a directory or an absurd size at an entry's path is a miss, never a hang",
          "[memory][bad_input]") {
    scratch_dir dir;
    std::vector<std::string> reasons;
    parkit::memory mem{dir.path, {.on_event = [&](const parkit::cache_event& e) {
                           if (e.kind == parkit::cache_event_kind::corrupt) reasons.emplace_back(e.reason);
                       }}};
    std::atomic<int> calls{0};
    auto cached = mem.cache("vec_v1", [&](int n) {
        ++calls;
        return std::vector<double>(static_cast<std::size_t>(n), 0.5);
    });
    const std::vector<double> expected(100, 0.5);
    REQUIRE(cached(100) == expected);
    const fs::path entry = only_entry(dir.path, "vec_v1");

    auto replace_and_check = [&](auto replace, const std::string& reason_part) {
        fs::remove_all(entry);
        replace();
        const int before = calls;
        // Off the test's thread, so that a regression fails the test instead of hanging it.
        auto result = std::async(std::launch::async, [&] { return cached(100); });
        if (result.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
            const int unblock = ::open(entry.c_str(), O_WRONLY | O_NONBLOCK);  // a FIFO's reader
            FAIL("the cached call blocked on the file at the entry's path");
            if (unblock >= 0) ::close(unblock);
        }
        REQUIRE(result.get() == expected);
        REQUIRE(calls == before + 1);
        REQUIRE(!reasons.empty());
        CHECK(reasons.back().find(reason_part) != std::string::npos);
    };
    SECTION("FIFO") {
        replace_and_check([&] { REQUIRE(::mkfifo(entry.c_str(), 0644) == 0); }, "regular file");
        REQUIRE(fs::is_regular_file(fs::symlink_status(entry)));  // the entry was written over it
        REQUIRE(cached(100) == expected);
        REQUIRE(mem.stats().hits == 1);
    }
    SECTION("symlink to /dev/zero") {
        replace_and_check([&] { fs::create_symlink("/dev/zero", entry); }, "symbolic link");
    }
    SECTION("symlink to an intact entry elsewhere") {
        const fs::path elsewhere = dir.path / "elsewhere.entry";
        fs::copy_file(entry, elsewhere);
        replace_and_check([&] { fs::create_symlink(elsewhere, entry); }, "symbolic link");
    }
    SECTION("directory") {
        replace_and_check([&] { fs::create_directory(entry); }, "regular file");
        REQUIRE(mem.stats().store_failed == 1);  // a directory cannot be replaced by a file
    }
    SECTION("sparse file larger than the entry size limit") {
        replace_and_check(
            [&] {
                std::ofstream(entry, std::ios::binary) << "PKMEMORY";
                fs::resize_file(entry, parkit::detail::max_entry_bytes + 1);
            },
            "size limit");
    }
    SECTION("1 MiB file whose header declares another size") {
        replace_and_check(
            [&] {
                const auto key = std::vector<std::byte>(16);
                const auto payload = std::vector<std::byte>(100);
                const auto image = parkit::detail::encode_entry(parkit::detail::murmur3_128(key), key, payload);
                std::ofstream out(entry, std::ios::binary);
                out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
                out.close();
                fs::resize_file(entry, 1 << 20);
            },
            "length mismatch");
    }
}

TEST_CASE("memory: a large hit peaks near 2x the result and keeps no large buffer", "[memory]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    constexpr std::size_t n = std::size_t{8} << 20;  // 8 Mi doubles = 64 MiB
    constexpr long result_kb = static_cast<long>(n * sizeof(double) / 1024);
    auto cached = mem.cache("large_v1", [](std::size_t count) { return std::vector<double>(count, 1.25); });
    (void)cached(n);  // miss: computed and stored

    long read_peak_kb = 0;
    long kept_kb = 0;
    const auto [before_kb, before_peak_kb] = resident_kb();
    // Resets VmHWM (Linux >= 4.0); where that is refused the peak is not checked.
    const bool peak_reset = [] {
        std::ofstream clear("/proc/self/clear_refs");
        clear << "5";
        clear.flush();
        return static_cast<bool>(clear);
    }();
    {
        const std::vector<double> hit = cached(n);
        REQUIRE(hit.size() == n);
        REQUIRE(hit[n - 1] == 1.25);
        read_peak_kb = resident_kb().second - before_kb;
    }
    kept_kb = resident_kb().first - before_kb;
    REQUIRE(mem.stats().hits == 1);
    INFO("result " << result_kb << " kB, peak above the start " << read_peak_kb << " kB, kept " << kept_kb << " kB");
    // Under a sanitizer the allocator's quarantine keeps freed blocks: RSS says nothing there.
    if (!parkit_test::under_sanitizer) {
        if (peak_reset && before_peak_kb > 0) CHECK(read_peak_kb < result_kb * 5 / 2);  // file block + result
        CHECK(kept_kb < result_kb / 4);  // no per-thread copy of the file survives the hit
    }
}

TEST_CASE("memory: opening a cache removes temporary files of dead writers, never a running writer's", "[memory]") {
    scratch_dir dir;
    {
        parkit::memory mem{dir.path};
        (void)mem.cache("tmp_v1", [](int x) { return x; })(1);
    }
    const fs::path entry = only_entry(dir.path, "tmp_v1");
    // A writer that made its temporary file (the name write_file_atomically uses) and died.
    int hold[2];  // the running writers wait for the end of this pipe
    REQUIRE(::pipe(hold) == 0);
    auto leave_temporary = [&](bool stay_alive) {
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const std::string name = parkit::detail::temporary_name(entry.string());
            const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
            (void)!::write(fd, "partial", 7);
            (void)!::write(ready[1], "x", 1);
            if (stay_alive) {
                ::close(hold[1]);
                char c;
                (void)!::read(hold[0], &c, 1);
            }
            ::_exit(0);
        }
        ::close(ready[1]);
        char c;
        REQUIRE(::read(ready[0], &c, 1) == 1);
        ::close(ready[0]);
        return pid;
    };
    auto temporaries = [&] { return files_under(dir.path, ".tmp.").size(); };

    // Dead and reaped.
    const pid_t reaped = leave_temporary(false);
    REQUIRE(::waitpid(reaped, nullptr, 0) == reaped);
    // Killed, not yet reaped (a zombie).
    const pid_t zombie = leave_temporary(true);
    ::kill(zombie, SIGKILL);
    for (int i = 0; i < 2000; ++i) {  // until the kernel has made it a zombie
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT | WNOHANG) == 0 &&
            info.si_pid == zombie)
            break;
        ::usleep(1000);
    }
    // Running.
    const pid_t running = leave_temporary(true);
    // This process's own (a writer thread mid-store).
    const std::string own = parkit::detail::temporary_name(entry.string());
    std::ofstream(own) << "partial";
    // Another machine's, recent and a day old.
    const fs::path foreign_recent = entry.string() + ".tmp.0123456789ab.1.0";
    const fs::path foreign_old = entry.string() + ".tmp.0123456789ab.2.0";
    std::ofstream(foreign_recent) << "partial";
    std::ofstream(foreign_old) << "partial";
    fs::last_write_time(foreign_old, fs::file_time_type::clock::now() - std::chrono::hours(25));
    REQUIRE(temporaries() == 6);

    { parkit::memory reopened{dir.path}; }
    const auto left = files_under(dir.path, ".tmp.");
    REQUIRE(left.size() == 3);
    auto kept = [&](const std::string& name) {
        return std::any_of(left.begin(), left.end(), [&](const fs::path& p) { return p.string() == name; });
    };
    CHECK(kept(own));
    CHECK(kept(foreign_recent.string()));
    CHECK(std::any_of(left.begin(), left.end(), [&](const fs::path& p) {
        return p.string().find("." + std::to_string(running) + ".") != std::string::npos;
    }));
    ::close(hold[1]);  // releases the running writer
    REQUIRE(::waitpid(running, nullptr, 0) == running);
    REQUIRE(::waitpid(zombie, nullptr, 0) == zombie);
    ::close(hold[0]);
    REQUIRE(only_entry(dir.path, "tmp_v1") == entry);  // entries are never touched
}

namespace {
// The task of the checkpoint tests: a value that depends on x, and a kill of the whole process
// at input `die_at` (the crash of a job in the middle of a map).
double checkpointed_task(int x, int die_at) {
    if (x == die_at) ::raise(SIGKILL);
    return 0.5 * x * x + 1.0;
}
int square_of(int x) {
    return x * x;
}
}  // namespace

TEST_CASE("parallel_map with a checkpoint resumes after a crash, computing only what was lost",
          "[memory][checkpoint]") {
    scratch_dir dir;
    std::vector<int> xs(200);
    for (int i = 0; i < 200; ++i) xs[static_cast<std::size_t>(i)] = i;
    // The first run is killed by SIGKILL at input 150: inputs 0..149 ran (sequentially) first.
    const pid_t child = ::fork();
    if (child == 0) {
        parkit::memory mem{dir.path};
        (void)parkit::parallel_map([](int x) { return checkpointed_task(x, 150); }, xs,
                                   {.backend = parkit::backend::sequential, .checkpoint = {mem, "task_v1"}});
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    // The rerun (which no longer dies; same name: same values) takes the 150 finished results
    // from disk and computes the 50 that were lost.
    auto rerun = [](int x) { return checkpointed_task(x, -1); };
    {
        parkit::memory mem{dir.path};
        const auto out = parkit::parallel_map(rerun, xs, {.n_jobs = 2, .checkpoint = {mem, "task_v1"}});
        CHECK(mem.stats().hits == 150);
        CHECK(mem.stats().misses == 50);
        REQUIRE(out.size() == 200);
        for (int i = 0; i < 200; ++i) CHECK(out[static_cast<std::size_t>(i)] == 0.5 * i * i + 1.0);
    }
    // Every backend reads the same entries (on processes the workers look them up).
    for (auto b : {parkit::backend::processes, parkit::backend::sequential}) {
        CAPTURE(static_cast<int>(b));
        parkit::memory mem{dir.path};
        const auto out = parkit::parallel_map(rerun, xs, {.n_jobs = 2, .backend = b, .checkpoint = {mem, "task_v1"}});
        REQUIRE(out.size() == 200);
        CHECK(out[123] == 0.5 * 123 * 123 + 1.0);
        if (b == parkit::backend::sequential) CHECK(mem.stats().misses == 0);
    }
    // Without a name a lambda is named after its type: a second run is all hits.
    parkit::memory mem{dir.path};
    auto cube = [](int x) { return x * x * x; };
    (void)parkit::parallel_map(cube, xs, {.checkpoint = mem});
    const auto again = parkit::parallel_map(cube, xs, {.checkpoint = mem});
    CHECK(mem.stats().misses == 200);
    CHECK(mem.stats().hits == 200);
    CHECK(again[199] == 199 * 199 * 199);
}

TEST_CASE("a checkpoint that a call cannot honour is refused, never ignored", "[memory][checkpoint][errors]") {
    scratch_dir dir;
    parkit::memory mem{dir.path};
    const std::vector<int> xs{1, 2, 3};
    CHECK_THROWS_WITH(parkit::parallel_map(square_of, xs, {.checkpoint = mem}),
                      Catch::Contains("options.checkpoint needs a name for a plain function"));
    CHECK(parkit::parallel_map(square_of, xs, {.checkpoint = {mem, "square_v1"}}) == std::vector<int>{1, 4, 9});
    parkit::thread_pool pool(1);
    CHECK_THROWS_WITH(pool.map(square_of, xs, {.checkpoint = mem}),
                      Catch::Contains("parkit::thread_pool::map") && Catch::Contains("options.checkpoint"));
    CHECK_THROWS_WITH(parkit::parallel_for(0, 3, [](int) {}, {.checkpoint = mem}),
                      Catch::Contains("parkit::parallel_for") && Catch::Contains("options.checkpoint"));
    CHECK_THROWS_WITH(parkit::imap(square_of, xs, {.checkpoint = mem}), Catch::Contains("options.checkpoint"));
    struct unsendable {  // neither trivially copyable nor with a serialize member
        std::string label;
    };
    CHECK_THROWS_WITH(parkit::parallel_map([](int x) { return unsendable{std::to_string(x)}; }, xs,
                                           {.checkpoint = mem}),
                      Catch::Contains("options.checkpoint needs a function returning a value of a serializable"));
}
