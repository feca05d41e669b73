#pragma once
/// @file
/// Progress of a map: joblib-style lines on stderr, a live bar sized to the terminal when
/// stderr is one, and a user callback. Reports are rate-limited on completions and refreshed
/// by a timer, so a bar appears at once and a long task is counted when it ends; a single
/// branch per chunk when switched off.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <sys/ioctl.h>
#include <unistd.h>

#include "../../core/options.hpp"

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

/// How a map call ended, for its last progress line.
enum class progress_end { finished, failed };

/// The joblib-style progress line for `p`, without a newline; `end` set for the last one.
/// A stream of unknown length shows the count and the rate instead of the total and the ETA.
inline std::string progress_line(const progress_info& p, const progress_end* end) {
    char buffer[200];
    if (!p.total_known) {
        if (end != nullptr && *end == progress_end::failed) {
            std::snprintf(buffer, sizeof buffer, "[parkit] Stopped after a failure: %zu done | elapsed: %.1fs", p.done,
                          p.elapsed_s);
        } else {
            std::snprintf(buffer, sizeof buffer, "[parkit] Done %zu | elapsed: %.1fs | %.1f tasks/s%s", p.done,
                          p.elapsed_s, p.rate(), end != nullptr ? " finished" : "");
        }
    } else if (end != nullptr && *end == progress_end::failed) {
        std::snprintf(buffer, sizeof buffer,
                      "[parkit] Stopped after a failure: %zu of %zu done, %zu not run | elapsed: %.1fs", p.done,
                      p.total, p.total - std::min(p.done, p.total), p.elapsed_s);
    } else if (end != nullptr) {
        std::snprintf(buffer, sizeof buffer, "[parkit] Done %zu out of %zu | elapsed: %.1fs finished", p.done, p.total,
                      p.elapsed_s);
    } else {
        std::snprintf(buffer, sizeof buffer, "[parkit] Done %zu out of %zu | elapsed: %.1fs remaining: %.1fs", p.done,
                      p.total, p.elapsed_s, p.eta_s());
    }
    return buffer;
}

/// The width of the terminal on stderr (TIOCGWINSZ), else $COLUMNS, else 80.
inline int terminal_columns() noexcept {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        const int n = std::atoi(columns);
        if (n > 0) return n;
    }
    return 80;
}

/// The terminal bar for `p` in at most `columns - 1` characters (the last column is left
/// free so the terminal never wraps), e.g.
/// `[parkit]  42%|########----------| 420/1000 [00:01<00:02, 350.0 tasks/s]`.
/// Narrow terminals lose the `[parkit]` prefix, then the rate, then the times, then the bar.
inline std::string progress_bar(const progress_info& p, int columns) {
    const int limit = std::max(1, columns - 1);
    if (!p.total_known) {  // tqdm without a total: count, elapsed time and rate, no bar
        char line[160];
        std::snprintf(line, sizeof line, "[parkit] %zu [%s, %.1f tasks/s]", p.done, clock_text(p.elapsed_s).c_str(),
                      p.rate());
        std::string text(line);
        if (static_cast<int>(text.size()) > limit) text.resize(static_cast<std::size_t>(limit));
        return text;
    }
    constexpr int min_bar = 10;
    constexpr int max_bar = 50;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(p.fraction() * 100));
    char count[64];
    std::snprintf(count, sizeof count, " %zu/%zu", p.done, p.total);
    const std::string elapsed = clock_text(p.elapsed_s);
    const std::string eta = clock_text(p.eta_s());
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", p.rate());
    const std::string full_timing = " [" + elapsed + "<" + eta + ", " + rate + " tasks/s]";
    const std::string short_timing = " [" + elapsed + "<" + eta + "]";
    const struct {
        std::string_view prefix;
        const std::string* timing;
    } layouts[] = {{"[parkit] ", &full_timing}, {"", &full_timing}, {"", &short_timing}, {"", nullptr}};
    for (const auto& layout : layouts) {
        const std::size_t timing_size = layout.timing ? layout.timing->size() : 0;
        const int fixed = static_cast<int>(layout.prefix.size() + std::char_traits<char>::length(pct) + 2 +
                                           std::char_traits<char>::length(count) + timing_size);
        const int width = std::min(max_bar, limit - fixed);
        if (width < min_bar) continue;
        const int filled = std::clamp(static_cast<int>(p.fraction() * width), 0, width);
        std::string line(layout.prefix);
        line += pct;
        line += '|';
        line.append(static_cast<std::size_t>(filled), '#');
        line.append(static_cast<std::size_t>(width - filled), '-');
        line += '|';
        line += count;
        if (layout.timing) line += *layout.timing;
        return line;
    }
    std::string line = std::string(pct) + count;  // no room for a bar
    if (static_cast<int>(line.size()) > limit) line.resize(static_cast<std::size_t>(limit));
    return line;
}

class progress_reporter;

/// The bar drawn last on this process's terminal, so `parkit::progress_write` can print above
/// it; its mutex serialises every write to the terminal made by parkit's progress.
struct terminal_bar_registry {
    std::mutex mutex;                           ///< held for every bar draw and progress_write
    const progress_reporter* active = nullptr;  ///< the bar on screen, if any
    std::string line;                           ///< what that bar shows (redrawn after a write)
};

/// The process-wide registry (function-local static: initialised on first use).
inline terminal_bar_registry& bar_registry() {
    static terminal_bar_registry registry;
    return registry;
}

/// Prints `text` and a newline to `stream` above the live bar, which is redrawn below it
/// (`tqdm.write`); without a bar on screen it just prints the line.
inline void write_above_bar(std::string_view text, std::FILE* stream) {
    terminal_bar_registry& registry = bar_registry();
    std::lock_guard lock(registry.mutex);
    if (registry.active != nullptr) {
        std::fputs("\r\x1b[K", stderr);
        std::fflush(stderr);
    }
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fputc('\n', stream);
    std::fflush(stream);
    if (registry.active != nullptr) {
        std::fprintf(stderr, "\r%s\x1b[K", registry.line.c_str());
        std::fflush(stderr);
    }
}

/// The `total` of a progress_reporter whose stream has no known length.
inline constexpr std::size_t unknown_total = static_cast<std::size_t>(-1);

/// Tracks finished tasks of one map call and reports them.
class progress_reporter {
public:
    /// Reporter for `total` tasks (`unknown_total` for a stream) on `workers` workers; prints when `print`, calls
    /// `callback` when set. `backend_name` appears in the first printed line.
    progress_reporter(bool print, std::function<void(const progress_info&)> callback, std::size_t total, int workers,
                      const char* backend_name)
        : print_(print),
          terminal_(print && ::isatty(STDERR_FILENO) == 1),
          callback_(std::move(callback)),
          total_(total),
          workers_(workers),
          uncaught_at_start_(std::uncaught_exceptions()),
          start_(active() ? clock::now() : clock::time_point{}) {  // no clock read when silent
        if (!active()) return;
        if (print_) {
            std::lock_guard lock(bar_registry().mutex);
            std::fprintf(stderr, "[parkit] Using backend %s with %d concurrent worker%s.\n", backend_name, workers,
                         workers == 1 ? "" : "s");
            std::fflush(stderr);
        }
        if (terminal_) {
            std::lock_guard lock(report_mutex_);
            display(snapshot(), 0);  // the 0 % bar, at once
        }
        if (print_) timer_ = std::thread([this] { refresh_loop(); });
    }

    /// Stops the refresh and prints the last line: "finished", or, when the call is leaving
    /// by an exception, how many tasks were done and how many never ran.
    ~progress_reporter() {
        if (!active()) return;
        stop_timer();
        if (!print_) return;
        const progress_end end =
            std::uncaught_exceptions() > uncaught_at_start_ ? progress_end::failed : progress_end::finished;
        try {
            std::lock_guard lock(report_mutex_);
            print_final(snapshot(), end);
        } catch (...) {  // a failed write of the last line must not end the program
        }
    }

    progress_reporter(const progress_reporter&) = delete;
    progress_reporter& operator=(const progress_reporter&) = delete;

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
        report(snapshot(), now);
    }

    /// The last callback (always made when active), with the count reached; the last printed
    /// line follows when the reporter goes out of scope, once it is known how the call ends.
    void finish() {
        if (!active()) return;
        stop_timer();
        if (!callback_) return;
        std::lock_guard lock(report_mutex_);
        callback_(snapshot());
    }

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::int64_t tick_ns = 100'000'000;             // callback / bar refresh
    static constexpr std::int64_t line_interval_ns = 1'000'000'000;  // plain lines

    std::int64_t ticks() const {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count();
    }

    progress_info snapshot() const {
        progress_info p;
        p.done = done_.load(std::memory_order_relaxed);
        p.total_known = total_ != unknown_total;
        p.total = p.total_known ? total_ : 0;
        p.elapsed_s = std::chrono::duration<double>(clock::now() - start_).count();
        p.workers = workers_;
        return p;
    }

    /// Every tick_ns: shows what completions did not (the throttle drops reports that come
    /// too soon after the previous one, and long tasks finish rarely); the bar's clock moves.
    void refresh_loop() {
        std::unique_lock lock(timer_mutex_);
        while (!timer_stop_) {
            timer_wake_.wait_for(lock, std::chrono::nanoseconds(tick_ns));
            if (timer_stop_) break;
            lock.unlock();
            {
                std::lock_guard report_lock(report_mutex_);
                display(snapshot(), ticks());
            }
            lock.lock();
        }
    }

    void stop_timer() noexcept {
        if (!timer_.joinable()) return;
        {
            std::lock_guard lock(timer_mutex_);
            timer_stop_ = true;
        }
        timer_wake_.notify_all();
        timer_.join();
    }

    /// A report on completions: the callback (on the thread that finished the chunk, so
    /// what it throws fails the map), then the display; report_mutex_ is held.
    void report(const progress_info& p, std::int64_t now) {
        if (callback_) callback_(p);
        display(p, now);
    }

    /// Redraws the bar, or prints a line if a task finished since the last one and the line
    /// interval has passed; report_mutex_ is held. The timer calls only this.
    void display(const progress_info& p, std::int64_t now) {
        if (!print_) return;
        if (terminal_) {
            draw_bar(p, false);
        } else if (p.done != lined_done_ && now >= next_line_ns_) {
            next_line_ns_ = now + line_interval_ns;
            lined_done_ = p.done;
            std::lock_guard lock(bar_registry().mutex);
            std::fprintf(stderr, "%s\n", progress_line(p, nullptr).c_str());
            std::fflush(stderr);
        }
    }

    void print_final(const progress_info& p, progress_end end) {
        if (terminal_) draw_bar(p, true);  // the bar shows the elapsed time
        if (terminal_ && end == progress_end::finished) return;
        std::string line = progress_line(p, &end);
        if (terminal_) line.resize(std::min(line.size(), line.find(" | elapsed")));
        std::lock_guard lock(bar_registry().mutex);
        std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
    }

    /// Redraws the bar in place: back to column 0, the bar fitted to the width, and the rest
    /// of the line cleared (a shorter line leaves nothing stale); `last` ends the line.
    void draw_bar(const progress_info& p, bool last) {
        terminal_bar_registry& registry = bar_registry();
        std::lock_guard lock(registry.mutex);
        const std::string bar = progress_bar(p, terminal_columns());
        std::fprintf(stderr, "\r%s\x1b[K%s", bar.c_str(), last ? "\n" : "");
        std::fflush(stderr);
        if (last) {
            if (registry.active == this) registry.active = nullptr;
        } else {
            registry.active = this;
            registry.line = bar;
        }
    }

    const bool print_;
    const bool terminal_;
    const std::function<void(const progress_info&)> callback_;
    const std::size_t total_;
    const int workers_;
    const int uncaught_at_start_;
    const clock::time_point start_;
    std::atomic<std::size_t> done_{0};
    std::atomic<std::int64_t> next_tick_{tick_ns};
    std::int64_t next_line_ns_ = line_interval_ns;  // guarded by report_mutex_
    std::size_t lined_done_ = 0;                    // guarded by report_mutex_
    std::mutex report_mutex_;
    std::mutex timer_mutex_;
    std::condition_variable timer_wake_;
    bool timer_stop_ = false;  // guarded by timer_mutex_
    std::thread timer_;
};

}  // namespace parkit::detail
