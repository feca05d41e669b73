#pragma once
/// @file
/// `parkit::memory`: a transparent disk cache for expensive function calls, like joblib's
/// `Memory`:
/// @code
/// parkit::memory mem{"cache"};
/// auto cached = mem.cache("simulate_v1", expensive_simulation);
/// double r = cached(params);   // computed once, then read from disk, across program runs
/// @endcode
///
/// - Key: MurmurHash3_x64_128 (see detail/support/murmur_hash.hpp for why this hash) of the
///   function's name, its signature and its serialized arguments (`parkit::to_bytes`'s format,
///   so every type the process backend can send works as an argument and as a result, with
///   padding bytes written as zeros: the key is a function of the arguments' values, see
///   detail/cache/cache_key.hpp).
///   The entry stores the full key and a hit compares it, so a hash collision is a miss, never a
///   wrong result. Bump the name ("simulate_v2") when the function's code changes.
/// - One file per entry, `cache_dir/parkit/<name>/<hash>.entry`, written atomically (a
///   temporary file named after its writer's pid + rename), so any number of threads and
///   processes (e.g. `parallel_map` tasks on `backend::processes`) may compute and store the
///   same key at once: readers see a complete entry or none. A truncated or corrupt entry, and
///   anything at an entry's path that is not a regular file of a plausible size (a symlink, a
///   FIFO, a device, more than `detail::max_entry_bytes`), is a miss and is rewritten. Temporary
///   files of writers that died mid-store are removed when a `memory` is opened.
/// - A hit costs one open + fstat + read of a small file plus decoding: a few microseconds. A
///   large hit reads into a block of exactly the file's size, decodes from it and frees it:
///   about 2x the result at the peak, nothing kept afterwards.
/// - Exceptions thrown by the function propagate and nothing is stored. A result that cannot be
///   stored (disk full, cache removed meanwhile) is still returned; the failure is reported as
///   a `store_failed` event.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <unistd.h>

#include "core/serialization.hpp"
#include "detail/cache/cache_entry.hpp"
#include "detail/cache/cache_key.hpp"

namespace parkit {

/// What happened on one call of a cached function.
enum class cache_event_kind {
    hit,           ///< the result was read from disk; the function was not called
    miss,          ///< no entry: the function was called and its result stored
    corrupt,       ///< an entry existed but was unusable (truncated, corrupt, collision); recomputed
    store_failed,  ///< the result was computed and returned but could not be written
};

/// A cache event, given to `memory_options::on_event` (and printed when `verbose`).
struct cache_event {
    cache_event_kind kind = cache_event_kind::hit;  ///< what happened
    std::string_view function;                      ///< the cached function's name
    std::string_view key;                           ///< the entry's key as 32 hex digits
    double compute_s = 0.0;                         ///< seconds the function ran (misses)
    std::string_view reason;                        ///< why an entry was unusable / not stored
};

/// Options of a `parkit::memory`.
struct memory_options {
    /// Print every hit, miss and problem on stderr (`[parkit.memory] hit simulate_v1 3fa2...`).
    bool verbose = false;
    /// Called for every event; never concurrently with itself (calls are serialized).
    std::function<void(const cache_event&)> on_event = {};
};

/// Counts of cache events seen by one `memory` object in this process (all its functions).
struct cache_stats {
    std::uint64_t hits = 0;          ///< results read from disk
    std::uint64_t misses = 0;        ///< results computed (no usable entry)
    std::uint64_t corrupt = 0;       ///< unusable entries found (each also counts as a miss)
    std::uint64_t store_failed = 0;  ///< results that could not be written
};

namespace detail {

/// The state shared by a `memory` and the cached functions it made.
struct memory_state {
    std::string root;  // cache_dir/parkit
    memory_options options;
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    std::atomic<std::uint64_t> corrupt{0};
    std::atomic<std::uint64_t> store_failed{0};
    std::mutex event_mutex;

    [[nodiscard]] bool reports() const noexcept { return options.verbose || options.on_event; }

    void report(const cache_event& event) {
        std::lock_guard lock(event_mutex);
        if (options.verbose) {
            static constexpr const char* kinds[] = {"hit", "miss", "corrupt entry", "store failed"};
            std::fprintf(stderr, "[parkit.memory] %s %.*s %.*s", kinds[static_cast<int>(event.kind)],
                         static_cast<int>(event.function.size()), event.function.data(),
                         static_cast<int>(event.key.size()), event.key.data());
            if (event.kind == cache_event_kind::miss) std::fprintf(stderr, " (computed in %.3f s)", event.compute_s);
            if (!event.reason.empty()) {
                std::fprintf(stderr, " (%.*s)", static_cast<int>(event.reason.size()), event.reason.data());
            }
            std::fputc('\n', stderr);
        }
        if (options.on_event) options.on_event(event);
    }
};

/// A function name usable as a directory name: 1-200 characters from [A-Za-z0-9_.-], not
/// starting with '.'.
inline void check_cache_name(std::string_view name, const char* function) {
    const bool valid_chars = std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
    if (name.empty() || name.size() > 200 || name.front() == '.' || !valid_chars) {
        throw std::invalid_argument(std::string("parkit::memory::") + function + ": name '" + std::string(name) +
                                    "' must be 1-200 characters from [A-Za-z0-9_.-], not starting with '.'");
    }
}

}  // namespace detail

/// A function wrapped by `memory::cache`: call it like the function; results come from disk
/// when an intact entry for the same name and arguments exists. Cheap to copy; safe to call
/// from many threads and processes at once.
template <class F>
class cached_function {
public:
    /// Returns `fn(args...)`, from the cache when possible. The result type must be
    /// serializable and default-constructible (see parkit/core/serialization.hpp), and so must
    /// the arguments be serializable.
    template <class... Args>
    requires std::invocable<const F&, const Args&...>
    auto operator()(const Args&... args) const {
        using R = std::remove_cvref_t<std::invoke_result_t<const F&, const Args&...>>;
        static_assert(!std::is_void_v<R>, "parkit::memory: a cached function must return a value");
        static_assert(is_serializable_v<R> && std::is_default_constructible_v<R>,
                      "parkit::memory: the result type must be serializable and default-constructible "
                      "(see parkit/core/serialization.hpp)");
        static_assert((is_serializable_v<Args> && ...),
                      "parkit::memory: every argument type must be serializable (see parkit/core/serialization.hpp)");

        // The key: name, signature (so a changed argument or result type never decodes an old
        // entry), arguments.
        static const std::string signature = typeid(R(std::remove_cvref_t<Args>...)).name();
        std::vector<std::byte> key;
        key.reserve(64);
        detail::key_writer{key}(name_, signature, args...);
        const detail::hash128 hash = detail::murmur3_128(key);
        const std::string path = directory_ + detail::hash_hex(hash) + ".entry";
        detail::memory_state& state = *state_;

        thread_local detail::read_buffer buffer;
        const char* why = nullptr;
        if (const auto file = detail::read_entry_file(path, buffer, why)) {
            if (auto payload = detail::decode_entry(file->bytes(), hash, key, why)) {
                try {
                    R value = from_bytes<R>(*payload);
                    state.hits.fetch_add(1, std::memory_order_relaxed);
                    if (state.reports()) report(cache_event_kind::hit, hash, 0.0, {});
                    return value;
                } catch (const serialization_error&) {
                    why = "payload does not decode";
                }
            }
        }
        if (why != nullptr) {
            state.corrupt.fetch_add(1, std::memory_order_relaxed);
            if (state.reports()) report(cache_event_kind::corrupt, hash, 0.0, why);
        }

        const auto start = std::chrono::steady_clock::now();
        R value = std::invoke(fn_, args...);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.misses.fetch_add(1, std::memory_order_relaxed);
        if (state.reports()) report(cache_event_kind::miss, hash, seconds, {});
        store(path, hash, key, to_bytes(value));
        return value;
    }

    /// The name given to `memory::cache`.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    friend class memory;
    cached_function(std::shared_ptr<detail::memory_state> state, std::string name, F fn)
        : state_(std::move(state)),
          name_(std::move(name)),
          directory_(state_->root + "/" + name_ + "/"),
          fn_(std::move(fn)) {}

    void report(cache_event_kind kind, const detail::hash128& hash, double seconds, std::string_view reason) const {
        const std::string key = detail::hash_hex(hash);
        state_->report(cache_event{kind, name_, key, seconds, reason});
    }

    // Writes the entry (header, key and payload straight from where they are, no file image
    // assembled); creates the function's directory when it is missing (first store, or after
    // clear()). A failure is reported, never thrown: the caller still gets its result.
    void store(const std::string& path, const detail::hash128& hash, std::span<const std::byte> key,
               std::span<const std::byte> payload) const {
        const char* why = nullptr;
        if (sizeof(detail::entry_header) + key.size() + payload.size() > detail::max_entry_bytes) {
            why = "larger than the cache's entry size limit (max_entry_bytes)";
        } else {
            const detail::entry_header header = detail::make_entry_header(hash, key, payload);
            const auto header_bytes = std::as_bytes(std::span<const detail::entry_header, 1>(&header, 1));
            int error = detail::write_file_atomically(path, {header_bytes, key, payload});
            if (error == ENOENT) {
                std::error_code ignored;
                std::filesystem::create_directories(directory_, ignored);
                error = detail::write_file_atomically(path, {header_bytes, key, payload});
            }
            if (error != 0) why = std::strerror(error);
        }
        if (why != nullptr) {
            state_->store_failed.fetch_add(1, std::memory_order_relaxed);
            if (state_->reports()) report(cache_event_kind::store_failed, hash, 0.0, why);
        }
    }

    std::shared_ptr<detail::memory_state> state_;
    std::string name_;
    std::string directory_;  // root/name/
    F fn_;
};

/// A disk cache directory, like joblib's `Memory(location)`. Entries live in
/// `cache_dir/parkit/`; `clear()` removes only that folder, never other files of `cache_dir`.
/// Several `memory` objects (in one process or many) may share a directory.
class memory {
public:
    /// Opens (creating it if needed) the cache in `cache_dir`, and removes the temporary files
    /// that writers killed mid-store left there (those of processes of this machine that no
    /// longer run, and any untouched for 24 hours; never one of a running writer).
    /// @throws std::invalid_argument naming `cache_dir` when it is empty, cannot be created or
    ///         is not writable.
    explicit memory(const std::filesystem::path& cache_dir, memory_options opts = {})
        : state_(std::make_shared<detail::memory_state>()), cache_dir_(cache_dir) {
        if (cache_dir.empty()) throw std::invalid_argument("parkit::memory: cache_dir is empty");
        state_->root = (cache_dir / "parkit").string();
        state_->options = std::move(opts);
        std::error_code error;
        std::filesystem::create_directories(state_->root, error);
        if (error) {
            throw std::invalid_argument("parkit::memory: cache_dir '" + cache_dir.string() +
                                        "' cannot be created: " + error.message());
        }
        if (::access(state_->root.c_str(), W_OK | X_OK) != 0) {
            throw std::invalid_argument("parkit::memory: cache_dir '" + cache_dir.string() +
                                        "' is not writable: " + std::strerror(errno));
        }
        detail::remove_stale_temporaries(state_->root);
    }

    /// Wraps `fn` so that its results are cached under `name` (1-200 characters from
    /// [A-Za-z0-9_.-]; version it, e.g. "simulate_v2", when `fn` changes).
    /// @throws std::invalid_argument naming `name` when it is not a valid name.
    template <class F>
    cached_function<std::decay_t<F>> cache(std::string name, F&& fn) const {
        detail::check_cache_name(name, "cache");
        return cached_function<std::decay_t<F>>(state_, std::move(name), std::forward<F>(fn));
    }

    /// Removes every entry of this cache directory (of all functions).
    void clear() const {
        std::error_code ignored;
        std::filesystem::remove_all(state_->root, ignored);
        std::filesystem::create_directories(state_->root, ignored);
    }

    /// Removes the entries of the function cached under `name`.
    /// @throws std::invalid_argument naming `name` when it is not a valid name.
    void clear(std::string_view name) const {
        detail::check_cache_name(name, "clear");
        std::error_code ignored;
        std::filesystem::remove_all(std::filesystem::path(state_->root) / name, ignored);
    }

    /// Total size in bytes of the files in the cache (entries and temporary files being written).
    [[nodiscard]] std::uintmax_t size_bytes() const {
        std::uintmax_t total = 0;
        for_each_file([&](const std::filesystem::directory_entry& file) {
            std::error_code error;
            const std::uintmax_t size = file.file_size(error);
            if (!error) total += size;
        });
        return total;
    }

    /// Number of entries in the cache (all functions).
    [[nodiscard]] std::size_t entry_count() const {
        std::size_t count = 0;
        for_each_file([&](const std::filesystem::directory_entry& file) {
            if (file.path().extension() == ".entry") ++count;
        });
        return count;
    }

    /// Events seen by this object and the functions it made, in this process.
    [[nodiscard]] cache_stats stats() const noexcept {
        return {state_->hits.load(), state_->misses.load(), state_->corrupt.load(), state_->store_failed.load()};
    }

    /// The `cache_dir` given to the constructor.
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return cache_dir_; }

private:
    // Calls `visit` for each regular file under the cache root; files that vanish meanwhile
    // (another process clearing or replacing entries) are skipped.
    template <class Visit>
    void for_each_file(Visit visit) const {
        std::error_code error;
        std::filesystem::recursive_directory_iterator it(state_->root, error), end;
        for (; !error && it != end; it.increment(error)) {
            std::error_code type_error;
            if (it->is_regular_file(type_error)) visit(*it);
        }
    }

    std::shared_ptr<detail::memory_state> state_;
    std::filesystem::path cache_dir_;
};

}  // namespace parkit
