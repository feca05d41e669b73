// Compile cost of a parallel_map program that includes <parkit/parallel_map.hpp> (every backend).
#include <parkit/parallel_map.hpp>

#include <cstdio>
#include <vector>

int main() {
    std::vector<double> xs(1000, 2.0);
    const std::vector<double> ys = parkit::parallel_map([](double x) { return x * x; }, xs, {.n_jobs = 2});
    std::printf("%f\n", ys[3]);
}
