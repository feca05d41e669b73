#pragma once
/// @file
/// Test helper shared by the statistics and Monte Carlo tests: a sample cut into pieces, as the
/// kernels' parallel blocks store it.

#include <algorithm>
#include <cstddef>
#include <random>
#include <span>
#include <vector>

namespace parkit_test {

/// `values` cut into pieces of pseudo-random sizes 0..max_piece, with an empty piece first and
/// last (empty pieces must change nothing).
inline std::vector<std::span<const double>> random_pieces(const std::vector<double>& values, std::size_t max_piece,
                                                          unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> size(0, max_piece);
    std::vector<std::span<const double>> pieces{std::span<const double>()};
    for (std::size_t at = 0; at < values.size();) {
        const std::size_t n = std::min(size(rng), values.size() - at);
        pieces.emplace_back(values.data() + at, n);
        at += n;
    }
    pieces.emplace_back(values.data() + values.size(), 0);
    return pieces;
}

}  // namespace parkit_test
