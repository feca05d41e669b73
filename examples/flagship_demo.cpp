// parkit flagship demo: the same CPU-heavy function mapped over 64 inputs,
// once with a plain loop and once with parkit::parallel_map on all cores.
#include <parkit/parkit.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

namespace {

// Deterministic floating-point work (~10 ms): integrate sin(x) * exp(-x / 4)
// over [0, 8 + seed/64] with the midpoint rule. The result depends on every
// step, and main() compares and prints it, so none of it can be optimised away.
double cpu_heavy(int seed) {
    constexpr int steps = 1'000'000;
    const double upper = 8.0 + seed / 64.0;
    const double h = upper / steps;
    double sum = 0.0;
    for (int i = 0; i < steps; ++i) {
        const double x = (i + 0.5) * h;
        sum += std::sin(x) * std::exp(-x / 4.0);
    }
    return sum * h;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main() {
    constexpr int n_tasks = 64;
    std::vector<int> inputs(n_tasks);
    std::iota(inputs.begin(), inputs.end(), 0);

    auto start = std::chrono::steady_clock::now();
    std::vector<double> sequential;
    sequential.reserve(inputs.size());
    for (int seed : inputs) sequential.push_back(cpu_heavy(seed));
    const double t_seq = seconds_since(start);

    start = std::chrono::steady_clock::now();
    const std::vector<double> parallel = parkit::parallel_map(cpu_heavy, inputs);
    const double t_par = seconds_since(start);

    std::printf("parkit flagship demo: %d tasks of ~%.0f ms\n", n_tasks, 1000.0 * t_seq / n_tasks);
    std::printf("sequential: %.3f s\n", t_seq);
    std::printf("parallel (%d cores): %.3f s\n", parkit::available_cores(), t_par);
    std::printf("speed-up: %.2fx\n", t_par > 0 ? t_seq / t_par : 0.0);

    if (parallel != sequential) {
        std::fprintf(stderr, "error: parallel results differ from the sequential ones\n");
        return 1;
    }
    std::printf("results identical (checksum %.12f)\n",
                std::accumulate(parallel.begin(), parallel.end(), 0.0));
    return 0;
}
