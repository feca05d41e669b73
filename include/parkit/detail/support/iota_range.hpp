#pragma once
/// @file
/// `iota_range`: the half-open range of indices [first, last) as a sized random-access
/// range. parkit uses it instead of `std::views::iota` because Debian 12's clang 14 cannot
/// compile libstdc++ 12's `iota_view` (its `ranges::begin` constraints fail), which made
/// every header that named it unusable with clang.

#include <compare>
#include <cstddef>
#include <iterator>

namespace parkit::detail {

/// The integers [first, last) of type `I` (empty when last <= first), usable wherever parkit
/// takes a sized range: `for (std::size_t i : iota_range{0, n})`,
/// `parallel_map(f, iota_range{0, n})`; `basic_iota_range<int>` stands in for
/// `std::views::iota(0, n)` where clang 14 cannot build the latter.
template <class I>
class basic_iota_range {
public:
    /// Random-access iterator over the indices; dereferences to the index itself.
    class iterator {
    public:
        using iterator_concept = std::random_access_iterator_tag;
        using iterator_category = std::random_access_iterator_tag;
        using value_type = I;
        using difference_type = std::ptrdiff_t;
        using reference = I;
        using pointer = void;

        constexpr iterator() = default;
        constexpr explicit iterator(I i) : i_(i) {}
        constexpr I operator*() const { return i_; }
        constexpr I operator[](difference_type n) const { return static_cast<I>(i_ + static_cast<I>(n)); }
        constexpr iterator& operator++() {
            ++i_;
            return *this;
        }
        constexpr iterator operator++(int) {
            iterator t = *this;
            ++i_;
            return t;
        }
        constexpr iterator& operator--() {
            --i_;
            return *this;
        }
        constexpr iterator operator--(int) {
            iterator t = *this;
            --i_;
            return t;
        }
        constexpr iterator& operator+=(difference_type n) {
            i_ = static_cast<I>(i_ + static_cast<I>(n));
            return *this;
        }
        constexpr iterator& operator-=(difference_type n) {
            i_ = static_cast<I>(i_ - static_cast<I>(n));
            return *this;
        }
        friend constexpr iterator operator+(iterator a, difference_type n) { return a += n; }
        friend constexpr iterator operator+(difference_type n, iterator a) { return a += n; }
        friend constexpr iterator operator-(iterator a, difference_type n) { return a -= n; }
        friend constexpr difference_type operator-(iterator a, iterator b) {
            return static_cast<difference_type>(a.i_ - b.i_);
        }
        friend constexpr bool operator==(iterator a, iterator b) = default;
        friend constexpr auto operator<=>(iterator a, iterator b) = default;

    private:
        I i_ = 0;
    };

    constexpr basic_iota_range() = default;
    /// The integers [first, last); empty when last <= first.
    constexpr basic_iota_range(I first, I last) noexcept : first_(first), last_(last < first ? first : last) {}

    constexpr iterator begin() const { return iterator{first_}; }
    constexpr iterator end() const { return iterator{last_}; }
    constexpr std::size_t size() const { return static_cast<std::size_t>(last_ - first_); }

private:
    I first_ = 0;
    I last_ = 0;
};

/// The indices [first, last) as `std::size_t`: what `parkit::indices` returns.
using iota_range = basic_iota_range<std::size_t>;

}  // namespace parkit::detail
