// graph: a parkit::task_graph of 100,000 small nodes (dask.delayed's use): 50,000 leaves
// and a binary reduction tree over them, built and computed each run. Against a plain loop
// doing the same arithmetic, the time per node is the graph's own cost (building, scheduling,
// passing results), on the calling thread (`parkit_graph_sequential`) and on the pool.
#include <parkit/graph.hpp>

#include <cstddef>
#include <vector>

#include "../harness/registry.hpp"

namespace parkit_bench {

namespace {

/// A leaf's value.
double leaf(std::size_t i) {
    return 0.5 * static_cast<double>(i);
}
/// An inner node: combines its two inputs.
double combine(const double& a, const double& b) {
    return a + b;
}

/// The same tree as plain arithmetic: level by level, pairs combined (an odd one carried up).
double loop_tree(std::size_t leaves) {
    std::vector<double> level(leaves);
    for (std::size_t i = 0; i < leaves; ++i) level[i] = leaf(i);
    while (level.size() > 1) {
        std::vector<double> up;
        up.reserve(level.size() / 2 + 1);
        for (std::size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(combine(level[i], level[i + 1]));
        if (level.size() % 2 == 1) up.push_back(level.back());
        level.swap(up);
    }
    return level.front();
}

/// Builds the tree as a graph, computes it with `compute`, and returns the root's value.
template <class Compute>
double graph_tree(std::size_t leaves, const Compute& compute) {
    parkit::task_graph g;
    std::vector<parkit::node<double>> level;
    level.reserve(leaves);
    for (std::size_t i = 0; i < leaves; ++i) level.push_back(g.add(leaf, i));
    while (level.size() > 1) {
        std::vector<parkit::node<double>> up;
        up.reserve(level.size() / 2 + 1);
        for (std::size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(g.add(combine, level[i], level[i + 1]));
        if (level.size() % 2 == 1) up.push_back(level.back());
        level.swap(up);
    }
    compute(g);
    return g.get(level.front());
}

workload make_graph() {
    return {
        "graph", {100'000}, [](std::size_t n) {
            const std::size_t leaves = n / 2;  // leaves + inner nodes = n - 1
            bench_case c;
            c.items = n;
            c.impls.push_back({"sequential", [=](int) -> runner { return [=] { keep(loop_tree(leaves)); }; }, false});
            c.impls.push_back({"parkit_graph_sequential",
                               [=](int) -> runner {
                                   return [=] {
                                       keep(graph_tree(leaves, [](parkit::task_graph& g) {
                                           g.compute({.backend = parkit::backend::sequential});
                                       }));
                                   };
                               },
                               false});
            c.impls.push_back(
                {"parkit_threads", [=](int workers) -> runner {
                     return [=] {
                         keep(graph_tree(leaves, [workers](parkit::task_graph& g) { g.compute({.n_jobs = workers}); }));
                     };
                 }});
            return c;
        }};
}

}  // namespace

PARKIT_BENCH_REGISTER(100, make_graph);

}  // namespace parkit_bench
