#pragma once
/// @file
/// The exceptions parkit throws, and helpers that describe an arbitrary `std::exception_ptr`.

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__GNUC__) || defined(__clang__)
#include <cxxabi.h>
#include <cstdlib>
#include <memory>
#endif

namespace parkit {

namespace detail {

/// Demangles a compiler type name where the ABI allows it.
inline std::string demangle(const char* name) {
#if defined(__GNUC__) || defined(__clang__)
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
    if (status == 0 && out) return out.get();
#endif
    return name;
}

/// The dynamic type name of the exception held by `error` (e.g. "std::invalid_argument").
inline std::string exception_type_name(const std::exception_ptr& error) {
    if (!error) return "no exception";
    try {
        std::rethrow_exception(error);
    } catch (...) {
#if defined(__GNUC__) || defined(__clang__)
        if (const std::type_info* type = abi::__cxa_current_exception_type()) {
            return demangle(type->name());
        }
#endif
    }
    return "unknown exception type";
}

/// The `what()` of the exception held by `error`, or a description when it is no std::exception.
inline std::string exception_message(const std::exception_ptr& error) {
    if (!error) return "no exception";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "non-standard exception of type " + exception_type_name(error);
    }
}

}  // namespace detail

/// A task of a `parallel_map` (or `map`) call failed. Carries the task's index in the input and
/// the task's own exception, both as `original()` and as the nested exception, so
/// `std::rethrow_if_nested(e)` or `e.rethrow_original()` re-raises it unchanged.
class task_error : public std::runtime_error, public std::nested_exception {
public:
    /// Builds the error for the task at `index` that failed with `original`. Call it while
    /// `original` is the exception being handled (inside a `catch`) so the nested exception is
    /// set; `detail::make_task_error` does that for you.
    task_error(std::size_t index, std::exception_ptr original)
        : std::runtime_error("parkit: task " + std::to_string(index) + " failed with " +
                             detail::exception_type_name(original) + ": " + detail::exception_message(original)),
          index_(index),
          original_(std::move(original)) {}

    /// Position of the failed task in the input range.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// The exception the task threw.
    [[nodiscard]] const std::exception_ptr& original() const noexcept { return original_; }
    /// Throws the task's own exception.
    [[noreturn]] void rethrow_original() const { std::rethrow_exception(original_); }

private:
    std::size_t index_;
    std::exception_ptr original_;
};

/// `future::get()` of a task that was cancelled before it started (by `future::cancel()`, by
/// `shutdown({.cancel_pending = true})`, or because an earlier task of a map failed).
class task_cancelled : public std::runtime_error {
public:
    /// Builds the error for the cancelled task with submission index `index`.
    explicit task_cancelled(std::size_t index)
        : std::runtime_error("parkit: task " + std::to_string(index) + " was cancelled before it started"),
          index_(index) {}
    /// Submission index of the cancelled task.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    std::size_t index_;
};

/// Work was submitted to an executor after `shutdown()` was called on it.
class executor_closed : public std::logic_error {
public:
    /// Builds the error; `what` names the executor and the call that was refused.
    explicit executor_closed(const std::string& what) : std::logic_error(what) {}
};

/// A wait with a time limit ran out before the tasks it waited for were done, like Python's
/// `TimeoutError` from `as_completed(fs, timeout)` or `Future.result(timeout)`: raised by
/// `as_completed(futures, timeout)` and by `parallel_map` on threads with `task_timeout_s`.
/// The tasks themselves are not stopped (threads cannot be killed); they finish in the
/// background and their results are dropped.
class timeout_error : public std::runtime_error {
public:
    /// Builds the error for `call` (e.g. "parkit::as_completed") after `limit_s` seconds, with
    /// `pending` of `total` tasks not finished.
    timeout_error(const std::string& call, double limit_s, std::size_t pending, std::size_t total)
        : std::runtime_error(call + ": timed out after " + format_seconds(limit_s) + " s with " +
                             std::to_string(pending) + " of " + std::to_string(total) + " tasks still pending"),
          pending_(pending) {}
    /// Number of tasks that had not finished when the time was up.
    [[nodiscard]] std::size_t pending() const noexcept { return pending_; }

private:
    static std::string format_seconds(double s) {
        std::string text = std::to_string(s);  // fixed, 6 decimals: trim trailing zeros
        while (!text.empty() && text.back() == '0') text.pop_back();
        if (!text.empty() && text.back() == '.') text.pop_back();
        return text;
    }

    std::size_t pending_;
};

/// A pool's initializer threw in one of its workers (like Python's `BrokenThreadPool` after a
/// failed `initializer`): the pool is not usable and was shut down. Carries the original.
class initializer_error : public std::runtime_error {
public:
    /// Builds the error for `pool` (e.g. "parkit::thread_pool") whose initializer failed in
    /// worker `worker` with `original`.
    initializer_error(const std::string& pool, std::size_t worker, std::exception_ptr original)
        : std::runtime_error(pool + ": the initializer threw in worker " + std::to_string(worker) + ": " +
                             detail::exception_type_name(original) + ": " + detail::exception_message(original)),
          worker_(worker),
          original_(std::move(original)) {}
    /// Index of the worker whose initializer failed first.
    [[nodiscard]] std::size_t worker() const noexcept { return worker_; }
    /// The initializer's exception.
    [[nodiscard]] const std::exception_ptr& original() const noexcept { return original_; }

private:
    std::size_t worker_;
    std::exception_ptr original_;
};

/// Tasks given to `thread_pool::detach` threw: they have no future to carry the exception, so
/// the pool keeps the first one and `wait()` throws this, carrying it and the count.
class detached_task_error : public std::runtime_error {
public:
    /// Builds the error of `call` (e.g. "parkit::thread_pool::wait") for `count` failed detached
    /// tasks, the first of which threw `original`.
    detached_task_error(const std::string& call, std::size_t count, std::exception_ptr original)
        : std::runtime_error(call + ": " + std::to_string(count) + " detached task(s) threw; the first: " +
                             detail::exception_type_name(original) + ": " + detail::exception_message(original)),
          count_(count),
          original_(std::move(original)) {}
    /// How many detached tasks threw since the last collection.
    [[nodiscard]] std::size_t count() const noexcept { return count_; }
    /// The first one's exception.
    [[nodiscard]] const std::exception_ptr& original() const noexcept { return original_; }

private:
    std::size_t count_;
    std::exception_ptr original_;
};

namespace detail {

/// An exception_ptr to a new `E(args...)`. Unlike `std::make_exception_ptr(E(...))`, no copy
/// of `E` is made, so no copy shares the reference-counted message string of
/// `std::runtime_error` with the stored one: destroying the temporary in one thread while
/// another reads `what()` is then not even a seeming race (ThreadSanitizer cannot see
/// libstdc++'s uninstrumented atomic reference count).
template <class E, class... Args>
std::exception_ptr make_error_ptr(Args&&... args) {
    try {
        throw E(std::forward<Args>(args)...);
    } catch (...) {
        return std::current_exception();
    }
}

/// Makes a `task_error` whose nested exception is `original` (std::nested_exception captures the
/// exception currently being handled, so it must be built inside a handler of `original`).
inline task_error make_task_error(std::size_t index, const std::exception_ptr& original) {
    try {
        std::rethrow_exception(original);
    } catch (...) {
        return task_error(index, original);
    }
}

}  // namespace detail

}  // namespace parkit
