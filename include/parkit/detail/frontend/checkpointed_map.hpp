#pragma once
/// @file
/// `parallel_map` with `options::checkpoint`: every task goes through a `memory::cache`d form of
/// the function, so a finished result is on disk as soon as its task ends (written by the thread,
/// worker process or rank that computed it) and a rerun takes it from there. The map itself is
/// the ordinary one, on any backend, with the checkpoint option cleared.

#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "../../core/options.hpp"
#include "../../core/serialization.hpp"
#include "../../memory.hpp"
#include "../cache/cache_entry.hpp"
#include "../map/argument_checks.hpp"
#include "../support/murmur_hash.hpp"

namespace parkit::detail {

/// The name a checkpointed map stores `F`'s results under: the one given, else one derived
/// from the callable's type (a lambda's or function object's type is its own; a function
/// pointer's is shared by every function of that signature, so it must be named).
/// @throws std::invalid_argument naming `options.checkpoint` for an unnamed plain function.
template <class F>
std::string checkpoint_name(const checkpoint_store& store, const char* call) {
    if (!store.name().empty()) return store.name();
    using callable = std::decay_t<F>;
    if constexpr (std::is_pointer_v<callable> || std::is_member_pointer_v<callable>) {
        throw std::invalid_argument(std::string(call) +
                                    ": options.checkpoint needs a name for a plain function (every function "
                                    "of one signature has the same type): .checkpoint = {parkit::memory{dir}, "
                                    "\"solve_v1\"}");
    } else {
        const std::string type = typeid(callable).name();
        return "map_" + hash_hex(murmur3_128(std::as_bytes(std::span<const char>(type.data(), type.size()))));
    }
}

/// Runs `run(g, opts_without_checkpoint)` where `g(x)` is `f(x)` through the checkpoint's cache.
template <class F, class OnError, class Run>
auto run_checkpointed(F& f, const basic_options<OnError>& opts, const char* call, Run run) {
    const checkpoint_store& store = opts.checkpoint;
    auto cached = store.cache()->cache(checkpoint_name<F>(store, call), std::ref(f));
    basic_options<OnError> inner = opts;
    inner.checkpoint = {};
    auto through_cache = [&cached](const auto& input) { return cached(input); };
    return run(through_cache, inner);
}

/// Whether a map of `F` over `Input` can keep its results in a disk cache: a serializable,
/// default-constructible result and a serializable input (the key).
template <class R, class Input>
inline constexpr bool checkpointable_v =
    !std::is_void_v<R> && is_serializable_v<R> && std::is_default_constructible_v<R> && is_serializable_v<Input>;

/// The refusal of a checkpoint for a map whose inputs or results cannot be stored.
inline std::invalid_argument not_checkpointable(const char* call) {
    return std::invalid_argument(std::string(call) +
                                 ": options.checkpoint needs a function returning a value of a serializable, "
                                 "default-constructible type, and serializable inputs (the key), see "
                                 "parkit/core/serialization.hpp");
}

}  // namespace parkit::detail
