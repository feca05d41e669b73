#pragma once
/// @file
/// The child side of `parkit::process_pool`: what runs inside a worker process. The loop
/// (`process_worker_main`) that takes the tasks the parent sent, claims and runs each one and
/// sends its reply, and the trampolines that rebuild a task's callable and arguments from
/// bytes (`process_pool::submit`, `map` batches, `imap` batches). The parent side (scheduler,
/// futures, respawn) is in process_pool.hpp.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../core/errors.hpp"
#include "../../core/serialization.hpp"
#include "../task/worker_context.hpp"
#include "process_io.hpp"
#include "task_codec.hpp"

namespace parkit::detail {

/// Runs one task inside a worker: decodes the arguments, calls the function, encodes the
/// result (or the exception's type and message) into `out`; returns the reply's kind.
using process_trampoline = message_kind (*)(std::span<const std::byte> payload, std::vector<std::byte>& out);

/// Whether `F` can be called in a worker process: a function pointer (same address after
/// fork) or a class without state (a lambda without captures), rebuilt there by default
/// construction.
template <class F>
inline constexpr bool transferable_callable_v = (std::is_pointer_v<F> &&
                                                 std::is_function_v<std::remove_pointer_t<F>>) ||
                                                (std::is_class_v<F> && std::is_empty_v<F> &&
                                                 std::is_default_constructible_v<F>);

/// Replaces `out` by one failed outcome (task_codec.hpp) for the exception being handled: a
/// message that could not be run at all (undecodable, an initializer that failed, a reply over
/// the size limit).
inline void encode_current_exception(std::vector<std::byte>& out) {
    out.clear();
    output_archive archive{out};
    encode_task_failure(archive, std::current_exception());
}

/// The worker side of `process_pool::submit<F, Args...>`.
template <class F, class R, class... Args>
message_kind run_transferred_task(std::span<const std::byte> payload, std::vector<std::byte>& out) {
    try {
        input_archive in(payload);
        F fn{};
        if constexpr (std::is_pointer_v<F>) in.read_bytes(&fn, sizeof fn);
        std::tuple<Args...> args{};
        std::apply([&](Args&... a) { in(a...); }, args);
        run_and_encode_task<R>(out, [&]() -> decltype(auto) { return std::apply(fn, std::move(args)); });
        return message_kind::result;
    } catch (...) {
        encode_current_exception(out);
        return message_kind::exception;
    }
}

/// The worker side of one batch of inputs: decodes `count` inputs one at a time and appends
/// each task's outcome (see task_codec.hpp), so one failing input fails only itself.
template <class R, class In, class Fn>
message_kind run_batch_inputs(input_archive& in, Fn& fn, std::vector<std::byte>& out) {
    std::uint64_t count = 0;
    in(count);
    In x{};
    for (std::uint64_t i = 0; i < count; ++i) {
        in(x);
        run_and_encode_task<R>(out, [&]() -> decltype(auto) { return std::invoke(fn, std::as_const(x)); });
    }
    return message_kind::result;
}

/// The worker side of one `process_pool::map` batch: the callable is rebuilt (see
/// `transferable_callable_v`), then `run_batch_inputs`.
template <class F, class R, class In>
message_kind run_transferred_batch(std::span<const std::byte> payload, std::vector<std::byte>& out) {
    try {
        input_archive in(payload);
        F fn{};
        if constexpr (std::is_pointer_v<F>) in.read_bytes(&fn, sizeof fn);
        return run_batch_inputs<R, In>(in, fn, out);
    } catch (...) {
        encode_current_exception(out);  // the batch itself could not be decoded
        return message_kind::exception;
    }
}

/// The worker side of an `imap` batch on processes: the callable (any callable, captures and
/// all) is not rebuilt but used where it was in the parent when the pool was made: the
/// workers are forks of that moment, so it is at the same address in each of them.
template <class F, class R, class In>
message_kind run_addressed_batch(std::span<const std::byte> payload, std::vector<std::byte>& out) {
    try {
        input_archive in(payload);
        F* fn = nullptr;
        in.read_bytes(static_cast<void*>(&fn), sizeof fn);
        return run_batch_inputs<R, In>(in, *fn, out);
    } catch (...) {
        encode_current_exception(out);
        return message_kind::exception;
    }
}

/// Microseconds since `start`, saturated to fit a message header.
inline std::uint32_t elapsed_us_since(std::chrono::steady_clock::time_point start) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    return static_cast<std::uint32_t>(std::clamp<long long>(us.count(), 0, std::numeric_limits<std::uint32_t>::max()));
}

/// Bit of a worker's claim counter (see claim_task) set by the parent to withdraw the tasks
/// sent to that worker that it has not started.
inline constexpr std::uint64_t claims_closed = std::uint64_t{1} << 63;

/// A pool worker's claim before it starts a task it was sent: increments its counter of
/// started tasks, unless the parent has closed it (then the task was taken back and runs on
/// another worker: this one skips it). One compare-exchange decides between the two, so a task
/// never runs twice and never not at all.
inline bool claim_task(std::atomic<std::uint64_t>& claims) noexcept {
    std::uint64_t seen = claims.load(std::memory_order_acquire);
    while ((seen & claims_closed) == 0) {
        if (claims.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
}

/// What every worker of a `process_pool` gets from the pool (memory the fork server and the
/// workers inherit): the shared claim counters and the user's initializer (may be empty).
struct process_worker_setup {
    std::atomic<std::uint64_t>* claims = nullptr;        ///< one per slot (see claim_task)
    const std::function<void()>* initializer = nullptr;  ///< run once per worker process
};

/// The worker loop: runs tasks in the order they arrive until the parent closes the socket.
/// One `recv` takes in every task the parent has sent so far; each reply (with the task's run
/// time) goes out as soon as its task ends, so for the parent the oldest unanswered task is
/// always the one running. `context` is the pool's `process_worker_setup`: the claim counters
/// (one per slot; the task message names the slot, which is also `this_worker::index()`), a
/// task whose claim fails is skipped without a reply; and the initializer, run when the worker
/// starts: when it throws, every task of this worker fails with a `parkit::initializer_error`
/// message instead of running. A result larger than
/// `max_message_bytes` comes back as an exception instead.
inline void process_worker_main(int fd, void* context) {
    const auto* setup = static_cast<const process_worker_setup*>(context);
    std::atomic<std::uint64_t>* claims = setup != nullptr ? setup->claims : nullptr;
    std::string initializer_failure;
    if (setup != nullptr && setup->initializer != nullptr && *setup->initializer) {
        try {
            (*setup->initializer)();
        } catch (...) {
            const std::exception_ptr error = std::current_exception();
            initializer_failure =
                "parkit::process_pool: the initializer threw in a worker process: " + exception_type_name(error) +
                ": " + exception_message(error);
        }
    }
    message_reader inbox;
    message_header header{};
    std::span<const std::byte> payload;
    std::vector<std::byte> out;
    for (;;) {
        while (!inbox.next(header, payload)) {
            if (inbox.bad() || !inbox.fill(fd)) return;
        }
        if (header.kind != message_kind::task || payload.size() < sizeof(process_trampoline)) leave_worker(71);
        if (claims != nullptr && header.slot != no_slot && !claim_task(claims[header.slot])) continue;
        if (header.slot != no_slot) become_process_worker(header.slot);
        process_trampoline run = nullptr;
        std::memcpy(&run, payload.data(), sizeof run);
        out.clear();
        const auto start = std::chrono::steady_clock::now();
        message_kind kind = message_kind::exception;
        if (initializer_failure.empty()) {
            kind = run(payload.subspan(sizeof run), out);
        } else {
            output_archive archive{out};
            encode_task_failure(archive, "parkit::initializer_error", initializer_failure);
        }
        if (out.size() > max_message_bytes) {
            try {
                throw serialization_error("parkit::process_pool: the task's result takes " +
                                          std::to_string(out.size()) + " bytes, over the limit of " +
                                          std::to_string(max_message_bytes) +
                                          " between processes (PARKIT_MAX_MESSAGE_BYTES)");
            } catch (...) {
                encode_current_exception(out);
                kind = message_kind::exception;
            }
        }
        if (!send_message(fd, kind, header.id, out, elapsed_us_since(start))) break;
    }
}

}  // namespace parkit::detail
