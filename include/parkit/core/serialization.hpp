#pragma once
/// @file
/// Binary serialization of task arguments and results for the process backend.
///
/// What can travel between processes:
/// - trivially copyable types (numbers, enums, plain structs, std::array of them): memcpy;
/// - std::string, std::vector, std::deque, std::list, std::array, std::map, std::multimap,
///   std::unordered_map, std::set, std::unordered_set, std::pair, std::tuple,
///   std::optional, std::variant, std::monostate, nested arbitrarily; contiguous
///   containers of trivially copyable elements are copied in one block;
/// - Eigen dense matrices and arrays (anything with `Scalar`, `rows()`, `cols()`, `data()`,
///   `resize(r, c)`), no Eigen include needed;
/// - user types with a cereal-style member
///   `template <class Archive> void serialize(Archive& ar) { ar(field1, field2); }`;
/// - when cereal (`libcereal-dev`) is installed, anything cereal's BinaryArchive can
///   serialize (non-member `serialize`, `save`/`load` pairs, the types of `cereal/types/*`
///   you include), through a cereal binary archive.
///
/// The standard containers are handled here rather than through cereal because the core must
/// need nothing but the standard library, and because a direct byte buffer avoids cereal's
/// std::ostream layer (a virtual call per write), which matters for millions of tiny tasks.
/// A user type written for cereal works unchanged with parkit's archives.
///
/// Pointers are refused at compile time: an address means nothing in another process (the
/// process pool sends its task's function pointer itself: workers are forks of one binary).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#if __has_include(<cereal/archives/binary.hpp>) && !defined(PARKIT_NO_CEREAL)
#include <cereal/archives/binary.hpp>
#include <sstream>
#define PARKIT_HAS_CEREAL 1
#else
#define PARKIT_HAS_CEREAL 0
#endif

namespace parkit {

/// Thrown when a message between processes cannot be decoded (truncated or corrupt data).
class serialization_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class output_archive;
class input_archive;

namespace detail {

/// Whether `T` is `Template<...>` for some arguments.
template <class T, template <class...> class Template>
inline constexpr bool is_specialization_v = false;
/// See the primary template.
template <template <class...> class Template, class... Args>
inline constexpr bool is_specialization_v<Template<Args...>, Template> = true;

template <class T>
inline constexpr bool is_std_array_v = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array_v<std::array<T, N>> = true;

/// Trivially copyable types with byte patterns that are no valid value (a bool other than 0/1,
/// an optional's flag, a variant's index): sent member by member so that the reader can check
/// them, since a corrupt message must give serialization_error, not undefined behaviour.
template <class T>
inline constexpr bool has_invalid_byte_patterns_v =
    std::is_same_v<T, bool> || is_specialization_v<T, std::optional> || is_specialization_v<T, std::variant>;
template <class T, std::size_t N>
inline constexpr bool has_invalid_byte_patterns_v<std::array<T, N>> = has_invalid_byte_patterns_v<T>;

/// Types sent as raw bytes.
template <class T>
concept memcpy_serializable = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                              !std::is_member_pointer_v<T> && !has_invalid_byte_patterns_v<T>;

/// Eigen dense matrices and arrays (structural check, no Eigen include).
template <class T>
concept eigen_dense = requires(T m, const T cm) {
    typename T::Scalar;
    T::RowsAtCompileTime;
    { cm.rows() } -> std::convertible_to<std::ptrdiff_t>;
    { cm.cols() } -> std::convertible_to<std::ptrdiff_t>;
    {cm.data()};
    m.resize(std::ptrdiff_t{}, std::ptrdiff_t{});
};

/// User types with a cereal-style member serialize(Archive&).
template <class T>
concept has_member_serialize = requires(T& value, output_archive& out, input_archive& in) {
    value.serialize(out);
    value.serialize(in);
};

/// Sequence containers whose elements are stored contiguously (vector, basic_string).
template <class T>
concept contiguous_container = requires(T c) {
    typename T::value_type;
    { c.data() } -> std::convertible_to<const typename T::value_type*>;
    c.resize(std::size_t{});
}
&&(is_specialization_v<T, std::vector> || is_specialization_v<T, std::basic_string>);

template <class T>
concept list_like = is_specialization_v<T, std::deque> || is_specialization_v<T, std::list> ||
    (is_specialization_v<T, std::vector> && !contiguous_container<T>);  // vector<bool>

template <class T>
concept associative = is_specialization_v<T, std::map> || is_specialization_v<T, std::multimap> ||
    is_specialization_v<T, std::unordered_map> || is_specialization_v<T, std::unordered_multimap> ||
    is_specialization_v<T, std::set> || is_specialization_v<T, std::multiset> ||
    is_specialization_v<T, std::unordered_set> || is_specialization_v<T, std::unordered_multiset>;

#if PARKIT_HAS_CEREAL
template <class T>
concept cereal_serializable = cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;
#else
template <class T>
concept cereal_serializable = false;
#endif

template <class T>
inline constexpr bool all_alternatives_serializable = false;

}  // namespace detail

/// True when values of `T` can be sent to and received from a worker process.
template <class T>
inline constexpr bool is_serializable_v = [] {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_pointer_v<U> || std::is_member_pointer_v<U>)
        return false;
    else if constexpr (detail::memcpy_serializable<U> || std::is_same_v<U, bool>)
        return true;
    else if constexpr (detail::contiguous_container<U> || detail::list_like<U> || detail::associative<U> ||
                       detail::is_std_array_v<U>)
        return is_serializable_v<typename U::value_type>;
    else if constexpr (detail::is_specialization_v<U, std::pair>)
        return is_serializable_v<std::remove_const_t<typename U::first_type>> &&
               is_serializable_v<typename U::second_type>;
    else if constexpr (detail::is_specialization_v<U, std::optional>)
        return is_serializable_v<typename U::value_type>;
    else if constexpr (detail::is_specialization_v<U, std::tuple> || detail::is_specialization_v<U, std::variant>)
        return detail::all_alternatives_serializable<U>;
    else if constexpr (detail::eigen_dense<U> || detail::has_member_serialize<U> || detail::cereal_serializable<U>)
        return true;
    else
        return false;
}();

namespace detail {
/// A variant-like `Template<Ts...>`: serializable when every alternative is.
template <template <class...> class Template, class... Ts>
inline constexpr bool all_alternatives_serializable<Template<Ts...>> = (is_serializable_v<Ts> && ...);

/// Named in the compiler's error when a type cannot travel between processes.
template <class T>
struct type_cannot_be_sent_to_another_process : std::false_type {};

/// What an associative container's elements are decoded as: its value_type, or for a map
/// a (key, mapped) pair (value_type's const key cannot be loaded into).
template <class T>
struct decoded_element {
    using type = typename T::value_type;  ///< a set's element
};
/// See the primary template.
template <class T>
requires requires {
    typename T::mapped_type;
}
struct decoded_element<T> {
    using type = std::pair<typename T::key_type, typename T::mapped_type>;  ///< a map's (key, mapped)
};

template <class T>
constexpr std::size_t min_encoded_size() noexcept;

/// Sum of the smallest encodings of a tuple's members.
template <class T>
inline constexpr std::size_t tuple_min_encoded_size_v = 0;
/// See the primary template.
template <class... Ts>
inline constexpr std::size_t tuple_min_encoded_size_v<std::tuple<Ts...>> = (min_encoded_size<Ts>() + ... + 0);

/// Smallest encoding among a variant's alternatives.
template <class T>
inline constexpr std::size_t variant_min_encoded_size_v = 0;
/// See the primary template.
template <class... Ts>
inline constexpr std::size_t variant_min_encoded_size_v<std::variant<Ts...>> = std::min({min_encoded_size<Ts>()...});

/// Fewest bytes any value of `T` takes in a message (following `output_archive`'s cases), so a
/// decoder can check that a declared element count fits the bytes left before it constructs
/// one element. 0 when unknown (user `serialize` members, whose fields are not visible here).
template <class T>
constexpr std::size_t min_encoded_size() noexcept {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, bool>)
        return 1;
    else if constexpr (memcpy_serializable<U>)
        return sizeof(U);
    else if constexpr (contiguous_container<U> || list_like<U> || associative<U>)
        return sizeof(std::size_t);
    else if constexpr (is_std_array_v<U>)
        return std::tuple_size_v<U> * min_encoded_size<typename U::value_type>();
    else if constexpr (is_specialization_v<U, std::pair>)
        return min_encoded_size<typename U::first_type>() + min_encoded_size<typename U::second_type>();
    else if constexpr (is_specialization_v<U, std::tuple>)
        return tuple_min_encoded_size_v<U>;
    else if constexpr (is_specialization_v<U, std::optional>)
        return 1;
    else if constexpr (is_specialization_v<U, std::variant>)
        return sizeof(std::size_t) + variant_min_encoded_size_v<U>;
    else if constexpr (eigen_dense<U>)
        return 2 * sizeof(std::int64_t);
    else if constexpr (has_member_serialize<U>)
        return 0;
    else if constexpr (cereal_serializable<U>)
        return sizeof(std::size_t);  // sent as a string
    else
        return 0;
}
}  // namespace detail

/// Writes values into a byte buffer. Call `ar(a, b, c)`, like a cereal archive.
class output_archive {
public:
    /// An archive appending to `buffer`.
    explicit output_archive(std::vector<std::byte>& buffer) noexcept : buffer_(&buffer) {}

    /// Appends every value in order.
    template <class... Ts>
    output_archive& operator()(const Ts&... values) {
        (save(values), ...);
        return *this;
    }

    /// Appends `size` raw bytes.
    void write_bytes(const void* data, std::size_t size) {
        if (size == 0) return;
        const std::size_t old = buffer_->size();
        buffer_->resize(old + size);
        std::memcpy(buffer_->data() + old, data, size);
    }

private:
    void save_size(std::size_t n) { write_bytes(&n, sizeof n); }

    template <class T>
    void save(const T& value) {
        using namespace detail;
        if constexpr (std::is_empty_v<T> && memcpy_serializable<T>) {
            const std::array<std::byte, sizeof(T)> zeros{};  // an empty type's byte is uninitialized
            write_bytes(zeros.data(), zeros.size());
        } else if constexpr (memcpy_serializable<T> || std::is_same_v<T, bool>) {
            write_bytes(&value, sizeof(T));
        } else if constexpr (std::is_pointer_v<T> || std::is_member_pointer_v<T>) {
            static_assert(type_cannot_be_sent_to_another_process<T>::value,
                          "parkit: a pointer cannot be sent to another process (its address means "
                          "nothing there); send the value it points to instead");
        } else if constexpr (contiguous_container<T>) {
            save_size(value.size());
            if constexpr (memcpy_serializable<typename T::value_type>)
                write_bytes(value.data(), value.size() * sizeof(typename T::value_type));
            else
                for (const auto& element : value) save(element);
        } else if constexpr (is_std_array_v<T> || list_like<T>) {
            if constexpr (!is_std_array_v<T>) save_size(value.size());
            for (const auto& element : value) save(static_cast<const typename T::value_type&>(element));
        } else if constexpr (associative<T>) {
            save_size(value.size());
            for (const auto& element : value) save(element);
        } else if constexpr (is_specialization_v<T, std::pair>) {
            save(value.first);
            save(value.second);
        } else if constexpr (is_specialization_v<T, std::tuple>) {
            std::apply([this](const auto&... members) { (save(members), ...); }, value);
        } else if constexpr (is_specialization_v<T, std::optional>) {
            save(value.has_value());
            if (value) save(*value);
        } else if constexpr (is_specialization_v<T, std::variant>) {
            save(value.index());
            std::visit([this](const auto& alternative) { save(alternative); }, value);
        } else if constexpr (eigen_dense<T>) {
            save(static_cast<std::int64_t>(value.rows()));
            save(static_cast<std::int64_t>(value.cols()));
            write_bytes(value.data(),
                        static_cast<std::size_t>(value.rows() * value.cols()) * sizeof(typename T::Scalar));
        } else if constexpr (has_member_serialize<T>) {
            const_cast<T&>(value).serialize(*this);  // cereal's convention: one member for both ways
        } else if constexpr (cereal_serializable<T>) {
#if PARKIT_HAS_CEREAL
            std::ostringstream stream(std::ios::binary);
            {
                cereal::BinaryOutputArchive archive(stream);
                archive(value);
            }
            save(std::move(stream).str());
#endif
        } else {
            static_assert(type_cannot_be_sent_to_another_process<T>::value,
                          "parkit: this type cannot be sent to a worker process. Make it trivially "
                          "copyable, or add a member `template <class Archive> void serialize(Archive& ar) "
                          "{ ar(field1, field2, ...); }` (cereal's protocol), or a cereal save/load pair");
        }
    }

    std::vector<std::byte>* buffer_;
};

/// Reads values written by output_archive. Call `ar(a, b, c)` with the same types in the
/// same order; throws serialization_error on truncated data.
class input_archive {
public:
    /// An archive reading `bytes`.
    explicit input_archive(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

    /// Reads every value in order.
    template <class... Ts>
    input_archive& operator()(Ts&... values) {
        (load(values), ...);
        return *this;
    }

    /// Reads `size` raw bytes.
    void read_bytes(void* data, std::size_t size) {
        if (size > bytes_.size() - position_)
            throw serialization_error("parkit: truncated message from another process (wanted " + std::to_string(size) +
                                      " bytes, " + std::to_string(bytes_.size() - position_) + " left)");
        if (size != 0) std::memcpy(data, bytes_.data() + position_, size);
        position_ += size;
    }

    /// Bytes not read yet.
    [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - position_; }

private:
    // Reads an element count and checks, before anything is constructed, that `n` elements of
    // E fit in the bytes left: each takes at least min_encoded_size<E>() bytes (at least one
    // when unknown), so a short message cannot make the decoder build a huge container.
    template <class E>
    std::size_t load_count() {
        std::size_t n = 0;
        read_bytes(&n, sizeof n);
        const std::size_t element_bytes = std::max<std::size_t>(detail::min_encoded_size<E>(), 1);
        if (n > remaining() / element_bytes)
            throw serialization_error("parkit: corrupt message from another process (" + std::to_string(n) +
                                      " elements of at least " + std::to_string(element_bytes) + " bytes declared, " +
                                      std::to_string(remaining()) + " bytes left)");
        return n;
    }

    // Decodes `n` elements one at a time, each default-constructed only when its turn comes:
    // what is built never outgrows what the message really holds (an element of unknown
    // minimum size may be far larger in memory than on the wire).
    template <class E, class Append>
    void load_elements(std::size_t n, Append&& append) {
        for (std::size_t i = 0; i < n; ++i) {
            E element{};
            load(element);
            append(std::move(element));
        }
    }

    template <class T>
    void load(T& value) {
        using namespace detail;
        if constexpr (std::is_same_v<T, bool>) {
            // A byte other than 0 or 1 is no valid bool: reading it as one would be undefined.
            unsigned char byte = 0;
            read_bytes(&byte, 1);
            if (byte > 1) throw serialization_error("parkit: corrupt bool in a message from another process");
            value = byte != 0;
        } else if constexpr (memcpy_serializable<T>) {
            read_bytes(&value, sizeof(T));
        } else if constexpr (contiguous_container<T>) {
            using E = typename T::value_type;
            const std::size_t n = load_count<E>();
            if constexpr (memcpy_serializable<E>) {
                value.resize(n);
                read_bytes(value.data(), value.size() * sizeof(E));
            } else {
                value.clear();
                load_elements<E>(n, [&](E&& element) { value.push_back(std::move(element)); });
            }
        } else if constexpr (is_std_array_v<T>) {
            for (auto& element : value) load(element);
        } else if constexpr (list_like<T>) {
            using E = typename T::value_type;
            const std::size_t n = load_count<E>();
            value.clear();
            load_elements<E>(n, [&](E&& element) { value.push_back(std::move(element)); });
        } else if constexpr (associative<T>) {
            using E = typename decoded_element<T>::type;
            const std::size_t n = load_count<E>();
            value.clear();
            load_elements<E>(n, [&](E&& element) { value.insert(std::move(element)); });
        } else if constexpr (is_specialization_v<T, std::pair>) {
            load(value.first);
            load(value.second);
        } else if constexpr (is_specialization_v<T, std::tuple>) {
            std::apply([this](auto&... members) { (load(members), ...); }, value);
        } else if constexpr (is_specialization_v<T, std::optional>) {
            bool engaged = false;
            load(engaged);
            if (!engaged) {
                value.reset();
            } else {
                value.emplace();
                load(*value);
            }
        } else if constexpr (is_specialization_v<T, std::variant>) {
            std::size_t index = 0;
            load(index);
            load_variant(value, index, std::make_index_sequence<std::variant_size_v<T>>{});
        } else if constexpr (eigen_dense<T>) {
            std::int64_t rows = 0, cols = 0;
            load(rows);
            load(cols);
            // Sizes checked by division (a product could overflow) and against a fixed-size
            // type's shape (resizing it to another shape is undefined) before resizing.
            const std::size_t max_elements = remaining() / sizeof(typename T::Scalar);
            if (rows < 0 || cols < 0 || !eigen_shape_fits<T>(rows, cols) ||
                (rows != 0 && static_cast<std::size_t>(cols) > max_elements / static_cast<std::size_t>(rows)))
                throw serialization_error("parkit: corrupt matrix in a message from another process");
            value.resize(rows, cols);
            read_bytes(value.data(),
                       static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * sizeof(typename T::Scalar));
        } else if constexpr (has_member_serialize<T>) {
            value.serialize(*this);
        } else if constexpr (cereal_serializable<T>) {
#if PARKIT_HAS_CEREAL
            std::string bytes;
            load(bytes);
            std::istringstream stream(std::move(bytes), std::ios::binary);
            cereal::BinaryInputArchive archive(stream);
            archive(value);
#endif
        } else {
            static_assert(type_cannot_be_sent_to_another_process<T>::value,
                          "parkit: this type cannot be received from a worker process (see output_archive)");
        }
    }

    // Whether an Eigen type of compile-time shape T can hold rows x cols (-1 = Dynamic).
    template <class T>
    static bool eigen_shape_fits(std::int64_t rows, std::int64_t cols) noexcept {
        const auto fits = [](std::int64_t n, std::int64_t fixed, std::int64_t max) {
            return (fixed < 0 || n == fixed) && (max < 0 || n <= max);
        };
        std::int64_t fixed_rows = T::RowsAtCompileTime, fixed_cols = -1, max_rows = -1, max_cols = -1;
        if constexpr (requires { T::ColsAtCompileTime; }) fixed_cols = T::ColsAtCompileTime;
        if constexpr (requires { T::MaxRowsAtCompileTime; }) max_rows = T::MaxRowsAtCompileTime;
        if constexpr (requires { T::MaxColsAtCompileTime; }) max_cols = T::MaxColsAtCompileTime;
        return fits(rows, fixed_rows, max_rows) && fits(cols, fixed_cols, max_cols);
    }

    template <class V, std::size_t... I>
    void load_variant(V& value, std::size_t index, std::index_sequence<I...>) {
        if (index >= sizeof...(I))
            throw serialization_error("parkit: corrupt variant in a message from another process");
        (void)((index == I ? (load(value.template emplace<I>()), true) : false) || ...);
    }

    std::span<const std::byte> bytes_;
    std::size_t position_ = 0;
};

/// Serializes `values...` into a new byte buffer.
template <class... Ts>
std::vector<std::byte> to_bytes(const Ts&... values) {
    std::vector<std::byte> buffer;
    output_archive{buffer}(values...);
    return buffer;
}

/// Deserializes one value of type `T` (default-constructible) from `bytes`.
template <class T>
T from_bytes(std::span<const std::byte> bytes) {
    static_assert(std::is_default_constructible_v<T>,
                  "parkit: a type received from a worker process must be default-constructible");
    T value{};
    input_archive{bytes}(value);
    return value;
}

}  // namespace parkit
