#pragma once
/// @file
/// The compile-time checks of a `parallel_map` call (`parkit::parallel_map` and
/// `parkit::threads::parallel_map`): each mistake stops the build with one line saying what to
/// write, instead of the compiler listing every overload with its constraints.

#include <concepts>
#include <ranges>
#include <type_traits>
#include <vector>

#include "../../core/collected.hpp"
#include "../../core/options.hpp"

namespace parkit::detail {

/// Whether `parallel_map(f, inputs)` can run; when not, a static_assert says why in one line
/// (instead of the compiler listing every overload with its constraints) and the call
/// compiles no further.
template <class F, class Range>
constexpr bool map_arguments_fit() {
    if constexpr (!std::ranges::range<Range>) {
        static_assert(std::ranges::range<Range> && false,
                      "parkit::parallel_map: inputs must be a range (a vector, an array, parkit::indices(n), ...)");
        return false;
    } else if constexpr (!std::ranges::sized_range<Range>) {
        static_assert(std::ranges::sized_range<Range> && false,
                      "parkit::parallel_map: inputs must be a sized range (a filter view is not): collect it into "
                      "a std::vector first, or stream it with parkit::imap");
        return false;
    } else if constexpr (!std::invocable<F&, std::ranges::range_reference_t<Range>>) {
        static_assert(std::is_invocable_v<F&, std::ranges::range_reference_t<Range>> && false,
                      "parkit::parallel_map: f cannot be called with an element of inputs (check the type of "
                      "f's parameter against the element type)");
        return false;
    } else {
        return true;
    }
}

/// The `f` of a `parallel_map` call that names an overload set or a function template, such as
/// `std::sqrt`: no callable type can be deduced from such a name, so no ordinary overload
/// applies and the compiler would list every one of them with its reason. This parameter type
/// takes the name instead (converting it to a pointer to the member that fits the element type
/// `V`), so that the overload that has it is chosen and stops the build with one line saying
/// what to write. Any other `f` needs no conversion and takes the ordinary overloads.
template <class V>
struct unresolved_function {
    // NOLINTBEGIN(google-explicit-constructor): the conversion is the point
    unresolved_function(V (*)(V)) noexcept {}
    unresolved_function(V (*)(const V&)) noexcept {}
    template <class R>
    unresolved_function(R (*)(V)) noexcept {}
    template <class R>
    unresolved_function(R (*)(const V&)) noexcept {}
    // NOLINTEND(google-explicit-constructor)
};

/// False, but only once `T` is known: a static_assert on it fires when its template is used.
template <class T>
inline constexpr bool always_false_v = false;

/// The body of the overload that takes an `unresolved_function`: stops the build with one line
/// saying to pass a lambda, and returns the type a real call would (no follow-up errors).
template <class Range, class Options>
auto reject_unresolved_function(const unresolved_function<std::ranges::range_value_t<Range>>&, const Range&,
                                const Options&) {
    static_assert(always_false_v<Range>,
                  "parkit::parallel_map: f names an overload set (such as std::sqrt) "
                  "or a function template: pass a lambda, e.g. [](double x) { "
                  "return std::sqrt(x); }");
    if constexpr (std::same_as<Options, collect_options>)
        return collected<std::ranges::range_value_t<Range>>{};
    else
        return std::vector<std::ranges::range_value_t<Range>>{};
}

}  // namespace parkit::detail
