#pragma once
/// @file
/// Progress of a map: joblib-style lines on stderr, a live bar when stderr is a terminal, and a
/// user callback; all rate-limited, and a single branch per chunk when switched off.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

#include <unistd.h>

#include "../core/options.hpp"

namespace parkit::detail {

/// Formats `seconds` as mm:ss (or h:mm:ss).
inline std::string clock_text(double seconds) {
    const auto s = static_cast<long long>(seconds + 0.5);
    char buffer[32];
    if (s >= 3600) {
        std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    } else {
        std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", s / 60, s % 60);
    }
    return buffer;
}

/// The joblib-style progress line for `p`, without a newline.
inline std::string progress_line(const progress_info& p, bool finished) {
    char buffer[160];
    if (finished) {
        std::snprintf(buffer, sizeof buffer, "[parkit] Done %zu out of %zu | elapsed: %.1fs finished",
                      p.done, p.total, p.elapsed_s);
    } else {
        std::snprintf(buffer, sizeof buffer,
                      "[parkit] Done %zu out of %zu | elapsed: %.1fs remaining: %.1fs", p.done,
                      p.total, p.elapsed_s, p.eta_s());
    }
    return buffer;
}

/// The terminal bar for `p`, e.g. ` 42%|########------------| 420/1000 [00:01<00:02, 350.0/s]`.
inline std::string progress_bar(const progress_info& p) {
    constexpr int width = 24;
    const int filled = static_cast<int>(p.fraction() * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(width - filled), '-');
    char buffer[200];
    std::snprintf(buffer, sizeof buffer, "[parkit] %3d%%|%s| %zu/%zu [%s<%s, %.1f tasks/s]",
                  static_cast<int>(p.fraction() * 100), bar.c_str(), p.done, p.total,
                  clock_text(p.elapsed_s).c_str(), clock_text(p.eta_s()).c_str(), p.rate());
    return buffer;
}

/// Tracks finished tasks of one map call and reports them.
class progress_reporter {
public:
    /// Reporter for `total` tasks on `workers` workers; prints when `print`, calls `callback`
    /// when set. `backend_name` appears in the first printed line.
    progress_reporter(bool print, std::function<void(const progress_info&)> callback,
                      std::size_t total, int workers, const char* backend_name)
        : print_(print),
          terminal_(print && ::isatty(STDERR_FILENO) == 1),
          callback_(std::move(callback)),
          total_(total),
          workers_(workers),
          start_(active() ? clock::now() : clock::time_point{}) {  // no clock read when silent
        if (print_ && !terminal_) {
            std::fprintf(stderr, "[parkit] Using backend %s with %d concurrent worker%s.\n",
                         backend_name, workers, workers == 1 ? "" : "s");
        }
    }

    /// True when anything is reported (otherwise `advance` is a single branch).
    [[nodiscard]] bool active() const noexcept { return print_ || callback_; }

    /// Counts `count` more finished tasks; reports if the last report is old enough.
    void advance(std::size_t count) {
        if (!active()) return;
        done_.fetch_add(count, std::memory_order_relaxed);
        const std::int64_t now = ticks();
        if (now < next_tick_.load(std::memory_order_relaxed)) return;
        std::unique_lock lock(report_mutex_, std::try_to_lock);
        if (!lock || now < next_tick_.load(std::memory_order_relaxed)) return;
        next_tick_.store(now + tick_ns, std::memory_order_relaxed);
        report(snapshot(), false, now);
    }

    /// Final report (always made when active), with the count reached.
    void finish() {
        if (!active()) return;
        std::lock_guard lock(report_mutex_);
        report(snapshot(), true, ticks());
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::int64_t tick_ns = 100'000'000;         // callback / bar refresh
    static constexpr std::int64_t line_interval_ns = 1'000'000'000;  // plain lines

    std::int64_t ticks() const {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count();
    }

    progress_info snapshot() const {
        progress_info p;
        p.done = done_.load(std::memory_order_relaxed);
        p.total = total_;
        p.elapsed_s = std::chrono::duration<double>(clock::now() - start_).count();
        p.workers = workers_;
        return p;
    }

    void report(const progress_info& p, bool finished, std::int64_t now) {
        if (callback_) callback_(p);
        if (!print_) return;
        if (terminal_) {
            std::fprintf(stderr, "\r%s%s", progress_bar(p).c_str(), finished ? "\n" : "");
        } else if (finished || now >= next_line_ns_) {
            next_line_ns_ = now + line_interval_ns;
            std::fprintf(stderr, "%s\n", progress_line(p, finished).c_str());
        }
        std::fflush(stderr);
    }

    const bool print_;
    const bool terminal_;
    const std::function<void(const progress_info&)> callback_;
    const std::size_t total_;
    const int workers_;
    const clock::time_point start_;
    std::atomic<std::size_t> done_{0};
    std::atomic<std::int64_t> next_tick_{tick_ns};
    std::int64_t next_line_ns_ = line_interval_ns;  // guarded by report_mutex_
    std::mutex report_mutex_;
};

}  // namespace parkit::detail
