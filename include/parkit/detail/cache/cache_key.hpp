#pragma once
/// @file
/// The key bytes of a `parkit::memory` call: the arguments serialized as `parkit::to_bytes`
/// does, except that no padding byte ever gets in. `to_bytes` copies a trivially copyable value
/// with `memcpy`, padding included, and padding bytes are indeterminate: two equal arguments
/// (`struct { char c; double x; }` built in different places) could give different keys and
/// miss the cache. Here the key is a function of the value only: padding bytes are written as
/// zeros.
///
/// Which bytes of a type are padding is found at compile time: `std::bit_cast` of a value-
/// initialized `T` to bytes is a constant expression exactly for the bytes that belong to a
/// member's value (reading a padding byte in a constant expression is ill-formed), so one
/// concept check per byte gives the mask. Types for which this cannot be evaluated (no constant
/// default construction, unions, larger than `max_masked_bytes`) are written as `to_bytes`
/// writes them; `std::array`s and containers of padded elements are written element by element,
/// and types with a member `serialize` through it, field by field.

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../../core/serialization.hpp"

namespace parkit::detail {

/// Largest trivially copyable type whose padding is found at compile time (one constant
/// evaluation of a `bit_cast` per byte); larger ones are written as `to_bytes` writes them.
inline constexpr std::size_t max_masked_bytes = 256;

/// Byte `I` of a value-initialized `T`, read in a constant expression.
template <class T, std::size_t I>
constexpr bool read_value_byte() {
    const auto bytes = std::bit_cast<std::array<unsigned char, sizeof(T)>>(T{});
    return bytes[I] == bytes[I];
}

/// Byte `I` of `T` holds part of a member's value (it is not padding).
template <class T, std::size_t I>
concept value_byte = requires {
    typename std::integral_constant<bool, read_value_byte<T, I>()>;
};

/// `T{}` is a constant expression, so its bytes can be examined at compile time.
template <class T>
concept constant_default = requires {
    typename std::integral_constant<bool, (static_cast<void>(T{}), true)>;
};

/// Which bytes of `T` are value bytes (true) and which are padding (false).
template <class T>
inline constexpr std::array<bool, sizeof(T)> value_byte_mask = [] {
    if constexpr (std::is_same_v<std::remove_cv_t<T>, long double> && std::numeric_limits<long double>::digits == 64) {
        std::array<bool, sizeof(T)> mask{};  // x87 extended precision: 10 value bytes, then padding
        for (std::size_t i = 0; i < 10 && i < sizeof(T); ++i) mask[i] = true;
        return mask;
    } else {
        return []<std::size_t... I>(std::index_sequence<I...>) {
            return std::array<bool, sizeof(T)>{value_byte<T, I>...};
        }
        (std::make_index_sequence<sizeof(T)>{});
    }
}();

/// How the key writes a trivially copyable `T`: 0 = its bytes as they are (no padding, or its
/// padding cannot be found), 1 = padding bytes zeroed, 2 = element by element (`std::array`).
template <class T>
inline constexpr int trivial_key_layout = [] {
    if constexpr (!std::is_trivially_copyable_v<T>) {
        return 0;
    } else if constexpr (std::is_scalar_v<T> && !std::is_same_v<std::remove_cv_t<T>, long double>) {
        return 0;
    } else if constexpr (std::has_unique_object_representations_v<T> || std::is_empty_v<T>) {
        return 0;
    } else if constexpr (std::is_same_v<std::remove_cv_t<T>, long double>) {
        return std::numeric_limits<long double>::digits == 64 ? 1 : 0;
    } else if constexpr (is_std_array_v<T>) {
        return trivial_key_layout<typename T::value_type> == 0 ? 0 : 2;
    } else if constexpr (sizeof(T) <= max_masked_bytes && constant_default<T>) {
        constexpr auto mask = value_byte_mask<T>;
        bool any = false;
        bool all = true;
        for (const bool b : mask) {
            any = any || b;
            all = all && b;
        }
        return any && !all ? 1 : 0;  // none: the check could not be evaluated (a union, ...)
    } else {
        return 0;
    }
}();

/// True when `to_bytes` of a `T` depends on its value only, so the key can use it as is.
template <class T>
inline constexpr bool key_bytes_are_value = [] {
    using U = std::remove_cvref_t<T>;
    if constexpr (memcpy_serializable<U>) {
        return trivial_key_layout<U> == 0;
    } else if constexpr (std::is_same_v<U, bool> || eigen_dense<U>) {
        return true;
    } else if constexpr (contiguous_container<U> || list_like<U> || associative<U> || is_std_array_v<U> ||
                         is_specialization_v<U, std::optional>) {
        return key_bytes_are_value<typename U::value_type>;
    } else if constexpr (is_specialization_v<U, std::pair>) {
        return key_bytes_are_value<typename U::first_type> && key_bytes_are_value<typename U::second_type>;
    } else if constexpr (is_specialization_v<U, std::tuple> || is_specialization_v<U, std::variant>) {
        return []<template <class...> class Template, class... Ts>(std::type_identity<Template<Ts...>>) {
            return (key_bytes_are_value<Ts> && ...);
        }(std::type_identity<U>{});
    } else {
        return !has_member_serialize<U>;  // member serialize: field by field below
    }
}();

/// Appends the key bytes of values to a buffer, in `to_bytes`'s format with padding zeroed.
/// Call `key(a, b, c)`; also the archive a member `serialize` of an argument is called with.
class key_writer {
public:
    /// A writer appending to `buffer`.
    explicit key_writer(std::vector<std::byte>& buffer) noexcept : out_(buffer) {}

    /// Appends every value in order.
    template <class... Ts>
    key_writer& operator()(const Ts&... values) {
        (save(values), ...);
        return *this;
    }

private:
    template <class T>
    void save(const T& value) {
        if constexpr (key_bytes_are_value<T>) {
            out_(value);
        } else if constexpr (memcpy_serializable<T> && trivial_key_layout<T> == 1) {
            constexpr auto mask = value_byte_mask<T>;
            std::array<std::byte, sizeof(T)> bytes;
            std::memcpy(bytes.data(), &value, sizeof(T));
            for (std::size_t i = 0; i < sizeof(T); ++i) {
                if (!mask[i]) bytes[i] = std::byte{0};
            }
            out_.write_bytes(bytes.data(), bytes.size());
        } else if constexpr (is_std_array_v<T>) {
            for (const auto& element : value) save(element);
        } else if constexpr (contiguous_container<T> || list_like<T> || associative<T>) {
            out_(static_cast<std::size_t>(value.size()));
            for (const auto& element : value) save(static_cast<const typename T::value_type&>(element));
        } else if constexpr (is_specialization_v<T, std::pair>) {
            save(value.first);
            save(value.second);
        } else if constexpr (is_specialization_v<T, std::tuple>) {
            std::apply(
                [this](const auto&... members) {
                    static_cast<void>(this);  // used by no member of an empty tuple
                    (save(members), ...);
                },
                value);
        } else if constexpr (is_specialization_v<T, std::optional>) {
            out_(value.has_value());
            if (value) save(*value);
        } else if constexpr (is_specialization_v<T, std::variant>) {
            out_(value.index());
            std::visit([this](const auto& alternative) { save(alternative); }, value);
        } else if constexpr (requires(T & v, key_writer & w) { v.serialize(w); }) {
            const_cast<T&>(value).serialize(*this);  // cereal's convention, as output_archive
        } else {
            out_(value);
        }
    }

    output_archive out_;
};

}  // namespace parkit::detail
