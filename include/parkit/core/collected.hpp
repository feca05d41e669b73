#pragma once
/// @file
/// What `parallel_map` returns with `on_error::collect`: every result and every error.

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"

namespace parkit {

/// One failed task of a collecting map: its input index and its exception.
struct task_failure {
    std::size_t index = 0;     ///< position of the failed task's input
    std::exception_ptr error;  ///< the exception the task threw

    /// The exception's `what()` (like Python's `str(e)`).
    [[nodiscard]] std::string message() const { return detail::exception_message(error); }
    /// The exception's dynamic type, demangled (e.g. "std::domain_error").
    [[nodiscard]] std::string type_name() const { return detail::exception_type_name(error); }
    /// Throws the task's exception unchanged.
    [[noreturn]] void rethrow() const { std::rethrow_exception(error); }
};

namespace detail {
/// Counts and checks shared by `collected<R>` and `collected<void>`.
struct collected_errors {
    /// Failed tasks, sorted by index.
    std::vector<task_failure> errors;

    /// Number of failed tasks.
    [[nodiscard]] std::size_t failed() const noexcept { return errors.size(); }
    /// True when no task failed.
    [[nodiscard]] bool ok() const noexcept { return errors.empty(); }
    /// Throws `task_error` for the first failed task, if any.
    void throw_if_failed() const {
        if (!errors.empty()) throw make_task_error(errors.front().index, errors.front().error);
    }
};
}  // namespace detail

/// Results of a map with `on_error::collect`, in input order: `results[i]` holds task i's
/// value, or is empty when task i failed; `errors` lists the failures by index.
template <class R>
struct collected : detail::collected_errors {
    /// One entry per input; empty where the task failed.
    std::vector<std::optional<R>> results;

    /// Number of tasks that succeeded.
    [[nodiscard]] std::size_t succeeded() const noexcept { return results.size() - failed(); }
    /// The successful values, in input order (failed entries skipped).
    [[nodiscard]] std::vector<R> values() const {
        std::vector<R> out;
        out.reserve(succeeded());
        for (const auto& r : results) {
            if (r) out.push_back(*r);
        }
        return out;
    }
};

/// Outcome of a collecting map over a function that returns nothing.
template <>
struct collected<void> : detail::collected_errors {
    /// Number of tasks run.
    std::size_t total = 0;
    /// Number of tasks that succeeded.
    [[nodiscard]] std::size_t succeeded() const noexcept { return total - failed(); }
};

}  // namespace parkit
