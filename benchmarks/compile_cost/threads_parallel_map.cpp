// Compile cost of a parallel_map program that includes only the threads-only header.
#include <parkit/thread_map.hpp>

#include <cstdio>
#include <vector>

int main() {
    std::vector<double> xs(1000, 2.0);
    const std::vector<double> ys = parkit::threads::parallel_map([](double x) { return x * x; }, xs, {.n_jobs = 2});
    std::printf("%f\n", ys[3]);
}
