#pragma once
/// @file
/// `parkit::as_completed`: iterate over futures in the order their tasks finish.

#include <cstddef>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../detail/completion_queue.hpp"
#include "future.hpp"

namespace parkit {

/// A single-pass range over futures in completion order, returned by `as_completed`.
/// Each finished task posts its slot to a completion queue, so taking the next result is O(1),
/// never a poll over all futures. Iterating blocks until the next task finishes. The range may
/// be left early (break, exception): its destructor unregisters from the futures not yet seen.
template <class T>
class completed_range {
public:
    /// Watches `futures` (they must outlive the range); each must be valid.
    /// @throws std::invalid_argument if one is empty; std::logic_error if one is watched by
    ///         another live range.
    explicit completed_range(std::vector<future<T>*> futures)
        : futures_(std::move(futures)),
          queue_(std::make_unique<detail::completion_queue>()),
          listeners_(futures_.size()) {
        for (std::size_t slot = 0; slot < futures_.size(); ++slot) {
            listeners_[slot] = detail::completion_listener{queue_.get(), slot};
            if (futures_[slot] == nullptr || !futures_[slot]->state_) {
                detach_all(slot);
                throw std::invalid_argument("parkit::as_completed: futures[" +
                                            std::to_string(slot) +
                                            "] is empty (default-constructed or moved from)");
            }
            try {
                if (!futures_[slot]->state_->attach(&listeners_[slot])) queue_->deliver(slot);
            } catch (...) {
                detach_all(slot);
                throw;
            }
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
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.range_ == nullptr;
        }

    private:
        friend class completed_range;
        explicit iterator(completed_range* range) : range_(range) { advance(); }
        void advance() {
            if (range_->yielded_ == range_->futures_.size()) {
                range_ = nullptr;
                return;
            }
            slot_ = range_->queue_->take();
            ++range_->yielded_;
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
};

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
    std::vector<future<value>*> pointers;
    if constexpr (std::ranges::sized_range<Futures>) pointers.reserve(std::ranges::size(futures));
    for (auto& f : futures) pointers.push_back(&f);
    return completed_range<value>(std::move(pointers));
}

}  // namespace parkit
