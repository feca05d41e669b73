// Built and run by a second compiler (clang++ when installed, see tests/CMakeLists.txt):
// every public header parkit ships outside MPI, and the main calls instantiated, so a
// header that only GCC accepts fails the suite. Exits non-zero on a wrong result.
#include <parkit/graph.hpp>
#include <parkit/memory.hpp>
#include <parkit/parallel_for.hpp>
#include <parkit/parkit.hpp>
#include <parkit/process_pool.hpp>
#ifdef PARKIT_TEST_KERNELS
#include <parkit/kernels/curve_fit.hpp>
#include <parkit/kernels/fin_monte_carlo.hpp>
#include <parkit/kernels/ode_sweep.hpp>
#include <parkit/kernels/statistics.hpp>
#endif

#include <cstdio>
#include <functional>
#include <vector>

namespace {
int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "wrong result: %s\n", what);
        ++failures;
    }
}
}  // namespace

int main() {
    std::vector<int> xs{1, 2, 3, 4, 5, 6, 7, 8};
    const auto squares = parkit::parallel_map([](int x) { return x * x; }, xs, {.n_jobs = 2});
    check(squares == std::vector<int>{1, 4, 9, 16, 25, 36, 49, 64}, "parallel_map on threads");

    std::vector<double> filled(1000);
    parkit::parallel_for(0, 1000, [&](std::size_t i) { filled[i] = double(i); }, {.n_jobs = 2});
    check(filled[999] == 999.0, "parallel_for");
    const double sum =
        parkit::parallel_reduce(0, 1000, 0.0, [](std::size_t i) { return double(i); }, std::plus<>{}, {.n_jobs = 2});
    check(sum == 499500.0, "parallel_reduce");

    parkit::thread_pool pool(2);
    std::vector<parkit::future<int>> futures;
    futures.reserve(8);
    for (int v = 0; v < 8; ++v) futures.push_back(pool.submit([v] { return v * v; }));
    int total = 0;
    for (auto& f : parkit::as_completed(futures)) total += f.get();
    check(total == 140, "thread_pool submit + as_completed");

    parkit::process_pool processes(2);
    const auto doubled = processes.map(
        +[](int x) { return 2 * x; }, xs);
    check(doubled[7] == 16, "process_pool map");

#ifdef PARKIT_TEST_KERNELS
    const auto study = parkit::kernels::fin_monte_carlo({.n_samples = 2000, .seed = 1});
    check(study.tip_temperature.mean > 0, "fin_monte_carlo");
#endif
    return failures == 0 ? 0 : 1;
}
