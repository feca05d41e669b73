#pragma once
/// @file
/// The states behind `future::then` and `future::add_done_callback`: each listens to the
/// state of the future it continues, and reacts in the thread that finishes that task (or at
/// once, in the caller, when it is already done).

#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "../../core/errors.hpp"
#include "shared_state.hpp"

namespace parkit::detail {

/// Result type of `then(f)` on a future of `T`: `f(T)`, or `f()` for `T = void`.
template <class T, class F>
struct then_result {
    using type = std::remove_cvref_t<std::invoke_result_t<F, T>>;
};
/// `then(f)` on a future<void> calls `f()`.
template <class F>
struct then_result<void, F> {
    using type = std::remove_cvref_t<std::invoke_result_t<F>>;
};
/// Result type of `then(f)` on a future of `T`.
template <class T, class F>
using then_result_t = typename then_result<T, F>::type;

/// The exception a finished or cancelled state ends with (null when it has a value).
inline std::exception_ptr failure_of(const state_base& s) {
    if (s.current_phase() == phase::cancelled) return make_error_ptr<task_cancelled>(s.index());
    return s.error();
}

/// State of `then(f)`: runs `f` on the parent's value once the parent is done; a failed or
/// cancelled parent passes its exception on without calling `f`.
template <class R, class T, class F>
class then_state final : public shared_state<R> {
public:
    /// Continues `parent` with `f`; returns the new state (already done if the parent was).
    static state_ptr<shared_state<R>> start(state_ptr<shared_state<T>> parent, F f) {
        auto* s = new then_state(std::move(parent), std::move(f));
        state_ptr<shared_state<R>> out(s);
        s->add_ref();  // held by the listener until it fires
        if (!s->parent_->attach(&s->listener_)) s->continue_now();
        return out;
    }

    bool run_here() noexcept override { return parent_->run_here(); }

private:
    then_state(state_ptr<shared_state<T>> parent, F f)
        : shared_state<R>(parent->index()), parent_(std::move(parent)), f_(std::move(f)) {
        this->try_start();  // never pending: a continuation cannot be cancelled
        listener_.fire = &fire;
        listener_.context = this;
    }

    static void fire(completion_listener& l) noexcept { static_cast<then_state*>(l.context)->continue_now(); }

    void continue_now() noexcept {
        shared_state<T>& p = *parent_.get();
        if (std::exception_ptr failure = failure_of(p)) {
            f_.reset();
            this->set_exception(std::move(failure));
        } else {
            try {
                if constexpr (std::is_void_v<R>) {
                    call(p);
                    f_.reset();
                    this->set_value();
                } else {
                    R result = call(p);
                    f_.reset();
                    this->set_value(std::move(result));
                }
            } catch (...) {
                f_.reset();
                this->set_exception(std::current_exception());
            }
        }
        this->release();
    }

    decltype(auto) call(shared_state<T>& p) {
        if constexpr (std::is_void_v<T>) {
            (void)p;
            return std::invoke(std::move(*f_));
        } else {
            return std::invoke(std::move(*f_), std::move(p.value()));
        }
    }

    state_ptr<shared_state<T>> parent_;
    std::optional<F> f_;
    completion_listener listener_;
};

/// Reports a callback's exception on stderr, as Python's `add_done_callback` logs and ignores it.
inline void report_callback_error(std::size_t index) noexcept {
    try {
        const std::exception_ptr error = std::current_exception();
        const std::string line = "parkit: a done callback of task " + std::to_string(index) + " threw " +
                                 exception_type_name(error) + ": " + exception_message(error) + " (ignored)\n";
        std::fputs(line.c_str(), stderr);
    } catch (...) {
        std::fputs("parkit: a done callback threw (ignored)\n", stderr);
    }
}

}  // namespace parkit::detail
