#pragma once
/// @file
/// `parkit::as_completed`: iterate over futures in the order their tasks finish.

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/task/completion_queue.hpp"
#include "errors.hpp"
#include "future.hpp"

namespace parkit {

/// A single-pass range over futures in completion order, returned by `as_completed`.
/// Each finished task posts its slot to a completion queue, so taking the next result is O(1),
/// never a poll over all futures. Iterating blocks until the next task finishes (or throws
/// `timeout_error` once the range's time limit is up). The range may be left early (break,
/// exception): its destructor unregisters from the futures not yet seen. A future may be
/// watched by several ranges at once.
template <class T>
class completed_range {
public:
    /// The clock of time limits.
    using clock = std::chrono::steady_clock;

    /// Watches `futures` (they must outlive the range); each must be valid. With a deadline,
    /// iterating past it throws `timeout_error` (`limit_s` is the limit named in its message).
    /// @throws std::invalid_argument if one is empty.
    explicit completed_range(std::vector<future<T>*> futures, std::optional<clock::time_point> deadline = std::nullopt,
                             double limit_s = 0.0, const char* call = "parkit::as_completed")
        : futures_(std::move(futures)),
          queue_(std::make_unique<detail::completion_queue>()),
          listeners_(futures_.size()),
          deadline_(deadline),
          limit_s_(limit_s),
          call_(call) {
        for (std::size_t slot = 0; slot < futures_.size(); ++slot) {
            listeners_[slot].queue = queue_.get();
            listeners_[slot].slot = slot;
            if (futures_[slot] == nullptr || !futures_[slot]->state_) {
                detach_all(slot);
                throw std::invalid_argument(std::string(call_) + ": futures[" + std::to_string(slot) +
                                            "] is empty (default-constructed or moved from)");
            }
            if (!futures_[slot]->state_->attach(&listeners_[slot])) queue_->deliver(slot);
        }
    }
    completed_range(const completed_range&) = delete;
    completed_range& operator=(const completed_range&) = delete;
    ~completed_range() { detach_all(futures_.size()); }

    /// Input iterator yielding `future<T>&` in completion order.
    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = future<T>;
        using difference_type = std::ptrdiff_t;
        using reference = future<T>&;

        iterator() = default;
        reference operator*() const { return *range_->futures_[slot_]; }
        future<T>* operator->() const { return range_->futures_[slot_]; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.range_ == nullptr; }

    private:
        friend class completed_range;
        explicit iterator(completed_range* range) : range_(range) { advance(); }
        void advance() {
            if (range_->yielded_ == range_->futures_.size()) {
                range_ = nullptr;
                return;
            }
            const std::optional<std::size_t> slot = range_->next_completed();
            if (!slot) {
                const std::size_t total = range_->futures_.size();
                throw timeout_error(range_->call_, range_->limit_s_, total - range_->yielded_, total);
            }
            slot_ = *slot;
        }
        completed_range* range_ = nullptr;
        std::size_t slot_ = 0;
    };

    /// Starts the iteration (blocks until the first task finishes).
    iterator begin() { return iterator(this); }
    /// End of the iteration.
    std::default_sentinel_t end() const noexcept { return {}; }
    /// Number of futures watched.
    [[nodiscard]] std::size_t size() const noexcept { return futures_.size(); }

    /// The position (in the input) of the next future to finish, without iterating; nullopt
    /// when every future was taken or the range's deadline passed first.
    std::optional<std::size_t> next_completed() {
        if (yielded_ == futures_.size()) return std::nullopt;
        const std::optional<std::size_t> slot =
            deadline_ ? queue_->take_until(*deadline_) : std::optional<std::size_t>(queue_->take());
        if (slot) ++yielded_;
        return slot;
    }

private:
    // Unregisters from the first `count` futures; waits for deliveries already under way, so no
    // finishing task touches the queue after the range is gone.
    void detach_all(std::size_t count) noexcept {
        std::size_t detached = 0;
        for (std::size_t slot = 0; slot < count; ++slot) {
            if (futures_[slot] != nullptr && futures_[slot]->state_ &&
                futures_[slot]->state_->detach(&listeners_[slot])) {
                ++detached;
            }
        }
        queue_->wait_delivered(count - detached);
    }

    std::vector<future<T>*> futures_;
    std::unique_ptr<detail::completion_queue> queue_;
    std::vector<detail::completion_listener> listeners_;  // one per slot, stable addresses
    std::size_t yielded_ = 0;
    std::optional<clock::time_point> deadline_;
    double limit_s_;
    const char* call_;
};

namespace detail {

/// Pointers to the elements of a range of futures, for a completed_range.
template <class Futures>
auto future_pointers(Futures& futures) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    std::vector<future<value>*> pointers;
    if constexpr (std::ranges::sized_range<Futures>) pointers.reserve(std::ranges::size(futures));
    for (auto& f : futures) pointers.push_back(&f);
    return pointers;
}

/// `timeout` as a deadline from now, and in seconds for messages.
/// @throws std::invalid_argument naming `call` for a negative timeout.
template <class Rep, class Period>
std::pair<std::chrono::steady_clock::time_point, double> deadline_after(
    const std::chrono::duration<Rep, Period>& timeout, const char* call) {
    const double seconds = std::chrono::duration<double>(timeout).count();
    if (!(seconds >= 0.0)) {
        throw std::invalid_argument(std::string(call) + ": timeout must be >= 0 (got " + std::to_string(seconds) +
                                    " s)");
    }
    const auto now = std::chrono::steady_clock::now();
    const auto room = std::chrono::steady_clock::time_point::max() - now;
    if (std::chrono::duration<double>(room).count() <= seconds)
        return {std::chrono::steady_clock::time_point::max(), seconds};
    return {now +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)),
            seconds};
}

}  // namespace detail

/// Yields the futures of `futures` (a vector, array or other range of `parkit::future<T>`, kept
/// alive and in place by the caller while the range is used) in the order their tasks complete, like Python's
/// `concurrent.futures.as_completed`:
/// @code
/// for (parkit::future<int>& f : parkit::as_completed(futures)) use(f.index(), f.get());
/// @endcode
template <std::ranges::range Futures>
requires std::is_lvalue_reference_v<Futures>
auto as_completed(Futures&& futures) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    return completed_range<value>(detail::future_pointers(futures));
}

/// `as_completed` with a time limit counted from this call, like Python's
/// `as_completed(fs, timeout)`: once it is up, taking the next future throws
/// `parkit::timeout_error` naming how many were still pending (their tasks keep running).
/// @throws std::invalid_argument for a negative timeout.
template <std::ranges::range Futures, class Rep, class Period>
requires std::is_lvalue_reference_v<Futures>
auto as_completed(Futures&& futures, const std::chrono::duration<Rep, Period>& timeout) {
    using value = typename std::ranges::range_value_t<Futures>::value_type;
    const auto [deadline, seconds] = detail::deadline_after(timeout, "parkit::as_completed");
    return completed_range<value>(detail::future_pointers(futures), deadline, seconds);
}

}  // namespace parkit
