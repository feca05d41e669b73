#pragma once
/// @file
/// `parkit::future<T>`: the handle to a submitted task's result.

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "../detail/shared_state.hpp"
#include "errors.hpp"

namespace parkit {

template <class T>
class future;

namespace detail {
/// Wraps a state in a future (used by executors; keeps future's constructor private).
template <class T>
future<T> make_future(state_ptr<shared_state<T>> state) noexcept {
    return future<T>(std::move(state));
}
}  // namespace detail

/// The result of a submitted task, like Python's `concurrent.futures.Future`.
///
/// `get()` waits and returns the value, or rethrows the task's own exception unchanged; a task
/// cancelled before it started throws `parkit::task_cancelled`. `get()` moves the value out, so
/// it is called once (as with `std::future`); `index()`, `ready()` and the rest keep working
/// after it. Waiting on a pool worker runs other queued tasks meanwhile, so a task may submit
/// sub-tasks and wait for them without deadlocking the pool.
template <class T>
class future {
public:
    /// The result type (`void` for tasks without one).
    using value_type = T;

    /// An empty future (`valid() == false`).
    future() noexcept = default;
    /// Futures are move-only, like `std::future`: one owner takes the result.
    future(future&&) noexcept = default;
    /// Move assignment.
    future& operator=(future&&) noexcept = default;
    future(const future&) = delete;
    future& operator=(const future&) = delete;

    /// Waits for the task and returns its result (moved out, so call it once).
    /// @throws the task's own exception; `task_cancelled` if it was cancelled;
    ///         `std::logic_error` on an empty future or a second call.
    T get() {
        detail::shared_state<T>& s = checked("get");
        if (retrieved_) {
            throw std::logic_error("parkit::future::get: the result was already taken by an "
                                   "earlier get() (it is moved out; call get() once)");
        }
        s.wait();
        retrieved_ = true;
        if (s.current_phase() == detail::phase::cancelled) throw task_cancelled(s.index());
        if (s.error()) std::rethrow_exception(s.error());
        if constexpr (!std::is_void_v<T>) return std::move(s.value());
    }

    /// Blocks until the task has finished or was cancelled.
    void wait() const { checked("wait").wait(); }

    /// Waits at most `timeout`; returns true when the task is done.
    template <class Rep, class Period>
    bool wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
        return checked("wait_for").wait_until(std::chrono::steady_clock::now() + timeout);
    }

    /// Waits until `deadline`; returns true when the task is done.
    template <class Clock, class Duration>
    bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
        return checked("wait_until").wait_until(deadline);
    }

    /// True when the task has a result or an exception, or was cancelled (get() won't block).
    [[nodiscard]] bool ready() const { return checked("ready").done(); }

    /// Submission index: the n-th task submitted to its executor has index n (0-based); for map
    /// calls, the position of the input.
    [[nodiscard]] std::size_t index() const { return checked("index").index(); }

    /// True when the future refers to a task and get() has not been called yet.
    [[nodiscard]] bool valid() const noexcept { return state_ && !retrieved_; }

    /// Cancels the task if it has not started; returns true on success, in which case `get()`
    /// throws `task_cancelled`. A running or finished task is not affected (returns false).
    bool cancel() { return checked("cancel").try_cancel(); }

    /// True when the task was cancelled before it started.
    [[nodiscard]] bool cancelled() const {
        return checked("cancelled").current_phase() == detail::phase::cancelled;
    }

    /// Waits, then returns the task's exception (null if it succeeded), like Python's
    /// `Future.exception()`; the result stays available to `get()`.
    [[nodiscard]] std::exception_ptr exception() const {
        detail::shared_state<T>& s = checked("exception");
        s.wait();
        if (s.current_phase() == detail::phase::cancelled) {
            return detail::make_error_ptr<task_cancelled>(s.index());
        }
        return s.error();
    }

private:
    template <class U>
    friend future<U> detail::make_future(detail::state_ptr<detail::shared_state<U>>) noexcept;
    template <class U>
    friend class completed_range;

    explicit future(detail::state_ptr<detail::shared_state<T>> state) noexcept
        : state_(std::move(state)) {}

    detail::shared_state<T>& checked(const char* what) const {
        if (!state_) {
            throw std::logic_error(std::string("parkit::future::") + what +
                                   ": the future is empty (default-constructed or moved from)");
        }
        return *state_.get();
    }

    detail::state_ptr<detail::shared_state<T>> state_;
    bool retrieved_ = false;
};

}  // namespace parkit
