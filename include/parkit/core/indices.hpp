#pragma once
/// @file
/// `parkit::indices`: the index range [first, last) to map or loop over.

#include <cstddef>

#include "../detail/support/iota_range.hpp"

namespace parkit {

/// The indices [0, n) as a sized random-access range of `std::size_t`:
/// `parkit::parallel_map(f, parkit::indices(n))`. It does what `std::views::iota(0, n)` does
/// (which parkit accepts too), but also compiles with Debian 12's clang 14, whose libstdc++ 12
/// `iota_view` clang cannot compile.
constexpr detail::iota_range indices(std::size_t n) noexcept {
    return detail::iota_range{0, n};
}

/// The indices [first, last) (empty when last <= first), as `indices(n)`.
constexpr detail::iota_range indices(std::size_t first, std::size_t last) noexcept {
    return detail::iota_range{first, last};
}

}  // namespace parkit
