#include <parkit/kernels/ode_sweep.hpp>

#include "reference/ode_reference.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

namespace pk = parkit::kernels;

namespace {

using vec = std::vector<double>;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

double exact_conversion(double k, double t) {
    return 1.0 - std::exp(-k * t);
}

/// dy/dt = -y as a std::vector system.
void decay(const vec& y, vec& dydt, double) {
    dydt[0] = -y[0];
}

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
    // scipy's solve_ivp at its defaults: the same conversions (the same steps) and rhs counts.
    for (std::size_t i = 0; i < std::size(ode_reference::reaction_k); ++i) {
        const double k = ode_reference::reaction_k[i];
        CAPTURE(k);
        CHECK(pk::solve_reaction(k) == Approx(ode_reference::reaction_conversion[i]).epsilon(1e-12));
        CHECK(pk::integrate_ode(pk::first_order_reaction{k}, std::array<double, 1>{1.0}, 0.0, 10.0).rhs_evaluations ==
              static_cast<std::size_t>(ode_reference::reaction_nfev[i]));
        CHECK(pk::solve_reaction(k) == Approx(exact_conversion(k, 10.0)).margin(2e-4));
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
        void operator()(const vec& y, vec& dydt, double) {
            ++calls;
            dydt[0] = -y[0];
        }
    } counter;
    const auto r = pk::integrate_ode(counter, vec{1.0}, 0.0, 1.0);
    CHECK(counter.calls == r.rhs_evaluations);
}

TEST_CASE("ode_sweep solves consecutive reactions A -> B -> C like the analytic solution", "[kernels][ode]") {
    const double k2 = 0.3, t1 = 5.0;
    const auto k1s = pk::linspace(0.1, 2.0, 40);  // includes no k1 == k2
    const pk::ode_sweep_options tight{.ode = {.rtol = 1e-9, .atol = 1e-12}};

    // Whole results (default extractor), fixed initial state.
    const auto results =
        pk::ode_sweep([k2](double k1) { return consecutive(k1, k2); }, vec{1.0, 0.0}, 0.0, t1, k1s, tight);
    REQUIRE(results.size() == k1s.size());
    for (std::size_t i = 0; i < k1s.size(); ++i) {
        CAPTURE(k1s[i]);
        CHECK(results[i].y[0] == Approx(std::exp(-k1s[i] * t1)).margin(1e-9));
        CHECK(results[i].y[1] == Approx(exact_b(k1s[i], k2, 1.0, t1)).margin(1e-9));
        CHECK(results[i].steps > 0);
    }

    // A scalar per parameter (C_C = A0 - C_A - C_B), initial state a function of the parameter.
    const auto c = pk::ode_sweep([k2](double k1) { return consecutive(k1, k2); },
                                 [](double k1) {
                                     return vec{2.0 * k1, 0.0};
                                 },
                                 0.0, t1, k1s, tight, [](const pk::ode_result<vec>& r) { return r.y[0] + r.y[1]; });
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

    const std::vector<parkit::options> executions{{.backend = parkit::backend::sequential},
                                                  {.n_jobs = 1},
                                                  {.n_jobs = 2},
                                                  {.n_jobs = -1},
                                                  {.n_jobs = 2, .chunk_size = 1},
                                                  {.n_jobs = 3, .chunk_size = 7}};
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
    throws(1, 1, {}, "t1");
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
    CHECK_THROWS_AS(pk::ode_sweep(system, std::array<double, 1>{1.0}, 0.0, 0.0, ks), std::invalid_argument);
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
            pk::ode_sweep(system, vec{0.0}, 0.0, 2.0, scales,
                          {.ode = {.max_steps = 1000}, .execution = {.n_jobs = n_jobs}});
            FAIL("no exception");
        } catch (const parkit::task_error& e) {
            CHECK(e.index() == 2);
            CHECK_THROWS_AS(e.rethrow_original(), pk::ode_integration_error);
        }
    }
}

// ---- scipy solve_ivp parity: methods, t_eval, dense output, events, atol vectors, backward ----

namespace {

namespace ref = ode_reference;

/// Van der Pol: y0' = y1, y1' = mu (1 - y0²) y1 - y0.
auto van_der_pol(double mu) {
    return [mu](const vec& y, vec& dydt, double) {
        dydt[0] = y[1];
        dydt[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0];
    };
}

/// Robertson's chemical kinetics (stiff).
void robertson(const vec& y, vec& dydt, double) {
    dydt[0] = -0.04 * y[0] + 1e4 * y[1] * y[2];
    dydt[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1];
    dydt[2] = 3e7 * y[1] * y[1];
}

/// Lotka–Volterra with (a, b, c, d) = (1.5, 1, 3, 1).
void lotka_volterra(const vec& y, vec& dydt, double) {
    dydt[0] = 1.5 * y[0] - y[0] * y[1];
    dydt[1] = -3.0 * y[1] + y[0] * y[1];
}

/// The largest |a_i - b_i| / (atol + rtol |b_i|).
double scaled_difference(const vec& a, const double* b, double rtol, double atol) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] - b[i]) / (atol + rtol * std::abs(b[i])));
    return worst;
}

}  // namespace

TEST_CASE("rosenbrock4 solves Van der Pol mu = 1000 like scipy in few rhs evaluations", "[kernels][ode][stiff]") {
    const auto r =
        pk::integrate_ode(van_der_pol(1000.0), vec{2.0, 0.0}, 0.0, 3000.0,
                          {.method = pk::ode_method::rosenbrock4, .t_eval = {ref::vdp_t_eval, ref::vdp_t_eval + 7}});
    REQUIRE(r.y.size() == 2);
    CAPTURE(r.y[0], r.y[1], r.steps, r.rejected_steps, r.rhs_evaluations);
    // Within 1e-3 relative of a tight Radau reference (scipy's LSODA at these tolerances: 9e-3).
    CHECK(std::abs(r.y[0] - ref::vdp_tight_y[0]) < 1e-3 * std::abs(ref::vdp_tight_y[0]));
    CHECK(std::abs(r.y[1] - ref::vdp_tight_y[1]) < 1e-3 * std::abs(ref::vdp_tight_y[1]));
    // At most 5x the rhs evaluations of scipy's LSODA (1,803), the Jacobians' included.
    CHECK(ref::vdp_lsoda_nfev == 1803);
    CHECK(r.rhs_evaluations <= 5 * ref::vdp_lsoda_nfev);
    CHECK(r.jacobian_evaluations == r.steps);  // one per step: retries after a rejection reuse it
    // f, the n columns of ∂f/∂y and ∂f/∂t at each step's start, 5 per attempt, 1 for the first step size.
    CHECK(r.rhs_evaluations == 1 + 4 * r.jacobian_evaluations + 5 * (r.steps + r.rejected_steps));
    REQUIRE(r.t.size() == 7);
    REQUIRE(r.ys.size() == 7);
    for (std::size_t k = 0; k < 7; ++k) {
        CAPTURE(k);
        CHECK(r.t[k] == ref::vdp_t_eval[k]);
        CHECK(scaled_difference(r.ys[k], ref::vdp_tight_ys + 2 * k, 1e-2, 1e-5) < 1.0);
    }
    CHECK(r.ys.back() == r.y);

    // A user-given Jacobian: same accuracy, n fewer evaluations per Jacobian.
    const auto with_jacobian =
        pk::integrate_ode(van_der_pol(1000.0), vec{2.0, 0.0}, 0.0, 3000.0,
                          {.method = pk::ode_method::rosenbrock4,
                           .jacobian = [](double, std::span<const double> y, std::span<double> j) {
                               j[0] = 0.0;
                               j[1] = 1.0;
                               j[2] = -2000.0 * y[0] * y[1] - 1.0;
                               j[3] = 1000.0 * (1 - y[0] * y[0]);
                           }});
    CHECK(std::abs(with_jacobian.y[0] - ref::vdp_tight_y[0]) < 1e-3 * std::abs(ref::vdp_tight_y[0]));
    CHECK(with_jacobian.rhs_evaluations ==
          1 + 2 * with_jacobian.jacobian_evaluations + 5 * (with_jacobian.steps + with_jacobian.rejected_steps));
    CHECK(with_jacobian.rhs_evaluations < r.rhs_evaluations);
}

TEST_CASE("rosenbrock4 solves Robertson's problem with per-component atol", "[kernels][ode][stiff]") {
    const pk::ode_options o{.rtol = 1e-6,
                            .method = pk::ode_method::rosenbrock4,
                            .t_eval = {ref::robertson_t_eval, ref::robertson_t_eval + 5},
                            .atols = {1e-8, 1e-14, 1e-6}};
    const auto r = pk::integrate_ode(robertson, vec{1.0, 0.0, 0.0}, 0.0, 1e5, o);
    CAPTURE(r.steps, r.rhs_evaluations, ref::robertson_lsoda_nfev);
    CHECK(scaled_difference(r.y, ref::robertson_tight_y, 1e-4, 1e-12) < 1.0);
    CHECK(r.y[0] + r.y[1] + r.y[2] == Approx(1.0).margin(1e-9));  // mass is conserved
    REQUIRE(r.ys.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) {
        CAPTURE(k);
        CHECK(scaled_difference(r.ys[k], ref::robertson_tight_ys + 3 * k, 1e-4, 1e-12) < 1.0);
    }
    // rk45 on the same problem is limited by stability: a step limit says so.
    try {
        pk::integrate_ode(robertson, vec{1.0, 0.0, 0.0}, 0.0, 1e5, {.rtol = 1e-6, .max_steps = 2000, .atols = o.atols});
        FAIL("no exception");
    } catch (const pk::ode_integration_error& e) {
        CHECK_THAT(e.what(),
                   Catch::Contains("max_steps = 2000") && Catch::Contains("stiff") && Catch::Contains("rosenbrock4"));
    }
}

TEST_CASE("rk45 follows scipy's RK45: t_eval, step counts, long non-stiff runs", "[kernels][ode]") {
    const vec t_eval(ref::lv_t_eval, ref::lv_t_eval + 31);
    const auto r = pk::integrate_ode(lotka_volterra, vec{10.0, 5.0}, 0.0, 15.0, {.t_eval = t_eval});
    REQUIRE(r.t == t_eval);
    REQUIRE(r.ys.size() == 31);
    CHECK(r.rhs_evaluations == static_cast<std::size_t>(ref::lv_rk45_nfev));  // the same steps as scipy
    for (std::size_t k = 0; k < 31; ++k) {
        CAPTURE(k, r.ys[k][0], r.ys[k][1]);
        // scipy's RK45 at its defaults: the same steps, another interpolant (degree 4, not 5).
        CHECK(scaled_difference(r.ys[k], ref::lv_rk45_ys + 2 * k, 1e-3, 1e-6) < 1.0);
    }
    const auto tight =
        pk::integrate_ode(lotka_volterra, vec{10.0, 5.0}, 0.0, 15.0, {.rtol = 1e-10, .atol = 1e-12, .t_eval = t_eval});
    for (std::size_t k = 0; k < 31; ++k)
        CHECK(scaled_difference(tight.ys[k], ref::lv_tight_ys + 2 * k, 1e-8, 1e-10) < 1.0);

    // No step cap by default: scipy's long run at rtol 1e-10 completes here too, in as many steps.
    const auto long_run = pk::integrate_ode(lotka_volterra, vec{10.0, 5.0}, 0.0, 1500.0, {.rtol = 1e-10, .atol = 1e-6});
    CHECK(long_run.steps == Approx(static_cast<double>(ref::lv_long_steps)).epsilon(0.01));
    CHECK(scaled_difference(long_run.y, ref::lv_long_y, 1e-4, 1e-6) < 1.0);
    // A limit that is hit names itself and does not call a non-stiff system stiff.
    try {
        pk::integrate_ode(lotka_volterra, vec{10.0, 5.0}, 0.0, 1500.0,
                          {.rtol = 1e-10, .atol = 1e-6, .max_steps = 5000});
        FAIL("no exception");
    } catch (const pk::ode_integration_error& e) {
        CHECK_THAT(e.what(), Catch::Contains("max_steps = 5000") && Catch::Contains("raise ode_options::max_steps") &&
                                 !Catch::Contains("stiff"));
    }

    // Per-component atol as scipy's array atol: the same steps and end state.
    const auto c =
        pk::integrate_ode(consecutive(1.0, 0.3), vec{1.0, 0.0}, 0.0, 5.0, {.rtol = 1e-6, .atols = {1e-9, 1e-3}});
    CHECK(c.steps == static_cast<std::size_t>(ref::consecutive_rk45_steps));
    CHECK(scaled_difference(c.y, ref::consecutive_rk45_y, 1e-9, 1e-12) < 1.0);
}

TEST_CASE("backward integration (t1 < t0) with a decreasing t_eval", "[kernels][ode]") {
    const vec y15(ref::back_y15, ref::back_y15 + 2);
    const vec t_eval(ref::back_t_eval, ref::back_t_eval + 16);
    for (auto method : {pk::ode_method::rk45, pk::ode_method::rosenbrock4}) {
        CAPTURE(static_cast<int>(method));
        const double rtol = method == pk::ode_method::rk45 ? 1e-9 : 1e-7;
        const auto r = pk::integrate_ode(lotka_volterra, y15, 15.0, 0.0,
                                         {.rtol = rtol, .atol = 1e-12, .method = method, .t_eval = t_eval});
        REQUIRE(r.ys.size() == 16);
        CHECK(r.t_final == 0.0);
        // Back to the initial state (10, 5), and through scipy's states on the way.
        CHECK(r.y[0] == Approx(10.0).epsilon(1e4 * rtol));
        CHECK(r.y[1] == Approx(5.0).epsilon(1e4 * rtol));
        for (std::size_t k = 0; k < 16; ++k) {
            CAPTURE(k);
            CHECK(scaled_difference(r.ys[k], ref::back_rk45_ys + 2 * k, 1e4 * rtol, 1e-8) < 1.0);
        }
    }
    CHECK_THROWS_WITH(pk::integrate_ode(lotka_volterra, y15, 15.0, 0.0, {.t_eval = {0.0, 15.0}}),
                      Catch::Contains("t_eval must be sorted decreasing"));
}

TEST_CASE("events are located like scipy's, terminal ones stop the solve", "[kernels][ode]") {
    const auto ball = [](const vec& y, vec& dydt, double) {
        dydt[0] = y[1];
        dydt[1] = -9.81;
    };
    const pk::ode_event hit_ground{.g = [](double, std::span<const double> y) { return y[0]; },
                                   .terminal = true,
                                   .direction = -1};
    const pk::ode_event half_height{.g = [](double, std::span<const double> y) { return y[0] - 5.0; }, .direction = -1};
    for (auto method : {pk::ode_method::rk45, pk::ode_method::rosenbrock4}) {
        CAPTURE(static_cast<int>(method));
        const auto r = pk::integrate_ode(ball, vec{10.0, 0.0}, 0.0, 10.0,
                                         {.rtol = 1e-8,
                                          .atol = 1e-10,
                                          .method = method,
                                          .t_eval = pk::linspace(0.0, 10.0, 11),
                                          .dense_output = true,
                                          .events = {hit_ground, half_height}});
        CHECK(r.status == 1);
        REQUIRE(r.t_events.size() == 2);
        REQUIRE(r.t_events[0].size() == 1);
        REQUIRE(r.t_events[1].size() == 1);
        CHECK(r.t_events[0][0] == Approx(ref::ball_ground_t[0]).epsilon(1e-10));
        CHECK(r.t_events[1][0] == Approx(ref::ball_half_t[0]).epsilon(1e-10));
        CHECK(r.y_events[0][0][0] == Approx(0.0).margin(1e-9));
        CHECK(r.y_events[0][0][1] == Approx(ref::ball_ground_y[1]).epsilon(1e-9));
        CHECK(r.t_final == r.t_events[0][0]);
        CHECK(r.y == r.y_events[0][0]);
        CHECK(r.t == vec{0.0, 1.0});  // t_eval stops at the terminal event
        CHECK(r.sol.t_end() == r.t_final);
        CHECK_THROWS_AS(r.sol(r.t_final + 0.1), std::out_of_range);
    }
    // Zeros of the oscillator's y0 in both directions, not terminal.
    const auto oscillator = [](const vec& y, vec& dydt, double) {
        dydt[0] = y[1];
        dydt[1] = -y[0];
    };
    const auto r = pk::integrate_ode(oscillator, vec{1.0, 0.0}, 0.0, 10.0,
                                     {.rtol = 1e-9,
                                      .atol = 1e-12,
                                      .events = {{.g = [](double, std::span<const double> y) { return y[0]; }}}});
    CHECK(r.status == 0);
    CHECK(r.t_final == 10.0);
    REQUIRE(r.t_events[0].size() == 3);
    for (std::size_t k = 0; k < 3; ++k) CHECK(r.t_events[0][k] == Approx(ref::oscillator_zero_t[k]).epsilon(1e-9));
}

TEST_CASE("dense output is the method interpolant from t0 to t1 and travels between processes", "[kernels][ode]") {
    const vec t_eval = pk::linspace(0.0, 15.0, 61);
    for (auto method : {pk::ode_method::rk45, pk::ode_method::rosenbrock4}) {
        CAPTURE(static_cast<int>(method));
        const auto r =
            pk::integrate_ode(lotka_volterra, vec{10.0, 5.0}, 0.0, 15.0,
                              {.rtol = 1e-8, .atol = 1e-10, .method = method, .t_eval = t_eval, .dense_output = true});
        REQUIRE_FALSE(r.sol.empty());
        CHECK(r.sol.degree() == (method == pk::ode_method::rk45 ? 5u : 3u));
        CHECK(r.sol.breaks().size() == r.steps + 1);
        for (std::size_t k = 0; k < t_eval.size(); ++k) {
            const vec y = r.sol(t_eval[k]);
            CHECK(y[0] == Approx(r.ys[k][0]).epsilon(1e-14));
            CHECK(y[1] == Approx(r.ys[k][1]).epsilon(1e-14));
        }
        CHECK(r.sol(15.0) == r.y);
        CHECK(r.sol(0.0) == vec{10.0, 5.0});
        CHECK_THROWS_WITH(r.sol(15.5), Catch::Contains("outside the solution's domain"));
        CHECK_THROWS_AS(r.sol(not_a_number), std::out_of_range);
        // A whole result, its dense output included, round-trips through parkit's archives.
        const auto bytes = parkit::to_bytes(r);
        const auto back = parkit::from_bytes<pk::ode_result<vec>>(bytes);
        CHECK(back.y == r.y);
        CHECK(back.ys == r.ys);
        CHECK(back.steps == r.steps);
        CHECK(back.sol(7.3) == r.sol(7.3));
    }
    const auto none = pk::integrate_ode(decay, vec{1.0}, 0.0, 1.0);
    CHECK(none.sol.empty());
    CHECK(none.t.empty());
    CHECK(none.ys.empty());
    CHECK(none.t_final == 1.0);
    CHECK_THROWS_WITH(none.sol(0.5), Catch::Contains("no dense output"));
}

TEST_CASE("stiff sweeps are bit-identical for any n_jobs and backend", "[kernels][ode][stiff]") {
    const auto mus = pk::linspace(1.0, 1000.0, 12);
    const pk::ode_sweep_options base{
        .ode = {.method = pk::ode_method::rosenbrock4, .t_eval = pk::linspace(0.0, 3000.0, 31), .dense_output = true}};
    auto sequential = base;
    sequential.execution = {.backend = parkit::backend::sequential};
    const auto system = [](double mu) { return van_der_pol(mu); };
    const auto reference = pk::ode_sweep(system, vec{2.0, 0.0}, 0.0, 3000.0, mus, sequential);
    REQUIRE(reference.size() == mus.size());
    for (auto backend : {parkit::backend::threads, parkit::backend::processes}) {
        for (int n_jobs : {1, 2, -1}) {
            CAPTURE(static_cast<int>(backend), n_jobs);
            auto o = base;
            o.execution = {.n_jobs = n_jobs, .backend = backend, .chunk_size = 0};
            const auto results = pk::ode_sweep(system, vec{2.0, 0.0}, 0.0, 3000.0, mus, o);
            REQUIRE(results.size() == mus.size());
            for (std::size_t i = 0; i < mus.size(); ++i) {
                CHECK(results[i].y == reference[i].y);
                CHECK(results[i].ys == reference[i].ys);
                CHECK(results[i].rhs_evaluations == reference[i].rhs_evaluations);
                CHECK(results[i].sol.breaks() == reference[i].sol.breaks());
                CHECK(results[i].sol(1234.5) == reference[i].sol(1234.5));
            }
        }
    }
}

TEST_CASE("bad solve_ivp-style options throw std::invalid_argument naming them", "[kernels][ode][errors]") {
    const auto throws_with = [](const pk::ode_options& o, const char* text, vec y0 = {1.0}, double t1 = 1.0) {
        CAPTURE(text);
        CHECK_THROWS_AS(pk::integrate_ode(decay, y0, 0.0, t1, o), std::invalid_argument);
        CHECK_THROWS_WITH(pk::integrate_ode(decay, y0, 0.0, t1, o), Catch::Contains(text));
    };
    throws_with({.t_eval = {0.5, 2.0}}, "t_eval[1] = 2 is not within");
    throws_with({.t_eval = {-0.5}}, "t_eval[0]");
    throws_with({.t_eval = {0.5, 0.25}}, "t_eval must be sorted increasing");
    throws_with({.t_eval = {not_a_number}}, "t_eval[0]");
    throws_with({.events = {pk::ode_event{}}}, "events[0].g is empty");
    throws_with({.events = {{.g = [](double, std::span<const double>) { return 1.0; }, .direction = not_a_number}}},
                "events[0].direction");
    throws_with({.atols = {1e-6, 1e-6}}, "atols has 2 entries for a state of 1");
    throws_with({.atols = {0.0}}, "atols[0]");
    throws_with({.method = static_cast<pk::ode_method>(7)}, "method");
    throws_with({.jacobian = [](double, std::span<const double>, std::span<double>) {}}, "rosenbrock4 only");
    CHECK_THROWS_WITH(pk::ode_sweep([](double) { return decay; }, vec{1.0, 2.0}, 0.0, 1.0, vec{1.0},
                                    {.ode = {.atols = {1.0}}}),
                      Catch::Contains("atols"));
}
