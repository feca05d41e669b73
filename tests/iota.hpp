#pragma once
/// @file
/// `parkit_test::iota(first, last)`: `std::views::iota(first, last)` where the compiler can
/// build it, parkit's own typed integer range where it cannot (clang 14 with libstdc++ 12
/// rejects every `iota_view`), so the whole suite also builds with clang.

#include <parkit/detail/support/iota_range.hpp>

#include <concepts>
#include <ranges>

namespace parkit_test {

#if defined(__clang__) && __clang_major__ < 16 && defined(__GLIBCXX__)
/// The integers [first, last) as a sized random-access range of `I`.
template <std::integral I>
constexpr parkit::detail::basic_iota_range<I> iota(I first, I last) noexcept {
    return {first, last};
}
#else
/// The integers [first, last): `std::views::iota(first, last)`.
template <std::integral I>
constexpr auto iota(I first, I last) noexcept {
    return std::views::iota(first, last);
}
#endif

}  // namespace parkit_test
