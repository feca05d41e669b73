#include <parkit/core/serialization.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace {

struct point {
    double x, y;
    bool operator==(const point&) const = default;
};

struct sample {  // a user type with a cereal-style member serialize
    std::string name;
    std::vector<point> points;
    std::optional<int> tag;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, points, tag);
    }
    bool operator==(const sample&) const = default;
};

struct not_serializable {
    std::string s;
};

template <class T>
T round_trip(const T& value) {
    const std::vector<std::byte> bytes = parkit::to_bytes(value);
    return parkit::from_bytes<T>(bytes);
}

}  // namespace

TEST_CASE("trivially copyable values round-trip by memcpy", "[serialization]") {
    CHECK(round_trip(42) == 42);
    CHECK(round_trip(-1.5e300) == -1.5e300);
    CHECK(round_trip(point{1, 2}) == point{1, 2});
    CHECK(round_trip(std::array<int, 3>{1, 2, 3}) == std::array<int, 3>{1, 2, 3});
    CHECK(parkit::to_bytes(point{1, 2}).size() == sizeof(point));
}

TEST_CASE("standard containers round-trip, nested", "[serialization]") {
    CHECK(round_trip(std::string("hello, world")) == "hello, world");
    CHECK(round_trip(std::string()).empty());
    const std::vector<std::string> strings{"a", "", "ccc"};
    CHECK(round_trip(strings) == strings);
    const std::vector<bool> bits{true, false, true, true};
    CHECK(round_trip(bits) == bits);
    const std::deque<int> dq{3, 1, 4};
    CHECK(round_trip(dq) == dq);
    const std::list<std::string> ls{"x", "y"};
    CHECK(round_trip(ls) == ls);
    const std::map<std::string, std::vector<double>> m{{"x", {1, 2}}, {"y", {}}};
    CHECK(round_trip(m) == m);
    const std::unordered_map<int, std::string> um{{1, "one"}, {2, "two"}};
    CHECK(round_trip(um) == um);
    const std::set<int> st{5, 1, 3};
    CHECK(round_trip(st) == st);
    const std::pair<std::string, int> pr{"p", 7};
    CHECK(round_trip(pr) == pr);
    const std::tuple<int, std::string, std::optional<double>> tp{1, "s", std::nullopt};
    CHECK(round_trip(tp) == tp);
    const std::optional<std::string> opt = "o";
    CHECK(round_trip(opt) == opt);
    const std::variant<int, std::string> var = std::string("v");
    CHECK(round_trip(var) == var);
    const std::vector<std::array<std::string, 2>> nested{{"a", "b"}, {"c", "d"}};
    CHECK(round_trip(nested) == nested);
}

TEST_CASE("a vector of trivially copyable elements travels as one block", "[serialization]") {
    const std::vector<double> big(100'000, 0.25);
    const auto bytes = parkit::to_bytes(big);
    CHECK(bytes.size() == sizeof(std::size_t) + big.size() * sizeof(double));
    CHECK(parkit::from_bytes<std::vector<double>>(bytes) == big);
}

TEST_CASE("user types with a serialize member round-trip", "[serialization]") {
    const sample s{"run-1", {{1, 2}, {3, 4}}, 9};
    CHECK(round_trip(s) == s);
    const std::vector<sample> many{s, sample{"run-2", {}, std::nullopt}};
    CHECK(round_trip(many) == many);
}

TEST_CASE("serializability is known at compile time", "[serialization]") {
    STATIC_REQUIRE(parkit::is_serializable_v<std::map<std::string, std::vector<int>>>);
    STATIC_REQUIRE(parkit::is_serializable_v<sample>);
    STATIC_REQUIRE(parkit::is_serializable_v<std::tuple<int, sample>>);
    STATIC_REQUIRE_FALSE(parkit::is_serializable_v<int*>);
    STATIC_REQUIRE_FALSE(parkit::is_serializable_v<std::vector<const char*>>);
    STATIC_REQUIRE_FALSE(parkit::is_serializable_v<not_serializable>);
    STATIC_REQUIRE_FALSE(parkit::is_serializable_v<std::pair<int, not_serializable>>);
}

TEST_CASE("truncated or corrupt messages throw serialization_error", "[serialization][errors]") {
    std::vector<std::byte> bytes = parkit::to_bytes(std::string("hello"));
    bytes.pop_back();
    CHECK_THROWS_AS(parkit::from_bytes<std::string>(bytes), parkit::serialization_error);
    std::vector<std::byte> huge = parkit::to_bytes(std::size_t{1} << 60);
    CHECK_THROWS_WITH(parkit::from_bytes<std::vector<std::string>>(huge), Catch::Contains("corrupt"));
    std::vector<std::byte> bad_variant = parkit::to_bytes(std::size_t{5});
    CHECK_THROWS_AS((parkit::from_bytes<std::variant<int, double>>(bad_variant)), parkit::serialization_error);
}

namespace {

// 32 KB in memory, 8 bytes on the wire: a user type whose minimum encoding is unknown.
struct bulky {
    std::array<std::string, 1000> cache{};
    std::int64_t key = 0;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(key);
    }
    bool operator==(const bulky& other) const { return key == other.key; }
};

// A 64 KiB message that declares `n` elements and holds nothing else.
std::vector<std::byte> declaring(std::size_t n) {
    std::vector<std::byte> message(64 << 10);
    std::memcpy(message.data(), &n, sizeof n);
    return message;
}

}  // namespace

TEST_CASE("the decoder checks declared element counts against each element's minimum size",
          "[serialization][bad_input]") {
    using parkit::detail::min_encoded_size;
    STATIC_REQUIRE(min_encoded_size<std::array<std::string, 1000>>() == 8000);
    STATIC_REQUIRE(min_encoded_size<std::pair<std::int32_t, std::string>>() == 12);
    STATIC_REQUIRE(min_encoded_size<std::tuple<std::int32_t, bool, std::vector<int>>>() == 13);
    STATIC_REQUIRE(min_encoded_size<std::variant<std::int32_t, std::string>>() == 12);
    STATIC_REQUIRE(min_encoded_size<std::optional<std::string>>() == 1);
    // 65,000 elements of 32 KB declared in 64 KiB: refused before one is constructed.
    using vector_t = std::vector<std::array<std::string, 1000>>;
    CHECK_THROWS_AS(parkit::from_bytes<vector_t>(declaring(65'000)), parkit::serialization_error);
    using map_t = std::map<std::array<std::string, 100>, int>;
    CHECK_THROWS_AS(parkit::from_bytes<map_t>(declaring(65'000)), parkit::serialization_error);
    using list_t = std::list<std::array<std::string, 1000>>;
    CHECK_THROWS_AS(parkit::from_bytes<list_t>(declaring(65'000)), parkit::serialization_error);
    CHECK_THROWS_WITH(parkit::from_bytes<vector_t>(declaring(65'000)),
                      Catch::Contains("65000 elements of at least 8000 bytes"));
}

TEST_CASE("elements of unknown minimum size are built one at a time, as the message holds them",
          "[serialization][bad_input]") {
    // 8,000 bulky elements fit the byte count (8 bytes each) but the message ends after 1,000:
    // a decoder that built the 8,000 first would take 256 MB; this one stops at the 1,001st.
    std::vector<bulky> few(1000);
    for (std::size_t i = 0; i < few.size(); ++i) few[i].key = static_cast<std::int64_t>(i);
    auto bytes = parkit::to_bytes(few);
    const std::size_t declared = 8000;
    std::memcpy(bytes.data(), &declared, sizeof declared);
    bytes.resize(sizeof declared + 8000 * 8 - 1);
    CHECK_THROWS_AS(parkit::from_bytes<std::vector<bulky>>(bytes), parkit::serialization_error);
    // Legitimate data still decodes, in order.
    CHECK(parkit::from_bytes<std::vector<bulky>>(parkit::to_bytes(few)) == few);
    const std::map<std::string, std::vector<std::string>> nested{{"a", {"x", "y"}}, {"b", {}}};
    CHECK(parkit::from_bytes<std::remove_const_t<decltype(nested)>>(parkit::to_bytes(nested)) == nested);
}
