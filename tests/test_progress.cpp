#include <catch2/catch.hpp>
#include "iota.hpp"

#include <parkit/parkit.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <ranges>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;

namespace {
/// Captures what is written to stderr (file descriptor 2) while alive.
class stderr_capture {
public:
    stderr_capture() {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        file_ = std::tmpfile();
        ::dup2(::fileno(file_), STDERR_FILENO);
    }
    ~stderr_capture() { restore(); }
    std::string text() {
        restore();
        std::rewind(file_);
        std::string out;
        char buffer[4096];
        while (std::size_t n = std::fread(buffer, 1, sizeof buffer, file_)) out.append(buffer, n);
        return out;
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    int saved_ = -1;
    std::FILE* file_ = nullptr;
};
}  // namespace

TEST_CASE("progress prints joblib-style lines on stderr", "[progress]") {
    stderr_capture capture;
    auto out =
        parkit::parallel_map([](int x) { return x + 1; }, parkit_test::iota(0, 100), {.n_jobs = 2, .progress = true});
    const std::string text = capture.text();
    CHECK(out.size() == 100);
    CHECK(text.find("[parkit] Using backend threads with 2 concurrent workers.") != std::string::npos);
    CHECK(text.find("[parkit] Done 100 out of 100 | elapsed: ") != std::string::npos);
    CHECK(text.find("finished") != std::string::npos);
}

TEST_CASE("long runs print intermediate lines, rate-limited", "[progress]") {
    stderr_capture capture;
    parkit::parallel_map([](int) { std::this_thread::sleep_for(10ms); }, parkit_test::iota(0, 250),
                         {.n_jobs = 2, .progress = true});
    const std::string text = capture.text();
    std::istringstream lines(text);
    int done_lines = 0;
    for (std::string line; std::getline(lines, line);) done_lines += line.rfind("[parkit] Done", 0) == 0;
    // ~1.25 s of work: at least one intermediate line, and far fewer lines than tasks.
    CHECK(done_lines >= 2);
    CHECK(done_lines <= 5);
    CHECK(text.find("remaining:") != std::string::npos);
}

TEST_CASE("progress is silent when off", "[progress]") {
    stderr_capture capture;
    parkit::parallel_map([](int x) { return x; }, parkit_test::iota(0, 1000));
    CHECK(capture.text().empty());
}

TEST_CASE("the progress callback sees monotonic counts ending at the total", "[progress]") {
    std::mutex mutex;
    std::vector<parkit::progress_info> seen;
    std::atomic<int> concurrent{0};
    std::atomic<int> max_concurrent{0};
    parkit::parallel_map([](int) { std::this_thread::sleep_for(1ms); }, parkit_test::iota(0, 400),
                         {.n_jobs = 2, .on_progress = [&](const parkit::progress_info& p) {
                              const int now = ++concurrent;
                              max_concurrent = std::max(max_concurrent.load(), now);
                              std::lock_guard lock(mutex);
                              seen.push_back(p);
                              --concurrent;
                          }});
    REQUIRE(seen.size() >= 2);
    CHECK(seen.size() < 400);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        CHECK(seen[i - 1].done <= seen[i].done);
        CHECK(seen[i - 1].elapsed_s <= seen[i].elapsed_s);
    }
    CHECK(seen.back().done == 400);
    CHECK(seen.back().total == 400);
    CHECK(seen.back().fraction() == 1.0);
    CHECK(seen.back().workers == 2);
    CHECK(max_concurrent.load() == 1);
}

TEST_CASE("progress_info derives rate and eta", "[progress]") {
    parkit::progress_info p{.done = 25, .total = 100, .elapsed_s = 2.0, .workers = 2};
    CHECK(p.rate() == Approx(12.5));
    CHECK(p.eta_s() == Approx(6.0));
    CHECK(p.fraction() == Approx(0.25));
    p.done = 100;
    CHECK(p.eta_s() == 0.0);
}

TEST_CASE("the terminal bar shows percentage, counts, elapsed, eta and rate", "[progress]") {
    const parkit::progress_info p{.done = 420, .total = 1000, .elapsed_s = 2.0, .workers = 2};
    const std::string bar = parkit::detail::progress_bar(p, 100);
    CHECK(bar.rfind("[parkit]  42%|", 0) == 0);
    CHECK(bar.find("| 420/1000 [00:02<00:03, 210.0 tasks/s]") != std::string::npos);
    CHECK(bar.size() == 99);  // fills the line but the last column, which would wrap
    const auto hashes = std::count(bar.begin(), bar.end(), '#');
    const auto dashes = std::count(bar.begin(), bar.end(), '-');
    CHECK(hashes == static_cast<long>(0.42 * static_cast<double>(hashes + dashes)));
    CHECK(parkit::detail::clock_text(3725) == "1:02:05");
}

TEST_CASE("the terminal bar drops fields to fit narrow terminals", "[progress]") {
    const parkit::progress_info p{.done = 420, .total = 1000, .elapsed_s = 2.0, .workers = 2};
    for (int columns = 1; columns <= 200; ++columns) {
        const std::string bar = parkit::detail::progress_bar(p, columns);
        INFO("columns " << columns << ": " << bar);
        CHECK(static_cast<int>(bar.size()) <= std::max(1, columns - 1));
        CHECK(!bar.empty());
    }
    CHECK(parkit::detail::progress_bar(p, 60).find("tasks/s") != std::string::npos);
    CHECK(parkit::detail::progress_bar(p, 45).find("tasks/s") == std::string::npos);
    CHECK(parkit::detail::progress_bar(p, 45).find("420/1000 [00:02<00:03]") != std::string::npos);
    CHECK(parkit::detail::progress_bar(p, 20).find('|') == std::string::npos);
}

TEST_CASE("a failed map's last line says how many tasks were done and not run", "[progress]") {
    stderr_capture capture;
    CHECK_THROWS_AS(parkit::parallel_map(
                        [](int x) {
                            if (x == 50) throw std::runtime_error("boom");
                            return x;
                        },
                        std::vector<int>(200, 50), {.n_jobs = 2, .progress = true}),
                    parkit::task_error);
    const std::string text = capture.text();
    CHECK(text.find("[parkit] Stopped after a failure: ") != std::string::npos);
    CHECK(text.find(" not run") != std::string::npos);
    CHECK(text.find("finished") == std::string::npos);
}

TEST_CASE("task_graph::compute reports its nodes like a map", "[progress][graph]") {
    parkit::task_graph g;
    std::vector<parkit::node<int>> leaves;
    for (int i = 0; i < 40; ++i) leaves.push_back(g.add([](int x) { return x * 2; }, i));
    auto total = g.add([](const std::vector<int>& v) { return static_cast<int>(v.size()); }, leaves);
    std::vector<parkit::progress_info> seen;  // on_progress is never called concurrently with itself
    stderr_capture capture;
    g.compute(
        {.n_jobs = 2, .progress = true, .on_progress = [&](const parkit::progress_info& p) { seen.push_back(p); }});
    const std::string text = capture.text();
    CHECK(g.get(total) == 40);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back().done == 41);
    CHECK(seen.back().total == 41);
    CHECK(seen.back().total_known);
    CHECK(std::is_sorted(seen.begin(), seen.end(), [](const auto& a, const auto& b) { return a.done < b.done; }));
    CHECK(text.find("[parkit] Using backend threads with 2 concurrent workers.") != std::string::npos);
    CHECK(text.find("[parkit] Done 41 out of 41 | elapsed: ") != std::string::npos);
}

TEST_CASE("a failed task_graph::compute ends its progress with the nodes not run", "[progress][graph]") {
    parkit::task_graph g;
    auto bad = g.add([]() -> int { throw std::runtime_error("boom"); });
    auto skipped = g.add([](int x) { return x; }, bad);
    auto fine = g.add([] { return 1; });
    (void)skipped;
    std::size_t last_done = 0;
    stderr_capture capture;
    CHECK_THROWS_AS(g.compute({.backend = parkit::backend::sequential,
                               .progress = true,
                               .on_progress = [&](const parkit::progress_info& p) { last_done = p.done; }}),
                    parkit::node_error);
    const std::string text = capture.text();
    CHECK(g.get(fine) == 1);
    CHECK(last_done == 2);  // the failed node and the fine one ran; the skipped one did not
    CHECK(text.find("[parkit] Using backend sequential with 1 concurrent worker.") != std::string::npos);
    CHECK(text.find("[parkit] Stopped after a failure: 2 of 3 done, 1 not run") != std::string::npos);
}

TEST_CASE("a task finishing between reports is shown by the refresh, not at the next completion", "[progress]") {
    // Three tasks ending at about 1.05 s, 1.1 s and 3 s: the second's report is throttled
    // (too soon after the first), and only the periodic refresh shows "2 out of 3" before the
    // third task ends, about a second later.
    stderr_capture capture;
    parkit::parallel_map([](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); },
                         std::vector<int>{1050, 1100, 3000}, {.n_jobs = 3, .progress = true});
    const std::string text = capture.text();
    CHECK(text.find("[parkit] Done 2 out of 3 | elapsed: ") != std::string::npos);
    CHECK(text.find("[parkit] Done 3 out of 3 | elapsed: ") != std::string::npos);
}

namespace {
/// What a terminal `columns` wide shows after receiving `bytes`: a minimal emulator of what
/// the bar uses (carriage return, newline, erase to end of line, automatic wrap).
std::vector<std::string> screen_of(const std::string& bytes, std::size_t columns) {
    std::vector<std::string> screen(1);
    std::size_t row = 0, col = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c == '\r') {
            col = 0;
        } else if (c == '\n') {
            ++row;
            col = 0;
            if (row == screen.size()) screen.emplace_back();
        } else if (c == '\x1b' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < bytes.size() && (std::isdigit(static_cast<unsigned char>(bytes[j])) || bytes[j] == ';')) ++j;
            if (j < bytes.size() && bytes[j] == 'K' && col < screen[row].size()) screen[row].resize(col);
            i = j;
        } else if (static_cast<unsigned char>(c) >= 0x20) {
            if (col == columns) {  // automatic wrap
                ++row;
                col = 0;
                if (row == screen.size()) screen.emplace_back();
            }
            if (screen[row].size() <= col) screen[row].resize(col + 1, ' ');
            screen[row][col++] = c;
        }
    }
    while (!screen.empty() && screen.back().empty()) screen.pop_back();
    return screen;
}
}  // namespace

TEST_CASE("in a real terminal of 60, 80 and 120 columns the bar stays on one line", "[progress]") {
    if (std::system("command -v script > /dev/null 2>&1") != 0) {
        WARN("script(1) not found (util-linux): the pseudo-terminal check is skipped");
        return;
    }
    for (const int columns : {60, 80, 120}) {
        for (const bool fail : {false, true}) {
            INFO("columns " << columns << (fail ? ", failing task" : ""));
            const std::string command = "script -qec 'stty cols " + std::to_string(columns) + " rows 40; " +
                                        PARKIT_PROGRESS_DEMO + (fail ? " fail" : "") + "' /dev/null";
            std::FILE* pipe = ::popen(command.c_str(), "r");
            REQUIRE(pipe != nullptr);
            std::string bytes;
            char buffer[4096];
            while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) bytes.append(buffer, n);
            REQUIRE(::pclose(pipe) == 0);
            const std::vector<std::string> screen = screen_of(bytes, static_cast<std::size_t>(columns));
            int bar_lines = 0;
            int hello_lines = 0;
            for (const std::string& line : screen) {
                INFO("screen line: " << line);
                CHECK(line.size() < static_cast<std::size_t>(columns));
                if (line.find("%|") != std::string::npos) ++bar_lines;
                if (line.find("says hello") != std::string::npos) {
                    ++hello_lines;
                    CHECK(line.rfind("task ", 0) == 0);  // a line of its own, not glued to the bar
                    CHECK(line.find("says hello") + 10 == line.size());
                }
            }
            CHECK(bar_lines == 1);
            CHECK(hello_lines >= 1);
            CHECK(screen.front() == "[parkit] Using backend threads with 2 concurrent workers.");
            const auto bar = std::find_if(screen.begin(), screen.end(),
                                          [](const std::string& l) { return l.find("%|") != std::string::npos; });
            REQUIRE(bar != screen.end());
            CHECK(bar->back() == ']');  // nothing stale after the last field
            if (fail) {
                CHECK(std::any_of(screen.begin(), screen.end(), [](const std::string& l) {
                    return l.rfind("[parkit] Stopped after a failure: ", 0) == 0;
                }));
            } else {
                CHECK(bar->find("100%|") != std::string::npos);
                CHECK(bar->find(" 24/24 ") != std::string::npos);
            }
        }
    }
}
