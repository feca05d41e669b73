#pragma once
/// @file
/// `parkit::when_all` and `parkit::when_any`: one future for a group of futures.

#include <atomic>
#include <cstddef>
#include <exception>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/task/continuation_state.hpp"
#include "../detail/task/shared_state.hpp"
#include "future.hpp"

namespace parkit {

namespace detail {

/// The states of a range of futures (each checked to be non-empty).
template <class Futures>
auto source_states(Futures& futures, const char* call) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    std::vector<state_ptr<shared_state<value>>> states;
    if constexpr (std::ranges::sized_range<Futures>) states.reserve(std::ranges::size(futures));
    for (auto& f : futures) {
        const auto& state = future_access::state(f);
        if (!state) {
            throw std::invalid_argument(std::string(call) + ": futures[" + std::to_string(states.size()) +
                                        "] is empty (default-constructed or moved from)");
        }
        states.push_back(state);
    }
    return states;
}

/// Common part of the group states: the sources, one listener per source, and a count of
/// listeners still to report (plus one for the start, so the group cannot finish while it
/// is still registering).
template <class R, class T, class Derived>
class group_state : public shared_state<R> {
public:
    bool run_here() noexcept override {
        for (auto& source : sources_) {
            if (source->run_here()) return true;
        }
        return false;
    }

protected:
    explicit group_state(std::vector<state_ptr<shared_state<T>>> sources)
        : shared_state<R>(0),
          sources_(std::move(sources)),
          listeners_(sources_.size()),
          remaining_(sources_.size() + 1) {
        this->try_start();  // never pending: a group cannot be cancelled
    }

    // Registers with every source (reacting at once to those already done), then drops the
    // start's count. Holds one reference to the group until every listener has reported.
    static state_ptr<shared_state<R>> start(Derived* group) {
        state_ptr<shared_state<R>> out(group);
        group->add_ref();
        for (std::size_t i = 0; i < group->sources_.size(); ++i) {
            completion_listener& l = group->listeners_[i];
            l.slot = i;
            l.context = group;
            l.fire = &fire;
            if (!group->keeps_listening() || !group->sources_[i]->attach(&l)) group->on_done(i);
        }
        group->count_down();
        return out;
    }

    // One listener has reported (fired, or detached before it could).
    void count_down() noexcept {
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        static_cast<Derived*>(this)->on_all_reported();
        this->release();
    }

    std::vector<state_ptr<shared_state<T>>> sources_;
    std::vector<completion_listener> listeners_;

private:
    static void fire(completion_listener& l) noexcept { static_cast<Derived*>(l.context)->on_done(l.slot); }
    bool keeps_listening() const noexcept { return static_cast<const Derived*>(this)->listening(); }
    std::atomic<std::size_t> remaining_;
};

/// Result of `when_all` over futures of `T`.
template <class T>
using all_result_t = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

/// State of `when_all`: done when every source is; then holds their values in input order,
/// or the exception of the first source (in input order) that failed or was cancelled.
template <class T, bool Move>
class when_all_state final : public group_state<all_result_t<T>, T, when_all_state<T, Move>> {
    using base = group_state<all_result_t<T>, T, when_all_state<T, Move>>;
    friend base;

public:
    /// Starts the group over `sources`.
    static auto start(std::vector<state_ptr<shared_state<T>>> sources) {
        return base::start(new when_all_state(std::move(sources)));
    }

private:
    explicit when_all_state(std::vector<state_ptr<shared_state<T>>> sources) : base(std::move(sources)) {}
    bool listening() const noexcept { return true; }
    void on_done(std::size_t) noexcept { this->count_down(); }

    void on_all_reported() noexcept {
        for (auto& source : this->sources_) {
            if (std::exception_ptr failure = failure_of(*source.get())) {
                this->set_exception(std::move(failure));
                return;
            }
        }
        if constexpr (std::is_void_v<T>) {
            this->set_value();
        } else {
            try {
                std::vector<T> values;
                values.reserve(this->sources_.size());
                for (auto& source : this->sources_) {
                    if constexpr (Move) {
                        values.push_back(std::move(source->value()));
                    } else {
                        values.push_back(source->value());
                    }
                }
                this->set_value(std::move(values));
            } catch (...) {
                this->set_exception(std::current_exception());
            }
        }
    }
};

/// State of `when_any`: done with the position of the first source to finish (with a value,
/// an exception or cancelled); it then stops listening to the others.
template <class T>
class when_any_state final : public group_state<std::size_t, T, when_any_state<T>> {
    using base = group_state<std::size_t, T, when_any_state<T>>;
    friend base;

public:
    /// Starts the group over `sources` (not empty).
    static auto start(std::vector<state_ptr<shared_state<T>>> sources) {
        return base::start(new when_any_state(std::move(sources)));
    }

private:
    explicit when_any_state(std::vector<state_ptr<shared_state<T>>> sources) : base(std::move(sources)) {}
    bool listening() const noexcept { return !won_.load(std::memory_order_acquire); }

    void on_done(std::size_t slot) noexcept {
        if (!won_.exchange(true, std::memory_order_acq_rel)) {
            this->set_value(slot);
            for (std::size_t i = 0; i < this->sources_.size(); ++i) {
                if (i != slot && this->sources_[i]->detach(&this->listeners_[i])) this->count_down();
            }
        }
        this->count_down();
    }
    void on_all_reported() noexcept {}

    std::atomic<bool> won_{false};
};

}  // namespace detail

/// A future that is ready when every future of `futures` is, like `asyncio.gather` or
/// `std::experimental::when_all`: its value is a `std::vector<T>` of their results in input
/// order (`future<void>` for futures of void). If any task failed or was cancelled, it
/// throws the exception of the first such one in input order, once all are done.
/// An lvalue range is left usable: the results are copied (and must not be taken with `get()`
/// before the combined future is ready); `when_all(std::move(futures))` moves them instead.
/// No thread waits meanwhile: the last task to finish builds the result.
/// @throws std::invalid_argument if one of the futures is empty.
template <std::ranges::range Futures>
auto when_all(Futures&& futures) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    constexpr bool move = !std::is_lvalue_reference_v<Futures>;
    static_assert(move || std::is_void_v<value> || std::is_copy_constructible_v<value>,
                  "parkit::when_all: results that cannot be copied need when_all(std::move(futures))");
    auto states = detail::source_states(futures, "parkit::when_all");
    return detail::make_future(detail::when_all_state<value, move>::start(std::move(states)));
}

/// A future of the position in `futures` of the first future to be done (with a value, an
/// exception or cancelled), like `asyncio.wait(..., FIRST_COMPLETED)`; the futures themselves
/// are left untouched: read the winner with `futures[i].get()`.
/// @throws std::invalid_argument if `futures` is empty or one of them is.
template <std::ranges::range Futures>
future<std::size_t> when_any(Futures&& futures) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    auto states = detail::source_states(futures, "parkit::when_any");
    if (states.empty()) throw std::invalid_argument("parkit::when_any: futures is empty (nothing could finish first)");
    return detail::make_future(detail::when_any_state<value>::start(std::move(states)));
}

}  // namespace parkit
