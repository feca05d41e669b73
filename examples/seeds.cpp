// The chapter's "Handle random seeds carefully": parallel Monte Carlo needs a different,
// reproducible random stream per task. parkit::seed_sequence{seed}.stream(i) gives task (or
// block) i its own generator, which depends only on the seed and i, never on the thread,
// process or schedule that runs it.
//  1. The fin Monte Carlo study (kernels/fin_monte_carlo.hpp, the chapter's 10,000 samples,
//     seed 42) with n_jobs 1, 2, 7, chunk sizes 1 and automatic, on the sequential, thread
//     and process backends: every run gives the same numbers, bit for bit (checked).
//  2. The chapter's monte_carlo_with_seed: 100 tasks averaging 1,000 normal draws each, one
//     stream per task, on threads and on processes (identical), next to the classic mistake
//     of giving every task the same seed (all 100 "independent" results are the same number).
// Writes the per-task means as CSV and a plot.
#include <parkit/kernels/fin_monte_carlo.hpp>
#include <parkit/parkit.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace pk = parkit::kernels;

namespace {

// The chapter's monte_carlo_with_seed: the mean of 1,000 standard normal draws from `rng`.
double monte_carlo_mean(parkit::random_stream rng) {
    std::normal_distribution<double> normal(0.0, 1.0);
    double sum = 0;
    for (int i = 0; i < 1000; ++i) sum += normal(rng);
    return sum / 1000;
}

// Mean and population standard deviation of `values`.
std::pair<double, double> mean_std(const std::vector<double>& values) {
    double mean = 0, var = 0;
    for (double v : values) mean += v / static_cast<double>(values.size());
    for (double v : values) var += (v - mean) * (v - mean) / static_cast<double>(values.size());
    return {mean, std::sqrt(var)};
}

bool same_summary(const pk::sample_summary& a, const pk::sample_summary& b) {
    return a.count == b.count && a.mean == b.mean && a.stddev == b.stddev && a.lower == b.lower && a.upper == b.upper;
}

}  // namespace

int main() {
    examples::checks check;

    std::printf("1. Fin Monte Carlo (10,000 samples, seed 42) on every backend, n_jobs and chunk size:\n");
    std::printf("  %-38s %-19s %-18s %-8s %s\n", "run", "mean (°C)", "std (°C)", "2.5 %", "97.5 %");
    struct config {
        std::string name;
        parkit::options execution;
    };
    const auto threads = parkit::backend::threads;
    const auto processes = parkit::backend::processes;
    const std::vector<config> configs{
        {"sequential", {.backend = parkit::backend::sequential}},
        {"threads, n_jobs = 1", {.n_jobs = 1, .backend = threads}},
        {"threads, n_jobs = 2", {.n_jobs = 2, .backend = threads}},
        {"threads, n_jobs = 7", {.n_jobs = 7, .backend = threads}},
        {"threads, n_jobs = 7, chunk_size = 1", {.n_jobs = 7, .backend = threads, .chunk_size = 1}},
        {"processes, n_jobs = 1", {.n_jobs = 1, .backend = processes}},
        {"processes, n_jobs = 2", {.n_jobs = 2, .backend = processes}},
        {"processes, n_jobs = 7", {.n_jobs = 7, .backend = processes}},
        {"processes, n_jobs = 7, chunk_size = 1", {.n_jobs = 7, .backend = processes, .chunk_size = 1}},
    };
    pk::fin_study_result reference;
    for (std::size_t c = 0; c < configs.size(); ++c) {
        pk::fin_study_options study;  // the chapter's: h ~ N(50, 5), 10,000 samples, seed 42
        study.keep_samples = true;
        study.block_size = 1000;  // 10 random streams, so n_jobs = 7 really splits the work
        study.execution = configs[c].execution;
        const auto result = pk::fin_monte_carlo(study);
        const auto& s = result.tip_temperature;
        std::printf("  %-38s %.15f %.15f %.5f %.5f\n", configs[c].name.c_str(), s.mean, s.stddev, s.lower, s.upper);
        if (c == 0) {
            reference = result;
        } else {
            check.expect(same_summary(s, reference.tip_temperature) &&
                             result.tip_temperatures == reference.tip_temperatures &&
                             result.h_samples == reference.h_samples,
                         configs[c].name + ": identical to the sequential run");
        }
    }
    const auto& s = reference.tip_temperature;
    std::printf("All %zu runs bit-identical: mean %.2f °C, std %.2f °C, 95%% interval [%.2f, %.2f] °C\n",
                configs.size(), s.mean, s.stddev, s.lower, s.upper);
    std::printf("(the chapter's numpy run: 73.66, 1.86, [70.16, 77.48]; other random numbers, same distribution)\n");
    check.expect(std::abs(s.mean - 73.66) < 0.1 && std::abs(s.stddev - 1.86) < 0.1,
                 "mean and std agree with the chapter's within statistical error");

    std::printf("\n2. The chapter's monte_carlo_with_seed: 100 tasks x 1,000 normal draws\n");
    const parkit::seed_sequence seeds{42};
    const auto tasks = std::views::iota(std::uint64_t{0}, std::uint64_t{100});
    const auto own_stream = [&](std::uint64_t i) { return monte_carlo_mean(seeds.stream(i)); };
    const auto independent = parkit::parallel_map(own_stream, tasks);
    const auto independent_processes = parkit::parallel_map(own_stream, tasks, {.backend = processes});
    const auto same_seed =
        parkit::parallel_map([&](std::uint64_t) { return monte_carlo_mean(seeds.stream(0)); }, tasks);
    const auto [mean, stddev] = mean_std(independent);
    const auto [bad_mean, bad_stddev] = mean_std(same_seed);
    std::printf(
        "One stream per task:   Monte Carlo results: mean = %.4f, std = %.4f (threads and processes identical: %s)\n",
        mean, stddev, independent == independent_processes ? "yes" : "NO");
    std::printf("The same seed per task: Monte Carlo results: mean = %.4f, std = %.4f (100 copies of one result)\n",
                bad_mean, bad_stddev);
    std::printf("(the chapter: mean = 0.0046, std = 0.0338; theory: std = 1/sqrt(1000) = %.4f)\n",
                1 / std::sqrt(1000.0));
    check.expect(independent == independent_processes, "per-task streams: threads and processes identical");
    check.expect(std::abs(mean) < 0.015 && stddev > 0.02 && stddev < 0.045,
                 "independent streams: mean near 0, std near 1/sqrt(1000)");
    check.expect(std::ranges::all_of(same_seed, [&](double v) { return v == same_seed[0]; }),
                 "the same seed makes every task's result the same");

    const auto dir = examples::output_dir("seeds");
    std::vector<double> index;
    for (auto i : tasks) index.push_back(static_cast<double>(i));
    examples::write_csv(dir / "task_means.csv", {"task", "own_stream", "same_seed"}, {index, independent, same_seed});
    examples::plot(dir / "plot.gp", R"(set terminal pngcairo size 800,500
set output 'seeds.png'
set datafile separator ','
set title 'Mean of 1,000 normal draws per task'
set xlabel 'Task'; set ylabel 'Task result'
set grid; set key top center; set yrange [-0.1:0.12]
theory = 1 / sqrt(1000)
plot 'task_means.csv' using 1:2 skip 1 with points pt 7 ps 0.8 lc 'steelblue' title 'seed\_sequence\{42\}.stream(task): independent', \
     '' using 1:3 skip 1 with linespoints pt 6 ps 0.8 lc 'red' title 'the same seed in every task: 100 copies of one number', \
     theory with lines dt 2 lc 'black' title '±1/sqrt(1000)', -theory with lines dt 2 lc 'black' notitle
)");
    return check.exit_code();
}
