#pragma once
/// @file
/// `parkit::wait`: block until some, the first failing, or all of a group of futures are done,
/// as Python's `concurrent.futures.wait`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "as_completed.hpp"
#include "future.hpp"

namespace parkit {

/// When `parkit::wait` returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
enum class return_when {
    first_completed,  ///< as soon as any future is done
    first_exception,  ///< as soon as any task fails (not cancelled), else when all are done
    all_completed,    ///< when every future is done
};

/// What `parkit::wait` returns: positions in the input, ascending, of the futures that were
/// done when it returned and of those that were not.
struct wait_result {
    std::vector<std::size_t> done;      ///< done (value, exception or cancelled)
    std::vector<std::size_t> not_done;  ///< still pending or running
};

namespace detail {

template <class T>
wait_result wait_for_group(std::vector<future<T>*> futures, return_when when,
                           std::optional<std::chrono::steady_clock::time_point> deadline, double limit_s) {
    if (when != return_when::first_completed && when != return_when::first_exception &&
        when != return_when::all_completed) {
        throw std::invalid_argument(
            "parkit::wait: return_when must be first_completed, first_exception or "
            "all_completed (got " +
            std::to_string(static_cast<int>(when)) + ")");
    }
    completed_range<T> range(futures, deadline, limit_s, "parkit::wait");
    while (const std::optional<std::size_t> slot = range.next_completed()) {
        if (when == return_when::first_completed) break;
        const future<T>& f = *futures[*slot];
        if (when == return_when::first_exception && !f.cancelled() && f.exception()) break;
    }
    wait_result result;
    for (std::size_t i = 0; i < futures.size(); ++i) (futures[i]->ready() ? result.done : result.not_done).push_back(i);
    return result;
}

}  // namespace detail

/// Blocks until `when` is met for `futures` (a range of `parkit::future<T>`, left in place and
/// untouched), like Python's `concurrent.futures.wait(fs, return_when=...)`; returns the
/// positions of the futures done and not done at that moment.
/// @throws std::invalid_argument if a future is empty or `when` is no return_when value.
template <std::ranges::range Futures>
requires std::is_lvalue_reference_v<Futures> wait_result wait(Futures&& futures,
                                                              return_when when = return_when::all_completed) {
    return detail::wait_for_group(detail::future_pointers(futures), when, std::nullopt, 0.0);
}

/// `wait` that returns when `timeout` is up even if `when` is not met (no exception, as in
/// Python: the futures still pending are in `not_done`).
/// @throws std::invalid_argument for a negative timeout, an empty future or a bad `when`.
template <std::ranges::range Futures, class Rep, class Period>
requires std::is_lvalue_reference_v<Futures> wait_result wait(Futures&& futures, return_when when,
                                                              const std::chrono::duration<Rep, Period>& timeout) {
    const auto [deadline, seconds] = detail::deadline_after(timeout, "parkit::wait");
    return detail::wait_for_group(detail::future_pointers(futures), when, deadline, seconds);
}

}  // namespace parkit
