#pragma once
/// @file
/// `parkit::lines(stream)`: the lines of a `std::istream` as a single-pass input range, the
/// input of a stream over a file (`std::views::istream<std::string>` reads words, not lines,
/// and does not compile with clang 14 and libstdc++ 12).

#include <cstddef>
#include <istream>
#include <iterator>
#include <string>

namespace parkit {

/// The lines of an input stream, read one at a time as the range is iterated (without the
/// '\n'; a last line without one counts too). Single pass: `begin()` reads the first line.
class line_range {
public:
    /// The lines of `in`, which must outlive the range.
    explicit line_range(std::istream& in) noexcept : in_(&in) {}

    /// An iterator over the lines: `*it` is the current line.
    class iterator {
    public:
        using value_type = std::string;                    ///< one line
        using difference_type = std::ptrdiff_t;            ///< for the iterator concepts
        using iterator_concept = std::input_iterator_tag;  ///< single pass

        iterator() = default;
        /// The current line.
        const std::string& operator*() const noexcept { return range_->line_; }
        /// Reads the next line.
        iterator& operator++() {
            range_->read();
            return *this;
        }
        /// Same as prefix increment.
        void operator++(int) { range_->read(); }
        /// True after the last line.
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.range_ == nullptr || it.range_->exhausted();
        }

    private:
        friend class line_range;
        explicit iterator(line_range* range) noexcept : range_(range) {}
        line_range* range_ = nullptr;
    };

    /// Reads the first line and returns an iterator at it.
    iterator begin() {
        read();
        return iterator(this);
    }
    /// The end of the stream.
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }
    /// True once the stream has no more lines.
    [[nodiscard]] bool exhausted() const noexcept { return done_; }

private:
    void read() {
        if (!std::getline(*in_, line_)) done_ = true;
    }
    std::istream* in_;
    std::string line_;
    bool done_ = false;
};

/// The lines of `in` as an input range: `for (auto& r : parkit::imap(parse, parkit::lines(file)))`.
[[nodiscard]] inline line_range lines(std::istream& in) noexcept {
    return line_range(in);
}

}  // namespace parkit
