// map_big: x*2+1 over 1,000,000 and 10,000,000 doubles: what making the result costs. Unlike
// map_tiny (where every peer fills a value-initialised std::vector, as parallel_map does), the
// implementations here differ in how the result memory is obtained: a serial loop that builds
// the vector without zeroing it (reserve + push_back), the same with a zeroed vector, oneTBB
// filling a fresh uninitialised buffer, parkit::parallel_for into the caller's buffer, and
// parallel_map. Every run checks three of its results.
#include <parkit/parallel_for.hpp>
#include <parkit/parallel_map.hpp>

#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../harness/registry.hpp"
#include "../peers/tbb.hpp"

namespace parkit_bench {

namespace {

/// The task, as a lambda (what users pass).
constexpr auto twice_plus_one = [](double x) { return x * 2 + 1; };

/// Throws unless the first, middle and last of the `n` results `out` are f(xs[i]) (a cheap check
/// that every implementation computed and kept the right values).
void check(const double* out, const std::vector<double>& xs, const char* impl) {
    const std::size_t n = xs.size();
    for (const std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
        if (out[i] != twice_plus_one(xs[i])) {
            throw std::runtime_error(std::string("parkit-bench: map_big: ") + impl + " got a wrong result at " +
                                     std::to_string(i));
        }
    }
}

workload make_map_big() {
    return {"map_big", {1'000'000, 10'000'000}, [](std::size_t n) {
                auto xs = std::make_shared<std::vector<double>>(n);
                std::iota(xs->begin(), xs->end(), 0.5);
                bench_case c;
                c.items = n;
                c.impls.push_back({"sequential",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<double> out;
                                           out.reserve(n);
                                           for (const double x : *xs) out.push_back(twice_plus_one(x));
                                           check(out.data(), *xs, "sequential");
                                           keep_all(out);
                                       };
                                   },
                                   false});
                c.impls.push_back({"sequential_zeroed",
                                   [=](int) -> runner {
                                       return [=] {
                                           std::vector<double> out(n);
                                           for (std::size_t i = 0; i < n; ++i) out[i] = twice_plus_one((*xs)[i]);
                                           check(out.data(), *xs, "sequential_zeroed");
                                           keep_all(out);
                                       };
                                   },
                                   false});
                c.impls.push_back({"parkit_threads", [=](int workers) -> runner {
                                       return [=] {
                                           const std::vector<double> out =
                                               parkit::parallel_map(twice_plus_one, *xs, {.n_jobs = workers});
                                           check(out.data(), *xs, "parkit_threads");
                                           keep_all(out);
                                       };
                                   }});
                c.impls.push_back({"parkit_parallel_for", [=](int workers) -> runner {
                                       // The caller's buffer: allocated (and its pages touched)
                                       // once, outside the timed runs.
                                       auto out = std::make_shared<std::vector<double>>(n);
                                       return [=] {
                                           double* const data = out->data();
                                           const double* const in = xs->data();
                                           parkit::parallel_for(std::size_t{0}, n,
                                                                [=](std::size_t i) { data[i] = twice_plus_one(in[i]); },
                                                                {.n_jobs = workers});
                                           check(data, *xs, "parkit_parallel_for");
                                           keep_all(*out);
                                       };
                                   }});
#if PARKIT_BENCH_HAVE_TBB
                c.impls.push_back({"tbb", [=](int workers) -> runner {
                                       auto arena = std::make_shared<peers::tbb_workers>(workers);
                                       return [=] {
                                           // new T[n]: default-initialised, so the workers take the
                                           // page faults.
                                           const std::unique_ptr<double[]> out(new double[n]);
                                           double* const data = out.get();
                                           const double* const in = xs->data();
                                           arena->parallel_for(n,
                                                               [=](std::size_t i) { data[i] = twice_plus_one(in[i]); });
                                           check(data, *xs, "tbb");
                                           keep(data);
                                       };
                                   }});
#endif
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(22, make_map_big);

}  // namespace parkit_bench
