#pragma once
/// @file
/// A per-thread cache of freed small blocks, by size class, for task states: a pool makes and
/// frees one state per task, and `malloc`/`free` of a ~100-byte block from a few threads was
/// ~20 % of the time of 100,000 trivial tasks (glibc's own per-thread cache keeps only 7 blocks
/// per size, so a burst of tasks falls through to the locked arena). Blocks come from
/// `::operator new`; a block freed on another thread joins that thread's cache. So that a
/// producer whose tasks are freed by the workers (`thread_pool::detach`, a future dropped by
/// the worker) does not fall through to `malloc` on every task, caches trade whole batches of
/// 64 blocks through a small per-size exchange, as tcmalloc's transfer cache does: a thread
/// with two batches' worth to spare hands one over, a thread with none takes one. The
/// exchange is only ever try-locked, so it can never block (not even in a forked child whose
/// parent held its lock). A full cache (or a thread that is exiting) hands blocks back to
/// `::operator delete`.

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <utility>

namespace parkit::detail {

/// Thread-local free lists of blocks of 64, 128, 192 and 256 bytes.
class small_object_cache {
public:
    /// Largest block size served from the cache.
    static constexpr std::size_t max_size = 256;
    /// Bytes of free blocks kept per size class and thread (16,384 blocks of 64 bytes).
    static constexpr std::size_t max_cached_bytes = std::size_t{1} << 20;

    /// A block of at least `size` bytes (aligned for any standard type).
    static void* allocate(std::size_t size) {
        if (size <= max_size) {
            if (small_object_cache* cache = current()) {
                if (void* block = cache->take(class_of(size))) return block;
            }
            return ::operator new(block_size(class_of(size)));
        }
        return ::operator new(size);
    }

    /// Returns a block from `allocate(size)`.
    static void deallocate(void* block, std::size_t size) noexcept {
        if (size > max_size) {
            ::operator delete(block);
            return;
        }
        small_object_cache* cache = current();
        if (cache == nullptr || !cache->keep(class_of(size), block)) ::operator delete(block);
    }

    small_object_cache() = default;
    small_object_cache(const small_object_cache&) = delete;
    small_object_cache& operator=(const small_object_cache&) = delete;
    ~small_object_cache() {
        alive() = false;
        for (list& l : lists_) {
            while (l.head != nullptr) ::operator delete(std::exchange(l.head, l.head->next));
        }
    }

private:
    // Blocks are not cache-line aligned: glibc's aligned allocation costs ~3x a plain one
    // (150 against 50 ns per allocate + free, measured), which a burst larger than the cache
    // would pay on every task.
    static constexpr std::size_t granule = 64;
    static constexpr std::size_t classes = max_size / granule;

    struct free_block {
        free_block* next;
    };
    struct list {
        free_block* head = nullptr;
        std::size_t count = 0;
    };

    static std::size_t class_of(std::size_t size) noexcept { return size == 0 ? 0 : (size - 1) / granule; }
    static std::size_t block_size(std::size_t cls) noexcept { return (cls + 1) * granule; }

    // The calling thread's cache; null while it is being destroyed (thread exit), when blocks go
    // straight to the global allocator.
    static small_object_cache* current() noexcept {
#if defined(__SANITIZE_ADDRESS__)
        // Off under AddressSanitizer: it then sees every allocation and free of a task state
        // (use-after-free reports), and a forked worker's LeakSanitizer does not count the
        // parent threads' cached blocks as leaks.
        return nullptr;
#endif
        if (!alive()) return nullptr;
        thread_local small_object_cache cache;
        return alive() ? &cache : nullptr;
    }
    static bool& alive() noexcept {
        thread_local bool flag = true;
        return flag;
    }

    static constexpr std::size_t batch_size = 64;   // blocks traded at once
    static constexpr std::size_t max_batches = 64;  // batches the exchange holds per size

    /// Batches of free blocks of one size, traded between threads' caches.
    struct exchange {
        std::mutex mutex;
        std::atomic<std::size_t> count{0};               // batches held (read without the lock)
        std::array<free_block*, max_batches> batches{};  // each a chain of batch_size blocks
    };
    static exchange& exchange_for(std::size_t cls) noexcept {
        static auto* const all = new std::array<exchange, classes>;  // never destroyed: threads exit late
        return (*all)[cls];
    }

    void* take(std::size_t cls) noexcept {
        list& l = lists_[cls];
        if (l.head == nullptr && !take_batch(cls, l)) return nullptr;
        --l.count;
        return std::exchange(l.head, l.head->next);
    }
    bool keep(std::size_t cls, void* block) noexcept {
        list& l = lists_[cls];
        if (l.count >= 2 * batch_size) give_batch(cls, l);
        if (l.count >= max_cached_bytes / block_size(cls)) return false;
        l.head = ::new (block) free_block{l.head};
        ++l.count;
        return true;
    }

    // Refills an empty list with a batch from the exchange; false when it has none (or is busy).
    static bool take_batch(std::size_t cls, list& l) noexcept {
        exchange& x = exchange_for(cls);
        if (x.count.load(std::memory_order_relaxed) == 0) return false;
        std::unique_lock lock(x.mutex, std::try_to_lock);
        if (!lock.owns_lock() || x.count.load(std::memory_order_relaxed) == 0) return false;
        const std::size_t n = x.count.load(std::memory_order_relaxed) - 1;
        l.head = x.batches[n];
        l.count = batch_size;
        x.count.store(n, std::memory_order_relaxed);
        return true;
    }

    // Moves batch_size blocks from the head of `l` to the exchange, if it has room (and is free).
    static void give_batch(std::size_t cls, list& l) noexcept {
        exchange& x = exchange_for(cls);
        if (x.count.load(std::memory_order_relaxed) >= max_batches) return;
        std::unique_lock lock(x.mutex, std::try_to_lock);
        const std::size_t n = x.count.load(std::memory_order_relaxed);
        if (!lock.owns_lock() || n >= max_batches) return;
        free_block* first = l.head;
        free_block* last = first;
        for (std::size_t i = 1; i < batch_size; ++i) last = last->next;
        l.head = last->next;
        last->next = nullptr;
        l.count -= batch_size;
        x.batches[n] = first;
        x.count.store(n + 1, std::memory_order_relaxed);
    }

    std::array<list, classes> lists_{};
};

}  // namespace parkit::detail
