#include <parkit/kernels/ode_sweep.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace pk = parkit::kernels;

namespace {

using vec = std::vector<double>;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

double exact_conversion(double k, double t) { return 1.0 - std::exp(-k * t); }

/// dy/dt = -y as a std::vector system.
void decay(const vec& y, vec& dydt, double) { dydt[0] = -y[0]; }

/// Consecutive reactions A → B → C: y = (C_A, C_B), rates k1 (given per sweep task) and k2.
auto consecutive(double k1, double k2) {
    return [k1, k2](const vec& y, vec& dydt, double) {
        dydt[0] = -k1 * y[0];
        dydt[1] = k1 * y[0] - k2 * y[1];
    };
}

/// C_B(t) of A → B → C from C_A(0) = a0, C_B(0) = 0 (k1 != k2).
double exact_b(double k1, double k2, double a0, double t) {
    return a0 * k1 / (k2 - k1) * (std::exp(-k1 * t) - std::exp(-k2 * t));
}

}  // namespace

TEST_CASE("solve_reaction reproduces the chapter and the exact conversion", "[kernels][ode]") {
    // The chapter: k = 0.5 gives 0.9932 with scipy's default tolerances (exact 0.993262).
    CHECK(pk::solve_reaction(0.5) == Approx(0.9932).margin(5e-5));
    for (double k : {0.01, 0.1, 0.5, 1.0, 2.0, 5.0}) {
        CAPTURE(k);
        CHECK(pk::solve_reaction(k) == Approx(exact_conversion(k, 10.0)).margin(1e-4));
        CHECK(pk::solve_reaction(k, 3.0, 2.0, {.rtol = 1e-10, .atol = 1e-12}) ==
              Approx(exact_conversion(k, 2.0)).margin(1e-9));
    }
    CHECK(pk::solve_reaction(0.0) == 0.0);
}

TEST_CASE("tighter tolerances give smaller errors and more steps", "[kernels][ode]") {
    const std::array<double, 1> y0{1.0};
    const auto rhs = [](const std::array<double, 1>& y, std::array<double, 1>& dydt, double) { dydt[0] = -0.5 * y[0]; };
    double previous_error = infinity;
    std::size_t previous_steps = 0;
    for (double rtol : {1e-3, 1e-6, 1e-9}) {
        CAPTURE(rtol);
        const auto r = pk::integrate_ode(rhs, y0, 0.0, 10.0, {.rtol = rtol, .atol = rtol * 1e-3});
        const double error = std::abs(r.y[0] - std::exp(-5.0));
        CHECK(error < previous_error);
        CHECK(r.steps > previous_steps);
        previous_error = error;
        previous_steps = r.steps;
    }
    CHECK(previous_error < 1e-11);
}

TEST_CASE("integrate_ode works on std::vector and std::array and reports its cost", "[kernels][ode]") {
    // Harmonic oscillator y'' = -y over one period: back to (1, 0).
    const auto oscillator = [](const auto& y, auto& dydt, double) {
        dydt[0] = y[1];
        dydt[1] = -y[0];
    };
    const double period = 2 * std::acos(-1.0);
    const pk::ode_options tight{.rtol = 1e-10, .atol = 1e-12};
    const auto v = pk::integrate_ode(oscillator, vec{1.0, 0.0}, 0.0, period, tight);
    const auto a = pk::integrate_ode(oscillator, std::array<double, 2>{1.0, 0.0}, 0.0, period, tight);
    REQUIRE(v.y.size() == 2);
    CHECK(v.y[0] == Approx(1.0).margin(1e-8));
    CHECK(v.y[1] == Approx(0.0).margin(1e-8));
    CHECK(a.y[0] == v.y[0]);  // same arithmetic whatever the container
    CHECK(a.y[1] == v.y[1]);
    CHECK(a.steps == v.steps);

    // Dormand-Prince is FSAL: f(y0), one call for the automatic first step, 6 per attempted step.
    CHECK(v.steps > 10);
    CHECK(v.rhs_evaluations == 2 + 6 * (v.steps + v.rejected_steps));
    // A given first step skips the automatic one; a too-large one is rejected and shrunk.
    const auto given = pk::integrate_ode(decay, vec{1.0}, 0.0, 1.0, {.rtol = 1e-8, .atol = 1e-10, .first_step = 0.9});
    CHECK(given.rejected_steps >= 1);
    CHECK(given.rhs_evaluations == 1 + 6 * (given.steps + given.rejected_steps));
    CHECK(given.y[0] == Approx(std::exp(-1.0)).margin(1e-7));

    // max_step caps every step; the last one ends exactly at t1.
    const auto capped = pk::integrate_ode(decay, vec{1.0}, 0.0, 10.0, {.max_step = 0.1});
    CHECK(capped.steps >= 100);
    CHECK(capped.y[0] == Approx(std::exp(-10.0)).margin(1e-6));

    // A stateful functor is called by reference, not copied.
    struct counting {
        std::size_t calls = 0;
        void operator()(const vec& y, vec& dydt, double) { ++calls; dydt[0] = -y[0]; }
    } counter;
    const auto r = pk::integrate_ode(counter, vec{1.0}, 0.0, 1.0);
    CHECK(counter.calls == r.rhs_evaluations);
}

TEST_CASE("ode_sweep solves consecutive reactions A -> B -> C like the analytic solution", "[kernels][ode]") {
    const double k2 = 0.3, t1 = 5.0;
    const auto k1s = pk::linspace(0.1, 2.0, 40);  // includes no k1 == k2
    const pk::ode_sweep_options tight{.ode = {.rtol = 1e-9, .atol = 1e-12}};

    // Whole results (default extractor), fixed initial state.
    const auto results = pk::ode_sweep([k2](double k1) { return consecutive(k1, k2); }, vec{1.0, 0.0}, 0.0, t1, k1s, tight);
    REQUIRE(results.size() == k1s.size());
    for (std::size_t i = 0; i < k1s.size(); ++i) {
        CAPTURE(k1s[i]);
        CHECK(results[i].y[0] == Approx(std::exp(-k1s[i] * t1)).margin(1e-9));
        CHECK(results[i].y[1] == Approx(exact_b(k1s[i], k2, 1.0, t1)).margin(1e-9));
        CHECK(results[i].steps > 0);
    }

    // A scalar per parameter (C_C = A0 - C_A - C_B), initial state a function of the parameter.
    const auto c = pk::ode_sweep([k2](double k1) { return consecutive(k1, k2); },
                                 [](double k1) { return vec{2.0 * k1, 0.0}; }, 0.0, t1, k1s, tight,
                                 [](const pk::ode_result<vec>& r) { return r.y[0] + r.y[1]; });
    REQUIRE(c.size() == k1s.size());
    for (std::size_t i = 0; i < k1s.size(); ++i) {
        const double a0 = 2.0 * k1s[i];
        CHECK(c[i] == Approx(a0 * std::exp(-k1s[i] * t1) + exact_b(k1s[i], k2, a0, t1)).margin(1e-9));
    }
}

TEST_CASE("sweeps are in input order and bit-identical for any n_jobs and backend", "[kernels][ode]") {
    const auto ks = pk::linspace(0.01, 2.0, 200);
    std::vector<double> reference;
    for (double k : ks) reference.push_back(pk::solve_reaction(k));

    const std::vector<parkit::options> executions{
        {.backend = parkit::backend::sequential}, {.n_jobs = 1}, {.n_jobs = 2}, {.n_jobs = -1},
        {.n_jobs = 2, .chunk_size = 1},           {.n_jobs = 3, .chunk_size = 7}};
    const auto system = [](double k) { return pk::first_order_reaction{k}; };
    for (const auto& execution : executions) {
        CAPTURE(execution.n_jobs, execution.chunk_size);
        const pk::ode_sweep_options o{.execution = execution};
        CHECK(pk::reaction_sweep(ks, o) == reference);
        const auto generic = pk::ode_sweep(system, std::array<double, 1>{1.0}, 0.0, 10.0, ks, o,
                                           [](const auto& r) { return 1.0 - r.y[0]; });
        CHECK(generic == reference);
    }
    CHECK(pk::reaction_sweep(std::vector<double>{}).empty());
}

TEST_CASE("linspace follows numpy", "[kernels][ode]") {
    CHECK(pk::linspace(0.0, 1.0, 0).empty());
    CHECK(pk::linspace(3.0, 7.0, 1) == std::vector<double>{3.0});
    CHECK(pk::linspace(0.0, 1.0, 5) == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0});
    CHECK(pk::linspace(1.0, -1.0, 3) == std::vector<double>{1.0, 0.0, -1.0});
    CHECK(pk::linspace(2.0, 2.0, 3) == std::vector<double>{2.0, 2.0, 2.0});
    const auto ks = pk::linspace(0.01, 2.0, 200);
    REQUIRE(ks.size() == 200);
    CHECK(ks.front() == 0.01);
    CHECK(ks.back() == 2.0);  // exactly the end point
    CHECK(ks[1] == 0.01 + (2.0 - 0.01) / 199);
}

TEST_CASE("bad input throws std::invalid_argument naming the argument", "[kernels][ode][errors]") {
    const auto solve = [](double t0, double t1, const pk::ode_options& o, vec y0 = {1.0}) {
        return pk::integrate_ode(decay, y0, t0, t1, o);
    };
    const auto throws = [&](double t0, double t1, const pk::ode_options& o, const char* name, vec y0 = {1.0}) {
        CAPTURE(name);
        CHECK_THROWS_AS(solve(t0, t1, o, y0), std::invalid_argument);
        CHECK_THROWS_WITH(solve(t0, t1, o, y0), Catch::Contains(name));
    };
    throws(0, 0, {}, "t1");
    throws(1, 0, {}, "t1");
    throws(0, not_a_number, {}, "t1");
    throws(0, infinity, {}, "t1");
    throws(not_a_number, 1, {}, "t0");
    throws(0, 1, {.rtol = not_a_number}, "rtol");
    throws(0, 1, {.rtol = 0}, "rtol");
    throws(0, 1, {.rtol = -1e-3}, "rtol");
    throws(0, 1, {.atol = not_a_number}, "atol");
    throws(0, 1, {.atol = 0}, "atol");
    throws(0, 1, {.atol = -1}, "atol");
    throws(0, 1, {.first_step = -1}, "first_step");
    throws(0, 1, {.max_step = 0}, "max_step");
    throws(0, 1, {.max_step = not_a_number}, "max_step");
    throws(0, 1, {.max_steps = 0}, "max_steps");
    throws(0, 1, {}, "y0", vec{});
    throws(0, 1, {}, "y0", vec{not_a_number});

    CHECK_THROWS_WITH(pk::solve_reaction(not_a_number), Catch::Contains("k must be finite"));
    CHECK_THROWS_WITH(pk::solve_reaction(infinity), Catch::Contains("k must be finite"));
    CHECK_THROWS_WITH(pk::solve_reaction(0.5, 0.0), Catch::Contains("C_A0"));
    CHECK_THROWS_WITH(pk::solve_reaction(0.5, 1.0, 0.0), Catch::Contains("t_final"));
    CHECK_THROWS_WITH(pk::solve_reaction(0.5, 1.0, 10.0, {.atol = not_a_number}), Catch::Contains("atol"));

    // Sweeps check their settings before any task runs: a plain std::invalid_argument.
    const std::vector<double> ks{0.5, 1.0};
    const auto system = [](double k) { return pk::first_order_reaction{k}; };
    CHECK_THROWS_AS(pk::ode_sweep(system, std::array<double, 1>{1.0}, 0.0, -1.0, ks), std::invalid_argument);
    CHECK_THROWS_WITH(pk::ode_sweep(system, std::array<double, 1>{not_a_number}, 0.0, 1.0, ks), Catch::Contains("y0"));
    CHECK_THROWS_WITH(pk::reaction_sweep(ks, {.ode = {.rtol = 0}}), Catch::Contains("rtol"));
    // A bad parameter fails its own task: task_error with the index, the original nested.
    const std::vector<double> with_nan{0.5, 1.0, not_a_number, 2.0};
    try {
        pk::reaction_sweep(with_nan);
        FAIL("no exception");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 2);
        CHECK_THROWS_AS(e.rethrow_original(), std::invalid_argument);
        CHECK_THROWS_WITH(e.rethrow_original(), Catch::Contains("k must be finite"));
    }
}

TEST_CASE("a solve that cannot reach t1 throws ode_integration_error", "[kernels][ode][errors]") {
    // Stiff: y' = -1e6 (y - cos t) needs ~1e6 explicit steps over [0, 2].
    const auto stiff = [](const vec& y, vec& dydt, double t) { dydt[0] = -1e6 * (y[0] - std::cos(t)); };
    CHECK_THROWS_AS(pk::integrate_ode(stiff, vec{0.0}, 0.0, 2.0, {.max_steps = 1000}), pk::ode_integration_error);
    CHECK_THROWS_WITH(pk::integrate_ode(stiff, vec{0.0}, 0.0, 2.0, {.max_steps = 1000}),
                      Catch::Contains("max_steps = 1000") && Catch::Contains("stiff"));
    try {
        pk::integrate_ode(stiff, vec{0.0}, 0.0, 2.0, {.max_steps = 1000});
    } catch (const pk::ode_integration_error& e) {
        CHECK(e.t() > 0.0);
        CHECK(e.t() < 2.0);
    }

    // Blows up at t = 1: y' = y², y(0) = 1, y = 1 / (1 - t).
    const auto blow_up = [](const vec& y, vec& dydt, double) { dydt[0] = y[0] * y[0]; };
    try {
        pk::integrate_ode(blow_up, vec{1.0}, 0.0, 2.0);
        FAIL("no exception");
    } catch (const pk::ode_integration_error& e) {
        CHECK(e.t() == Approx(1.0).margin(1e-3));
        CHECK_THAT(e.what(), Catch::Contains("integrate_ode") && Catch::Contains("t1 = 2"));
    }

    // A NaN right-hand side is caught, not returned as a result.
    const auto bad_rhs = [](const vec& y, vec& dydt, double t) { dydt[0] = t > 0.5 ? not_a_number : -y[0]; };
    CHECK_THROWS_WITH(pk::integrate_ode(bad_rhs, vec{1.0}, 0.0, 1.0), Catch::Contains("infinite or NaN"));

    // In a sweep the failed parameter's index comes with the error.
    const std::vector<double> scales{1.0, 2.0, 1e6, 3.0};
    const auto system = [](double s) {
        return [s](const vec& y, vec& dydt, double t) { dydt[0] = -s * (y[0] - std::cos(t)); };
    };
    for (int n_jobs : {1, -1}) {
        try {
            pk::ode_sweep(system, vec{0.0}, 0.0, 2.0, scales, {.ode = {.max_steps = 1000}, .execution = {.n_jobs = n_jobs}});
            FAIL("no exception");
        } catch (const parkit::task_error& e) {
            CHECK(e.index() == 2);
            CHECK_THROWS_AS(e.rethrow_original(), pk::ode_integration_error);
        }
    }
}
