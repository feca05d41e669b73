#pragma once
/// @file
/// The wire format of task outcomes that cross a process boundary (process and MPI backends):
/// per task, a status byte, then the serialized result (`ok`) or the exception's dynamic type
/// name and `what()` (`threw`). Tasks of one chunk are written back to back, in index order.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "../core/serialization.hpp"

namespace parkit::detail {

/// Status byte written before each task's outcome.
enum class task_status : std::uint8_t { ok = 0, threw = 1 };

/// Appends "task succeeded" and its result `value` (nothing for a void task: pass no value).
template <class... Value>
void encode_task_success(output_archive& archive, const Value&... value) {
    archive(task_status::ok, value...);
}

/// Appends "task threw" with `error`'s dynamic type name and message.
inline void encode_task_failure(output_archive& archive, const std::exception_ptr& error) {
    archive(task_status::threw, exception_type_name(error), exception_message(error));
}

/// Runs `task()` (returning R) and appends its outcome to `buffer`; false when it threw (what
/// it had written is dropped and the failure written instead).
template <class R, class Task>
bool run_and_encode_task(std::vector<std::byte>& buffer, Task&& task) {
    output_archive archive{buffer};
    const std::size_t mark = buffer.size();
    try {
        if constexpr (std::is_void_v<R>) {
            std::invoke(task);
            encode_task_success(archive);
        } else {
            encode_task_success(archive, static_cast<const R&>(std::invoke(task)));
        }
        return true;
    } catch (...) {
        buffer.resize(mark);
        encode_task_failure(archive, std::current_exception());
        return false;
    }
}

/// Reads one task outcome: calls `on_value(R&&)` (`on_value()` for void) on success, or
/// `on_failure(type_name, message)` when the task threw.
/// @throws serialization_error on truncated or corrupt data.
template <class R, class OnValue, class OnFailure>
void decode_task(input_archive& archive, OnValue&& on_value, OnFailure&& on_failure) {
    task_status status{};
    archive(status);
    if (status == task_status::ok) {
        if constexpr (std::is_void_v<R>) {
            on_value();
        } else {
            R value{};
            archive(value);
            on_value(std::move(value));
        }
    } else if (status == task_status::threw) {
        std::string type, message;
        archive(type, message);
        on_failure(std::move(type), std::move(message));
    } else {
        throw serialization_error("parkit: corrupt task outcome (unknown status byte)");
    }
}

}  // namespace parkit::detail
