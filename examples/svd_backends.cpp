// The chapter's "Joblib backends" experiment: 20 singular value decompositions of random
// 200x200 matrices (numpy_heavy_computation), on processes (joblib's loky) and on threads.
// Here with Eigen: a loop, parallel_map on threads, parallel_map on processes, and a
// parkit::process_pool with a plain function. Matrix i is drawn from random stream i, so
// every backend computes the same 20 sums of singular values, bit for bit (checked).
// Prints the times and speed-ups, writes them as CSV and a bar chart.
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>

#include <Eigen/Dense>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

namespace {

constexpr int matrix_size = 200;

// The chapter's numpy_heavy_computation: the sum of the singular values of a size x size
// matrix of standard normal numbers (np.linalg.svd(A, compute_uv=False).sum()); matrix `task`
// draws from its own stream of seed_sequence{42}.
double numpy_heavy_computation(int task) {
    auto rng = parkit::seed_sequence{42}.stream(static_cast<std::uint64_t>(task));
    std::normal_distribution<double> normal;
    Eigen::MatrixXd A(matrix_size, matrix_size);
    for (Eigen::Index j = 0; j < A.cols(); ++j)
        for (Eigen::Index i = 0; i < A.rows(); ++i) A(i, j) = normal(rng);
    return Eigen::BDCSVD<Eigen::MatrixXd>(A).singularValues().sum();  // no U, V: compute_uv=False
}

}  // namespace

int main() {
    examples::checks check;
    std::vector<int> tasks(20);  // the chapter's sizes = [200] * 20
    std::iota(tasks.begin(), tasks.end(), 0);
    constexpr int repeats = 3;  // best of 3: the tasks are short

    std::vector<double> sequential, threads, processes, pooled;
    const double sequential_time = examples::seconds(
        [&] {
            sequential.clear();
            for (int t : tasks) sequential.push_back(numpy_heavy_computation(t));
        },
        repeats);
    const double threads_time =
        examples::seconds([&] { threads = parkit::parallel_map(numpy_heavy_computation, tasks); }, repeats);
    const double processes_time = examples::seconds(
        [&] {
            processes = parkit::parallel_map(numpy_heavy_computation, tasks, {.backend = parkit::backend::processes});
        },
        repeats);
    double pool_start_time = 0;
    double pool_time = 0;
    {
        std::unique_ptr<parkit::process_pool> pool;
        pool_start_time = examples::seconds([&] { pool = std::make_unique<parkit::process_pool>(); });
        pool_time = examples::seconds([&] { pooled = pool->map(numpy_heavy_computation, tasks); }, repeats);
    }

    std::printf("20 SVDs of %dx%d matrices (Eigen BDCSVD, singular values only), %d cores, best of %d:\n", matrix_size,
                matrix_size, parkit::available_cores(), repeats);
    std::printf("Sequential: %.3fs\n", sequential_time);
    std::printf("Threading: %.3fs (speedup %.2fx)\n", threads_time, examples::speedup(sequential_time, threads_time));
    std::printf("Processes (parallel_map, backend::processes): %.3fs (speedup %.2fx)\n", processes_time,
                examples::speedup(sequential_time, processes_time));
    std::printf(
        "Processes (process_pool.map, workers already running): %.3fs (speedup %.2fx; starting the pool: %.3fs)\n",
        pool_time, examples::speedup(sequential_time, pool_time), pool_start_time);
    std::printf("(the chapter's joblib on 4 cores: loky (processes) 0.044s, threading 0.145s)\n");
    std::printf("Sum of all singular values: %.10f\n", std::accumulate(sequential.begin(), sequential.end(), 0.0));

    check.expect(threads == sequential, "threads give the sequential results bit for bit");
    check.expect(processes == sequential, "parallel_map processes give the sequential results bit for bit");
    check.expect(pooled == sequential, "process_pool gives the sequential results bit for bit");
    // A 200x200 standard normal matrix has singular values summing to about (8 / 3π) n^1.5 ≈ 2400.
    for (double s : sequential) check.expect(s > 2000 && s < 2800, "sum of singular values is plausible");
    std::printf("Identical results on every backend: %s\n",
                threads == sequential && processes == sequential && pooled == sequential ? "yes" : "NO");

    examples::plot_times(examples::output_dir("svd_backends"), "svd_backends",
                         "20 SVDs of 200x200 matrices (Eigen): threads vs processes",
                         {"loop", "parallel_map\nthreads", "parallel_map\nprocesses",
                          "process_pool.map\n(started pool)"},
                         {sequential_time, threads_time, processes_time, pool_time});
    return check.exit_code();
}
