// Bad-input audit of the kernels (fin Monte Carlo, ODE sweeps, curve fitting) and of the Eigen
// part of the serializer: NaN and infinity inputs, empty or mismatched data, inverted bounds, p0
// outside the bounds, negative counts. Each must throw a clear exception naming the argument.

#include <parkit/core/serialization.hpp>
#include <parkit/kernels/curve_fit.hpp>
#include <parkit/kernels/fin_monte_carlo.hpp>
#include <parkit/kernels/ode_sweep.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace pk = parkit::kernels;
using Catch::Contains;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

const auto decay = [](double t, const Eigen::VectorXd& p) { return p[1] * std::exp(-p[0] * t); };
const std::vector<double> t_data{0, 1, 2, 3, 4, 5};
const std::vector<double> y_data{2.0, 1.2, 0.75, 0.45, 0.27, 0.16};

/// `size_t(-n)`: what a negative count becomes when assigned to a size_t field.
std::size_t negative(long long n) {
    return static_cast<std::size_t>(-n);
}

}  // namespace

TEST_CASE("bad input: fin Monte Carlo refuses NaN, infinity and negative or zero counts", "[bad_input][kernels]") {
    const auto study = [](auto change) {
        pk::fin_study_options o;
        o.n_samples = 100;
        change(o);
        return pk::fin_monte_carlo(o);
    };
    CHECK_THROWS_WITH(study([](auto& o) { o.n_samples = 0; }), Contains("n_samples"));
    CHECK_THROWS_WITH(study([](auto& o) { o.n_samples = negative(5); }), Contains("n_samples"));
    CHECK_THROWS_AS(study([](auto& o) { o.n_samples = negative(5); }), std::invalid_argument);
    CHECK_THROWS_WITH(study([](auto& o) { o.block_size = 0; }), Contains("block_size"));
    CHECK_THROWS_WITH(study([](auto& o) { o.h_nominal = not_a_number; }), Contains("h_nominal"));
    CHECK_THROWS_WITH(study([](auto& o) { o.h_nominal = infinity; }), Contains("h_nominal"));
    CHECK_THROWS_WITH(study([](auto& o) { o.h_std = -1; }), Contains("h_std"));
    CHECK_THROWS_WITH(study([](auto& o) { o.h_std = not_a_number; }), Contains("h_std"));
    CHECK_THROWS_WITH(study([](auto& o) { o.fin.k = not_a_number; }), Contains("fin.k"));
    CHECK_THROWS_WITH(study([](auto& o) { o.fin.A = 0; }), Contains("fin.A"));
    CHECK_THROWS_WITH(study([](auto& o) { o.fin.L = -0.1; }), Contains("fin.L"));
    CHECK_THROWS_WITH(study([](auto& o) { o.fin.T0 = infinity; }), Contains("fin.T0"));
    CHECK_THROWS_WITH(study([](auto& o) { o.execution.n_jobs = 0; }), Contains("n_jobs"));
    // A positive h is a 6-sigma event: refused at the call instead of spinning in the redraw loop.
    const auto hopeless = [](auto& o) {
        o.h_nominal = -30;
        o.h_std = 5;
    };
    CHECK_THROWS_WITH(study(hopeless), Contains("P(h > 0)"));
    CHECK_THROWS_AS(study(hopeless), std::invalid_argument);
    CHECK_THROWS_WITH(study([](auto& o) { o.h_nominal = 0, o.h_std = 0; }), Contains("P(h > 0)"));
    // P(h > 0) = 0.16 (one sigma below zero) is slow but feasible, so it runs.
    CHECK(study([](auto& o) { o.h_nominal = -5, o.h_std = 5; }).tip_temperature.count == 100);

    CHECK_THROWS_WITH(pk::fin_tip_temperature(not_a_number), Contains("h must be finite"));
    CHECK_THROWS_WITH(pk::fin_tip_temperature(-1.0), Contains("h must be finite"));
    CHECK_THROWS_WITH(pk::fin_tip_temperature(infinity), Contains("h must be finite"));
    pk::fin_parameters bad_fin;
    bad_fin.P = not_a_number;
    CHECK_THROWS_WITH(pk::fin_tip_temperature(50.0, bad_fin), Contains("fin.P"));
    bad_fin = {};
    bad_fin.T_inf = -infinity;
    CHECK_THROWS_WITH(pk::fin_tip_temperature(50.0, bad_fin), Contains("fin.T_inf"));
}

TEST_CASE("bad input: ODE solves refuse NaN and infinity times, states and tolerances", "[bad_input][kernels]") {
    const auto rhs = [](const std::vector<double>& y, std::vector<double>& dydt, double) { dydt[0] = -y[0]; };
    const std::vector<double> y0{1.0};
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, std::vector<double>{not_a_number}, 0.0, 1.0), Contains("y0"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, std::vector<double>{}, 0.0, 1.0), Contains("y0"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, not_a_number, 1.0), Contains("t0"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 0.0, infinity), Contains("t1"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 1.0, 1.0), Contains("t1"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 0.0, 1.0, {.rtol = not_a_number}), Contains("rtol"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 0.0, 1.0, {.atol = -1}), Contains("atol"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 0.0, 1.0, {.max_step = not_a_number}), Contains("max_step"));
    CHECK_THROWS_WITH(pk::integrate_ode(rhs, y0, 0.0, 1.0, {.max_steps = 0}), Contains("max_steps"));
    CHECK_THROWS_WITH(pk::solve_reaction(not_a_number), Contains("k must be finite"));
    CHECK_THROWS_WITH(pk::solve_reaction(1.0, -1.0), Contains("C_A0"));
    CHECK_THROWS_WITH(pk::solve_reaction(1.0, 1.0, infinity), Contains("t_final"));

    // A NaN parameter in a sweep fails that task alone, with its index.
    const std::vector<double> ks{0.5, not_a_number, 1.0};
    try {
        pk::reaction_sweep(ks);
        FAIL("a NaN rate constant was accepted");
    } catch (const parkit::task_error& e) {
        CHECK(e.index() == 1);
        CHECK_THROWS_WITH(e.rethrow_original(), Contains("k must be finite"));
    }
    CHECK_THROWS_WITH(pk::linspace(not_a_number, 1.0, 5), Contains("a and b must be finite"));
    CHECK_THROWS_WITH(pk::linspace(0.0, infinity, 5), Contains("a and b must be finite"));
    CHECK_THROWS_WITH(pk::linspace(0.0, 1.0, negative(3)), Contains("n = "));
}

TEST_CASE("bad input: curve_fit refuses empty or mismatched data, NaN, inverted bounds and p0 outside them",
          "[bad_input][kernels]") {
    const std::vector<double> p0{0.5, 1.0};
    const std::vector<double> none;
    CHECK_THROWS_WITH(pk::curve_fit(decay, none, none, p0), Contains("y is empty"));
    CHECK_THROWS_AS(pk::curve_fit(decay, none, none, p0), std::invalid_argument);
    CHECK_THROWS_WITH(pk::curve_fit(decay, std::vector<double>{0, 1, 2}, y_data, p0), Contains("x and y"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, {}), Contains("p0 is empty"));

    auto y_nan = y_data;
    y_nan[2] = not_a_number;
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_nan, p0), Contains("y contains NaN"));
    auto x_inf = t_data;
    x_inf[0] = infinity;
    CHECK_THROWS_WITH(pk::curve_fit(decay, x_inf, y_data, p0), Contains("x contains NaN"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, {not_a_number, 1.0}), Contains("p0"));

    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.lower = {2, 2}, .upper = {1, 1}}), Contains("bounds"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.lower = {0, 0}, .upper = {0, 5}}), Contains("bounds"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.lower = {not_a_number}}), Contains("bounds"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.lower = {0, 0, 0}}), Contains("bounds.lower"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.lower = {1, 0}, .upper = {2, 2}}), Contains("p0[0]"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {.upper = {1, 0.5}}), Contains("p0[1]"));

    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.ftol = -1}), Contains("options.ftol"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.xtol = not_a_number}), Contains("options.xtol"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.sigma = {1, 1}}), Contains("sigma"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.loss = pk::fit_loss::huber, .f_scale = 0}),
                      Contains("options.f_scale"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.f_scale = not_a_number}),
                      Contains("options.f_scale"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.loss = static_cast<pk::fit_loss>(17)}),
                      Contains("options.loss"));
    CHECK_THROWS_WITH(pk::curve_fit(decay, t_data, y_data, p0, {}, {.sigma = {1, 1, -1, 1, 1, 1}}), Contains("sigma"));

    // A model that returns NaN at p0 is refused before the solver starts.
    const auto nan_model = [](double, const Eigen::VectorXd&) { return not_a_number; };
    CHECK_THROWS_WITH(pk::curve_fit(nan_model, t_data, y_data, p0), Contains("not finite at p0"));

    // In a batch, bad p0/bounds are refused up front; a bad dataset fails its own entry only.
    const std::vector<pk::curve_fit_dataset<>> datasets{{t_data, y_data}, {t_data, y_nan}, {{0, 1}, y_data}};
    CHECK_THROWS_WITH(pk::batch_curve_fit(datasets, decay, {1.0, 0.5}, {.lower = {2, 0}}), Contains("p0[0]"));
    const auto entries = pk::batch_curve_fit(datasets, decay, p0);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].error.empty());
    CHECK_THAT(entries[1].error, Contains("y contains NaN"));
    CHECK_THAT(entries[2].error, Contains("x and y"));
}

TEST_CASE("bad input: corrupt Eigen matrices in a message give serialization_error", "[bad_input][serialization]") {
    const auto header = [](std::int64_t rows, std::int64_t cols) {
        std::vector<std::byte> bytes(2 * sizeof(std::int64_t) + 64, std::byte{0});
        std::memcpy(bytes.data(), &rows, sizeof rows);
        std::memcpy(bytes.data() + sizeof rows, &cols, sizeof cols);
        return bytes;
    };
    // rows * cols * 8 wraps around to 0 in 64 bits: must still be refused.
    CHECK_THROWS_AS(parkit::from_bytes<Eigen::MatrixXd>(header(std::int64_t{1} << 32, std::int64_t{1} << 29)),
                    parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<Eigen::MatrixXd>(header(-1, 2)), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<Eigen::MatrixXd>(header(1000, 1000)), parkit::serialization_error);
    // A fixed-size matrix cannot take another shape (resizing it would be undefined).
    CHECK_THROWS_AS(parkit::from_bytes<Eigen::Matrix2d>(header(1, 1)), parkit::serialization_error);
    CHECK_THROWS_AS(parkit::from_bytes<Eigen::Vector2d>(header(2, 2)), parkit::serialization_error);
    CHECK_THROWS_AS((parkit::from_bytes<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, 2, 2>>(header(3, 1))),
                    parkit::serialization_error);
    const Eigen::Matrix2d m{{1, 2}, {3, 4}};
    CHECK(parkit::from_bytes<Eigen::Matrix2d>(parkit::to_bytes(m)) == m);
    CHECK(parkit::from_bytes<Eigen::MatrixXd>(header(2, 4)).size() == 8);
}
