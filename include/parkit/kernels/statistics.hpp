#pragma once
/// @file
/// Summary statistics of a sample, numpy-compatible (np.mean, np.std with ddof=0,
/// np.percentile with linear interpolation). Used by the Monte Carlo kernels.
///
/// Two ways in: `summarize(values)` for one contiguous sample, and `summarize_pieces` for a
/// sample stored in pieces (e.g. the blocks of a Monte Carlo study, made in parallel tasks)
/// without concatenating them. The pieces' moments merge in piece order (`partial_moments`,
/// Chan et al.'s formula) and the percentiles are exact order statistics found by a bracketed
/// selection whose counting pass runs through a caller-supplied parallel `for_each`, so the
/// percentiles equal `summarize`'s bit for bit and the mean / std agree to rounding (~1e-15
/// relative for the mean, ~1e-13 for the std on well-conditioned data).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parkit::kernels {

/// Mean, standard deviation and a two-sided percentile interval of a sample.
struct sample_summary {
    std::size_t count = 0; ///< number of values
    double mean = 0;       ///< arithmetic mean
    double stddev = 0;     ///< population standard deviation (numpy's default, ddof = 0)
    double lower = 0;      ///< lower percentile (e.g. 2.5 %)
    double upper = 0;      ///< upper percentile (e.g. 97.5 %)
};

/// Count, sum and M2 (sum of squared deviations from the mean) of a piece of a sample:
/// computed where the piece is made, merged in piece order into the moments of the whole.
struct partial_moments {
    std::size_t count = 0; ///< number of values
    double sum = 0;        ///< their sum, left to right
    double m2 = 0;         ///< sum of (value − sum / count)², left to right

    /// Moments of `values` in two passes (sum, then squared deviations from sum / count): the
    /// arithmetic `summarize` has always used for the mean and std.
    [[nodiscard]] static partial_moments of(std::span<const double> values) noexcept {
        partial_moments m;
        m.count = values.size();
        for (double v : values) m.sum += v;
        const double mean = m.mean();
        for (double v : values) m.m2 += (v - mean) * (v - mean);
        return m;
    }

    /// Appends the piece `next` (the one after this): counts and sums add; M2 follows Chan,
    /// Golub & LeVeque's pairwise formula M2 = M2_a + M2_b + δ² n_a n_b / n, δ = mean_b − mean_a.
    partial_moments& merge(const partial_moments& next) noexcept {
        if (next.count == 0) return *this;
        if (count == 0) return *this = next;
        const double na = static_cast<double>(count);
        const double nb = static_cast<double>(next.count);
        const double delta = next.mean() - mean();
        m2 += next.m2 + delta * delta * (na * nb / (na + nb));
        sum += next.sum;
        count += next.count;
        return *this;
    }

    /// sum / count (0 for no values).
    [[nodiscard]] double mean() const noexcept { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
    /// Population variance M2 / count (numpy's ddof = 0; 0 for no values).
    [[nodiscard]] double variance() const noexcept { return count == 0 ? 0.0 : m2 / static_cast<double>(count); }
};

/// The default `for_each` of the piecewise statistics: `body(i)` for i in [0, n) on the calling
/// thread. A parallel one (threads, OpenMP, TBB, ...) may call the bodies concurrently and in
/// any order; each writes only its own slot.
struct sequential_for_each {
    /// Calls `body(i)` for i = 0, 1, ..., n − 1.
    template <class Body>
    void operator()(std::size_t n, Body&& body) const {
        for (std::size_t i = 0; i < n; ++i) body(i);
    }
};

namespace detail {

/// Where the q-th percentile of n sorted values lies: between ranks `below` and `below + 1`,
/// `fraction` of the way (numpy's linear rule, rank = q / 100 · (n − 1)).
struct percentile_rank {
    std::size_t below = 0; ///< rank of the lower neighbour (0-based)
    double fraction = 0;   ///< weight of the upper neighbour, in [0, 1)

    /// Last rank the percentile reads: `below + 1` when it interpolates, else `below`.
    [[nodiscard]] std::size_t last() const noexcept { return fraction == 0.0 ? below : below + 1; }
};

/// Rank of the q-th percentile of n > 0 values; `where` names the calling function.
/// @throws std::invalid_argument if q is outside [0, 100].
inline percentile_rank rank_of_percentile(std::size_t n, double q, const char* where) {
    if (!(q >= 0.0 && q <= 100.0))
        throw std::invalid_argument(std::string("parkit::kernels::") + where + ": q must be in [0, 100], got " +
                                    std::to_string(q));
    const double rank = q / 100.0 * static_cast<double>(n - 1);
    percentile_rank r;
    r.below = static_cast<std::size_t>(std::floor(rank));
    r.fraction = rank - static_cast<double>(r.below);
    if (r.below + 1 >= n) r.fraction = 0.0; // rank n − 1: nothing above to interpolate with
    return r;
}

/// The value `rank.fraction` of the way from the `index`-th to the next smallest of `values`
/// (reorders them); `index` plays the role of `rank.below` within `values`.
inline double interpolate_in_place(std::span<double> values, std::size_t index, double fraction) {
    const auto at = values.begin() + static_cast<std::ptrdiff_t>(index);
    std::nth_element(values.begin(), at, values.end());
    const double low = *at;
    if (fraction == 0.0) return low;
    const double high = *std::min_element(at + 1, values.end());
    return low + fraction * (high - low);
}

/// Total number of values in `pieces`.
inline std::size_t total_size(std::span<const std::span<const double>> pieces) noexcept {
    std::size_t n = 0;
    for (const auto& piece : pieces) n += piece.size();
    return n;
}

/// All values of `pieces`, concatenated in order.
inline std::vector<double> concatenate(std::span<const std::span<const double>> pieces) {
    std::vector<double> all;
    all.reserve(total_size(pieces));
    for (const auto& piece : pieces) all.insert(all.end(), piece.begin(), piece.end());
    return all;
}

/// Every `stride`-th value of the concatenated pieces (global positions 0, stride, 2·stride, ...),
/// at most `count` of them: a deterministic sample to place the selection brackets.
inline std::vector<double> strided_sample(std::span<const std::span<const double>> pieces, std::size_t stride,
                                          std::size_t count) {
    std::vector<double> sample;
    sample.reserve(count);
    std::size_t next = 0;  // global position of the next sampled value
    std::size_t start = 0; // global position of the current piece's first value
    for (const auto& piece : pieces) {
        for (; next < start + piece.size() && sample.size() < count; next += stride)
            sample.push_back(piece[next - start]);
        start += piece.size();
    }
    return sample;
}

/// A value range [lo, hi] that should hold the ranks a percentile reads.
struct value_bracket {
    double lo = -std::numeric_limits<double>::infinity(); ///< smallest candidate value
    double hi = std::numeric_limits<double>::infinity();  ///< largest candidate value
};

/// The `index`-th smallest value of `sample` (reorders it).
inline double sample_order_statistic(std::vector<double>& sample, std::size_t index) {
    const auto at = sample.begin() + static_cast<std::ptrdiff_t>(index);
    std::nth_element(sample.begin(), at, sample.end());
    return *at;
}

/// Bracket for the ranks [rank.below, rank.last()] of n values from a sample of them: the
/// sample's order statistics 4 binomial standard deviations (+ 2) either side of where those
/// ranks fall in it; an unbounded side where that runs off the sample.
inline value_bracket bracket_from_sample(std::vector<double>& sample, std::size_t n, const percentile_rank& rank) {
    const double m = static_cast<double>(sample.size());
    const double p = static_cast<double>(rank.below) / static_cast<double>(n);
    const double margin = 4.0 * std::sqrt(m * p * (1.0 - p)) + 2.0;
    const double first = std::floor(static_cast<double>(rank.below) * m / static_cast<double>(n) - margin);
    const double last = std::ceil(static_cast<double>(rank.last() + 1) * m / static_cast<double>(n) + margin);
    value_bracket b;
    if (first >= 0.0) b.lo = sample_order_statistic(sample, static_cast<std::size_t>(first));
    if (last < m) b.hi = sample_order_statistic(sample, static_cast<std::size_t>(last));
    return b;
}

/// What one piece holds relative to a bracket: how many values lie below it and which inside.
struct bracket_tally {
    std::size_t below = 0;      ///< values < lo
    std::vector<double> inside; ///< values in [lo, hi]
};

/// Tallies `piece` against each of `brackets` into the matching entry of `tallies` (bounds and
/// count in locals, so the loop keeps them in registers; gathered values are rare by
/// construction of the brackets).
inline void tally_piece(std::span<const double> piece, std::span<const value_bracket> brackets,
                        std::span<bracket_tally> tallies) {
    for (std::size_t k = 0; k < brackets.size(); ++k) {
        const double lo = brackets[k].lo;
        const double hi = brackets[k].hi;
        std::size_t below = 0;
        std::vector<double>& inside = tallies[k].inside;
        for (double v : piece) {
            below += static_cast<std::size_t>(v < lo);
            if (v >= lo && v <= hi) [[unlikely]] inside.push_back(v);
        }
        tallies[k].below = below;
    }
}

/// Sets `result` to the percentile at `rank` from the tallies of every piece against its bracket
/// (`tallies[i * stride]` for piece i) and returns true; returns false if the bracket misses a
/// rank it needs (the caller then falls back to a full selection).
inline bool percentile_from_tallies(std::span<const bracket_tally> tallies, std::size_t stride,
                                    const percentile_rank& rank, double& result) {
    std::size_t below = 0;
    std::size_t inside = 0;
    for (std::size_t i = 0; i < tallies.size(); i += stride) {
        below += tallies[i].below;
        inside += tallies[i].inside.size();
    }
    if (below > rank.below || rank.last() >= below + inside) return false;
    std::vector<double> candidates;
    candidates.reserve(inside);
    for (std::size_t i = 0; i < tallies.size(); i += stride)
        candidates.insert(candidates.end(), tallies[i].inside.begin(), tallies[i].inside.end());
    result = interpolate_in_place(candidates, rank.below - below, rank.fraction);
    return true;
}

/// Samples at most this many values to place the brackets; samples of up to twice it are
/// selected directly (a copy and nth_element cost less than a bracketed pass there).
inline constexpr std::size_t default_percentile_sample = std::size_t{1} << 15;

/// `percentiles_of_pieces` with the sample size as a parameter (tests force the bracketed path
/// on small samples with a small `sample_size`; sample_size >= 1).
template <class ForEach>
std::vector<double> percentiles_of_pieces(std::span<const std::span<const double>> pieces, std::span<const double> qs,
                                          ForEach&& for_each, std::size_t sample_size) {
    const std::size_t n = total_size(pieces);
    if (n == 0) throw std::invalid_argument("parkit::kernels::percentiles_of_pieces: pieces hold no values");
    std::vector<percentile_rank> ranks;
    for (double q : qs) ranks.push_back(rank_of_percentile(n, q, "percentiles_of_pieces"));
    std::vector<double> results(qs.size());
    std::vector<double> all; // the full selection's copy, made only when needed
    const auto full_selection = [&](std::size_t k) {
        if (all.empty()) all = concatenate(pieces);
        results[k] = interpolate_in_place(all, ranks[k].below, ranks[k].fraction);
    };
    if (n <= 2 * sample_size) {
        for (std::size_t k = 0; k < ranks.size(); ++k) full_selection(k);
        return results;
    }
    std::vector<double> sample = strided_sample(pieces, n / sample_size, sample_size);
    std::vector<value_bracket> brackets;
    for (const auto& rank : ranks) brackets.push_back(bracket_from_sample(sample, n, rank));
    // tallies[i * brackets + k]: piece i against bracket k; body i writes only piece i's slots.
    const std::size_t stride = brackets.size();
    std::vector<bracket_tally> tallies(stride * pieces.size());
    for_each(pieces.size(), [&](std::size_t i) {
        tally_piece(pieces[i], brackets, std::span(tallies).subspan(i * stride, stride));
    });
    for (std::size_t k = 0; k < ranks.size(); ++k) {
        const std::span<const bracket_tally> mine = std::span<const bracket_tally>(tallies).subspan(k);
        if (!percentile_from_tallies(mine, stride, ranks[k], results[k])) full_selection(k);
    }
    return results;
}

/// A summary from the merged moments of a sample and its two percentiles.
inline sample_summary make_summary(const partial_moments& m, double lower, double upper) noexcept {
    return {.count = m.count, .mean = m.mean(), .stddev = std::sqrt(m.variance()), .lower = lower, .upper = upper};
}

} // namespace detail

/// The q-th percentile (0 <= q <= 100) of `values`, interpolated linearly between the
/// closest ranks exactly like `np.percentile(values, q)`. Reorders `values`.
/// @throws std::invalid_argument if `values` is empty or q is outside [0, 100].
inline double percentile_in_place(std::span<double> values, double q) {
    if (values.empty()) throw std::invalid_argument("parkit::kernels::percentile: values is empty");
    const auto rank = detail::rank_of_percentile(values.size(), q, "percentile");
    return detail::interpolate_in_place(values, rank.below, rank.fraction);
}

/// Mean, population standard deviation and the [lower_q, upper_q] percentiles of `values`
/// (defaults: the 95 % interval, 2.5 and 97.5). Summation runs in input order, so equal
/// inputs give bit-identical summaries.
/// @throws std::invalid_argument if `values` is empty or a percentile is outside [0, 100].
inline sample_summary summarize(std::span<const double> values, double lower_q = 2.5, double upper_q = 97.5) {
    if (values.empty()) throw std::invalid_argument("parkit::kernels::summarize: values is empty");
    std::vector<double> scratch(values.begin(), values.end());
    const double lower = percentile_in_place(scratch, lower_q);
    const double upper = percentile_in_place(scratch, upper_q);
    return detail::make_summary(partial_moments::of(values), lower, upper);
}

/// The q-th percentiles (each 0 <= q <= 100, numpy's linear rule) of the sample made of
/// `pieces` in order, without concatenating them: exactly what `percentile_in_place` gives on
/// the concatenation. Large samples (over 65,536 values): a strided sample of 32,768 values
/// places a bracket [lo, hi] around the ranks each q reads; `for_each(pieces.size(), body)`
/// counts per piece the values below lo and gathers those inside (the pass over all values,
/// parallel if `for_each` is); the percentile is then selected among the gathered candidates.
/// A bracket that misses (data far from exchangeable, e.g. periodic with the sample's stride)
/// falls back to a selection over all values. NaNs are not supported (as in `summarize`).
/// @throws std::invalid_argument if the pieces hold no values or a q is outside [0, 100].
template <class ForEach = sequential_for_each>
std::vector<double> percentiles_of_pieces(std::span<const std::span<const double>> pieces, std::span<const double> qs,
                                          ForEach&& for_each = {}) {
    return detail::percentiles_of_pieces(pieces, qs, for_each, detail::default_percentile_sample);
}

/// Summary of the sample made of `pieces` in order, given each piece's moments (e.g. computed
/// by the task that made it): the moments merge in piece order (`partial_moments::merge`), so
/// the result depends only on how the sample is cut, not on who computed what; the
/// percentiles are `percentiles_of_pieces` (exactly `summarize`'s). Mean and std agree with
/// `summarize` on the concatenation to rounding.
/// @throws std::invalid_argument if the pieces hold no values, `moments` does not have one
/// entry per piece, or a percentile is outside [0, 100].
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces,
                                std::span<const partial_moments> moments, double lower_q = 2.5,
                                double upper_q = 97.5, ForEach&& for_each = {}) {
    if (moments.size() != pieces.size())
        throw std::invalid_argument("parkit::kernels::summarize_pieces: moments has " + std::to_string(moments.size()) +
                                    " entries for " + std::to_string(pieces.size()) + " pieces");
    partial_moments all;
    for (const auto& m : moments) all.merge(m);
    const double qs[] = {lower_q, upper_q};
    const auto p = percentiles_of_pieces(pieces, qs, for_each);
    return detail::make_summary(all, p[0], p[1]);
}

/// Summary of the sample made of `pieces` in order; each piece's moments are computed through
/// `for_each` too (see the overload taking them).
/// @throws std::invalid_argument if the pieces hold no values or a percentile is outside [0, 100].
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces, double lower_q = 2.5,
                                double upper_q = 97.5, ForEach&& for_each = {}) {
    std::vector<partial_moments> moments(pieces.size());
    for_each(pieces.size(), [&](std::size_t i) { moments[i] = partial_moments::of(pieces[i]); });
    return summarize_pieces(pieces, moments, lower_q, upper_q, for_each);
}

} // namespace parkit::kernels
