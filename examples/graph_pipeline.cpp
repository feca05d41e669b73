// Task graphs with parkit::task_graph, dask.delayed's job in C++:
//  1. the chapter's dask example — the reaction sweep as 50 independent delayed solves;
//  2. a pipeline with real dependencies: load each experiment -> fit a first-order decay ->
//     check the fit, and one summary over all fits; one experiment has a broken sensor (NaN),
//     so its fit fails, the nodes depending on it are skipped with an error naming it, and
//     every independent branch still finishes;
//  3. the scheduling overhead per node for 100,000 tiny nodes.
// Writes the pipeline as Graphviz DOT (rendered to PNG when Graphviz is installed) and the
// per-node overhead as CSV. Exits non-zero when a check fails.
#include <parkit/core/random.hpp>
#include <parkit/graph.hpp>
#include <parkit/kernels/curve_fit.hpp>
#include <parkit/kernels/ode_sweep.hpp>

#include "common/checks.hpp"
#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace pk = parkit::kernels;

namespace {

using examples::check;
using examples::seconds;

// --- 1. The chapter's dask.delayed sweep ------------------------------------------------------
bool delayed_sweep() {
    const std::vector<double> all_k = pk::linspace(0.01, 2.0, 200);
    const std::vector<double> k_values(all_k.begin(), all_k.begin() + 50);
    parkit::task_graph g;
    std::vector<parkit::node<double>> tasks;  // the graph: no computation yet
    for (double k : k_values) tasks.push_back(g.add([](double rate) { return pk::solve_reaction(rate); }, k));
    const double elapsed = seconds([&] { g.compute(); });
    std::printf("Dask-style graph: %.4fs\nComputed %zu results\n", elapsed, tasks.size());
    bool same = true;
    for (std::size_t i = 0; i < tasks.size(); ++i) same = same && g.get(tasks[i]) == pk::solve_reaction(k_values[i]);
    return check(same, "graph results equal the sequential solves");
}

// --- 2. load -> fit -> check, and a summary ---------------------------------------------------
struct measurement {
    std::vector<double> t, concentration;
    double true_k = 0;
};

struct fitted {
    double k = 0, k_error = 0, true_k = 0;
};

measurement load(const parkit::seed_sequence& seeds, std::size_t run, bool broken_sensor) {
    auto rng = seeds.stream(run);
    measurement m;
    m.true_k = 0.2 + 1.5 * rng.uniform01();
    std::normal_distribution<double> noise(0.0, 0.02);
    for (int j = 0; j < 25; ++j) {
        const double t = 0.4 * j;
        m.t.push_back(t);
        m.concentration.push_back(std::exp(-m.true_k * t) + noise(rng));
    }
    if (broken_sensor) m.concentration[7] = std::numeric_limits<double>::quiet_NaN();
    return m;
}

fitted fit(const measurement& m) {
    const auto model = [](double t, const Eigen::VectorXd& p) { return p[1] * std::exp(-p[0] * t); };
    const auto r = pk::curve_fit(model, m.t, m.concentration, {0.5, 1.0}, {}, {.throw_on_failure = true});
    return {r.params[0], r.std_errors[0], m.true_k};
}

std::string check_fit(const fitted& f) {
    const double z = std::abs(f.k - f.true_k) / f.k_error;
    return z < 5 ? "ok" : "suspicious (z = " + std::to_string(z) + ")";
}

double mean_relative_error(const std::vector<fitted>& fits) {
    double sum = 0;
    for (const fitted& f : fits) sum += std::abs(f.k - f.true_k) / f.true_k;
    return sum / static_cast<double>(fits.size());
}

bool pipeline() {
    constexpr std::size_t runs = 8;
    constexpr std::size_t broken = 5;
    const parkit::seed_sequence seeds{2024};
    parkit::task_graph g;
    std::vector<parkit::node<fitted>> fits, good_fits;
    std::vector<parkit::node<std::string>> checks;
    for (std::size_t run = 0; run < runs; ++run) {
        const std::string id = std::to_string(run);
        auto data = g.add_named("load " + id, load, seeds, run, run == broken);
        auto result = g.add_named("fit " + id, fit, data);
        checks.push_back(g.add_named("check " + id, check_fit, result));
        fits.push_back(result);
        if (run != broken) good_fits.push_back(result);
    }
    auto summary = g.add_named("summarise", mean_relative_error, good_fits);

    bool ok = true;
    std::string error;
    try {
        g.compute();
    } catch (const parkit::node_error& e) {
        error = e.what();
        ok &= check(e.failed_node_name() == "fit 5", "the error names the failed node");
    }
    std::printf("\nPipeline: %zu nodes; compute reported:\n  %s\n", g.size(), error.c_str());
    ok &= check(!error.empty(), "the broken run's fit fails");
    for (std::size_t run = 0; run < runs; ++run) {
        if (run == broken) {
            try {
                (void)g.get(checks[run]);
                ok = check(false, "the check of the broken run is skipped");
            } catch (const parkit::node_error& e) {
                std::printf("  check %zu: %s\n", run, e.what());
            }
            continue;
        }
        const fitted& f = g.get(fits[run]);
        std::printf("  run %zu: k = %.4f +/- %.4f (true %.4f), check: %s\n", run, f.k, f.k_error, f.true_k,
                    g.get(checks[run]).c_str());
        ok &= check(g.state(checks[run]) == parkit::node_state::done, "independent branches finish");
    }
    const double mre = g.get(summary);
    std::printf("  summary over %zu good runs: mean relative error of k = %.3f %%\n", good_fits.size(), 100 * mre);
    ok &= check(mre < 0.05, "the fits recover k");

    examples::render_dot(examples::output_dir("graph_pipeline"), "pipeline", g.to_dot());
    return ok;
}

// --- 3. Scheduling overhead --------------------------------------------------------------------
struct timing {
    double build_s = 0, compute_s = 0;
};

// Builds `n` independent tiny nodes plus a pairwise-sum tree over them (about 2n nodes in all)
// and computes them; best of three; checks the total.
timing tree_of_tiny_nodes(long n, const parkit::graph_options& opts, bool& ok) {
    timing best{1e300, 1e300};
    for (int repeat = 0; repeat < 3; ++repeat) {
        parkit::task_graph g;
        std::vector<parkit::node<long>> level;
        const double build = seconds([&] {
            level.reserve(static_cast<std::size_t>(n));
            for (long i = 0; i < n; ++i) level.push_back(g.add([](long x) { return x; }, i));
            while (level.size() > 1) {
                std::vector<parkit::node<long>> next;
                for (std::size_t i = 0; i + 1 < level.size(); i += 2)
                    next.push_back(g.add([](long a, long b) { return a + b; }, level[i], level[i + 1]));
                if (level.size() % 2 == 1) next.push_back(level.back());
                level = std::move(next);
            }
        });
        const double compute = seconds([&] { g.compute(opts); });
        ok &= check(g.get(level.front()) == n * (n - 1) / 2, "the tree sums correctly");
        best.build_s = std::min(best.build_s, build);
        best.compute_s = std::min(best.compute_s, compute);
    }
    return best;
}

bool overhead() {
    bool ok = true;
    constexpr long n = 50'000;  // ~100,000 nodes
    const double nodes = 2.0 * n - 1;
    const timing threads = tree_of_tiny_nodes(n, {}, ok);
    const timing sequential = tree_of_tiny_nodes(n, {.backend = parkit::backend::sequential}, ok);
    std::printf("\n%.0f tiny nodes (independent + pairwise-sum tree), best of 3:\n", nodes);
    std::printf("  build (add):                 %.0f ns per node\n", threads.build_s / nodes * 1e9);
    std::printf("  compute, threads (%d workers): %.0f ns per node\n", parkit::available_cores(),
                threads.compute_s / nodes * 1e9);
    std::printf("  compute, sequential:          %.0f ns per node\n", sequential.compute_s / nodes * 1e9);
    const std::vector<double> ns_per_node{threads.build_s / nodes * 1e9, threads.compute_s / nodes * 1e9,
                                          sequential.compute_s / nodes * 1e9};
    const std::vector<double> total_s{threads.build_s, threads.compute_s, sequential.compute_s};
    examples::write_csv(examples::output_dir("graph_pipeline") / "overhead.csv", {"stage", "ns_per_node", "total_s"},
                        {"build (add)", "compute threads", "compute sequential"}, {ns_per_node, total_s});
    return ok;
}

}  // namespace

int main() {
    bool ok = delayed_sweep();
    ok = pipeline() && ok;
    ok = overhead() && ok;
    std::printf("\n%s\n", ok ? "All checks passed." : "Some checks FAILED.");
    return ok ? 0 : 1;
}
