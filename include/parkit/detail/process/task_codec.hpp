#pragma once
/// @file
/// The one wire format of task outcomes that cross a process boundary (`process_pool::submit`,
/// its batches, `backend::processes`, imap on processes, MPI): per task, a status byte, then
/// the serialized result (`ok`) or the exception's dynamic type name and `what()` (`threw`).
/// Tasks of one chunk are written back to back, in index order; a message that could not be
/// run at all carries one `threw` outcome.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/process_errors.hpp"
#include "../../core/serialization.hpp"

namespace parkit::detail {

/// Status byte written before each task's outcome.
enum class task_status : std::uint8_t { ok = 0, threw = 1 };

/// Appends "task succeeded" and its result `value` (nothing for a void task: pass no value).
template <class... Value>
void encode_task_success(output_archive& archive, const Value&... value) {
    archive(task_status::ok, value...);
}

/// Appends "task threw" with the exception's dynamic type name and message.
inline void encode_task_failure(output_archive& archive, const std::string& type_name, const std::string& message) {
    archive(task_status::threw, type_name, message);
}

/// Appends "task threw" with `error`'s dynamic type name and message.
inline void encode_task_failure(output_archive& archive, const std::exception_ptr& error) {
    encode_task_failure(archive, exception_type_name(error), exception_message(error));
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

/// Reads the next outcome for task `index`: the value goes to `on_value(R&&)` (not called for
/// void), a failure to `on_error(exception_ptr)` as a `remote_error` (type name and message).
/// @throws serialization_error on truncated or corrupt data.
template <class R, class OnValue, class OnError>
void decode_outcome(input_archive& archive, std::size_t index, OnValue&& on_value, OnError&& on_error) {
    decode_task<R>(
        archive,
        [&](auto&&... value) {
            if constexpr (sizeof...(value) > 0) on_value(std::move(value)...);
        },
        [&](std::string type, std::string message) {
            on_error(make_error_ptr<remote_error>(index, std::move(type), std::move(message)));
        });
}

/// Decodes the outcomes of tasks [begin, end) from one batch reply: `on_value(index, R&&)` for
/// each result, `on_error(index, exception_ptr)` for each failure. A malformed reply fails
/// the tasks it no longer describes with the `serialization_error`; it never ends the call.
template <class R, class OnValue, class OnError>
void decode_outcomes(std::span<const std::byte> reply, std::size_t begin, std::size_t end, OnValue&& on_value,
                     OnError&& on_error) {
    input_archive archive(reply);
    std::size_t index = begin;
    try {
        for (; index < end; ++index) {
            decode_outcome<R>(
                archive, index, [&](auto&& value) { on_value(index, std::move(value)); },
                [&](std::exception_ptr error) { on_error(index, std::move(error)); });
        }
    } catch (const serialization_error&) {
        const std::exception_ptr error = std::current_exception();
        for (; index < end; ++index) on_error(index, error);
    }
}

/// The same failure, reported for task `index` instead (a pool's submission number becomes the
/// map's input position). Errors without an index are returned unchanged.
inline std::exception_ptr with_task_index(const std::exception_ptr& error, std::size_t index) {
    try {
        std::rethrow_exception(error);
    } catch (const worker_crashed& e) {
        return make_error_ptr<worker_crashed>(index, e.signal(), e.exit_code(), e.how());
    } catch (const task_timeout& e) {
        return make_error_ptr<task_timeout>(index, e.limit_s());
    } catch (const remote_error& e) {
        return make_error_ptr<remote_error>(index, e.type_name(), e.message());
    } catch (const task_cancelled&) {
        return make_error_ptr<task_cancelled>(index);
    } catch (...) {
        return error;
    }
}

}  // namespace parkit::detail
