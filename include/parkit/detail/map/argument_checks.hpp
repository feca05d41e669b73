#pragma once
/// @file
/// Argument checks shared by the executors and `parallel_map`: a task function that is not
/// null, and a per-task time limit that is a usable number of seconds.

#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace parkit::detail {

/// Largest per-task time limit accepted, in seconds (about 31 years): larger values would
/// overflow the nanosecond clocks the limits are measured with.
inline constexpr double max_task_timeout_s = 1e9;

template <class T>
inline constexpr bool is_std_function_v = false;
template <class Signature>
inline constexpr bool is_std_function_v<std::function<Signature>> = true;

/// Refuses a null function pointer (or member pointer, or an empty std::function) as the task
/// `argument` of `call`, which would otherwise crash a worker later.
/// @throws std::invalid_argument naming `call` and `argument`.
template <class F>
void require_callable(const F& f, const char* call, const char* argument) {
    using U = std::remove_cvref_t<F>;
    if constexpr (std::is_pointer_v<U> || std::is_member_pointer_v<U> || is_std_function_v<U>) {
        if (!f)
            throw std::invalid_argument(std::string(call) + ": " + argument +
                                        " is a null function pointer (or an empty std::function)");
    }
}

/// Checks a per-task time limit: finite, >= 0 (0 = no limit) and at most max_task_timeout_s.
/// @throws std::invalid_argument naming `name` (e.g. "parkit::parallel_map: options.task_timeout_s").
inline void require_valid_timeout(double seconds, const char* name) {
    if (!(seconds >= 0.0 && seconds <= max_task_timeout_s))
        throw std::invalid_argument(std::string(name) + " = " + std::to_string(seconds) +
                                    " is invalid: use a finite number of seconds >= 0 (0 = no limit, at most 1e9)");
}

}  // namespace parkit::detail
