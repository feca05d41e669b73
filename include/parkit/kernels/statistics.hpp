#pragma once
/// @file
/// Summary statistics of a sample, numpy-compatible (np.mean, np.std with ddof=0,
/// np.percentile with linear interpolation). Used by the Monte Carlo kernels.

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
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

/// The q-th percentile (0 <= q <= 100) of `values`, interpolated linearly between the
/// closest ranks exactly like `np.percentile(values, q)`. Reorders `values`.
/// @throws std::invalid_argument if `values` is empty or q is outside [0, 100].
inline double percentile_in_place(std::span<double> values, double q) {
    if (values.empty()) throw std::invalid_argument("parkit::kernels::percentile: values is empty");
    if (!(q >= 0.0 && q <= 100.0))
        throw std::invalid_argument("parkit::kernels::percentile: q must be in [0, 100], got " +
                                    std::to_string(q));
    const double rank = q / 100.0 * static_cast<double>(values.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(rank));
    const double fraction = rank - static_cast<double>(below);
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(below), values.end());
    const double low = values[below];
    if (fraction == 0.0 || below + 1 == values.size()) return low;
    const double high = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(below) + 1, values.end());
    return low + fraction * (high - low);
}

/// Mean, population standard deviation and the [lower_q, upper_q] percentiles of `values`
/// (defaults: the 95 % interval, 2.5 and 97.5). Summation runs in input order, so equal
/// inputs give bit-identical summaries.
/// @throws std::invalid_argument if `values` is empty or a percentile is outside [0, 100].
inline sample_summary summarize(std::span<const double> values, double lower_q = 2.5, double upper_q = 97.5) {
    if (values.empty()) throw std::invalid_argument("parkit::kernels::summarize: values is empty");
    sample_summary s;
    s.count = values.size();
    double sum = 0;
    for (double v : values) sum += v;
    s.mean = sum / static_cast<double>(s.count);
    double squares = 0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.count));
    std::vector<double> scratch(values.begin(), values.end());
    s.lower = percentile_in_place(scratch, lower_q);
    s.upper = percentile_in_place(scratch, upper_q);
    return s;
}

} // namespace parkit::kernels
