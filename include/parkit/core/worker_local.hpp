#pragma once
/// @file
/// Per-worker identity and state: `parkit::this_worker::index()` and `parkit::worker_local<T>`
/// (the per-worker solver workspace, model or database handle a task reuses).

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "../detail/task/worker_context.hpp"

namespace parkit {

/// Who is running the current code.
namespace this_worker {

/// The index (0 .. size-1) of the `thread_pool` worker running the calling code, or of the
/// worker process running it (a `process_pool` slot, a `backend::processes` worker); empty on
/// any other thread (the main thread, a thread of your own, the calling thread's share of a
/// `parallel_map`). A task that a waiting worker runs meanwhile sees that worker's index.
[[nodiscard]] inline std::optional<std::size_t> index() noexcept {
    const detail::worker_context* w = detail::this_worker;
    if (w == nullptr) return std::nullopt;
    return w->index;
}

}  // namespace this_worker

namespace detail {
/// Distinct ids for worker_local objects (an address may be reused, an id is not).
inline std::uint64_t next_worker_local_id() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace detail

/// One lazily built `T` per worker thread, reused by every task that thread runs: `get()`
/// returns the calling thread's `T&`, built on its first call (default-constructed, or by the
/// factory given to the constructor). Any thread may call it: pool workers, the thread that
/// calls `parallel_map` (it runs a share of the tasks), threads of several pools; in a process
/// backend each worker process builds its own. A thread's `T` lives as long as the
/// worker_local. The fast path is one thread-local comparison; the first call per thread
/// takes a lock.
template <class T>
class worker_local {
public:
    /// Values built with `T()`.
    worker_local() requires std::default_initializable<T> : factory_([] { return T(); }) {}

    /// Values built with `factory()` (called once per thread, on its first `get()`).
    template <class Factory>
    requires std::invocable<Factory&> && std::convertible_to<std::invoke_result_t<Factory&>, T>
    explicit worker_local(Factory factory) : factory_(std::move(factory)) {}

    worker_local(const worker_local&) = delete;
    worker_local& operator=(const worker_local&) = delete;

    /// The calling thread's value (built now if this is its first call).
    /// @throws whatever the factory or T's constructor throws (nothing is stored then).
    T& get() {
        last_use& last = last_used();
        if (last.id == id_) [[likely]]
            return *last.value;
        T& value = lookup();
        last = last_use{id_, &value};
        return value;
    }

    /// Calls `fn(T&)` on every value built so far (call it when no task uses them, e.g. to
    /// combine per-worker partial results after a map).
    template <class Fn>
    void for_each(Fn fn) {
        std::lock_guard lock(mutex_);
        for (auto& [thread, value] : values_) fn(*value);
    }

    /// Number of values built so far (one per thread that called `get()`).
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(mutex_);
        return values_.size();
    }

private:
    /// The calling thread's last lookup (which object, its value), so a repeated get() skips the map.
    struct last_use {
        std::uint64_t id = 0;
        T* value = nullptr;
    };
    static last_use& last_used() noexcept {
        static thread_local last_use last;
        return last;
    }

    T& lookup() {
        const std::thread::id self = std::this_thread::get_id();
        {
            std::lock_guard lock(mutex_);
            if (auto it = values_.find(self); it != values_.end()) return *it->second;
        }
        auto made = std::make_unique<T>(factory_());  // outside the lock: a slow factory delays no one
        std::lock_guard lock(mutex_);
        return *values_.emplace(self, std::move(made)).first->second;
    }

    const std::uint64_t id_ = detail::next_worker_local_id();
    std::function<T()> factory_;
    mutable std::mutex mutex_;
    std::unordered_map<std::thread::id, std::unique_ptr<T>> values_;
};

}  // namespace parkit
