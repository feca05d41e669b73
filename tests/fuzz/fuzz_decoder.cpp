/// @file
/// libFuzzer target for the decoders of what crosses a process boundary:
/// `parkit::input_archive` / `from_bytes` over many types, `detail::decode_outcome` (the
/// per-task records of a batch reply), and the message framing itself (`message_reader`, with
/// large and small reads, over a socket full of headers whose announced sizes are arbitrary).
/// The first byte picks the decoder, the rest is the message.
///
/// Arbitrary bytes must give a value or a `parkit::serialization_error` (a refused header for
/// the framing): any other exception, a crash, an over-read (ASan) or an allocation above
/// libFuzzer's -malloc_limit_mb / -rss_limit_mb (run_fuzzers.sh sets both low) is a bug. That
/// is what finds amplification: a short message declaring many large elements, or a header
/// announcing a huge payload that the reader would allocate before it arrives. A value that
/// decodes must also survive an encode/decode round trip unchanged.
///
/// Built and run by tests/fuzz/run_fuzzers.sh (clang++ -fsanitize=fuzzer,address,undefined).
/// Compiled with -DPARKIT_FUZZ_WRITE_CORPUS it is instead a program that writes valid
/// encodings of sample values (the seed corpus, tests/fuzz/corpus/decoder/) into argv[1].

#include <parkit/core/serialization.hpp>
#include <parkit/detail/process/process_io.hpp>
#include <parkit/detail/process/task_codec.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#if __has_include(<Eigen/Dense>)
#include <Eigen/Dense>
#define PARKIT_FUZZ_EIGEN 1
#else
#define PARKIT_FUZZ_EIGEN 0
#endif

namespace {

/// A user type with a cereal-style member serialize (nested containers, optional, variant).
struct user_record {
    std::string name;
    std::vector<int> values;
    std::map<std::string, std::vector<std::string>> tags;
    std::optional<std::int64_t> limit;
    std::variant<std::monostate, int, std::string> extra;
    bool enabled = false;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, values, tags, limit, extra, enabled);
    }
    bool operator==(const user_record&) const = default;
};

/// 32 KB in memory, 8 bytes on the wire: its minimum encoded size is unknown to the decoder.
struct bulky_record {
    std::array<std::string, 1000> cache{};
    std::int64_t key = 0;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(key);
    }
    bool operator==(const bulky_record& other) const { return key == other.key; }
};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_decoder: %s\n", what);
    std::abort();
}

/// Decodes `bytes` as a T: a serialization_error is the clean refusal; anything else escapes
/// (libFuzzer reports it). A decoded value must come back unchanged from a round trip.
template <class T, bool RoundTrip = true>
void decode_as(std::span<const std::byte> bytes) {
    T value{};
    try {
        parkit::input_archive in(bytes);
        in(value);
    } catch (const parkit::serialization_error&) {
        return;
    }
    if constexpr (RoundTrip) {
        if (!(parkit::from_bytes<T>(parkit::to_bytes(value)) == value)) fail("round trip changed a value");
    }
}

/// Decodes `bytes` as a batch reply of up to 64 task outcomes of type R.
template <class R>
void decode_outcomes_as(std::span<const std::byte> bytes) {
    parkit::input_archive in(bytes);
    try {
        for (std::size_t i = 0; i < 64 && in.remaining() > 0; ++i) {
            parkit::detail::decode_outcome<R>(
                in, i, [](auto&&) {},
                [i](const std::exception_ptr& error) {
                    try {
                        std::rethrow_exception(error);
                    } catch (const parkit::remote_error& e) {
                        if (e.index() != i) fail("remote_error with the wrong task index");
                    }
                });
        }
    } catch (const parkit::serialization_error&) {
    }
}

/// The bytes of a message stream built from `bytes`: records of (kind: 4 bytes, announced
/// size: 8 bytes, n: 1 byte, then n payload bytes), each written as a real header (this
/// process's tag) announcing that size, followed by its n bytes whatever the size says.
std::vector<std::byte> message_stream(std::span<const std::byte> bytes) {
    std::vector<std::byte> stream;
    std::uint64_t id = 0;
    while (bytes.size() >= 13) {
        parkit::detail::message_header header{};
        std::memcpy(&header.kind, bytes.data(), 4);
        std::memcpy(&header.size, bytes.data() + 4, 8);
        header.id = id++;
        const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(bytes[12]), bytes.size() - 13);
        const auto* raw = reinterpret_cast<const std::byte*>(&header);
        stream.insert(stream.end(), raw, raw + sizeof header);
        stream.insert(stream.end(), bytes.begin() + 13, bytes.begin() + 13 + static_cast<std::ptrdiff_t>(n));
        bytes = bytes.subspan(13 + n);
    }
    stream.insert(stream.end(), bytes.begin(), bytes.end());
    return stream;
}

/// A socket from which `stream` can be read, then end of stream.
int socket_holding(const std::vector<std::byte>& stream) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) fail("socketpair");
    if (!stream.empty() &&
        ::send(fds[0], stream.data(), stream.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(stream.size()))
        fail("send");
    ::close(fds[0]);
    return fds[1];
}

/// Reads a message stream as a parent reads its workers (64 KiB reads), then as a worker of a
/// per-call map reads its parent (small reads): headers announcing any size must be refused or
/// read as far as the bytes go, never allocated up front.
void read_messages(std::span<const std::byte> bytes) {
    const std::vector<std::byte> stream = message_stream(bytes);
    for (const std::size_t min_read : {std::size_t{64} << 10, std::size_t{64}}) {
        const int fd = socket_holding(stream);
        parkit::detail::message_reader reader(min_read);
        parkit::detail::message_header header{};
        std::span<const std::byte> payload;
        while (!reader.bad() && reader.fill(fd)) {
            while (reader.next(header, payload)) {
                if (payload.size() != header.size) fail("a payload of another size than its header");
            }
        }
        ::close(fd);
    }
}

using decoder = void (*)(std::span<const std::byte>);

/// Every decoder the fuzzer drives; the first input byte picks one (modulo the count).
constexpr decoder decoders[] = {
    &decode_as<std::int32_t>,
    &decode_as<std::uint64_t>,
    &decode_as<double, false>,
    &decode_as<bool>,
    &decode_as<std::string>,
    &decode_as<std::vector<int>>,
    &decode_as<std::vector<std::string>>,
    &decode_as<std::vector<std::vector<double>>, false>,
    &decode_as<std::vector<bool>>,
    &decode_as<std::map<std::string, std::vector<int>>>,
    &decode_as<std::map<int, std::map<std::string, std::string>>>,
    &decode_as<std::unordered_map<std::string, std::int64_t>>,
    &decode_as<std::multimap<int, std::string>>,
    &decode_as<std::set<std::string>>,
    &decode_as<std::unordered_set<std::uint16_t>>,
    &decode_as<std::list<std::string>>,
    &decode_as<std::deque<std::int64_t>>,
    &decode_as<std::array<std::string, 3>>,
    &decode_as<std::optional<std::string>>,
    &decode_as<std::optional<std::vector<std::optional<int>>>>,
    &decode_as<std::variant<int, std::string, std::vector<std::int64_t>, std::monostate>>,
    &decode_as<std::tuple<int, std::string, std::optional<std::uint8_t>>>,
    &decode_as<std::pair<std::string, std::set<int>>>,
    &decode_as<std::tuple<std::string, std::string>>,  // a worker's exception reply
    &decode_as<user_record>,
    &decode_as<std::vector<user_record>>,
    &decode_as<std::map<std::string, user_record>>,
    &decode_outcomes_as<int>,
    &decode_outcomes_as<void>,
    &decode_outcomes_as<std::string>,
    &decode_outcomes_as<std::vector<std::string>>,
    &decode_outcomes_as<user_record>,
#if PARKIT_FUZZ_EIGEN
    &decode_as<Eigen::MatrixXd, false>,
    &decode_as<Eigen::VectorXf, false>,
    &decode_as<Eigen::Matrix3d, false>,
    &decode_as<Eigen::ArrayXXi, false>,
    &decode_as<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, 4, 4>, false>,
#endif
    // Amplification: few bytes on the wire, much in memory per element.
    &decode_as<std::vector<std::array<std::string, 1000>>>,
    &decode_as<std::vector<bulky_record>>,
    &decode_as<std::list<std::array<std::string, 100>>>,
    &decode_as<std::map<std::int32_t, std::array<std::string, 200>>>,
    &read_messages,
};
constexpr std::size_t decoder_count = sizeof decoders / sizeof decoders[0];

}  // namespace

#ifndef PARKIT_FUZZ_WRITE_CORPUS

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto bytes = std::as_bytes(std::span<const std::uint8_t>(data, size));
    decoders[data[0] % decoder_count](bytes.subspan(1));
    return 0;
}

#else  // the seed corpus writer

#include "seed_writer.hpp"

namespace {

using parkit_fuzz::write_seed;

/// Batch reply of `values` (`ok` records) plus one `threw` record.
template <class R>
std::vector<std::byte> outcomes(const std::vector<R>& values) {
    std::vector<std::byte> out;
    for (const R& v : values) parkit::detail::run_and_encode_task<R>(out, [&]() -> const R& { return v; });
    parkit::detail::run_and_encode_task<R>(out, []() -> R { throw std::runtime_error("task failed"); });
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const auto dir = parkit_fuzz::corpus_directory(argc, argv);
    const user_record record{"fin", {1, 2, 3}, {{"unit", {"K", "W"}}}, 42, std::string("x"), true};
    std::size_t d = 0;  // follows the order of `decoders`
    write_seed(dir, d, parkit::to_bytes(std::int32_t{-7}));
    write_seed(dir, d++, parkit::to_bytes(std::int32_t{123456}));
    write_seed(dir, d++, parkit::to_bytes(std::uint64_t{1} << 60));
    write_seed(dir, d++, parkit::to_bytes(3.25));
    write_seed(dir, d++, parkit::to_bytes(true));
    write_seed(dir, d, parkit::to_bytes(std::string()));
    write_seed(dir, d++, parkit::to_bytes(std::string("hello, worker")));
    write_seed(dir, d++, parkit::to_bytes(std::vector<int>{1, -2, 3, 1 << 30}));
    write_seed(dir, d++, parkit::to_bytes(std::vector<std::string>{"a", "", "ccc"}));
    write_seed(dir, d++, parkit::to_bytes(std::vector<std::vector<double>>{{1.5}, {}, {2.0, -3.0}}));
    write_seed(dir, d++, parkit::to_bytes(std::vector<bool>{true, false, true}));
    write_seed(dir, d++, parkit::to_bytes(std::map<std::string, std::vector<int>>{{"a", {1}}, {"b", {2, 3}}}));
    write_seed(dir, d++,
               parkit::to_bytes(std::map<int, std::map<std::string, std::string>>{{1, {{"k", "v"}}}, {2, {}}}));
    write_seed(dir, d++, parkit::to_bytes(std::unordered_map<std::string, std::int64_t>{{"x", 1}, {"y", -1}}));
    write_seed(dir, d++, parkit::to_bytes(std::multimap<int, std::string>{{1, "a"}, {1, "b"}}));
    write_seed(dir, d++, parkit::to_bytes(std::set<std::string>{"p", "q"}));
    write_seed(dir, d++, parkit::to_bytes(std::unordered_set<std::uint16_t>{7, 9}));
    write_seed(dir, d++, parkit::to_bytes(std::list<std::string>{"l1", "l2"}));
    write_seed(dir, d++, parkit::to_bytes(std::deque<std::int64_t>{5, 6, 7}));
    write_seed(dir, d++, parkit::to_bytes(std::array<std::string, 3>{"a", "b", "c"}));
    write_seed(dir, d, parkit::to_bytes(std::optional<std::string>{}));
    write_seed(dir, d++, parkit::to_bytes(std::optional<std::string>{"some"}));
    write_seed(dir, d++, parkit::to_bytes(std::optional<std::vector<std::optional<int>>>{{1, std::nullopt, 3}}));
    using variant_t = std::variant<int, std::string, std::vector<std::int64_t>, std::monostate>;
    write_seed(dir, d, parkit::to_bytes(variant_t{std::string("alt")}));
    write_seed(dir, d, parkit::to_bytes(variant_t{std::vector<std::int64_t>{1, 2}}));
    write_seed(dir, d++, parkit::to_bytes(variant_t{std::monostate{}}));
    write_seed(dir, d++, parkit::to_bytes(std::tuple<int, std::string, std::optional<std::uint8_t>>{1, "t", 2}));
    write_seed(dir, d++, parkit::to_bytes(std::pair<std::string, std::set<int>>{"s", {1, 2}}));
    write_seed(dir, d++, parkit::to_bytes(std::string("std::runtime_error"), std::string("boom")));
    write_seed(dir, d++, parkit::to_bytes(record));
    write_seed(dir, d++, parkit::to_bytes(std::vector<user_record>{record, user_record{}}));
    write_seed(dir, d++, parkit::to_bytes(std::map<std::string, user_record>{{"r", record}}));
    write_seed(dir, d++, outcomes<int>({1, 2, 3}));
    {
        std::vector<std::byte> out;
        parkit::output_archive archive(out);
        parkit::detail::run_and_encode_task<void>(out, [] {});
        parkit::detail::run_and_encode_task<void>(out, [] { throw std::logic_error("void task"); });
        write_seed(dir, d++, out);
    }
    write_seed(dir, d++, outcomes<std::string>({"r1", ""}));
    write_seed(dir, d++, outcomes<std::vector<std::string>>({{"a", "b"}, {}}));
    write_seed(dir, d++, outcomes<user_record>({record}));
#if PARKIT_FUZZ_EIGEN
    write_seed(dir, d++, parkit::to_bytes(Eigen::MatrixXd::Identity(2, 3).eval()));
    write_seed(dir, d++, parkit::to_bytes(Eigen::VectorXf::LinSpaced(4, 0.0f, 1.0f).eval()));
    write_seed(dir, d++, parkit::to_bytes(Eigen::Matrix3d::Ones().eval()));
    write_seed(dir, d++, parkit::to_bytes(Eigen::ArrayXXi::Constant(2, 2, 7).eval()));
    write_seed(dir, d++,
               parkit::to_bytes(Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, 4, 4>::Zero(3, 4).eval()));
#endif
    {
        std::vector<std::array<std::string, 1000>> arrays(2);
        arrays[1][999] = "last";
        write_seed(dir, d++, parkit::to_bytes(arrays));
        std::vector<bulky_record> bulky(3);
        bulky[2].key = 7;
        write_seed(dir, d++, parkit::to_bytes(bulky));
        write_seed(dir, d++, parkit::to_bytes(std::list<std::array<std::string, 100>>(2)));
        write_seed(dir, d++, parkit::to_bytes(std::map<std::int32_t, std::array<std::string, 200>>{{1, {}}, {2, {}}}));
    }
    {
        // Message records (kind, announced size, n, n bytes): a reply, then one announcing more
        // than arrives, then one announcing 1 TiB.
        std::vector<std::byte> records;
        const auto add = [&](std::uint32_t kind, std::uint64_t size, std::size_t n) {
            const auto* k = reinterpret_cast<const std::byte*>(&kind);
            const auto* s = reinterpret_cast<const std::byte*>(&size);
            records.insert(records.end(), k, k + 4);
            records.insert(records.end(), s, s + 8);
            records.push_back(static_cast<std::byte>(n));
            records.insert(records.end(), n, std::byte{0x5a});
        };
        add(2, 4, 4);
        add(5, std::uint64_t{64} << 20, 16);
        write_seed(dir, d, records);
        add(2, std::uint64_t{1} << 40, 8);
        write_seed(dir, d++, records);
    }
    if (d != decoder_count) {
        std::fprintf(stderr, "corpus writer: %zu decoders seeded, %zu exist\n", d, decoder_count);
        return 1;
    }
    return 0;
}

#endif
