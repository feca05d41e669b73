#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <parkit/graph.hpp>

namespace {

int add_one(int x) {
    return x + 1;
}

}  // namespace

TEST_CASE("task_graph passes upstream results and plain values to later nodes", "[graph]") {
    parkit::task_graph g;
    auto a = g.add(add_one, 1);
    auto b = g.add([](int x, int y) { return x * y; }, a, 10);
    auto c = g.add([](const std::string& s, int n) { return s + std::to_string(n); }, std::string("n="), b);
    REQUIRE(g.size() == 3);
    REQUIRE(g.state(c) == parkit::node_state::pending);
    g.compute();
    REQUIRE(g.get(a) == 2);
    REQUIRE(g.get(b) == 20);
    REQUIRE(g.get(c) == "n=20");
    REQUIRE(g.state(c) == parkit::node_state::done);
}

TEST_CASE("task_graph runs a diamond's shared input once and the join after both sides", "[graph]") {
    for (int jobs : {1, 2, 4}) {
        std::atomic<int> source_runs{0};
        parkit::task_graph g;
        auto source = g.add([&] {
            ++source_runs;
            return std::vector<int>{1, 2, 3};
        });
        auto left = g.add([](const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); }, source);
        auto right = g.add([](const std::vector<int>& v) { return static_cast<int>(v.size()); }, source);
        auto join = g.add([](int sum, int n, const std::vector<int>& v) { return sum * 100 + n * 10 + v.front(); },
                          left, right, source);
        g.compute({.n_jobs = jobs});
        REQUIRE(source_runs == 1);
        REQUIRE(g.get(join) == 631);
    }
}

TEST_CASE("task_graph never runs a node before its inputs", "[graph]") {
    std::atomic<int> clock{0};
    parkit::task_graph g;
    // A layered graph: each node records when it ran; inputs must have run earlier.
    std::vector<parkit::node<int>> layer;
    for (int i = 0; i < 50; ++i) layer.push_back(g.add([&] { return ++clock; }));
    for (int level = 0; level < 20; ++level) {
        std::vector<parkit::node<int>> next;
        for (std::size_t i = 0; i < layer.size(); ++i) {
            next.push_back(g.add(
                [&](int t1, int t2) {
                    const int now = ++clock;
                    if (now <= t1 || now <= t2) throw std::logic_error("ran before an input");
                    return now;
                },
                layer[i], layer[(i + 1) % layer.size()]));
        }
        layer = next;
    }
    g.compute({.n_jobs = 4});
    for (auto n : layer) REQUIRE(g.get(n) > 0);
}

TEST_CASE("task_graph: a failed node skips its dependents, names itself, and independent branches finish", "[graph]") {
    for (auto backend : {parkit::backend::threads, parkit::backend::sequential}) {
        parkit::task_graph g;
        auto load = g.add_named("load", [] { return 5; });
        auto fit = g.add_named(
            "fit",
            [](int x) -> int {
                if (x == 5) throw std::runtime_error("singular matrix");
                return x;
            },
            load);
        auto summarise = g.add_named(
            "summarise", [](int x) { return x * 2; }, fit);
        auto report = g.add([](int x, int y) { return x + y; }, summarise, load);
        std::vector<parkit::node<int>> independent;
        for (int i = 0; i < 100; ++i) independent.push_back(g.add([](int x) { return x + 1; }, i));
        auto total = g.add([](int a, int b) { return a + b; }, independent.front(), independent.back());

        try {
            g.compute({.backend = backend});
            FAIL("compute did not throw");
        } catch (const parkit::node_error& e) {
            const std::string what = e.what();
            INFO(what);
            REQUIRE(what.find("'fit'") != std::string::npos);
            REQUIRE(what.find("singular matrix") != std::string::npos);
            REQUIRE(what.find("3 of 105") != std::string::npos);
            REQUIRE(e.failed_node_id() == fit.id());
            REQUIRE_THROWS_WITH(e.rethrow_original(), "singular matrix");
        }
        REQUIRE(g.state(fit) == parkit::node_state::failed);
        REQUIRE(g.state(summarise) == parkit::node_state::skipped);
        REQUIRE(g.state(report) == parkit::node_state::skipped);
        REQUIRE(g.get(load) == 5);
        REQUIRE(g.get(total) == 1 + 100);
        for (auto n : independent) REQUIRE(g.state(n) == parkit::node_state::done);
        try {
            (void)g.get(report);
            FAIL("get did not throw");
        } catch (const parkit::node_error& e) {
            const std::string what = e.what();
            REQUIRE(what.find("#3 was not run: its input 'fit' (#1) failed with std::runtime_error: singular matrix") !=
                    std::string::npos);
            REQUIRE(e.node_id() == report.id());
            REQUIRE(e.failed_node_name() == "fit");
            REQUIRE_THROWS_AS(std::rethrow_if_nested(e), std::runtime_error);
        }
    }
}

TEST_CASE("task_graph schedules 100,000 small nodes", "[graph]") {
    parkit::task_graph g;
    std::vector<parkit::node<long>> level;
    for (long i = 0; i < 50'000; ++i) level.push_back(g.add([](long x) { return x; }, i));
    // Pairwise sums down to one node: another ~50,000 nodes.
    while (level.size() > 1) {
        std::vector<parkit::node<long>> next;
        for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
            next.push_back(g.add([](long a, long b) { return a + b; }, level[i], level[i + 1]));
        }
        if (level.size() % 2 == 1) next.push_back(level.back());
        level = std::move(next);
    }
    REQUIRE(g.size() > 99'990);
    g.compute();
    REQUIRE(g.get(level.front()) == 50'000L * 49'999 / 2);
}

TEST_CASE("task_graph computes incrementally, on a given pool, with void and move-only nodes", "[graph]") {
    parkit::thread_pool pool(3);
    parkit::task_graph g;
    auto a = g.add([](std::unique_ptr<int> p) { return *p * 2; }, std::make_unique<int>(21));
    std::atomic<int> side_effects{0};
    auto v = g.add([&](int x) { side_effects += x; }, a);
    g.compute(pool);
    REQUIRE(g.get(a) == 42);
    g.get(v);  // void: nothing to return, but no error
    REQUIRE(side_effects == 42);

    std::atomic<int> a_runs{0};
    auto b = g.add(
        [&](int x) {
            ++a_runs;
            return x + 1;
        },
        a);
    g.compute(pool);  // only the new node runs
    REQUIRE(g.get(b) == 43);
    REQUIRE(side_effects == 42);
    REQUIRE(a_runs == 1);
    g.compute();  // nothing left: a no-op
    REQUIRE(a_runs == 1);

    // A failure of an earlier compute still reaches nodes added later.
    auto bad = g.add_named("bad", []() -> int { throw std::invalid_argument("nope"); });
    REQUIRE_THROWS_AS(g.compute(), parkit::node_error);
    auto late = g.add([](int x) { return x; }, bad);
    REQUIRE_NOTHROW(g.compute());  // nothing new failed: `late` is skipped
    REQUIRE(g.state(late) == parkit::node_state::skipped);
    REQUIRE_THROWS_WITH(g.get(late), Catch::Contains("its input 'bad'"));
}

TEST_CASE("task_graph: a node may compute a graph of its own", "[graph]") {
    parkit::task_graph g;
    auto outer = g.add(
        [](int n) {
            parkit::task_graph inner;
            std::vector<parkit::node<int>> parts;
            for (int i = 0; i < n; ++i) parts.push_back(inner.add([](int x) { return x * x; }, i));
            inner.compute();
            int sum = 0;
            for (auto p : parts) sum += inner.get(p);
            return sum;
        },
        10);
    std::vector<parkit::node<int>> others;
    for (int i = 0; i < 8; ++i) others.push_back(g.add([](int x, int y) { return x + y; }, outer, i));
    g.compute({.n_jobs = 4});
    REQUIRE(g.get(outer) == 285);
    REQUIRE(g.get(others.back()) == 292);
}

TEST_CASE("task_graph refuses foreign handles, early get and bad options, exports DOT", "[graph]") {
    parkit::task_graph g;
    parkit::task_graph other;
    auto a = g.add_named("load \"raw\"", [] { return 1; });
    auto foreign = other.add([] { return 2; });
    REQUIRE_THROWS_AS(g.add(add_one, foreign), std::invalid_argument);
    REQUIRE_THROWS_AS(g.get(foreign), std::invalid_argument);
    REQUIRE_THROWS_AS(g.get(a), std::logic_error);
    REQUIRE_THROWS_AS(g.compute({.backend = parkit::backend::processes}), std::invalid_argument);
    REQUIRE_THROWS_AS(g.compute({.n_jobs = 0}), std::invalid_argument);
    auto b = g.add(add_one, a);
    g.compute();
    REQUIRE(g.get(b) == 2);
    const std::string dot = g.to_dot();
    REQUIRE(dot.find("digraph parkit") != std::string::npos);
    REQUIRE(dot.find("label=\"load \\\"raw\\\"\"") != std::string::npos);
    REQUIRE(dot.find("n0 -> n1;") != std::string::npos);
    REQUIRE(dot.find("label=\"#1\"") != std::string::npos);
}

TEST_CASE("task_graph passes a vector of node handles as a vector of results", "[graph]") {
    parkit::task_graph g;
    std::vector<parkit::node<double>> fits;
    for (int i = 1; i <= 10; ++i) fits.push_back(g.add([](int x) { return x * 0.5; }, i));
    auto summary = g.add_named(
        "summary",
        [](const std::vector<double>& all, double scale) {
            double sum = 0;
            for (double v : all) sum += v;
            return sum * scale;
        },
        fits, 2.0);
    g.compute();
    REQUIRE(g.get(summary) == Approx(55.0));
    REQUIRE(g.to_dot().find("n9 -> n10;") != std::string::npos);
}
