#include <catch2/catch.hpp>

#include <parkit/parkit.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
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
    auto out = parkit::parallel_map([](int x) { return x + 1; }, std::views::iota(0, 100),
                                    {.n_jobs = 2, .progress = true});
    const std::string text = capture.text();
    CHECK(out.size() == 100);
    CHECK(text.find("[parkit] Using backend threads with 2 concurrent workers.") != std::string::npos);
    CHECK(text.find("[parkit] Done 100 out of 100 | elapsed: ") != std::string::npos);
    CHECK(text.find("finished") != std::string::npos);
}

TEST_CASE("long runs print intermediate lines, rate-limited", "[progress]") {
    stderr_capture capture;
    parkit::parallel_map([](int) { std::this_thread::sleep_for(10ms); }, std::views::iota(0, 250),
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
    parkit::parallel_map([](int x) { return x; }, std::views::iota(0, 1000));
    CHECK(capture.text().empty());
}

TEST_CASE("the progress callback sees monotonic counts ending at the total", "[progress]") {
    std::mutex mutex;
    std::vector<parkit::progress_info> seen;
    std::atomic<int> concurrent{0};
    std::atomic<int> max_concurrent{0};
    parkit::parallel_map([](int) { std::this_thread::sleep_for(1ms); }, std::views::iota(0, 400),
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
    const std::string bar = parkit::detail::progress_bar(p);
    CHECK(bar.find(" 42%|") != std::string::npos);
    CHECK(bar.find("420/1000") != std::string::npos);
    CHECK(bar.find("[00:02<00:03, 210.0 tasks/s]") != std::string::npos);
    CHECK(std::count(bar.begin(), bar.end(), '#') == 10);  // 42% of a 24-wide bar
    CHECK(parkit::detail::clock_text(3725) == "1:02:05");
}
