#pragma once
/// @file
/// The engine behind `parkit::imap` / `imap_unordered`: a bounded window of chunks read lazily
/// from the input range on the consumer's thread, run by worker loops (pool threads, or pool
/// threads that each drive one worker process) and handed to the consumer in input order or
/// in completion order.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/future.hpp"
#include "../../core/n_jobs.hpp"
#include "../../core/options.hpp"
#include "../../core/serialization.hpp"
#include "../../core/task_outcome.hpp"
#include "../../process_pool.hpp"
#include "../../thread_pool.hpp"
#include "../map/argument_checks.hpp"
#include "../map/option_checks.hpp"
#include "../process/task_codec.hpp"
#include "../progress/progress_reporter.hpp"

namespace parkit::detail {

/// Most inputs an automatic window (`options::max_in_flight = 0`) takes ahead of the consumer,
/// whatever the number of workers: 65,536 results of 1 KB are 64 MB.
inline constexpr std::size_t max_auto_in_flight = 65'536;
/// Largest automatic chunk of a stream.
inline constexpr std::size_t max_stream_chunk = 4'096;
/// Target run time of one automatic chunk on threads: the hand-over (a lock and a wake-up,
/// about 1 us) stays under 1 % of it.
inline constexpr double stream_chunk_target_ns_threads = 200'000.0;
/// Target run time of one automatic chunk on processes: a round trip (~20 us) stays under 1 %.
inline constexpr double stream_chunk_target_ns_processes = 2'000'000.0;

/// Lets the stream engine send batches whose callable is found at its address in the workers
/// (`process_pool` befriends it; see `run_addressed_batch`).
struct process_pool_access {
    /// Sends `inputs` as one task message running `(*f)(input)` for each.
    template <class F, class R, class In>
    static future<std::vector<std::byte>> submit_batch(process_pool& pool, F* f, std::span<const In> inputs) {
        return pool.scheduler_.enqueue<std::vector<std::byte>>(&run_addressed_batch<F, R, In>, &complete_with_bytes,
                                                               inputs.size(), "imap", [&](output_archive& out) {
                                                                   out.write_bytes(static_cast<const void*>(&f),
                                                                                   sizeof f);
                                                                   out(static_cast<std::uint64_t>(inputs.size()));
                                                                   for (const In& x : inputs) out(x);
                                                               });
    }
};

/// What a stream yields for results of type `R`: `R` (ordered) or `std::pair<index, R>`
/// (unordered); with `on_error::collect`, `task_outcome<R>` in place of `R`.
template <class R, bool Ordered, bool Collect>
struct stream_item_maker {
    using value = std::conditional_t<Collect, task_outcome<R>, R>;
    using item = std::conditional_t<Ordered, value, std::pair<std::size_t, value>>;

    /// The item of task `index`, which returned `result`.
    static item ok(std::size_t index, R&& result) {
        if constexpr (Collect)
            return wrap(index, task_outcome<R>{index, std::optional<R>(std::move(result)), nullptr});
        else
            return wrap(index, std::move(result));
    }
    /// The item of task `index`, which failed (collect only).
    static item failed(std::size_t index, std::exception_ptr error) {
        return wrap(index, task_outcome<R>{index, std::nullopt, std::move(error)});
    }

private:
    static item wrap(std::size_t index, value&& v) {
        if constexpr (Ordered)
            return std::move(v);
        else
            return item(index, std::move(v));
    }
};

/// Consecutive inputs of a stream, run as one unit, and their items.
template <class In, class Item>
struct stream_chunk {
    std::size_t first = 0;                                 ///< input index of inputs[0]
    std::vector<In> inputs;                                ///< copies taken from the input range
    std::vector<std::optional<Item>> items;                ///< one per input once run (raise: up to the failure)
    std::size_t failed_at = static_cast<std::size_t>(-1);  ///< raise: position of the first failure
    std::exception_ptr failure;                            ///< raise: that failure
    bool done = false;                                     ///< guarded by the stream's mutex

    /// Number of inputs.
    [[nodiscard]] std::size_t size() const noexcept { return inputs.size(); }
};

/// The stream's state shared with its worker loops (which hold it by shared_ptr, so a loop
/// still queued in a pool when the stream ends finds it and leaves).
template <class F, class In, class R, bool Ordered, bool Collect>
struct stream_shared {
    using maker = stream_item_maker<R, Ordered, Collect>;
    using item = typename maker::item;
    using chunk = stream_chunk<In, item>;
    using chunk_ptr = std::shared_ptr<chunk>;

    explicit stream_shared(F fn) : f(std::move(fn)) {}

    F f;                             ///< the task; its address is what worker processes use
    process_pool* remote = nullptr;  ///< set for backend::processes
    double target_ns = stream_chunk_target_ns_threads;

    std::mutex mutex;
    std::condition_variable changed;  ///< a chunk finished, or the last loop left
    std::deque<chunk_ptr> pending;    ///< taken from the input, not started (input order)
    std::deque<chunk_ptr> finished;   ///< unordered: finished, not yet consumed
    std::size_t loops = 0;            ///< loop tasks submitted and not yet left
    std::size_t running = 0;          ///< chunks being run (by loops or the consumer)
    std::size_t waiters = 0;          ///< consumer threads blocked on `changed`
    bool cancelled = false;           ///< the stream ended: run nothing more
    bool failed = false;              ///< raise: a task failed, take no more input
    /// Smoothed measured time per input (< 0: unknown); written with the mutex held, read
    /// without it by the consumer sizing chunks (atomic: a hint, never a data race).
    std::atomic<double> ns_per_task{-1.0};

    /// Runs `c` (without the lock), then marks it done and records its time (with the lock held
    /// on return).
    void run_and_finish(std::unique_lock<std::mutex>& lock, const chunk_ptr& c) {
        ++running;
        lock.unlock();
        const auto start = std::chrono::steady_clock::now();
        run(*c);
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        lock.lock();
        --running;
        c->done = true;
        if constexpr (!Ordered) finished.push_back(c);
        if (!Collect && c->failure) {
            failed = true;
            pending.clear();  // all of them come after the failure
        }
        const double per_task = ns / static_cast<double>(std::max<std::size_t>(c->size(), 1));
        const double before = ns_per_task.load(std::memory_order_relaxed);
        ns_per_task.store(before < 0 ? per_task : 0.7 * before + 0.3 * per_task, std::memory_order_relaxed);
        if (waiters > 0) changed.notify_all();
    }

    /// A worker loop: runs pending chunks until none is left or the stream ended.
    static void loop(const std::shared_ptr<stream_shared>& self) {
        std::unique_lock lock(self->mutex);
        while (!self->cancelled && !self->pending.empty()) {
            chunk_ptr c = std::move(self->pending.front());
            self->pending.pop_front();
            self->run_and_finish(lock, c);
        }
        if (--self->loops == 0 && self->waiters > 0) self->changed.notify_all();
    }

private:
    void run(chunk& c) {
        c.items.resize(c.size());
        if (remote != nullptr) {
            if constexpr (is_serializable_v<In> && std::is_default_constructible_v<In> && is_serializable_v<R> &&
                          std::is_default_constructible_v<R>) {
                run_remote(c, 0, c.size());
            }
        } else {
            for (std::size_t i = 0; i < c.size(); ++i) {
                try {
                    c.items[i].emplace(maker::ok(c.first + i, std::invoke(f, std::as_const(c.inputs[i]))));
                } catch (...) {
                    if (!record_failure(c, i, std::current_exception())) break;
                }
            }
        }
    }

    /// Stores the failure of input `i` of `c`; false when the chunk stops there (raise).
    bool record_failure(chunk& c, std::size_t i, std::exception_ptr error) {
        if constexpr (Collect) {
            c.items[i].emplace(maker::failed(c.first + i, std::move(error)));
            return true;
        } else {
            if (i < c.failed_at) {
                c.failed_at = i;
                c.failure = std::move(error);
            }
            return false;
        }
    }

    /// Runs inputs [begin, end) of `c` in a worker process as one batch; when the worker dies
    /// (or overruns) in a batch of several, each input is retried alone, so only the input
    /// that crashes again fails.
    void run_remote(chunk& c, std::size_t begin, std::size_t end) {
        std::vector<std::byte> reply;
        try {
            reply =
                process_pool_access::submit_batch<F, R, In>(*remote, &f,
                                                            std::span<const In>(c.inputs.data() + begin, end - begin))
                    .get();
        } catch (...) {
            const std::exception_ptr error = std::current_exception();
            if (end - begin == 1) {
                record_failure(c, begin, with_task_index(error, c.first + begin));
            } else {
                for (std::size_t i = begin; i < end; ++i) run_remote(c, i, i + 1);
            }
            return;
        }
        decode_outcomes<R>(
            reply, c.first + begin, c.first + end,
            [&](std::size_t index, R&& value) {
                if (index - c.first < c.failed_at) c.items[index - c.first].emplace(maker::ok(index, std::move(value)));
            },
            [&](std::size_t index, std::exception_ptr error) { record_failure(c, index - c.first, std::move(error)); });
    }
};

/// The input range of a stream as `imap` was given it: an lvalue is referenced, an rvalue moved
/// in. (Not `std::views::all`: its `ref_view` does not compile with clang 14 and libstdc++ 12.)
template <class Range>
class held_input {
public:
    /// Takes `range` (by reference if it is an lvalue).
    explicit held_input(Range&& range) : range_(hold(std::forward<Range>(range))) {}
    /// The range.
    auto& get() noexcept {
        if constexpr (by_reference)
            return *range_;
        else
            return range_;
    }

private:
    static constexpr bool by_reference = std::is_lvalue_reference_v<Range>;
    using stored = std::conditional_t<by_reference, std::remove_reference_t<Range>*, std::remove_cvref_t<Range>>;
    static stored hold(Range&& range) {
        if constexpr (by_reference)
            return std::addressof(range);
        else
            return stored(std::move(range));
    }
    stored range_;
};

/// The consumer's side of a stream: owns the input range, the window, the pools made for the
/// call and the progress report; `imap_range` is a handle to one. `Range` is the input as
/// `imap` got it (an lvalue reference type, or the type of an rvalue).
template <class F, class Range, bool Ordered, bool Collect>
class stream_consumer {
    using held_range = std::remove_reference_t<decltype(std::declval<held_input<Range>&>().get())>;

public:
    using input_type = std::remove_cvref_t<std::ranges::range_reference_t<held_range>>;
    using result_type = std::remove_cvref_t<std::invoke_result_t<F&, const input_type&>>;
    using shared = stream_shared<F, input_type, result_type, Ordered, Collect>;
    using item = typename shared::item;

    /// Sets up a stream of `f` over `inputs` (nothing runs before the first `advance`).
    template <class OnError>
    stream_consumer(F f, Range&& inputs, const basic_options<OnError>& opts, const char* call)
        : inputs_(std::forward<Range>(inputs)),
          state_(std::make_shared<shared>(std::move(f))),
          chunk_size_(opts.chunk_size),
          user_window_(opts.max_in_flight) {
        require_callable(state_->f, call, "f");
        require_valid_timeout(opts.task_timeout_s, (std::string(call) + ": options.task_timeout_s").c_str());
        require_no_checkpoint(opts.checkpoint, call);
        require_no_mpi_settings(opts.mpi, opts.backend, call);
        const int workers = resolve_n_jobs(opts.n_jobs);
        switch (opts.backend) {
            case backend::sequential:
                max_loops_ = 0;
                workers_ = 1;
                if (chunk_size_ == 0) chunk_size_ = 1;  // lazy: one input read per result
                if (user_window_ == 0) user_window_ = chunk_size_;
                break;
            case backend::threads: {
                workers_ = workers;
                max_loops_ = static_cast<std::size_t>(workers);
                thread_pool& shared_pool = default_thread_pool();
                if (max_loops_ <= shared_pool.size()) {
                    pool_ = &shared_pool;
                } else {
                    own_threads_ = std::make_unique<thread_pool>(workers);
                    pool_ = own_threads_.get();
                }
                break;
            }
            case backend::processes:
                if constexpr (is_serializable_v<input_type> && std::is_default_constructible_v<input_type> &&
                              is_serializable_v<result_type> && std::is_default_constructible_v<result_type>) {
                    workers_ = workers;
                    max_loops_ = static_cast<std::size_t>(workers);
                    // Made after f is in place: the workers are forks of this moment.
                    own_processes_ = std::make_unique<process_pool>(
                        process_pool_options{.n_jobs = workers, .task_timeout_s = opts.task_timeout_s});
                    state_->remote = own_processes_.get();
                    state_->target_ns = stream_chunk_target_ns_processes;
                    own_threads_ = std::make_unique<thread_pool>(workers);
                    pool_ = own_threads_.get();
                    break;
                } else {
                    throw std::invalid_argument(std::string(call) +
                                                ": options.backend = processes needs serializable, "
                                                "default-constructible input and result types (see "
                                                "parkit/core/serialization.hpp)");
                }
            case backend::mpi:
                throw std::invalid_argument(std::string(call) +
                                            ": options.backend = mpi is not supported by streams; use "
                                            "parallel_map on the ranks");
            default:
                throw std::invalid_argument(std::string(call) + ": options.backend has an unknown value");
        }
        if (opts.task_timeout_s != 0.0 && opts.backend != backend::processes)
            throw std::invalid_argument(std::string(call) +
                                        ": options.task_timeout_s is honoured by backend::processes only "
                                        "(a thread cannot be stopped); use as_completed(futures, timeout) "
                                        "to stop waiting");
        std::size_t total = unknown_total;
        if constexpr (std::ranges::sized_range<held_range>)
            total = static_cast<std::size_t>(std::ranges::size(inputs_.get()));
        progress_.emplace(opts.progress, opts.on_progress, total, workers_,
                          opts.backend == backend::processes    ? "processes"
                          : opts.backend == backend::sequential ? "sequential"
                                                                : "threads");
    }

    stream_consumer(const stream_consumer&) = delete;
    stream_consumer& operator=(const stream_consumer&) = delete;

    /// Cancels what has not started and waits for the chunks being run (a task is never
    /// abandoned while it may use the caller's data); the pools made for the call end after.
    ~stream_consumer() {
        std::unique_lock lock(state_->mutex);
        state_->cancelled = true;
        state_->pending.clear();
        ++state_->waiters;
        state_->changed.wait(lock, [&] { return state_->running == 0; });
        --state_->waiters;
    }

    /// The item the consumer is at; null at the end.
    [[nodiscard]] item* current() const noexcept { return current_; }

    /// Moves to the next item (the first on the first call).
    /// @throws task_error (raise) where a task failed; the stream ends there.
    void advance() {
        current_ = nullptr;
        for (;;) {
            if (chunk_ && position_ < chunk_->size()) {
                if (!Collect && position_ == chunk_->failed_at) {
                    ended_ = true;
                    const std::size_t index = chunk_->first + position_;
                    const std::exception_ptr error = chunk_->failure;
                    chunk_.reset();
                    throw make_task_error(index, error);
                }
                current_ = &*chunk_->items[position_++];
                return;
            }
            if (chunk_) {
                progress_->advance(chunk_->size());
                consumed_ += chunk_->size();
                chunk_.reset();
            }
            if (ended_) return;
            refill();
            chunk_ = next_chunk();
            position_ = 0;
            if (!chunk_) {
                ended_ = true;
                progress_->finish();
                return;
            }
        }
    }

private:
    using chunk = typename shared::chunk;
    using chunk_ptr = typename shared::chunk_ptr;

    /// Inputs the window may hold now: the user's `max_in_flight`, or two chunks per worker.
    std::size_t window() const {
        if (user_window_ > 0) return user_window_;
        return std::clamp<std::size_t>(2 * std::max<std::size_t>(max_loops_, 1) * next_chunk_size(), 1,
                                       max_auto_in_flight);
    }

    /// The size of the next chunk: fixed, or adapted to the measured time per input.
    std::size_t next_chunk_size() const {
        if (chunk_size_ > 0) return chunk_size_;
        const double per_task = state_->ns_per_task.load(std::memory_order_relaxed);
        if (per_task < 0) return 1;
        const double fit = state_->target_ns / std::max(per_task, 1.0);
        return std::clamp<std::size_t>(static_cast<std::size_t>(fit), 1, max_stream_chunk);
    }

    /// Reads inputs into new chunks while the window has room, and starts loops for them.
    void refill() {
        if (input_done_) return;
        if (!started_) {
            iterator_.emplace(std::ranges::begin(inputs_.get()));
            started_ = true;
        }
        std::vector<chunk_ptr> made;
        {
            std::lock_guard lock(state_->mutex);
            if (state_->failed) return;
        }
        const std::size_t limit = window();
        while (taken_ - consumed_ < limit) {
            std::size_t size = std::min(next_chunk_size(), limit - (taken_ - consumed_));
            if (user_window_ > 0 && max_loops_ > 1)  // leave room for every worker
                size = std::min(size, std::max<std::size_t>(user_window_ / (2 * max_loops_), 1));
            auto c = std::make_shared<chunk>();
            c->first = taken_;
            c->inputs.reserve(size);
            while (c->inputs.size() < size && *iterator_ != std::ranges::end(inputs_.get())) {
                c->inputs.emplace_back(**iterator_);
                ++*iterator_;
            }
            taken_ += c->size();
            if (c->size() > 0) made.push_back(std::move(c));
            if (*iterator_ == std::ranges::end(inputs_.get())) {
                input_done_ = true;
                break;
            }
        }
        if (made.empty()) return;
        std::size_t to_start = 0;
        {
            std::lock_guard lock(state_->mutex);
            for (auto& c : made) state_->pending.push_back(c);
            const std::size_t wanted = std::min(max_loops_, state_->pending.size() + state_->running);
            if (wanted > state_->loops) to_start = wanted - state_->loops;
            state_->loops += to_start;
        }
        if constexpr (Ordered) {
            for (auto& c : made) window_.push_back(std::move(c));
        } else {
            outstanding_ += made.size();
        }
        for (std::size_t i = 0; i < to_start; ++i) start_loop();
    }

    void start_loop() {
        try {
            (void)pool_->submit([s = state_] { shared::loop(s); });
        } catch (...) {
            std::lock_guard lock(state_->mutex);
            --state_->loops;  // the consumer runs the chunks itself instead
        }
    }

    /// The next chunk to consume, once it is done (running pending chunks meanwhile, so the
    /// consumer works instead of waiting, and a stream inside a busy pool cannot deadlock);
    /// null when nothing is left.
    chunk_ptr next_chunk() {
        std::unique_lock lock(state_->mutex);
        for (;;) {
            if constexpr (Ordered) {
                if (window_.empty()) return nullptr;
                if (window_.front()->done) {
                    chunk_ptr c = std::move(window_.front());
                    window_.pop_front();
                    return c;
                }
            } else {
                if (!state_->finished.empty()) {
                    chunk_ptr c = std::move(state_->finished.front());
                    state_->finished.pop_front();
                    --outstanding_;
                    return c;
                }
                if (outstanding_ == 0) return nullptr;
            }
            if (!state_->pending.empty()) {
                chunk_ptr c = std::move(state_->pending.front());
                state_->pending.pop_front();
                state_->run_and_finish(lock, c);
                continue;
            }
            if (!Ordered && state_->failed && state_->running == 0 && state_->finished.empty())
                return nullptr;  // the failing chunk was consumed; the rest were dropped
            ++state_->waiters;
            state_->changed.wait(lock);
            --state_->waiters;
        }
    }

    held_input<Range> inputs_;
    std::optional<std::ranges::iterator_t<held_range>> iterator_;
    std::shared_ptr<shared> state_;
    std::unique_ptr<process_pool> own_processes_;  // destroyed after own_threads_ (reverse order)
    std::unique_ptr<thread_pool> own_threads_;
    thread_pool* pool_ = nullptr;
    std::optional<progress_reporter> progress_;
    std::size_t chunk_size_ = 0;
    std::size_t user_window_ = 0;
    std::size_t max_loops_ = 0;
    int workers_ = 1;
    std::deque<chunk_ptr> window_;  // ordered: taken, not consumed, in input order
    std::size_t outstanding_ = 0;   // unordered: chunks taken, not consumed
    chunk_ptr chunk_;               // the chunk being consumed
    std::size_t position_ = 0;      // next item of chunk_
    std::size_t taken_ = 0;         // inputs read from the range
    std::size_t consumed_ = 0;      // inputs whose chunk was consumed
    item* current_ = nullptr;
    bool started_ = false;
    bool input_done_ = false;
    bool ended_ = false;
};

}  // namespace parkit::detail
