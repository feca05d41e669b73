#pragma once
/// @file
/// The engine behind `parallel_map` and `map`: the calling thread and up to `workers - 1` runner
/// tasks on an executor pull chunks of indices from one dispenser, write results in place, and
/// record failures; the caller then cancels runners that never started and waits for the rest.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/collected.hpp"
#include "../../core/errors.hpp"
#include "../../core/options.hpp"
#include "../progress/progress_reporter.hpp"
#include "../support/tick_clock.hpp"
#include "chunking.hpp"
#include "option_checks.hpp"

namespace parkit::detail {

/// Random access to the elements of any sized input range: direct for random-access ranges,
/// through a vector of iterators for the others (lists, maps, ...).
template <class Range>
class indexed_input {
public:
    /// Views `range` (which must outlive the view).
    explicit indexed_input(Range& range) : range_(range) {
        if constexpr (!std::ranges::random_access_range<Range>) {
            for (auto it = std::ranges::begin(range); it != std::ranges::end(range); ++it) {
                iterators_.push_back(it);
            }
        }
    }
    /// Number of elements.
    [[nodiscard]] std::size_t size() const {
        if constexpr (std::ranges::random_access_range<Range>) {
            return static_cast<std::size_t>(std::ranges::size(range_));
        } else {
            return iterators_.size();
        }
    }
    /// Element `i` (as the range's reference type).
    decltype(auto) operator[](std::size_t i) const {
        if constexpr (std::ranges::random_access_range<Range>) {
            return std::ranges::begin(range_)[static_cast<std::ranges::range_difference_t<Range>>(i)];
        } else {
            return *iterators_[i];
        }
    }

private:
    Range& range_;
    std::vector<std::ranges::iterator_t<Range>> iterators_;
};

/// Result type of `f` applied to an element of `Range`.
template <class F, class Range>
using map_result_t = std::remove_cvref_t<std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>>;

/// Where a map writes its results: straight into a `std::vector<R>` when that is safe for
/// concurrent writes to distinct elements, into optionals otherwise (collect mode, `bool`,
/// types without a default constructor).
template <class R, bool Collect>
class result_store {
    static constexpr bool direct =
        !Collect && std::is_default_constructible_v<R> && std::is_move_assignable_v<R> && !std::is_same_v<R, bool>;
    using slot = std::conditional_t<direct, R, std::optional<R>>;

public:
    /// Storage for `n` results.
    explicit result_store(std::size_t n) : slots_(n) {}

    /// Storage for `n` results whose fresh pages are first touched by `touch_pages(bytes,
    /// size)` (several threads): the page faults of a big result vector, not its zeroing, are
    /// most of what building it costs (~100 ms for 80 MB on one thread), and `std::vector`'s
    /// value-initialisation would take them all on the calling thread. The zeroing that follows
    /// runs over mapped pages at memory speed.
    template <class TouchPages>
    result_store(std::size_t n, TouchPages&& touch_pages) {
        if constexpr (direct && std::is_trivially_copyable_v<R>) {
            if (n * sizeof(R) >= touch_threshold_bytes) {
                slots_.reserve(n);
                touch_pages(reinterpret_cast<std::byte*>(slots_.data()), n * sizeof(R));
            }
        }
        slots_.resize(n);
    }

    /// Results at least this big have their pages touched in parallel (see above).
    static constexpr std::size_t touch_threshold_bytes = std::size_t{4} << 20;
    /// Stores task `i`'s result.
    template <class V>
    void put(std::size_t i, V&& value) {
        if constexpr (direct) {
            slots_[i] = std::forward<V>(value);
        } else {
            slots_[i].emplace(std::forward<V>(value));
        }
    }
    /// All results (every task succeeded).
    std::vector<R> take_values() {
        if constexpr (direct) {
            return std::move(slots_);
        } else {
            std::vector<R> out;
            out.reserve(slots_.size());
            for (auto& s : slots_) out.push_back(std::move(*s));
            return out;
        }
    }
    /// The optionals (collect mode).
    std::vector<slot> take_slots() { return std::move(slots_); }

private:
    std::vector<slot> slots_;
};

/// A map of a function returning void keeps no results: every engine declares
/// `result_store<R, Collect>` and stores with `put` only when R is not void.
template <bool Collect>
class result_store<void, Collect> {
public:
    /// Nothing to store for `n` tasks.
    explicit result_store(std::size_t /*n*/) noexcept {}
    /// Nothing to store, no pages to touch.
    template <class TouchPages>
    result_store(std::size_t /*n*/, TouchPages&& /*touch_pages*/) noexcept {}
};

/// Writes one byte into every page of [data, data + bytes) — raw storage, as bytes — on up to
/// `workers` threads: the calling one and tasks submitted to `executor`, so the kernel maps the
/// pages of a fresh allocation from all of them at once.
template <class Executor>
void touch_pages_in_parallel(Executor& executor, int workers, std::byte* data, std::size_t bytes) {
    constexpr std::size_t page = 4096;
    const std::size_t pages = (bytes + page - 1) / page;
    const auto parts = static_cast<std::size_t>(std::max(workers, 1));
    auto touch = [=](std::size_t part) noexcept {
        const std::size_t first = pages * part / parts;
        const std::size_t last = pages * (part + 1) / parts;
        auto* volatile_bytes = static_cast<volatile std::byte*>(data);
        for (std::size_t p = first; p < last; ++p) volatile_bytes[p * page] = std::byte{0};
    };
    using touch_future = decltype(executor.submit(touch, std::size_t{0}));
    std::vector<touch_future> others;
    others.reserve(parts - 1);
    for (std::size_t part = 1; part < parts; ++part) others.push_back(executor.submit(touch, part));
    touch(0);
    for (auto& f : others) f.wait();
}

/// Failures seen during a map (rare, so a mutex is fine).
class failure_log {
public:
    /// Records that task `index` threw `error`.
    void add(std::size_t index, std::exception_ptr error) {
        std::lock_guard lock(mutex_);
        failures_.push_back(task_failure{index, std::move(error)});
        any_.store(true, std::memory_order_relaxed);
    }
    /// Records a failure outside any task (e.g. a progress callback threw); kept first-come.
    void add_internal(std::exception_ptr error) {
        std::lock_guard lock(mutex_);
        if (!internal_) internal_ = std::move(error);
        any_.store(true, std::memory_order_relaxed);
    }
    /// The failures sorted by index. Called once every thread that may add has been joined
    /// (so the flag, read without the lock, is up to date).
    std::vector<task_failure> sorted() {
        if (!any_.load(std::memory_order_relaxed)) return {};
        std::lock_guard lock(mutex_);
        std::sort(failures_.begin(), failures_.end(),
                  [](const task_failure& a, const task_failure& b) { return a.index < b.index; });
        return std::move(failures_);
    }
    /// Rethrows an internal failure, if any.
    void rethrow_internal() {
        if (!any_.load(std::memory_order_relaxed)) return;
        std::lock_guard lock(mutex_);
        if (internal_) std::rethrow_exception(internal_);
    }

private:
    std::mutex mutex_;
    std::vector<task_failure> failures_;
    std::exception_ptr internal_;
    std::atomic<bool> any_{false};  // something was recorded: the common empty case skips the lock
};

/// One map call: the state shared by the caller and its runner tasks.
template <class F, class Range, class R, bool Collect>
class map_call {
public:
    /// Below this much estimated remaining work, the caller finishes alone (waking workers would
    /// cost more than it saves).
    static constexpr double spawn_threshold_ns = 20'000.0;

    /// A call over `input`; `touch_pages(bytes, size)` may map a big result vector's pages on
    /// several threads (see result_store).
    template <class TouchPages>
    map_call(F& f, const indexed_input<Range>& input, int workers, std::size_t chunk_size, progress_reporter& progress,
             TouchPages&& touch_pages)
        : f_(f),
          input_(input),
          results_(std::is_void_v<R> ? 0 : input.size(), touch_pages),
          chunks_(input.size(), chunk_size, workers),
          progress_(progress) {}

    /// Maps of at most this many tasks start their runners at once and time no chunks (the
    /// timing steers chunk sizes and the start of runners, neither of which matters for them:
    /// two clock reads per chunk were a third of a nested two-element map's cost).
    static constexpr std::size_t few_tasks = 64;

    /// Runs chunks until none is left; the caller's own loop. `spawn(...)` is called once, when
    /// the remaining work is worth waking the other workers for.
    template <class Spawn>
    void run_caller(bool workers_available, Spawn spawn) {
        chunk_dispenser::cursor cursor;
        bool spawned = !workers_available;
        auto start_workers = [&] {
            chunks_.share();
            spawned = true;
            spawn();
        };
        if (timed()) {
            run_chunks<true>(cursor, [&] {
                if (!spawned && chunks_.remaining_ns(cursor) > spawn_threshold_ns) start_workers();
            });
        } else {
            if (!spawned) start_workers();
            run_chunks<false>(cursor, [] {});
        }
    }

    /// A runner task's loop.
    void run_worker() noexcept {
        chunk_dispenser::cursor cursor;
        if (!chunks_.join(cursor)) return;
        if (timed()) {
            run_chunks<true>(cursor, [] {});
        } else {
            run_chunks<false>(cursor, [] {});
        }
    }

    /// Number of tasks.
    [[nodiscard]] std::size_t size() const noexcept { return chunks_.total(); }
    /// The failure log.
    failure_log& failures() noexcept { return failures_; }
    /// The result store.
    auto& results() noexcept { return results_; }

private:
    [[nodiscard]] bool timed() const noexcept { return chunks_.total() > few_tasks; }

    template <bool Timed, class AfterChunk>
    void run_chunks(chunk_dispenser::cursor& cursor, AfterChunk after_chunk) noexcept {
        try {
            index_range range;
            while (chunks_.next(cursor, range)) {
                if constexpr (Timed) {
                    const std::uint64_t start = tick_clock::now();
                    const std::size_t ran = run_chunk(range);
                    chunks_.record(cursor, ran, tick_clock::elapsed_ns(start, tick_clock::now()));
                    progress_.advance(ran);
                } else {
                    progress_.advance(run_chunk(range));
                }
                after_chunk();
            }
        } catch (...) {
            failures_.add_internal(std::current_exception());
            chunks_.stop();
        }
    }

    // Runs the tasks of `range`; returns how many ran. The try block sits outside the loop, so
    // the happy path costs nothing; after a throw the loop resumes at the next index.
    std::size_t run_chunk(index_range range) {
        std::size_t i = range.begin;
        while (i < range.end) {
            try {
                for (; i < range.end; ++i) {
                    if constexpr (std::is_void_v<R>) {
                        std::invoke(f_, input_[i]);
                    } else {
                        results_.put(i, std::invoke(f_, input_[i]));
                    }
                }
            } catch (...) {
                failures_.add(i, std::current_exception());
                ++i;
                if constexpr (!Collect) {
                    chunks_.stop();
                    break;
                }
            }
        }
        return i - range.begin;
    }

    F& f_;
    const indexed_input<Range>& input_;
    result_store<R, Collect> results_;
    chunk_dispenser chunks_;
    progress_reporter& progress_;
    failure_log failures_;
};

/// The value of a finished map: with `Collect`, `parkit::collected<R>` (every result slot and
/// every failure); otherwise the results, or `task_error` for the lowest failing index.
template <class R, bool Collect, class Store>
auto finish_map(std::size_t total, Store& results, std::vector<task_failure> failures) {
    if constexpr (Collect) {
        collected<R> out;
        out.errors = std::move(failures);
        if constexpr (std::is_void_v<R>) {
            out.total = total;
        } else {
            out.results = results.take_slots();
        }
        return out;
    } else {
        if (!failures.empty()) throw make_task_error(failures.front().index, failures.front().error);
        if constexpr (!std::is_void_v<R>) return results.take_values();
    }
}

/// Runs a map over `inputs` with up to `workers` concurrent workers: the calling thread plus
/// runner tasks submitted to `executor` (null: the caller alone). Returns `std::vector<R>`
/// (or nothing for void functions); with `on_error::collect`, `parkit::collected<R>`.
template <class Executor, class F, class Range, class OnError>
auto run_map(Executor* executor, int workers, F& f, Range&& inputs, const basic_options<OnError>& opts) {
    constexpr bool collect = std::is_same_v<OnError, on_error::collect_t>;
    using range_t = std::remove_reference_t<Range>;
    using R = map_result_t<F, range_t>;

    const indexed_input<range_t> input(inputs);
    if (executor == nullptr) workers = 1;
    progress_reporter progress(opts.progress, opts.on_progress, input.size(), workers,
                               backend_name(executor == nullptr ? backend::sequential : opts.backend));
    auto touch_pages = [&](std::byte* data, std::size_t bytes) {
        if (executor != nullptr && workers > 1) touch_pages_in_parallel(*executor, workers, data, bytes);
    };
    map_call<F, range_t, R, collect> call(f, input, workers, opts.chunk_size, progress, touch_pages);

    using runner_future = decltype(executor->submit(std::declval<void (*)()>()));
    std::vector<runner_future> runners;
    auto join_runners = [&]() noexcept {
        for (auto& r : runners) {
            if (!r.cancel()) r.wait();
        }
        runners.clear();
    };
    try {
        call.run_caller(workers > 1 && input.size() > 1, [&] {
            const int extra = workers_for_work(workers, input.size(), opts.chunk_size) - 1;
            runners.reserve(static_cast<std::size_t>(extra));
            for (int k = 0; k < extra; ++k) {
                runners.push_back(executor->submit([&call] { call.run_worker(); }));
            }
        });
    } catch (...) {
        call.failures().add_internal(std::current_exception());
    }
    join_runners();
    progress.finish();
    call.failures().rethrow_internal();

    return finish_map<R, collect>(input.size(), call.results(), call.failures().sorted());
}

}  // namespace parkit::detail
