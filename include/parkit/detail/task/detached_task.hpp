#pragma once
/// @file
/// A queued task without a future (`thread_pool::detach`): it holds only the callable and its
/// arguments, and hands an exception to the pool's `detached_errors` instead of storing it,
/// since nobody waits on it.

#include <cstddef>
#include <exception>
#include <mutex>
#include <tuple>
#include <utility>

#include "shared_state.hpp"

namespace parkit::detail {

/// Where a pool keeps what its detached tasks threw: the first exception and how many threw.
class detached_errors {
public:
    /// Records the current exception (called from a catch block of a detached task).
    void record(std::exception_ptr error) noexcept {
        std::lock_guard lock(mutex_);
        if (count_++ == 0) first_ = std::move(error);
    }

    /// Takes the first recorded exception (null when none) and how many were recorded, and
    /// forgets them.
    std::pair<std::exception_ptr, std::size_t> take() noexcept {
        std::lock_guard lock(mutex_);
        return {std::exchange(first_, nullptr), std::exchange(count_, 0)};
    }

private:
    std::mutex mutex_;
    std::exception_ptr first_;  // guarded by mutex_
    std::size_t count_ = 0;     // guarded by mutex_
};

/// A fire-and-forget task: `run()` calls `f(args...)` once; the queue holds its only reference.
template <class F, class... Args>
class detached_task final : public state_base {
public:
    /// A pending task with submission index `index` reporting failures to `errors`.
    template <class G, class... A>
    detached_task(std::size_t index, detached_errors& errors, G&& f, A&&... args)
        : state_base(index), errors_(errors), fn_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}

    void run() noexcept override {
        if (!try_start()) return;  // cancelled by shutdown({.cancel_pending = true})
        try {
            std::apply(std::move(fn_), std::move(args_));
        } catch (...) {
            errors_.record(std::current_exception());
        }
    }

private:
    detached_errors& errors_;
    F fn_;
    std::tuple<Args...> args_;
};

}  // namespace parkit::detail
