#pragma once
/// @file
/// Summary statistics of a sample with numpy's semantics and numpy's arithmetic: the mean and
/// standard deviation of `np.mean` / `np.std(ddof=...)` (the same summation order, so the same
/// bits), the percentiles of `np.percentile(method=...)` for the methods linear (the default),
/// lower, higher, nearest and midpoint, and scipy.stats' `nan_policy` (propagate, omit, raise;
/// omit is `np.nanmean` / `np.nanstd` / `np.nanpercentile`). Used by the Monte Carlo kernels.
///
/// Two ways in: `summarize(values, options)` for one contiguous sample, and `summarize_pieces`
/// for a sample stored in pieces (e.g. the blocks of a Monte Carlo study, made in parallel
/// tasks) without concatenating them. The piecewise path sums the pieces as numpy sums their
/// concatenation (the same 8192-value reduction chunks, each summed pairwise, through a
/// caller-supplied parallel `for_each`), and finds the percentiles as exact order statistics by
/// a bracketed selection whose counting pass runs through that `for_each`: its results equal
/// `summarize`'s bit for bit, for any cut into pieces and any `for_each`. docs/kernels.md
/// ("Statistics") lists what is bit-identical to numpy and what is not.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// The sums and the percentile interpolation must round every product on its own, as numpy's
// separate ufunc loops do: a fused multiply-add (contraction of `r + d * d` or `a + d * t`)
// would change the last bit. clang contracts within one expression by default
// (-ffp-contract=on): the pragma, placed first in those functions' bodies, turns that off.
// GCC contracts across statements (-ffp-contract=fast, its default for GNU dialects) only where
// the target has FMA (__FP_FAST_FMA, e.g. -march=native): the attribute turns it off there.
#if defined(__clang__)
#define PARKIT_DETAIL_STATS_NO_CONTRACT_BODY _Pragma("clang fp contract(off)")
#define PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR
#elif defined(__GNUC__) && defined(__FP_FAST_FMA)
#define PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
#define PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR __attribute__((optimize("fp-contract=off")))
#else
#define PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
#define PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR
#endif

namespace parkit::kernels {

/// What the statistics do with NaN values, as scipy.stats' `nan_policy`.
enum class nan_policy {
    propagate,  ///< a NaN makes the mean, std and percentiles NaN (np.mean / np.std / np.percentile)
    omit,       ///< NaNs are left out (np.nanmean / np.nanstd / np.nanpercentile)
    raise,      ///< a NaN makes the call throw std::invalid_argument
};

/// How a percentile between two order statistics is chosen: numpy's `method=` of the same name.
/// With the sorted values v, n of them, and the rank x = (n − 1) · q / 100:
enum class percentile_method {
    linear,    ///< v[⌊x⌋] interpolated towards v[⌊x⌋ + 1] by x − ⌊x⌋ (numpy's default)
    lower,     ///< v[⌊x⌋]
    higher,    ///< v[⌈x⌉]
    nearest,   ///< v[x rounded to the nearest integer, halves to even] (np.around)
    midpoint,  ///< (v[⌊x⌋] + v[⌈x⌉]) / 2, computed as numpy does
};

/// Options of the percentile functions (`percentile_in_place`, `percentiles_of_pieces`).
struct percentile_options {
    percentile_method method = percentile_method::linear;  ///< numpy's `method=`
    nan_policy nans = nan_policy::propagate;               ///< what a NaN in the data does
};

/// Options of `summarize` / `summarize_pieces`: which percentiles, the std's degrees of freedom,
/// the percentile method and the NaN policy. The defaults are the 95 % interval with numpy's
/// defaults (ddof 0, linear, NaN propagates), i.e. what the (values, lower_q, upper_q) forms do.
struct summary_options {
    double lower_q = 2.5;                                  ///< lower percentile, in [0, 100]
    double upper_q = 97.5;                                 ///< upper percentile, in [0, 100]
    std::size_t ddof = 0;                                  ///< std divides by count − ddof (NaN if that is <= 0)
    nan_policy nans = nan_policy::propagate;               ///< what a NaN in the data does
    percentile_method method = percentile_method::linear;  ///< numpy's `method=` for both percentiles
};

/// Mean, standard deviation and a two-sided percentile interval of a sample.
struct sample_summary {
    std::size_t count = 0;  ///< number of values used (with nan_policy::omit, the non-NaN ones)
    double mean = 0;        ///< arithmetic mean
    double stddev = 0;      ///< standard deviation, sqrt(Σ(v − mean)² / (count − ddof)); ddof 0 by default
    double lower = 0;       ///< lower percentile (e.g. 2.5 %)
    double upper = 0;       ///< upper percentile (e.g. 97.5 %)
    std::size_t nans = 0;   ///< NaN values in the data (left out with nan_policy::omit)
};

namespace detail {

/// numpy's reduction chunk: np.add.reduce of a contiguous float64 array sums it in chunks of
/// the ufunc buffer size (np.getbufsize(), 8192 by default), each pairwise, added in order.
inline constexpr std::size_t numpy_reduce_chunk = 8192;

/// numpy's PW_BLOCKSIZE: pairwise sums of up to this many values use 8 accumulators.
inline constexpr std::size_t numpy_pairwise_block = 128;

/// The value itself (np.sum's summand).
struct plain_value {
    /// Returns v.
    double operator()(double v) const noexcept { return v; }
};

/// NaN read as 0 (np.nanmean's summand: numpy replaces the NaNs by 0 in place, so the summation
/// order, and the result, differ from summing only the non-NaN values).
struct nan_as_zero {
    /// v, or 0 for NaN.
    double operator()(double v) const noexcept { return std::isnan(v) ? 0.0 : v; }
};

/// (v − mean)², rounded as numpy's separate subtract and multiply do; with `omit_nans`, NaN
/// gives 0 (np.nanvar zeroes the NaN positions before squaring).
struct squared_deviation {
    double mean = 0;         ///< the sample's mean
    bool omit_nans = false;  ///< NaN → 0
    /// Returns (v − mean)² (or 0 for NaN with omit_nans).
    PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR double operator()(double v) const noexcept {
        PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
        if (omit_nans && std::isnan(v)) return 0.0;
        const double d = v - mean;
        return d * d;
    }
};

/// numpy's pairwise sum (`pairwise_sum` in numpy/core/src/umath/loops_utils.h.src) of f(a[i]),
/// i < n: a plain loop below 8 values; up to 128 values 8 accumulators over the multiples of 8,
/// combined ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest in order; above,
/// the halves (the first one a multiple of 8) recursively.
template <class F>
PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR double pairwise_sum(const double* a, std::size_t n, const F& f) {
    PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
    if (n < 8) {
        double res = 0.0;
        for (std::size_t i = 0; i < n; ++i) res += f(a[i]);
        return res;
    }
    if (n <= numpy_pairwise_block) {
        double r[8];
        for (std::size_t k = 0; k < 8; ++k) r[k] = f(a[k]);
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (std::size_t k = 0; k < 8; ++k) r[k] += f(a[i + k]);
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += f(a[i]);
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2, f) + pairwise_sum(a + n2, n - n2, f);
}

/// np.add.reduce of f(values): the 8192-value chunks' pairwise sums added in order to 0.
template <class F>
double numpy_sum(std::span<const double> values, const F& f) {
    double acc = 0.0;
    for (std::size_t at = 0; at < values.size(); at += numpy_reduce_chunk)
        acc += pairwise_sum(values.data() + at, std::min(numpy_reduce_chunk, values.size() - at), f);
    return acc;
}

/// Number of NaNs in `values`.
inline std::size_t count_nans(std::span<const double> values) noexcept {
    std::size_t n = 0;
    for (double v : values) n += static_cast<std::size_t>(std::isnan(v));
    return n;
}

/// "parkit::kernels::<where>: " + what, as a std::invalid_argument.
[[noreturn]] inline void fail(const char* where, const std::string& what) {
    throw std::invalid_argument(std::string("parkit::kernels::") + where + ": " + what);
}

/// Throws unless `nans` is one of nan_policy's values (`arg` names the argument).
inline void check_nan_policy(nan_policy nans, const char* where, const char* arg) {
    if (nans != nan_policy::propagate && nans != nan_policy::omit && nans != nan_policy::raise)
        fail(where, std::string(arg) + " is not a nan_policy (" + std::to_string(static_cast<int>(nans)) + ")");
}

/// Throws unless `method` is one of percentile_method's values (`arg` names the argument).
inline void check_percentile_method(percentile_method method, const char* where, const char* arg) {
    if (method != percentile_method::linear && method != percentile_method::lower &&
        method != percentile_method::higher && method != percentile_method::nearest &&
        method != percentile_method::midpoint)
        fail(where,
             std::string(arg) + " is not a percentile_method (" + std::to_string(static_cast<int>(method)) + ")");
}

/// Throws for nan_policy::raise when the data hold `nans` > 0 NaNs.
inline void check_no_nans(nan_policy policy, std::size_t nans, const char* where) {
    if (policy == nan_policy::raise && nans > 0)
        fail(where, "the data contains NaN (" + std::to_string(nans) +
                        " values) and nan_policy is raise; use nan_policy::omit to leave them out");
}

/// Population (ddof 0) or sample standard deviation from Σ(v − mean)² of `count` values: numpy's
/// sqrt(m2 / (count − ddof)); NaN when count <= ddof (numpy: inf or NaN with a warning; NaN
/// like np.nanstd).
inline double stddev_of(double m2, std::size_t count, std::size_t ddof) noexcept {
    if (count <= ddof) return std::numeric_limits<double>::quiet_NaN();
    return std::sqrt(m2 / static_cast<double>(count - ddof));
}

}  // namespace detail

/// Count, sum and M2 (sum of squared deviations from the mean) of a piece of a sample:
/// computed where the piece is made, merged in piece order into the moments of the whole.
struct partial_moments {
    std::size_t count = 0;  ///< number of values (with nan_policy::omit, the non-NaN ones)
    double sum = 0;         ///< their sum, as np.sum (np.nansum with omit)
    double m2 = 0;          ///< Σ(value − sum / count)², as numpy sums it
    std::size_t nans = 0;   ///< NaN values in the piece

    /// Moments of `values` as numpy computes them (np.add.reduce's order: 8192-value chunks
    /// summed pairwise), so `mean()` is np.mean's and `variance(ddof)` np.var's bit for bit.
    /// NaNs propagate (and are counted in `nans`).
    [[nodiscard]] static partial_moments of(std::span<const double> values) noexcept {
        partial_moments m;
        m.count = values.size();
        m.nans = detail::count_nans(values);
        m.sum = detail::numpy_sum(values, detail::plain_value{});
        m.m2 = detail::numpy_sum(values, detail::squared_deviation{.mean = m.mean()});
        return m;
    }

    /// Moments of `values` under `policy`: propagate as `of(values)`; omit leaves the NaNs out
    /// as np.nanmean / np.nanvar do (count excludes them, they are summed as 0); raise throws.
    /// @throws std::invalid_argument with nan_policy::raise if `values` contains NaN.
    [[nodiscard]] static partial_moments of(std::span<const double> values, nan_policy policy) {
        detail::check_nan_policy(policy, "partial_moments::of", "policy");
        if (policy != nan_policy::omit) {
            partial_moments m = of(values);
            detail::check_no_nans(policy, m.nans, "partial_moments::of");
            return m;
        }
        partial_moments m;
        m.nans = detail::count_nans(values);
        m.count = values.size() - m.nans;
        m.sum = detail::numpy_sum(values, detail::nan_as_zero{});
        m.m2 = detail::numpy_sum(values, detail::squared_deviation{.mean = m.mean(), .omit_nans = true});
        return m;
    }

    /// Appends the piece `next` (the one after this): counts, sums and NaN counts add; M2 follows
    /// Chan, Golub & LeVeque's pairwise formula M2 = M2_a + M2_b + δ² n_a n_b / n,
    /// δ = mean_b − mean_a. The merged moments depend on the cut into pieces, not on who
    /// computed what; they equal numpy's on the concatenation only to rounding.
    partial_moments& merge(const partial_moments& next) noexcept {
        const std::size_t all_nans = nans + next.nans;
        if (next.count == 0) {
            nans = all_nans;
            return *this;
        }
        if (count == 0) {
            *this = next;
            nans = all_nans;
            return *this;
        }
        const double na = static_cast<double>(count);
        const double nb = static_cast<double>(next.count);
        const double delta = next.mean() - mean();
        m2 += next.m2 + delta * delta * (na * nb / (na + nb));
        sum += next.sum;
        count += next.count;
        nans = all_nans;
        return *this;
    }

    /// sum / count (0 for no values).
    [[nodiscard]] double mean() const noexcept { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
    /// Population variance M2 / count (numpy's ddof = 0; 0 for no values).
    [[nodiscard]] double variance() const noexcept { return count == 0 ? 0.0 : m2 / static_cast<double>(count); }
    /// Variance M2 / (count − ddof), as np.var(ddof=ddof); NaN when count <= ddof.
    [[nodiscard]] double variance(std::size_t ddof) const noexcept {
        return count <= ddof ? std::numeric_limits<double>::quiet_NaN() : m2 / static_cast<double>(count - ddof);
    }
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

/// Where the q-th percentile of n sorted values lies, as numpy's `_quantile` finds it: the
/// ranks of `previous` and `next` and the weight `gamma` for `_lerp(previous, next, gamma)`,
/// or (lower / higher / nearest) the one rank read.
struct percentile_rank {
    std::size_t below = 0;      ///< rank of numpy's `previous` (0-based)
    std::size_t above = 0;      ///< rank of `next`: below + 1, or below at the top (numpy reads it even for gamma 0)
    double gamma = 0;           ///< interpolation weight, exactly numpy's (also its odd ones at the top)
    bool interpolates = false;  ///< linear and midpoint: _lerp; the others: the value at `below`

    /// Last rank the percentile reads.
    [[nodiscard]] std::size_t last() const noexcept { return above; }
};

/// x rounded to the nearest integer, halves to even (np.around / rint), for 0 <= x < 2^52.
inline double round_half_even(double x) noexcept {
    double r = std::floor(x);
    const double d = x - r;
    if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
    return r;
}

/// Rank of the q-th percentile of n > 0 values with `method`, computed as numpy 1.24 does:
/// quantile = q / 100, x = (n − 1) · quantile; `where` and `arg` name the call and the argument.
/// @throws std::invalid_argument if q is outside [0, 100] (or NaN).
inline percentile_rank rank_of_percentile(std::size_t n, double q, percentile_method method, const char* where,
                                          const char* arg = "q") {
    if (!(q >= 0.0 && q <= 100.0)) fail(where, std::string(arg) + " must be in [0, 100], got " + std::to_string(q));
    const double x = static_cast<double>(n - 1) * (q / 100.0);
    percentile_rank r;
    switch (method) {
        case percentile_method::lower:
        case percentile_method::higher:
        case percentile_method::nearest: {
            const double index = method == percentile_method::lower    ? std::floor(x)
                                 : method == percentile_method::higher ? std::ceil(x)
                                                                       : round_half_even(x);
            r.below = r.above = std::min(static_cast<std::size_t>(index), n - 1);
            return r;
        }
        case percentile_method::linear:
        case percentile_method::midpoint:
            break;
        default:
            check_percentile_method(method, where, "method");
    }
    // numpy's _get_indexes and _get_gamma: at or above the last rank both neighbours are the
    // last value and `previous_indexes` is -1, so gamma = virtual + 1 there.
    const double virtual_index = method == percentile_method::midpoint ? 0.5 * (std::floor(x) + std::ceil(x)) : x;
    r.interpolates = true;
    double previous = std::floor(virtual_index);
    if (virtual_index >= static_cast<double>(n - 1)) {
        r.below = r.above = n - 1;
        previous = -1.0;
    } else {
        r.below = static_cast<std::size_t>(previous);
        r.above = r.below + 1;
    }
    r.gamma = virtual_index - previous;
    if (method == percentile_method::midpoint) r.gamma = std::fmod(virtual_index, 1.0) == 0.0 ? 0.0 : 0.5;
    return r;
}

/// numpy's `_lerp(a, b, t)`: a + (b − a) · t for t < 0.5, b − (b − a) · (1 − t) otherwise.
PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR inline double numpy_lerp(double a, double b, double t) noexcept {
    PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
    const double diff = b - a;
    if (t >= 0.5) {
        const double step = diff * (1.0 - t);
        return b - step;
    }
    const double step = diff * t;
    return a + step;
}

/// The percentile `rank` reads, `index` being where its rank.below falls within `values`
/// (reorders them; `values` holds no NaN).
inline double value_at_rank(std::span<double> values, std::size_t index, const percentile_rank& rank) {
    const auto at = values.begin() + static_cast<std::ptrdiff_t>(index);
    std::nth_element(values.begin(), at, values.end());
    const double previous = *at;
    if (!rank.interpolates) return previous;
    const double next = rank.above > rank.below ? *std::min_element(at + 1, values.end()) : previous;
    return numpy_lerp(previous, next, rank.gamma);
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

/// The non-NaN values of `pieces`, concatenated in order (`valid` of them).
inline std::vector<double> concatenate_valid(std::span<const std::span<const double>> pieces, std::size_t valid) {
    std::vector<double> all;
    all.reserve(valid);
    for (const auto& piece : pieces)
        for (double v : piece)
            if (!std::isnan(v)) all.push_back(v);
    return all;
}

/// The non-NaN values among every `stride`-th value of the concatenated pieces (global
/// positions 0, stride, 2·stride, ..., at most `count` positions): a deterministic sample to
/// place the selection brackets.
inline std::vector<double> strided_sample(std::span<const std::span<const double>> pieces, std::size_t stride,
                                          std::size_t count) {
    std::vector<double> sample;
    sample.reserve(count);
    std::size_t next = 0;   // global position of the next sampled value
    std::size_t taken = 0;  // positions sampled so far
    std::size_t start = 0;  // global position of the current piece's first value
    for (const auto& piece : pieces) {
        for (; next < start + piece.size() && taken < count; next += stride, ++taken)
            if (!std::isnan(piece[next - start])) sample.push_back(piece[next - start]);
        start += piece.size();
    }
    return sample;
}

/// A value range [lo, hi] that should hold the ranks a percentile reads.
struct value_bracket {
    double lo = -std::numeric_limits<double>::infinity();  ///< smallest candidate value
    double hi = std::numeric_limits<double>::infinity();   ///< largest candidate value
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
    if (first >= 0.0 && first < m) b.lo = sample_order_statistic(sample, static_cast<std::size_t>(first));
    if (last >= 0.0 && last < m) b.hi = sample_order_statistic(sample, static_cast<std::size_t>(last));
    return b;
}

/// What one piece holds relative to a bracket: how many values lie below it and which inside
/// (NaNs are in neither).
struct bracket_tally {
    std::size_t below = 0;       ///< values < lo
    std::vector<double> inside;  ///< values in [lo, hi]
};

/// Tallies `piece` against each of `brackets` into the matching entry of `tallies` (bounds and
/// count in locals, so the loop keeps them in registers; gathered values are rare by
/// construction of the brackets). NaN compares false both ways, so it is never tallied.
inline void tally_piece(std::span<const double> piece, std::span<const value_bracket> brackets,
                        std::span<bracket_tally> tallies) {
    for (std::size_t k = 0; k < brackets.size(); ++k) {
        const double lo = brackets[k].lo;
        const double hi = brackets[k].hi;
        std::size_t below = 0;
        std::vector<double>& inside = tallies[k].inside;
        for (double v : piece) {
            below += static_cast<std::size_t>(v < lo);
            if (v >= lo && v <= hi) [[unlikely]]
                inside.push_back(v);
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
    result = value_at_rank(candidates, rank.below - below, rank);
    return true;
}

/// Samples at most this many values to place the brackets; samples of up to twice it are
/// selected directly (a copy and nth_element cost less than a bracketed pass there).
inline constexpr std::size_t default_percentile_sample = std::size_t{1} << 15;

/// Marks "the number of NaNs in the pieces is not known yet" for `percentiles_of_pieces`.
inline constexpr std::size_t unknown_nans = std::numeric_limits<std::size_t>::max();

/// Number of NaNs in `pieces`, counted per piece through `for_each`.
template <class ForEach>
std::size_t count_nans_of_pieces(std::span<const std::span<const double>> pieces, ForEach&& for_each) {
    std::vector<std::size_t> per_piece(pieces.size());
    for_each(pieces.size(), [&](std::size_t i) { per_piece[i] = count_nans(pieces[i]); });
    std::size_t n = 0;
    for (std::size_t c : per_piece) n += c;
    return n;
}

/// `percentiles_of_pieces` with the sample size as a parameter (tests force the bracketed path
/// on small samples with a small `sample_size`; sample_size >= 1), and the pieces' NaN count
/// when the caller knows it already (else `unknown_nans`: counted here through `for_each`).
template <class ForEach>
std::vector<double> percentiles_of_pieces(std::span<const std::span<const double>> pieces, std::span<const double> qs,
                                          ForEach&& for_each, std::size_t sample_size,
                                          const percentile_options& options = {}, std::size_t nans = unknown_nans,
                                          const char* where = "percentiles_of_pieces") {
    check_nan_policy(options.nans, where, "options.nans");
    check_percentile_method(options.method, where, "options.method");
    const std::size_t total = total_size(pieces);
    if (total == 0) fail(where, "pieces hold no values");
    for (double q : qs) rank_of_percentile(total, q, options.method, where);  // checks q
    if (nans == unknown_nans) nans = count_nans_of_pieces(pieces, for_each);
    check_no_nans(options.nans, nans, where);
    std::vector<double> results(qs.size(), std::numeric_limits<double>::quiet_NaN());
    const std::size_t n = total - nans;  // the values the percentiles are taken of
    if ((nans > 0 && options.nans == nan_policy::propagate) || n == 0) return results;  // numpy: NaN
    std::vector<percentile_rank> ranks;
    for (double q : qs) ranks.push_back(rank_of_percentile(n, q, options.method, where));
    std::vector<double> all;  // the full selection's copy, made only when needed
    const auto full_selection = [&](std::size_t k) {
        if (all.empty()) all = nans == 0 ? concatenate(pieces) : concatenate_valid(pieces, n);
        results[k] = value_at_rank(all, ranks[k].below, ranks[k]);
    };
    if (n <= 2 * sample_size) {
        for (std::size_t k = 0; k < ranks.size(); ++k) full_selection(k);
        return results;
    }
    std::vector<double> sample = strided_sample(pieces, total / sample_size, sample_size);
    std::vector<value_bracket> brackets;
    for (const auto& rank : ranks) brackets.push_back(bracket_from_sample(sample, n, rank));
    // tallies[i * brackets + k]: piece i against bracket k; body i writes only piece i's slots.
    const std::size_t stride = brackets.size();
    std::vector<bracket_tally> tallies(stride * pieces.size());
    for_each(pieces.size(),
             [&](std::size_t i) { tally_piece(pieces[i], brackets, std::span(tallies).subspan(i * stride, stride)); });
    for (std::size_t k = 0; k < ranks.size(); ++k) {
        const std::span<const bracket_tally> mine = std::span<const bracket_tally>(tallies).subspan(k);
        if (!percentile_from_tallies(mine, stride, ranks[k], results[k])) full_selection(k);
    }
    return results;
}

/// Start of each piece in the concatenation (`starts[i]`), and the total at the end.
inline std::vector<std::size_t> piece_starts(std::span<const std::span<const double>> pieces) {
    std::vector<std::size_t> starts;
    starts.reserve(pieces.size() + 1);
    std::size_t at = 0;
    for (const auto& piece : pieces) {
        starts.push_back(at);
        at += piece.size();
    }
    starts.push_back(at);
    return starts;
}

/// Pairwise sum of f over the values [first, first + count) of the concatenated pieces (one
/// numpy reduction chunk): in place when they lie in one piece, else copied together first.
template <class F>
double chunk_sum(std::span<const std::span<const double>> pieces, std::span<const std::size_t> starts,
                 std::size_t first, std::size_t count, const F& f) {
    // The last piece starting at or before `first` (empty pieces share their start with the next).
    std::size_t i =
        static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end() - 1, first) - starts.begin()) - 1;
    std::size_t offset = first - starts[i];
    if (offset + count <= pieces[i].size()) return pairwise_sum(pieces[i].data() + offset, count, f);
    std::vector<double> chunk;
    chunk.reserve(count);
    for (; chunk.size() < count; ++i, offset = 0) {
        const std::size_t take = std::min(count - chunk.size(), pieces[i].size() - offset);
        chunk.insert(chunk.end(), pieces[i].begin() + static_cast<std::ptrdiff_t>(offset),
                     pieces[i].begin() + static_cast<std::ptrdiff_t>(offset + take));
    }
    return pairwise_sum(chunk.data(), count, f);
}

/// np.add.reduce of f over the concatenated pieces without concatenating them: numpy's
/// 8192-value chunks, each summed pairwise through `for_each` (in parallel if it is), then
/// added in order, so the result is numpy's on the concatenation for any `for_each`.
/// With `nans`, also counts the NaNs (per chunk, in the same pass).
template <class F, class ForEach>
double numpy_sum_of_pieces(std::span<const std::span<const double>> pieces, std::span<const std::size_t> starts,
                           const F& f, ForEach&& for_each, std::size_t* nans = nullptr) {
    const std::size_t total = starts.back();
    const std::size_t chunks = (total + numpy_reduce_chunk - 1) / numpy_reduce_chunk;
    std::vector<double> sums(chunks);
    std::vector<std::size_t> nan_counts(nans ? chunks : 0);
    for_each(chunks, [&](std::size_t c) {
        const std::size_t first = c * numpy_reduce_chunk;
        const std::size_t count = std::min(numpy_reduce_chunk, total - first);
        if (nans) {
            std::size_t seen = 0;
            const auto counting = [&f, &seen](double v) {
                seen += static_cast<std::size_t>(std::isnan(v));
                return f(v);
            };
            sums[c] = chunk_sum(pieces, starts, first, count, counting);
            nan_counts[c] = seen;
        } else {
            sums[c] = chunk_sum(pieces, starts, first, count, f);
        }
    });
    double acc = 0.0;
    for (double s : sums) acc += s;
    if (nans) {
        *nans = 0;
        for (std::size_t c : nan_counts) *nans += c;
    }
    return acc;
}

/// Checks a summary's options; `where` names the call.
inline void check_summary_options(const summary_options& o, const char* where) {
    check_nan_policy(o.nans, where, "options.nans");
    check_percentile_method(o.method, where, "options.method");
    for (const auto& [arg, q] : {std::pair{"options.lower_q", o.lower_q}, {"options.upper_q", o.upper_q}})
        if (!(q >= 0.0 && q <= 100.0)) fail(where, std::string(arg) + " must be in [0, 100], got " + std::to_string(q));
}

/// A summary of `count` used values (and `nans` NaNs) with mean, Σ(v − mean)² and percentiles.
inline sample_summary make_summary(std::size_t count, std::size_t nans, double mean, double m2, std::size_t ddof,
                                   double lower, double upper) noexcept {
    return {.count = count,
            .mean = mean,
            .stddev = stddev_of(m2, count, ddof),
            .lower = lower,
            .upper = upper,
            .nans = nans};
}

}  // namespace detail

/// The q-th percentile (0 <= q <= 100) of `values` exactly as `np.percentile(values, q,
/// method=options.method)` computes it (numpy 1.24: rank (n − 1) · (q / 100), numpy's `_lerp`),
/// NaNs handled by `options.nans` (omit: `np.nanpercentile`). Reorders `values` (with omit, the
/// NaNs move to the end).
/// @throws std::invalid_argument if `values` is empty, q is outside [0, 100], an option is not
/// one of its enum's values, or the data contain NaN with nan_policy::raise.
inline double percentile_in_place(std::span<double> values, double q, const percentile_options& options = {}) {
    constexpr const char* where = "percentile_in_place";
    detail::check_nan_policy(options.nans, where, "options.nans");
    detail::check_percentile_method(options.method, where, "options.method");
    if (values.empty()) detail::fail(where, "values is empty");
    detail::rank_of_percentile(values.size(), q, options.method, where);  // checks q
    const std::size_t nans = detail::count_nans(values);
    detail::check_no_nans(options.nans, nans, where);
    if (nans == values.size() || (nans > 0 && options.nans == nan_policy::propagate))
        return std::numeric_limits<double>::quiet_NaN();
    if (nans > 0) std::partition(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
    const std::span<double> valid = values.first(values.size() - nans);
    const auto rank = detail::rank_of_percentile(valid.size(), q, options.method, where);
    return detail::value_at_rank(valid, rank.below, rank);
}

/// Count, mean, standard deviation (ddof = options.ddof) and the [lower_q, upper_q] percentiles
/// of `values`, computed as numpy computes np.mean, np.std(ddof=) and np.percentile(method=) —
/// the same summation order and rounding, so the same bits — with NaNs handled by
/// `options.nans` (omit: np.nanmean, np.nanstd, np.nanpercentile; no non-NaN value at all gives
/// count 0 and NaN statistics, as numpy does). std is NaN when count <= ddof (numpy gives inf or
/// NaN there, with a warning).
/// @throws std::invalid_argument if `values` is empty, a percentile is outside [0, 100], an
/// option is not one of its enum's values, or the data contain NaN with nan_policy::raise.
inline sample_summary summarize(std::span<const double> values, const summary_options& options) {
    constexpr const char* where = "summarize";
    detail::check_summary_options(options, where);
    if (values.empty()) detail::fail(where, "values is empty");
    const std::size_t nans = detail::count_nans(values);
    detail::check_no_nans(options.nans, nans, where);
    const bool omit = options.nans == nan_policy::omit;
    const std::size_t n = omit ? values.size() - nans : values.size();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (n == 0) return detail::make_summary(0, nans, nan, nan, options.ddof, nan, nan);
    const double sum =
        omit ? detail::numpy_sum(values, detail::nan_as_zero{}) : detail::numpy_sum(values, detail::plain_value{});
    const double mean = sum / static_cast<double>(n);
    const double m2 = detail::numpy_sum(values, detail::squared_deviation{.mean = mean, .omit_nans = omit});
    double lower = nan;
    double upper = nan;
    if (nans == 0 || omit) {
        std::vector<double> scratch;
        scratch.reserve(n);
        for (double v : values)
            if (!std::isnan(v)) scratch.push_back(v);
        const auto lo = detail::rank_of_percentile(n, options.lower_q, options.method, where, "options.lower_q");
        const auto hi = detail::rank_of_percentile(n, options.upper_q, options.method, where, "options.upper_q");
        lower = detail::value_at_rank(scratch, lo.below, lo);
        upper = detail::value_at_rank(scratch, hi.below, hi);
    }
    return detail::make_summary(n, nans, mean, m2, options.ddof, lower, upper);
}

/// Mean, population standard deviation and the [lower_q, upper_q] percentiles of `values`
/// (defaults: the 95 % interval, 2.5 and 97.5): `summarize(values, {.lower_q, .upper_q})`,
/// numpy's defaults otherwise (ddof 0, linear, NaN propagates).
/// @throws std::invalid_argument if `values` is empty or a percentile is outside [0, 100].
inline sample_summary summarize(std::span<const double> values, double lower_q = 2.5, double upper_q = 97.5) {
    return summarize(values, summary_options{.lower_q = lower_q, .upper_q = upper_q});
}

/// The q-th percentiles (each 0 <= q <= 100) of the sample made of `pieces` in order, without
/// concatenating them: exactly what `percentile_in_place(concatenation, q, options)` gives (and
/// so np.percentile / np.nanpercentile). Large samples (over 65,536 values): a strided sample
/// of 32,768 values places a bracket [lo, hi] around the ranks each q reads;
/// `for_each(pieces.size(), body)` counts per piece the values below lo and gathers those
/// inside (the pass over all values, parallel if `for_each` is); the percentile is then
/// selected among the gathered candidates. A bracket that misses (data far from exchangeable,
/// e.g. periodic with the sample's stride) falls back to a selection over all values. The NaNs
/// are counted first, also through `for_each`.
/// @throws std::invalid_argument if the pieces hold no values, a q is outside [0, 100], an
/// option is not one of its enum's values, or the data contain NaN with nan_policy::raise.
template <class ForEach = sequential_for_each>
requires(!std::is_same_v<std::remove_cvref_t<ForEach>, percentile_options>) std::vector<double> percentiles_of_pieces(
    std::span<const std::span<const double>> pieces, std::span<const double> qs, const percentile_options& options,
    ForEach&& for_each = {}) {
    return detail::percentiles_of_pieces(pieces, qs, for_each, detail::default_percentile_sample, options);
}

/// `percentiles_of_pieces(pieces, qs, {}, for_each)`: numpy's linear method, NaN propagates.
template <class ForEach = sequential_for_each>
requires(!std::is_same_v<std::remove_cvref_t<ForEach>, percentile_options>) std::vector<double> percentiles_of_pieces(
    std::span<const std::span<const double>> pieces, std::span<const double> qs, ForEach&& for_each = {}) {
    return detail::percentiles_of_pieces(pieces, qs, for_each, detail::default_percentile_sample);
}

/// Summary of the sample made of `pieces` in order, bit for bit `summarize(concatenation,
/// options)` (so numpy's) without concatenating: the sums run over numpy's 8192-value
/// reduction chunks of the concatenation, each summed pairwise in a `for_each` body (a chunk
/// that straddles pieces is copied together first) and added in order — one pass for the sum
/// (counting the NaNs too), one for Σ(v − mean)² — and the percentiles are
/// `percentiles_of_pieces`'. The result is the same for any cut into pieces and any
/// `for_each` (sequential or parallel).
/// @throws std::invalid_argument if the pieces hold no values, a percentile is outside
/// [0, 100], an option is not one of its enum's values, or the data contain NaN with
/// nan_policy::raise.
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces, const summary_options& options,
                                ForEach&& for_each = {}) {
    constexpr const char* where = "summarize_pieces";
    detail::check_summary_options(options, where);
    const std::vector<std::size_t> starts = detail::piece_starts(pieces);
    const std::size_t total = starts.back();
    if (total == 0) detail::fail(where, "pieces hold no values");
    const bool omit = options.nans == nan_policy::omit;
    std::size_t nans = 0;
    const double sum = omit ? detail::numpy_sum_of_pieces(pieces, starts, detail::nan_as_zero{}, for_each, &nans)
                            : detail::numpy_sum_of_pieces(pieces, starts, detail::plain_value{}, for_each, &nans);
    detail::check_no_nans(options.nans, nans, where);
    const std::size_t n = omit ? total - nans : total;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (n == 0) return detail::make_summary(0, nans, nan, nan, options.ddof, nan, nan);
    const double mean = sum / static_cast<double>(n);
    const double m2 =
        nans > 0 && !omit
            ? nan  // NaN propagates: numpy's m2 is NaN too
            : detail::numpy_sum_of_pieces(pieces, starts, detail::squared_deviation{.mean = mean, .omit_nans = omit},
                                          for_each);
    const double qs[] = {options.lower_q, options.upper_q};
    const auto p = detail::percentiles_of_pieces(pieces, qs, for_each, detail::default_percentile_sample,
                                                 {.method = options.method, .nans = options.nans}, nans, where);
    return detail::make_summary(n, nans, mean, m2, options.ddof, p[0], p[1]);
}

/// Summary of the sample made of `pieces` in order, given each piece's moments (e.g. computed
/// by the task that made it, `partial_moments::of(piece, options.nans)`): the moments merge in
/// piece order (`partial_moments::merge`), so the result depends only on how the sample is cut,
/// not on who computed what — but its mean and std equal numpy's on the concatenation only to
/// rounding (the overload without moments is numpy's bit for bit). The percentiles are
/// `percentiles_of_pieces`' (exactly `summarize`'s); the NaN counts come from the moments.
/// @throws std::invalid_argument if the pieces hold no values, `moments` does not have one
/// entry per piece or an entry does not count its piece's values (with nan_policy::omit, they
/// must have been taken with omit), a percentile is outside [0, 100], an option is not one of
/// its enum's values, or the data contain NaN with nan_policy::raise.
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces,
                                std::span<const partial_moments> moments, const summary_options& options,
                                ForEach&& for_each = {}) {
    constexpr const char* where = "summarize_pieces";
    detail::check_summary_options(options, where);
    if (moments.size() != pieces.size())
        detail::fail(where, "moments has " + std::to_string(moments.size()) + " entries for " +
                                std::to_string(pieces.size()) + " pieces");
    const bool omit = options.nans == nan_policy::omit;
    partial_moments all;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const partial_moments& m = moments[i];
        const bool counts_all = m.count == pieces[i].size() && m.nans <= m.count;
        const bool omits = m.count + m.nans == pieces[i].size();
        if (!(omit ? omits : counts_all || omits))
            detail::fail(where, "moments[" + std::to_string(i) + "] has count " + std::to_string(m.count) +
                                    " and nans " + std::to_string(m.nans) + " for a piece of " +
                                    std::to_string(pieces[i].size()) + " values" +
                                    (omit ? " (with nan_policy::omit, take them with partial_moments::of(piece, "
                                            "nan_policy::omit))"
                                          : ""));
        all.merge(m);
    }
    const std::size_t total = detail::total_size(pieces);
    if (total == 0) detail::fail(where, "pieces hold no values");
    detail::check_no_nans(options.nans, all.nans, where);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (all.nans > 0 && !omit) return detail::make_summary(total, all.nans, nan, nan, options.ddof, nan, nan);
    if (all.count == 0) return detail::make_summary(0, all.nans, nan, nan, options.ddof, nan, nan);
    const double qs[] = {options.lower_q, options.upper_q};
    const auto p = detail::percentiles_of_pieces(pieces, qs, for_each, detail::default_percentile_sample,
                                                 {.method = options.method, .nans = options.nans}, all.nans, where);
    return detail::make_summary(all.count, all.nans, all.mean(), all.m2, options.ddof, p[0], p[1]);
}

/// `summarize_pieces(pieces, moments, {.lower_q, .upper_q}, for_each)`.
/// @throws std::invalid_argument if the pieces hold no values, `moments` does not have one
/// entry per piece, or a percentile is outside [0, 100].
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces,
                                std::span<const partial_moments> moments, double lower_q = 2.5, double upper_q = 97.5,
                                ForEach&& for_each = {}) {
    return summarize_pieces(pieces, moments, summary_options{.lower_q = lower_q, .upper_q = upper_q}, for_each);
}

/// `summarize_pieces(pieces, {.lower_q, .upper_q}, for_each)`: numpy's np.mean, np.std and
/// np.percentile of the concatenation, bit for bit.
/// @throws std::invalid_argument if the pieces hold no values or a percentile is outside [0, 100].
template <class ForEach = sequential_for_each>
sample_summary summarize_pieces(std::span<const std::span<const double>> pieces, double lower_q = 2.5,
                                double upper_q = 97.5, ForEach&& for_each = {}) {
    return summarize_pieces(pieces, summary_options{.lower_q = lower_q, .upper_q = upper_q}, for_each);
}

}  // namespace parkit::kernels

#undef PARKIT_DETAIL_STATS_NO_CONTRACT_BODY
#undef PARKIT_DETAIL_STATS_NO_CONTRACT_ATTR
