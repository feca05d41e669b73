#pragma once
/// @file
/// Cooling-fin tip temperature and a Monte Carlo study of its uncertainty (the chapter's
/// experiment): h ~ Normal(h_nominal, h_std) restricted to h > 0, T_tip(h) for each sample,
/// summarised by mean, standard deviation and the 2.5 / 97.5 percentiles.
///
/// Samples are drawn in fixed blocks; block b always draws from `seed_sequence{seed}.stream(b)`,
/// each block task also takes its moments, and everything is combined in block order (the
/// percentiles are exact order statistics), so the study is bit-identical for any n_jobs,
/// chunk size and backend. The values are never concatenated unless keep_samples asks for
/// them. One task is a whole block (thousands of samples), so the
/// parallel study is never slower than a loop (the chapter's Python took 1.9 s in parallel
/// for what a loop did in 0.008 s).

#include "../core/options.hpp"
#include "../core/random.hpp"
#include "../detail/support/iota_range.hpp"
#include "../parallel_for.hpp"
#include "../parallel_map.hpp"
#include "statistics.hpp"

#include <cmath>
#include <cstdint>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parkit::kernels {

/// Geometry and material of a straight pin fin with an adiabatic tip (the chapter's defaults).
struct fin_parameters {
    double T0 = 100.0;    ///< base temperature (°C)
    double T_inf = 25.0;  ///< ambient temperature (°C)
    double L = 0.1;       ///< fin length (m)
    double k = 200.0;     ///< thermal conductivity (W/m·K)
    double P = 0.04;      ///< perimeter (m)
    double A = 1e-4;      ///< cross-sectional area (m²)
};

namespace detail {

/// Checks a fin: T0 and T_inf finite, L, k, P and A finite and > 0; `where` names the call.
/// @throws std::invalid_argument naming the field.
inline void check_fin_parameters(const fin_parameters& fin, const char* where) {
    const auto fail = [where](const char* field, const char* rule, double value) {
        throw std::invalid_argument(std::string("parkit::kernels::") + where + ": fin." + field + " must be " + rule +
                                    ", got " + std::to_string(value));
    };
    if (!std::isfinite(fin.T0)) fail("T0", "finite", fin.T0);
    if (!std::isfinite(fin.T_inf)) fail("T_inf", "finite", fin.T_inf);
    for (const auto& [field, value] : {std::pair{"L", fin.L}, {"k", fin.k}, {"P", fin.P}, {"A", fin.A}}) {
        if (!(value > 0.0) || !std::isfinite(value)) fail(field, "finite and > 0", value);
    }
}

}  // namespace detail

/// Tip temperature T_inf + (T0 − T_inf) / cosh(m L), m = sqrt(h P / (k A)).
/// @throws std::invalid_argument if h is negative or not finite, or a field of `fin` is
/// invalid (see detail::check_fin_parameters).
inline double fin_tip_temperature(double h, const fin_parameters& fin = {}) {
    if (!(h >= 0.0) || !std::isfinite(h))
        throw std::invalid_argument("parkit::kernels::fin_tip_temperature: h must be finite and >= 0, got " +
                                    std::to_string(h));
    detail::check_fin_parameters(fin, "fin_tip_temperature");
    const double m = std::sqrt(h * fin.P / (fin.k * fin.A));
    return fin.T_inf + (fin.T0 - fin.T_inf) / std::cosh(m * fin.L);
}

/// Settings of a fin Monte Carlo study.
struct fin_study_options {
    double h_nominal = 50.0;         ///< mean of the heat transfer coefficient (W/m²·K)
    double h_std = 5.0;              ///< its standard deviation
    std::size_t n_samples = 10'000;  ///< samples kept (non-positive draws are redrawn)
    std::uint64_t seed = 42;         ///< root seed of the per-block random streams
    std::size_t block_size = 4096;   ///< samples per random stream / task (part of the result's identity)
    bool keep_samples = false;       ///< also return every h and T_tip
    fin_parameters fin{};            ///< fin geometry and material
    parkit::options execution{};     ///< n_jobs, backend, chunk_size, progress for the blocks
};

/// Smallest probability P(h > 0) of one draw of N(h_nominal, h_std) that fin_monte_carlo
/// accepts: below it the redraw loop would need more than 1000 draws per kept sample on
/// average (N(−30, 5) has P = 1e-9), so the call is refused instead of running for days.
inline constexpr double fin_min_positive_probability = 1e-3;

/// Result of a fin Monte Carlo study.
struct fin_study_result {
    sample_summary tip_temperature;        ///< mean, stddev, 2.5 % and 97.5 % of T_tip
    double nominal_tip_temperature = 0;    ///< T_tip(h_nominal)
    std::vector<double> h_samples;         ///< the h draws (only with keep_samples)
    std::vector<double> tip_temperatures;  ///< T_tip of each draw (only with keep_samples)

    /// Lets a result travel between processes and ranks (a study run as a task of
    /// `parallel_map`, or shared with `parkit::mpi::broadcast`).
    template <class Archive>
    void serialize(Archive& ar) {
        ar(tip_temperature, nominal_tip_temperature, h_samples, tip_temperatures);
    }
};

namespace detail {

/// What one block of a study sends back: its tip temperatures with their moments (computed in
/// the task, so the caller only merges them), and its h draws only with keep_samples (with
/// backend::processes only these bytes travel back).
struct fin_block_result {
    partial_moments moments;               ///< count, sum and M2 of tip_temperatures
    std::vector<double> tip_temperatures;  ///< T_tip of each draw, in draw order
    std::vector<double> h_samples;         ///< the draws (empty unless keep_samples)

    /// Fields for the process backend's archives.
    template <class Archive>
    void serialize(Archive& ar) {
        ar(moments, tip_temperatures, h_samples);
    }
};

/// Draws block `block` of a study, evaluates T_tip for it and takes its moments.
inline fin_block_result fin_block(const fin_study_options& o, const seed_sequence& seeds, std::size_t block) {
    const std::size_t first = block * o.block_size;
    const std::size_t count = std::min(o.block_size, o.n_samples - first);
    random_stream rng = seeds.stream(block);
    fin_block_result r;
    r.tip_temperatures.reserve(count);
    if (o.keep_samples) r.h_samples.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        double h;
        do h = rng.normal(o.h_nominal, o.h_std);
        while (!(h > 0.0));
        if (o.keep_samples) r.h_samples.push_back(h);
        r.tip_temperatures.push_back(fin_tip_temperature(h, o.fin));
    }
    r.moments = partial_moments::of(r.tip_temperatures);
    return r;
}

/// Where the summary's counting pass runs: on the calling thread for backend::sequential,
/// otherwise on threads of this process (the blocks' values are here by then; forking again
/// would only cost) — n_jobs of them, or mpi.threads_per_rank for backend::mpi.
inline parkit::options summary_execution(const parkit::options& execution) {
    parkit::options local;
    local.backend =
        execution.backend == parkit::backend::sequential ? parkit::backend::sequential : parkit::backend::threads;
    local.n_jobs = execution.backend == parkit::backend::mpi ? execution.mpi.threads_per_rank : execution.n_jobs;
    return local;
}

/// The blocks' `field` (h_samples or tip_temperatures) as pieces of one sample, in block order.
inline std::vector<std::span<const double>> block_pieces(const std::vector<fin_block_result>& blocks,
                                                         std::vector<double> fin_block_result::*field) {
    std::vector<std::span<const double>> pieces;
    pieces.reserve(blocks.size());
    for (const auto& b : blocks) pieces.emplace_back(b.*field);
    return pieces;
}

/// Summary of the blocks' tip temperatures: moments merged in block order, percentiles by the
/// bracketed selection with its counting pass on `summary_execution(execution)`.
inline sample_summary summarize_blocks(const std::vector<fin_block_result>& blocks, const parkit::options& execution) {
    std::vector<partial_moments> moments;
    moments.reserve(blocks.size());
    for (const auto& b : blocks) moments.push_back(b.moments);
    const parkit::options local = summary_execution(execution);
    const auto for_each = [&local](std::size_t n, const auto& body) {
        parkit::parallel_for(std::size_t{0}, n, body, local);
    };
    return summarize_pieces(block_pieces(blocks, &fin_block_result::tip_temperatures), moments, 2.5, 97.5, for_each);
}

}  // namespace detail

/// Runs the Monte Carlo study described by `o` (the chapter's by default: 10,000 samples of
/// h ~ N(50, 5), seed 42). The blocks run as parallel tasks on `o.execution`; each returns its
/// T_tip values and their moments, and the summary (moments merged in block order, percentiles
/// by a bracketed selection counted in parallel) is bit-identical for any n_jobs, chunk size
/// and backend. With backend::mpi, ranks that receive no results (all but rank 0 unless
/// mpi.broadcast) return only nominal_tip_temperature.
/// @throws std::invalid_argument naming the field if n_samples or block_size is 0, n_samples is
/// too large (a negative count converted to size_t), h_std is negative, h_nominal/h_std are not
/// finite, P(h > 0) is below fin_min_positive_probability, or a field of `fin` is invalid.
inline fin_study_result fin_monte_carlo(const fin_study_options& o = {}) {
    const auto fail = [](const std::string& what) {
        throw std::invalid_argument("parkit::kernels::fin_monte_carlo: " + what);
    };
    if (o.n_samples == 0) fail("n_samples must be > 0");
    if (o.n_samples > std::vector<double>().max_size())
        fail("n_samples = " + std::to_string(o.n_samples) + " is too large (a negative count converted to size_t?)");
    if (o.block_size == 0) fail("block_size must be > 0");
    if (!std::isfinite(o.h_nominal) || !std::isfinite(o.h_std) || o.h_std < 0)
        fail("h_nominal must be finite and h_std finite and >= 0");
    const double p_positive =
        o.h_std == 0 ? (o.h_nominal > 0 ? 1.0 : 0.0) : 0.5 * std::erfc(-o.h_nominal / (o.h_std * std::sqrt(2.0)));
    if (!(p_positive >= fin_min_positive_probability))
        fail("h_nominal = " + std::to_string(o.h_nominal) + ", h_std = " + std::to_string(o.h_std) +
             " give P(h > 0) = " + std::to_string(p_positive) +
             ", below fin_min_positive_probability = " + std::to_string(fin_min_positive_probability) +
             " (non-positive draws are redrawn, so almost every draw would be)");
    detail::check_fin_parameters(o.fin, "fin_monte_carlo");

    const seed_sequence seeds{o.seed};
    const std::size_t blocks = (o.n_samples + o.block_size - 1) / o.block_size;
    const auto per_block = parkit::parallel_map([&](std::size_t b) { return detail::fin_block(o, seeds, b); },
                                                parkit::detail::iota_range{0, blocks}, o.execution);

    fin_study_result r;
    r.nominal_tip_temperature = fin_tip_temperature(std::max(o.h_nominal, 0.0), o.fin);
    if (per_block.size() != blocks) return r;  // an MPI rank without the results
    r.tip_temperature = detail::summarize_blocks(per_block, o.execution);
    if (o.keep_samples) {
        r.h_samples = detail::concatenate(detail::block_pieces(per_block, &detail::fin_block_result::h_samples));
        r.tip_temperatures =
            detail::concatenate(detail::block_pieces(per_block, &detail::fin_block_result::tip_temperatures));
    }
    return r;
}

}  // namespace parkit::kernels
