#pragma once
/// @file
/// `parkit::imap` / `parkit::imap_unordered`: lazy, streaming maps (multiprocessing's `imap`,
/// joblib's `return_as='generator'`): results are consumed one by one while later ones still
/// compute, over any input range, sized or not, with memory bounded by a window of inputs.

#include <concepts>
#include <cstddef>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "core/lines.hpp"
#include "core/options.hpp"
#include "core/task_outcome.hpp"
#include "detail/frontend/stream_engine.hpp"

namespace parkit {

/// The range `imap` and `imap_unordered` return: a single-pass view (an input range) whose
/// elements are made as it is iterated. Move-only; `begin()` may be called once. Leaving the
/// loop early (or destroying the range) cancels the inputs not started and waits for the
/// running ones, so no task outlives the data it uses.
template <class Engine>
class imap_range : public std::ranges::view_base {
public:
    /// The element type: `R` (imap), `std::pair<std::size_t, R>` (imap_unordered); with
    /// `on_error::collect`, `task_outcome<R>` in place of `R`.
    using value_type = typename Engine::item;

    /// The range's iterator: `*it` is the current element; `++it` waits for the next one.
    class iterator {
    public:
        using value_type = typename Engine::item;          ///< the element type
        using difference_type = std::ptrdiff_t;            ///< for the iterator concepts
        using iterator_concept = std::input_iterator_tag;  ///< single pass

        iterator() = default;
        /// The current element (valid until the next increment).
        value_type& operator*() const noexcept { return *engine_->current(); }
        /// Member access to the current element.
        value_type* operator->() const noexcept { return engine_->current(); }
        /// Moves to the next element, waiting for it if it is still being computed.
        /// @throws task_error (with `on_error::raise`) at the element whose task failed.
        iterator& operator++() {
            engine_->advance();
            return *this;
        }
        /// Same as prefix increment (an input iterator's postfix returns nothing).
        void operator++(int) { ++*this; }
        /// True once every element was consumed.
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.engine_ == nullptr || it.engine_->current() == nullptr;
        }

    private:
        friend class imap_range;
        explicit iterator(Engine* engine) noexcept : engine_(engine) {}
        Engine* engine_ = nullptr;
    };

    /// Wraps a stream set up by `imap` / `imap_unordered`.
    explicit imap_range(std::unique_ptr<Engine> engine) noexcept : engine_(std::move(engine)) {}
    imap_range(imap_range&&) noexcept = default;
    imap_range& operator=(imap_range&&) noexcept = default;

    /// Starts the stream and returns an iterator at its first element (waits for it).
    /// @throws std::logic_error when called a second time (the range is single-pass);
    ///         task_error (raise) when the first element's task failed.
    iterator begin() {
        if (engine_ == nullptr) throw std::logic_error("parkit::imap: the range was moved from");
        if (begun_) throw std::logic_error("parkit::imap: begin() called twice on a single-pass range");
        begun_ = true;
        engine_->advance();
        return iterator(engine_.get());
    }
    /// The end of the stream.
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::unique_ptr<Engine> engine_;
    bool begun_ = false;
};

namespace detail {
/// `imap` / `imap_unordered` behind their overloads.
template <bool Ordered, class F, class Range, class OnError>
auto make_imap(F&& f, Range&& inputs, const basic_options<OnError>& opts, const char* call) {
    using engine = stream_consumer<std::decay_t<F>, Range, Ordered, std::is_same_v<OnError, on_error::collect_t>>;
    static_assert(!std::is_void_v<typename engine::result_type>,
                  "parkit::imap: the function returns nothing, so there is nothing to stream; use "
                  "parkit::parallel_for or parallel_map for side effects");
    return imap_range<engine>(std::make_unique<engine>(std::forward<F>(f), std::forward<Range>(inputs), opts, call));
}
}  // namespace detail

/// Applies `f` to every element of `inputs` in parallel and returns a lazy range of the
/// results **in input order**, produced while later ones still compute:
/// @code
/// for (double y : parkit::imap(simulate, std::views::iota(0, 10'000'000))) csv << y << '\n';
/// @endcode
/// - `inputs`: any input range, sized or not, single-pass included (`std::views::istream`, a
///   generator, an unbounded `std::views::iota(0)` if the loop stops early). It is read on the
///   consumer's thread, one chunk at a time; an rvalue container is moved into the range.
/// - `opts.max_in_flight`: at most that many inputs are taken ahead of the consumer (running,
///   queued, or done and not yet consumed); 0 = two chunks per worker, so memory stays bounded
///   however long the input. Chunks adapt to the task time (`chunk_size` = 0) as in
///   `parallel_map`.
/// - `backend`: threads (default; `n_jobs` pool threads, and the consumer runs chunks while it
///   waits), sequential (one input read per result, on the consumer's thread), or processes
///   (`n_jobs` worker processes forked when `imap` is called, so `f` may capture anything;
///   inputs and results must be serializable; `task_timeout_s` is honoured). Not mpi.
/// - Errors: with `on_error::raise` the element whose task threw throws `task_error` (index +
///   the task's exception nested) and the stream ends; with `collect_options` every element is
///   a `task_outcome<R>`.
/// - `progress` / `on_progress`: counted as results are consumed; an unsized input shows the
///   count and the rate (the total is unknown).
template <class F, std::ranges::input_range Range>
requires std::invocable < std::decay_t<F>
&, const std::remove_cvref_t<std::ranges::range_reference_t<Range>>& >
       auto imap(F&& f, Range&& inputs, const options& opts = {}) {
    return detail::make_imap<true>(std::forward<F>(f), std::forward<Range>(inputs), opts, "parkit::imap");
}

/// `imap` with `on_error::collect`: every element is a `task_outcome<R>` (index, value or error).
template <class F, std::ranges::input_range Range>
requires std::invocable < std::decay_t<F>
&, const std::remove_cvref_t<std::ranges::range_reference_t<Range>>& >
       auto imap(F&& f, Range&& inputs, const collect_options& opts) {
    return detail::make_imap<true>(std::forward<F>(f), std::forward<Range>(inputs), opts, "parkit::imap");
}

/// `imap` in completion order: yields `std::pair<std::size_t, R>` (input index, result) as
/// tasks finish (chunk by chunk), like multiprocessing's `imap_unordered` and joblib's
/// `return_as='generator_unordered'`. Same inputs, options and errors as `imap`.
template <class F, std::ranges::input_range Range>
requires std::invocable < std::decay_t<F>
&, const std::remove_cvref_t<std::ranges::range_reference_t<Range>>& >
       auto imap_unordered(F&& f, Range&& inputs, const options& opts = {}) {
    return detail::make_imap<false>(std::forward<F>(f), std::forward<Range>(inputs), opts, "parkit::imap_unordered");
}

/// `imap_unordered` with `on_error::collect`: yields `std::pair<std::size_t, task_outcome<R>>`.
template <class F, std::ranges::input_range Range>
requires std::invocable < std::decay_t<F>
&, const std::remove_cvref_t<std::ranges::range_reference_t<Range>>& >
       auto imap_unordered(F&& f, Range&& inputs, const collect_options& opts) {
    return detail::make_imap<false>(std::forward<F>(f), std::forward<Range>(inputs), opts, "parkit::imap_unordered");
}

}  // namespace parkit
