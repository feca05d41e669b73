#pragma once
/// @file
/// How one task's outcome travels back from a worker process inside a batch reply: a status
/// byte, then the serialized result (`ok`) or the exception's type name and message (`threw`).
/// Shared by `process_pool::map` batches and `parallel_map`'s process backend.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "../core/process_errors.hpp"
#include "../core/serialization.hpp"

namespace parkit::detail {

/// Reply status of one task in a batch.
enum class task_outcome : std::uint8_t { ok = 0, threw = 1 };

/// Runs `call()` (returning `R`) and appends its outcome to `out` through `archive`. An
/// exception, including one thrown while serializing the result, becomes a `threw` record.
template <class R, class Call>
void encode_outcome(output_archive& archive, std::vector<std::byte>& out, Call&& call) {
    const std::size_t mark = out.size();
    try {
        archive(task_outcome::ok);
        if constexpr (std::is_void_v<R>) {
            std::invoke(call);
        } else {
            archive(static_cast<const R&>(std::invoke(call)));
        }
    } catch (...) {
        out.resize(mark);
        const std::exception_ptr error = std::current_exception();
        archive(task_outcome::threw, exception_type_name(error), exception_message(error));
    }
}

/// Reads the next outcome from `archive`, for task `index`: passes the value to
/// `on_value(R&&)` (nothing for void), or a `remote_error` to `on_error(exception_ptr)`.
/// @throws serialization_error for a malformed reply.
template <class R, class OnValue, class OnError>
void decode_outcome(input_archive& archive, std::size_t index, OnValue&& on_value, OnError&& on_error) {
    task_outcome outcome{};
    archive(outcome);
    if (outcome == task_outcome::ok) {
        if constexpr (!std::is_void_v<R>) {
            R value{};
            archive(value);
            on_value(std::move(value));
        }
    } else if (outcome == task_outcome::threw) {
        std::string type, message;
        archive(type, message);
        on_error(make_error_ptr<remote_error>(index, std::move(type), std::move(message)));
    } else {
        throw serialization_error("parkit: malformed task outcome in a worker's reply");
    }
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
