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

#include "../detail/task/continuation_state.hpp"
#include "../detail/task/shared_state.hpp"
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

/// The state behind a future, for the combinators (when_all, when_any, wait).
struct future_access {
    /// The state of `f` (null for an empty future).
    template <class T>
    static const state_ptr<shared_state<T>>& state(const future<T>& f) noexcept {
        return f.state_;
    }
};

template <class T, class Callback>
struct done_callback;
}  // namespace detail

/// The result of a submitted task, like Python's `concurrent.futures.Future`.
///
/// `get()` waits and returns the value, or rethrows the task's own exception unchanged; a task
/// cancelled before it started throws `parkit::task_cancelled`. `get()` moves the value out, so
/// it is called once (as with `std::future`); `index()`, `ready()` and the rest keep working
/// after it. Waiting on a pool worker runs the awaited task itself if it is still queued (or
/// other queued tasks meanwhile), so a task may submit sub-tasks and wait for them without
/// deadlocking the pool. `then` and `add_done_callback` react to completion without a blocked
/// thread; see also `when_all`, `when_any`, `wait` and `as_completed`.
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
            throw std::logic_error(
                "parkit::future::get: the result was already taken by an "
                "earlier get() or then() (it is moved out; call get() once)");
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

    /// Submission index, unique within its executor: tasks submitted from outside a pool are
    /// numbered in submission order (a lone submitter's n-th task has index n, 0-based); tasks
    /// that a thread pool's own tasks submit take indices from blocks reserved per worker, so
    /// they are unique but not consecutive. For map calls, the position of the input.
    [[nodiscard]] std::size_t index() const { return checked("index").index(); }

    /// True when the future refers to a task and get() has not been called yet.
    [[nodiscard]] bool valid() const noexcept { return state_ && !retrieved_; }

    /// Cancels the task if it has not started; returns true on success, in which case `get()`
    /// throws `task_cancelled`. A running or finished task is not affected (returns false).
    bool cancel() { return checked("cancel").try_cancel(); }

    /// True when the task was cancelled before it started.
    [[nodiscard]] bool cancelled() const { return checked("cancelled").current_phase() == detail::phase::cancelled; }

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

    /// Continues the task with `f`: returns a future of `f(result)` (`f()` for `future<void>`),
    /// run when the task finishes, in the thread that finishes it (at once, here, if it already
    /// has). A failed or cancelled task passes its exception on to the new future without
    /// calling `f`; an exception from `f` goes to the new future. The result moves into `f`, so
    /// this future is no longer `valid()` afterwards (its `ready()`, `index()` still work).
    /// Keep `f` short, or submit its work to a pool: it runs on the finishing worker.
    /// @throws std::logic_error on an empty future or one whose result was taken.
    template <class F>
    auto then(F&& f) {
        using fn = std::decay_t<F>;
        using result = detail::then_result_t<T, fn>;
        checked("then");
        if (retrieved_) {
            throw std::logic_error(
                "parkit::future::then: the result was already taken by get() or "
                "an earlier then()");
        }
        auto next = detail::then_state<result, T, fn>::start(state_, fn(std::forward<F>(f)));
        retrieved_ = true;
        return detail::make_future(std::move(next));
    }

    /// Calls `callback` once when the task is done (value, exception or cancelled), like
    /// Python's `Future.add_done_callback`: in the thread that finishes the task, or at once,
    /// here, if it is done already. `callback` takes a `const future<T>&` (a view of this task:
    /// `exception()`, `cancelled()`, `index()`, `ready()`; the value stays for `get()`) or
    /// nothing. An exception it throws is reported on stderr and ignored, as in Python.
    /// Several callbacks may be added; each runs once.
    /// @throws std::logic_error on an empty future.
    template <class Callback>
    void add_done_callback(Callback&& callback) {
        checked("add_done_callback");
        detail::done_callback<T, std::decay_t<Callback>>::start(state_, std::decay_t<Callback>(
                                                                            std::forward<Callback>(callback)));
    }

private:
    template <class U>
    friend future<U> detail::make_future(detail::state_ptr<detail::shared_state<U>>) noexcept;
    template <class U>
    friend class completed_range;
    friend struct detail::future_access;

    explicit future(detail::state_ptr<detail::shared_state<T>> state) noexcept : state_(std::move(state)) {}

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

namespace detail {

/// A callback added by `future::add_done_callback`: registered with the state, it calls the
/// callback with a view of the future once done and then deletes itself.
template <class T, class Callback>
struct done_callback {
    static_assert(std::is_invocable_v<Callback&, const future<T>&> || std::is_invocable_v<Callback&>,
                  "parkit::future::add_done_callback: the callback must be callable with "
                  "(const parkit::future<T>&) or with no arguments");

    /// Registers `callback` with `state`, or runs it now if the state is done.
    static void start(const state_ptr<shared_state<T>>& state, Callback callback) {
        auto* node = new done_callback{std::move(callback), state.get(), {}};
        node->listener.fire = &fire;
        node->listener.context = node;
        if (!state->attach(&node->listener)) fire(node->listener);
    }

    static void fire(completion_listener& l) noexcept {
        auto* self = static_cast<done_callback*>(l.context);
        self->state->add_ref();  // the view's reference
        const future<T> view = make_future(state_ptr<shared_state<T>>(self->state));
        try {
            if constexpr (std::is_invocable_v<Callback&, const future<T>&>) {
                std::invoke(self->callback, view);
            } else {
                std::invoke(self->callback);
            }
        } catch (...) {
            report_callback_error(self->state->index());
        }
        delete self;
    }

    Callback callback;
    shared_state<T>* state;  // alive while it notifies its listeners
    completion_listener listener;
};

}  // namespace detail

}  // namespace parkit
