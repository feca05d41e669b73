#pragma once
/// @file
/// `parkit::task_outcome<R>`: one task's value or error, the element of a collecting `imap`.

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "errors.hpp"

namespace parkit {

/// What one task of a stream with `on_error::collect` produced: its input index and either
/// its value or its exception (like `std::expected`, which C++20 lacks). `imap` yields these
/// in input order, `imap_unordered` as `std::pair<std::size_t, task_outcome<R>>`.
template <class R>
struct task_outcome {
    std::size_t index = 0;     ///< position of the task's input in the input range
    std::optional<R> value;    ///< the result; empty when the task failed
    std::exception_ptr error;  ///< the task's exception; null when it succeeded

    /// True when the task succeeded.
    [[nodiscard]] bool ok() const noexcept { return error == nullptr; }
    /// The result; for a failed task throws `task_error` (index + the task's exception nested).
    [[nodiscard]] R& get() {
        if (error) throw detail::make_task_error(index, error);
        return *value;
    }
    /// The exception's `what()` ("" for a success).
    [[nodiscard]] std::string what() const { return error ? detail::exception_message(error) : std::string(); }
};

}  // namespace parkit
