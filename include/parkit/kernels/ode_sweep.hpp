#pragma once
/// @file
/// ODE solves with scipy `solve_ivp`'s semantics (`integrate_ode`: methods RK45 and a stiff
/// Rosenbrock 4, t_eval, dense output, events, per-component atol, backward integration) and
/// parameter sweeps of them (the chapter's reaction-kinetics experiment): one solve per
/// parameter value, run as tasks of `parkit::parallel_map`, results in input order.
///
/// Every solve is deterministic and independent of the others, so a sweep gives bit-identical
/// results for any n_jobs, chunk size and backend.

#include "../core/options.hpp"
#include "../parallel_map.hpp"

#include "detail/ode_methods.hpp"
#include "ode_solution.hpp"

#include <boost/math/tools/toms748_solve.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <ranges>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parkit::kernels {

/// A state an ODE solve can use: a random-access, sized range of `double` that can be copied
/// (`std::vector<double>`, `std::array<double, N>`, ...).
template <class S>
concept ode_state =
    std::ranges::random_access_range<S> && std::ranges::sized_range<S> && std::same_as < std::ranges::range_value_t<S>,
double > &&std::copyable<S>;

/// The right-hand side of dy/dt = f(y, t) in Boost.Odeint's form: `rhs(y, dydt, t)` writes
/// f(y, t) into `dydt` (which has y's size).
template <class F, class State>
concept ode_system = std::invocable<F&, const State&, State&, double>;

/// The step method of a solve.
enum class ode_method {
    /// Dormand–Prince 5(4) (Boost.Odeint `runge_kutta_dopri5`), scipy's default 'RK45': explicit,
    /// for non-stiff systems.
    rk45,
    /// Rosenbrock 4(3) (Boost.Odeint `rosenbrock4`), linearly implicit and L-stable, for stiff
    /// systems (scipy's 'Radau'/'BDF'/'LSODA' use); the Jacobian by finite differences unless
    /// `ode_options::jacobian` gives it.
    rosenbrock4,
};

/// An event function as scipy's `events`: the solve records where g(t, y) crosses zero,
/// located by root finding on the method's interpolating polynomial.
struct ode_event {
    /// g(t, y); its zeros are the events.
    std::function<double(double t, std::span<const double> y)> g;
    /// Whether the solve stops at the first such event (scipy's `event.terminal`).
    bool terminal = false;
    /// Which crossings count: > 0 only g rising through zero, < 0 only falling, 0 both
    /// (scipy's `event.direction`).
    double direction = 0.0;
};

/// ∂f/∂y at (t, y), written row-major into `dfdy` (n × n: dfdy[i * n + j] = ∂f_i/∂y_j).
using ode_jacobian = std::function<void(double t, std::span<const double> y, std::span<double> dfdy)>;

/// Settings of one adaptive solve. The defaults are scipy `solve_ivp`'s.
struct ode_options {
    double rtol = 1e-3;  ///< relative tolerance (> 0)
    double atol = 1e-6;  ///< absolute tolerance (> 0), for every component unless `atols` is given
    /// First step size; 0 = automatic (scipy's rule, which costs one extra rhs evaluation).
    double first_step = 0.0;
    /// Largest step size allowed (> 0; infinity = no limit).
    double max_step = std::numeric_limits<double>::infinity();
    /// Accepted steps allowed before the solve gives up with `ode_integration_error` (> 0).
    /// The default is no limit, as scipy has none.
    std::size_t max_steps = std::numeric_limits<std::size_t>::max();
    ode_method method = ode_method::rk45;  ///< the step method
    /// Times at which to report the solution (scipy's `t_eval`): sorted in the direction of
    /// integration, inside [t0, t1]. The result's `t` is these times and `ys` the states there,
    /// from the method's interpolating polynomial. Empty: `t` and `ys` stay empty.
    std::vector<double> t_eval{};
    /// Whether the result carries the continuous solution `sol` (scipy's `dense_output`).
    bool dense_output = false;
    /// Event functions (scipy's `events`); the result has `t_events` / `y_events` per event.
    std::vector<ode_event> events{};
    /// Per-component absolute tolerances (scipy's array `atol`, each > 0); empty = `atol`.
    std::vector<double> atols{};
    /// ∂f/∂y for `rosenbrock4` (empty: forward differences, n rhs evaluations per Jacobian).
    ode_jacobian jacobian{};
};

/// Settings of a sweep: the solver's and the `parallel_map`'s.
struct ode_sweep_options {
    ode_options ode{};            ///< tolerances and step limits of every solve
    parkit::options execution{};  ///< n_jobs, backend, chunk_size, progress over the parameters
};

/// What a solve returns: the state at the end, the requested output and what it cost.
/// Serializable (for the process backend), the dense output included: it is plain data.
template <class State>
struct ode_result {
    State y{};                                    ///< the state at t1 (or at a terminal event: `t_final`)
    std::size_t steps = 0;                        ///< accepted steps
    std::size_t rejected_steps = 0;               ///< steps rejected by the error control (and retried smaller)
    std::size_t rhs_evaluations = 0;              ///< calls of the right-hand side (those for Jacobians included)
    std::size_t jacobian_evaluations = 0;         ///< Jacobians computed (rosenbrock4)
    std::vector<double> t{};                      ///< the `t_eval` times reached
    std::vector<State> ys{};                      ///< the state at each time of `t`
    std::vector<std::vector<double>> t_events{};  ///< per event of `ode_options::events`, its times
    std::vector<std::vector<State>> y_events{};   ///< per event, the states at those times
    ode_solution<State> sol{};                    ///< the continuous solution, when `dense_output` was asked for
    int status = 0;                               ///< 0: reached t1; 1: stopped by a terminal event (scipy's)
    double t_final = 0.0;                         ///< the time of `y`: t1, or the terminal event's time

    /// Serialization (parkit's and cereal's archives).
    template <class Archive>
    void serialize(Archive& ar) {
        ar(y, steps, rejected_steps, rhs_evaluations, jacobian_evaluations, t, ys, t_events, y_events, sol, status,
           t_final);
    }
};

/// A solve that could not reach t1: a step limit (`max_steps`) reached, a step size below the
/// spacing of doubles, or a state that became infinite or NaN (a solution that blows up).
class ode_integration_error : public std::runtime_error {
public:
    /// The error with its message and the time `t` the solve had reached.
    ode_integration_error(const std::string& what, double t) : std::runtime_error(what), t_(t) {}
    /// The time the solve had reached when it gave up.
    [[nodiscard]] double t() const noexcept { return t_; }

private:
    double t_;
};

/// `n` evenly spaced numbers from `a` to `b`, both included, as `numpy.linspace(a, b, n)`:
/// `{}` for n = 0, `{a}` for n = 1, and exactly `b` as the last value.
/// @throws std::invalid_argument naming the argument if a or b is not finite, or n is too large
/// (a negative count converted to size_t).
inline std::vector<double> linspace(double a, double b, std::size_t n) {
    if (!std::isfinite(a) || !std::isfinite(b))
        throw std::invalid_argument("parkit::kernels::linspace: a and b must be finite, got a = " + std::to_string(a) +
                                    ", b = " + std::to_string(b));
    if (n > std::vector<double>().max_size())
        throw std::invalid_argument("parkit::kernels::linspace: n = " + std::to_string(n) +
                                    " is too large (a negative count converted to size_t?)");
    std::vector<double> v(n);
    const double step = n > 1 ? (b - a) / static_cast<double>(n - 1) : 0.0;
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * step + a;
    if (n > 1) v.back() = b;
    return v;
}

namespace detail {

/// Formats `value` like printf's %g (for messages).
inline std::string ode_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

/// Throws std::invalid_argument "<where>: <what>".
[[noreturn]] inline void ode_invalid(const char* where, const std::string& what) {
    throw std::invalid_argument(std::string("parkit::kernels::") + where + ": " + what);
}

/// Checks the options of a solve that do not depend on the interval or the state; `where`
/// names the public call.
inline void check_ode_options(const char* where, const ode_options& o) {
    if (!std::isfinite(o.rtol) || !(o.rtol > 0))
        ode_invalid(where, "rtol must be finite and > 0, got " + ode_number(o.rtol));
    if (!std::isfinite(o.atol) || !(o.atol > 0))
        ode_invalid(where, "atol must be finite and > 0, got " + ode_number(o.atol));
    if (!std::isfinite(o.first_step) || !(o.first_step >= 0))
        ode_invalid(where, "first_step must be finite and >= 0 (0 = automatic), got " + ode_number(o.first_step));
    if (!(o.max_step > 0)) ode_invalid(where, "max_step must be > 0, got " + ode_number(o.max_step));
    if (o.max_steps == 0) ode_invalid(where, "max_steps must be > 0");
    if (o.method != ode_method::rk45 && o.method != ode_method::rosenbrock4)
        ode_invalid(where, "method must be ode_method::rk45 or ode_method::rosenbrock4, got " +
                               std::to_string(static_cast<int>(o.method)));
    for (std::size_t i = 0; i < o.atols.size(); ++i)
        if (!std::isfinite(o.atols[i]) || !(o.atols[i] > 0))
            ode_invalid(where,
                        "atols[" + std::to_string(i) + "] must be finite and > 0, got " + ode_number(o.atols[i]));
    for (std::size_t i = 0; i < o.events.size(); ++i) {
        if (!o.events[i].g) ode_invalid(where, "events[" + std::to_string(i) + "].g is empty");
        if (std::isnan(o.events[i].direction))
            ode_invalid(where, "events[" + std::to_string(i) + "].direction must not be NaN");
    }
    if (o.jacobian && o.method != ode_method::rosenbrock4)
        ode_invalid(where, "jacobian is used by method = ode_method::rosenbrock4 only");
}

/// Checks the interval [t0, t1] (either order: t1 < t0 integrates backward), `t_eval` and the
/// other options of a solve; `where` names the public call.
inline void check_ode_arguments(const char* where, double t0, double t1, const ode_options& o) {
    if (!std::isfinite(t0)) ode_invalid(where, "t0 must be finite, got " + ode_number(t0));
    if (!std::isfinite(t1) || t1 == t0)
        ode_invalid(where,
                    "t1 must be finite and differ from t0, got t0 = " + ode_number(t0) + ", t1 = " + ode_number(t1));
    check_ode_options(where, o);
    const double direction = t1 > t0 ? 1.0 : -1.0;
    for (std::size_t i = 0; i < o.t_eval.size(); ++i) {
        const double t = o.t_eval[i];
        if (!(direction * (t - t0) >= 0 && direction * (t1 - t) >= 0))
            ode_invalid(where, "t_eval[" + std::to_string(i) + "] = " + ode_number(t) + " is not within [t0, t1] = [" +
                                   ode_number(t0) + ", " + ode_number(t1) + "]");
        if (i > 0 && direction * (t - o.t_eval[i - 1]) < 0)
            ode_invalid(where, std::string("t_eval must be sorted ") + (direction > 0 ? "increasing" : "decreasing") +
                                   " (the direction of integration), but t_eval[" + std::to_string(i) +
                                   "] = " + ode_number(t) + " follows " + ode_number(o.t_eval[i - 1]));
    }
}

/// Checks that an initial state is non-empty and finite, and fits `atols`.
template <ode_state State>
void check_initial_state(const char* where, const State& y0, const ode_options& o) {
    if (std::ranges::empty(y0)) ode_invalid(where, "y0 must not be empty");
    if (!std::ranges::all_of(y0, [](double v) { return std::isfinite(v); })) ode_invalid(where, "y0 must be finite");
    if (!o.atols.empty() && o.atols.size() != std::ranges::size(y0))
        ode_invalid(where, "atols has " + std::to_string(o.atols.size()) + " entries for a state of " +
                               std::to_string(std::ranges::size(y0)) + " components");
}

/// The absolute tolerance of component i: `atols[i]`, or `atol` for every component (no copy:
/// a solve of a small system allocates nothing for it).
struct component_atol {
    const ode_options& o;  ///< the solve's options
    double operator[](std::size_t i) const { return o.atols.empty() ? o.atol : o.atols[i]; }
};

/// std::nextafter(t, ±inf) for a finite t, without the library call (a solve asks for it on
/// every step): the neighbouring double in the direction of `direction`'s sign.
inline double next_double(double t, double direction) noexcept {
    if (t == 0)
        return direction > 0 ? std::numeric_limits<double>::denorm_min() : -std::numeric_limits<double>::denorm_min();
    auto bits = std::bit_cast<std::uint64_t>(t);
    bits = (t > 0) == (direction > 0) ? bits + 1 : bits - 1;  // away from or towards zero
    return std::bit_cast<double>(bits);
}

/// The root-mean-square of `term(i)` over i < n (scipy's error norm). For one component it is
/// |term(0)|, which is what sqrt(x·x) gives in binary floating point (barring over/underflow),
/// without the square root and the division.
template <class Term>
double rms_norm(std::size_t n, Term&& term) {
    if (n == 1) return std::abs(term(0));
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = term(i);
        sum += v * v;
    }
    return std::sqrt(sum / static_cast<double>(n));
}

/// scipy's `select_initial_step` (Hairer, Nørsett & Wanner) for an error estimate of order
/// `order`: a first step (signed by `direction`) from the sizes of y0, f(y0) and an estimate of
/// f's change along the solution. Evaluates the right-hand side once.
template <ode_state State, class System>
double initial_step(System& rhs, const State& y0, const State& f0, double t0, double span, double direction, int order,
                    const component_atol& atol, const ode_options& o) {
    const std::size_t n = std::ranges::size(y0);
    const auto y = std::ranges::begin(y0);
    const auto f = std::ranges::begin(f0);
    const auto scale = [&](std::size_t i) { return atol[i] + std::abs(y[i]) * o.rtol; };
    const double d0 = rms_norm(n, [&](std::size_t i) { return y[i] / scale(i); });
    const double d1 = rms_norm(n, [&](std::size_t i) { return f[i] / scale(i); });
    const double h0 = std::min(d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1, span);

    State y1 = y0;
    State f1 = f0;
    for (std::size_t i = 0; i < n; ++i) std::ranges::begin(y1)[i] = y[i] + direction * h0 * f[i];
    rhs(y1, f1, t0 + direction * h0);
    const auto g = std::ranges::begin(f1);
    const double d2 = rms_norm(n, [&](std::size_t i) { return (g[i] - f[i]) / scale(i); }) / h0;
    const double h1 =
        d1 <= 1e-15 && d2 <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 1.0 / (order + 1));
    return std::min({100 * h0, h1, span, o.max_step});
}

/// h·ρ(∂f/∂y) at (t, y): the step size times an estimate of the Jacobian's spectral radius by
/// power iteration on forward-difference products J·v (a few rhs evaluations). Explicit
/// Runge–Kutta steps are stable for h·|λ| up to about 3; when the step size is held near that
/// bound the system is stiff there.
template <ode_state State, class System>
double stiffness_ratio(System& rhs, const State& y, double t, double h) {
    const std::size_t n = std::ranges::size(y);
    State f0 = y, shifted = y, f1 = y, v = y;
    rhs(y, f0, t);
    auto vi = std::ranges::begin(v);
    for (std::size_t i = 0; i < n; ++i) vi[i] = 1.0 + 0.1 * static_cast<double>(i % 7);  // a generic start vector
    const double y_norm = rms_norm(n, [&](std::size_t i) { return std::ranges::begin(y)[i]; });
    double rho = 0.0;
    for (int iteration = 0; iteration < 12; ++iteration) {
        const double v_norm = rms_norm(n, [&](std::size_t i) { return vi[i]; });
        if (!(v_norm > 0) || !std::isfinite(v_norm)) break;
        const double delta = std::sqrt(std::numeric_limits<double>::epsilon()) * std::max(y_norm, 1.0) / v_norm;
        for (std::size_t i = 0; i < n; ++i) std::ranges::begin(shifted)[i] = std::ranges::begin(y)[i] + delta * vi[i];
        rhs(shifted, f1, t);
        for (std::size_t i = 0; i < n; ++i) vi[i] = (std::ranges::begin(f1)[i] - std::ranges::begin(f0)[i]) / delta;
        rho = rms_norm(n, [&](std::size_t i) { return vi[i]; }) / v_norm;
    }
    return std::abs(h) * rho;
}

/// Where g of an event changes sign in the last step, as scipy's `find_active_events`.
inline bool event_active(double g_old, double g_new, double direction) {
    const bool up = g_old <= 0 && g_new >= 0, down = g_old >= 0 && g_new <= 0;
    return (up && direction > 0) || (down && direction < 0) || ((up || down) && direction == 0);
}

/// Solves with step method `m` (scipy's step-size control: RMS error norm with the scale
/// atol + rtol·max(|y_old|, |y_new|), safety 0.9, step factors in [0.2, 10], no growth right
/// after a rejection), filling `r`. `rhs` is the counted right-hand side.
template <ode_state State, class Method, class System>
void solve_with(Method& m, System& rhs, State y, double t0, double t1, const ode_options& o, ode_result<State>& r) {
    namespace bmt = boost::math::tools;
    const std::size_t n = std::ranges::size(y);
    const component_atol atol{o};
    const double direction = t1 > t0 ? 1.0 : -1.0;
    const double exponent = -1.0 / (Method::error_order + 1);
    const auto fail = [&](const std::string& why, double t) {
        throw ode_integration_error("parkit::kernels::integrate_ode: stopped at t = " + ode_number(t) +
                                        " (t0 = " + ode_number(t0) + ", t1 = " + ode_number(t1) + "): " + why,
                                    t);
    };

    double h_abs = o.first_step > 0 ? std::min(o.first_step, o.max_step)
                                    : initial_step(rhs, y, m.derivative(), t0, std::abs(t1 - t0), direction,
                                                   Method::error_order, atol, o);
    const bool interpolating = !o.t_eval.empty() || o.dense_output || !o.events.empty();
    const std::size_t nodes = Method::dense_degree + 1;
    std::vector<State> samples(interpolating ? nodes : 0, y);
    if (o.dense_output) r.sol = ode_solution<State>(Method::dense_degree, t0, y);
    r.t_events.assign(o.events.size(), {});
    r.y_events.assign(o.events.size(), {});
    std::vector<double> scratch;
    std::vector<double> g(o.events.size());
    for (std::size_t e = 0; e < o.events.size(); ++e) g[e] = o.events[e].g(t0, ode_span(y, scratch));
    std::size_t next_eval = 0;

    State y_new = y, error = y;
    double t = t0;
    while (direction * (t1 - t) > 0) {
        if (r.steps == o.max_steps) {
            std::string why = "reached max_steps = " + std::to_string(o.max_steps) +
                              " accepted steps (raise ode_options::max_steps; its default is no limit)";
            if (!Method::stiff) {
                const double ratio = stiffness_ratio(rhs, y, t, h_abs);
                if (ratio > 1.0)
                    why += "; the system is stiff here (step size times the Jacobian's spectral radius = " +
                           ode_number(ratio) +
                           ", at the explicit method's stability bound): use .method = "
                           "parkit::kernels::ode_method::rosenbrock4";
            }
            fail(why, t);
        }
        // scipy's rk_step loop: shrink until the error estimate is within the tolerances.
        const double min_step = 10 * std::abs(next_double(t, direction) - t);
        h_abs = std::clamp(h_abs, min_step, o.max_step);
        bool rejected = false, nonfinite_trial = false;
        double h = 0, t_new = t;
        for (;;) {
            if (h_abs < min_step)
                fail(nonfinite_trial ? std::string("the state became infinite or NaN (the solution may blow up, or the "
                                                   "right-hand side returned NaN)")
                                     : "the step size fell below the spacing of doubles (" + ode_number(h_abs) +
                                           "); the solution may have a singularity here",
                     t);
            t_new = t + direction * h_abs;
            if (direction * (t_new - t1) > 0) t_new = t1;
            h = t_new - t;
            h_abs = std::abs(h);
            m.attempt(y, t, h, y_new, error);
            const auto yo = std::ranges::begin(y), yn = std::ranges::begin(y_new), er = std::ranges::begin(error);
            const double norm = rms_norm(n, [&](std::size_t i) {
                return er[i] / (atol[i] + std::max(std::abs(yo[i]), std::abs(yn[i])) * o.rtol);
            });
            if (norm < 1) {
                double factor = norm == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(norm, exponent));
                if (rejected) factor = std::min(1.0, factor);
                h_abs *= factor;
                break;
            }
            nonfinite_trial = !std::isfinite(norm);
            h_abs *= nonfinite_trial ? 0.2 : std::max(0.2, 0.9 * std::pow(norm, exponent));
            rejected = true;
            ++r.rejected_steps;
        }
        ++r.steps;
        if (!std::ranges::all_of(y_new, [](double v) { return std::isfinite(v); }))
            fail("the state became infinite or NaN (the solution may blow up)", t);

        bool terminated = false;
        double t_stop = t_new;
        State y_stop{};
        if (interpolating) {
            samples.front() = y;
            samples.back() = y_new;
            for (std::size_t j = 1; j + 1 < nodes; ++j)
                m.interpolate(static_cast<double>(j) / static_cast<double>(Method::dense_degree), y, y_new, samples[j]);
            if (o.dense_output) r.sol.append_step(t_new, samples);
            const ode_solution<State> step_poly = [&] {
                ode_solution<State> p(Method::dense_degree, t, y);
                p.append_step(t_new, samples);
                return p;
            }();
            // Events: roots in θ ∈ [0, 1] of g(t + θh, p(θ)), in time order; stop after a terminal one.
            std::vector<std::pair<double, std::size_t>> roots;
            for (std::size_t e = 0; e < o.events.size(); ++e) {
                const double g_new = o.events[e].g(t_new, ode_span(y_new, scratch));
                if (event_active(g[e], g_new, o.events[e].direction)) {
                    double theta = 1.0;
                    if (g[e] == 0)
                        theta = 0.0;
                    else if (g_new != 0) {
                        const auto g_of = [&](double th) {
                            return o.events[e].g(t + th * h, ode_span(step_poly.evaluate(0, th), scratch));
                        };
                        std::uintmax_t iterations = 200;
                        const auto bracket =
                            bmt::toms748_solve(g_of, 0.0, 1.0, g[e], g_new, bmt::eps_tolerance<double>(52), iterations);
                        theta = (bracket.first + bracket.second) / 2;
                    }
                    roots.emplace_back(theta, e);
                }
                g[e] = g_new;
            }
            std::sort(roots.begin(), roots.end());
            for (const auto& [theta, e] : roots) {
                const double t_root = theta == 1.0 ? t_new : t + theta * h;
                r.t_events[e].push_back(t_root);
                r.y_events[e].push_back(step_poly.evaluate(0, theta));
                if (o.events[e].terminal) {
                    terminated = true;
                    t_stop = t_root;
                    y_stop = r.y_events[e].back();
                    break;
                }
            }
            for (; next_eval < o.t_eval.size() && direction * (t_stop - o.t_eval[next_eval]) >= 0; ++next_eval) {
                const double te = o.t_eval[next_eval];
                r.t.push_back(te);
                r.ys.push_back(te == t_new ? y_new : te == t ? y : step_poly(te));
            }
            if (terminated) {
                y_new = std::move(y_stop);
                if (o.dense_output) r.sol.set_end(t_stop);
            }
        }
        m.accept();
        std::swap(y, y_new);
        t = t_stop;
        if (terminated) {
            r.status = 1;
            break;
        }
    }
    r.y = std::move(y);
    r.t_final = t;
}

/// y0 itself, or y0(param) when the sweep's initial state is a function of the parameter.
template <class Initial, class Param>
decltype(auto) initial_state(const Initial& y0, const Param& param) {
    if constexpr (std::invocable<const Initial&, const Param&>)
        return std::invoke(y0, param);
    else
        return (y0);
}

}  // namespace detail

/// Solves dy/dt = rhs(y, t) from y(t0) = y0 to t1, as scipy's `solve_ivp(f, [t0, t1], y0, ...)`
/// does: adaptive steps of `o.method` (Dormand–Prince 5(4) by default, Rosenbrock 4 for stiff
/// systems) under scipy's step-size control (a step is accepted when the RMS over components of
/// error / (atol_i + rtol·max(|y_old,i|, |y_new,i|)) is below 1). t1 < t0 integrates backward.
/// The last step ends exactly at t1. Optionally the solution at `t_eval`, a dense output and
/// event locations, all from the method's interpolating polynomial of each step.
/// @code
/// auto r = parkit::kernels::integrate_ode(
///     [](const std::vector<double>& y, std::vector<double>& dydt, double) { dydt[0] = -y[0]; },
///     std::vector<double>{1.0}, 0.0, 1.0, {.rtol = 1e-8, .atol = 1e-10, .t_eval = {0.5, 1.0}});
/// // r.y[0] ≈ exp(-1); r.ys[0][0] ≈ exp(-0.5); r.steps, r.rhs_evaluations
/// @endcode
/// @throws std::invalid_argument naming the argument for t0/t1 not finite or t1 == t0, rtol or
/// atol(s) not finite or <= 0, a bad first_step/max_step/max_steps/method/t_eval/event, a
/// jacobian without rosenbrock4, or an empty or non-finite y0 (or one that does not fit atols).
/// @throws ode_integration_error when `max_steps` steps were not enough (saying whether the
/// system is stiff there), the step size underflows, or the state becomes infinite/NaN.
template <ode_state State, ode_system<State> System>
ode_result<State> integrate_ode(System&& rhs, State y0, double t0, double t1, const ode_options& o = {}) {
    detail::check_ode_arguments("integrate_ode", t0, t1, o);
    detail::check_initial_state("integrate_ode", y0, o);

    ode_result<State> r;
    auto counted = [&rhs, &r](const State& y, State& dydt, double t) {
        ++r.rhs_evaluations;
        std::invoke(rhs, y, dydt, t);
    };
    if (o.method == ode_method::rosenbrock4) {
        detail::rosenbrock4_method<State, decltype(counted), ode_jacobian> m(counted, o.jacobian, y0, t0,
                                                                             r.jacobian_evaluations);
        detail::solve_with(m, counted, std::move(y0), t0, t1, o, r);
    } else {
        detail::dopri5_method<State, decltype(counted)> m(counted, y0, t0);
        detail::solve_with(m, counted, std::move(y0), t0, t1, o, r);
    }
    return r;
}

/// Solves one ODE per parameter value, in parallel, results in input order: for each `p` in
/// `params`, `integrate_ode(make_system(p), y0, t0, t1, o.ode)` (with `y0(p)` when `y0` is a
/// function of the parameter), passed through `extract` (default: the whole `ode_result`).
/// @code
/// // dy/dt = -k y for k in 0.1 .. 2, keeping y(10) only
/// auto y10 = parkit::kernels::ode_sweep(
///     [](double k) { return [k](const std::vector<double>& y, std::vector<double>& d, double) { d[0] = -k * y[0]; };
///     }, std::vector<double>{1.0}, 0.0, 10.0, parkit::kernels::linspace(0.1, 2.0, 20), {},
///     [](const auto& r) { return r.y[0]; });
/// @endcode
/// `make_system`, `y0` (when a function) and `extract` are called concurrently from several
/// threads. Every solve is independent and deterministic, so the results are bit-identical for
/// any `o.execution`.
/// @throws std::invalid_argument (before any solve) for bad t0/t1/options or a bad fixed y0.
/// @throws parkit::task_error with the parameter's index and the solve's exception nested
/// (e.g. `ode_integration_error`) when a solve fails.
template <class MakeSystem, class Initial, std::ranges::sized_range Params, class Extract = std::identity>
auto ode_sweep(MakeSystem&& make_system, const Initial& y0, double t0, double t1, Params&& params,
               const ode_sweep_options& o = {}, Extract extract = {}) {
    detail::check_ode_arguments("ode_sweep", t0, t1, o.ode);
    if constexpr (ode_state<Initial>) detail::check_initial_state("ode_sweep", y0, o.ode);
    const auto solve = [&](const auto& param) {
        return extract(integrate_ode(std::invoke(make_system, param), detail::initial_state(y0, param), t0, t1, o.ode));
    };
    return parkit::parallel_map(solve, std::forward<Params>(params), o.execution);
}

/// The chapter's ODE, the first-order reaction A → B: dC_A/dt = −k C_A, state (C_A).
struct first_order_reaction {
    double k;  ///< rate constant (1/s)
    /// dC_A/dt at state `c`.
    void operator()(const std::array<double, 1>& c, std::array<double, 1>& dcdt, double /*t*/) const {
        dcdt[0] = -k * c[0];
    }
};

/// The chapter's `solve_reaction`: conversion X = (C_A0 − C_A(t_final)) / C_A0 of a first-order
/// reaction A → B, dC_A/dt = −k C_A, solved numerically (scipy's tolerances by default; the
/// exact value is 1 − exp(−k t_final)).
/// @throws std::invalid_argument naming the argument if k is not finite, C_A0 is not finite
/// and > 0, t_final is not finite and > 0, or `o` is invalid.
inline double solve_reaction(double k, double C_A0 = 1.0, double t_final = 10.0, const ode_options& o = {}) {
    if (!std::isfinite(k)) detail::ode_invalid("solve_reaction", "k must be finite, got " + detail::ode_number(k));
    if (!std::isfinite(C_A0) || !(C_A0 > 0))
        detail::ode_invalid("solve_reaction", "C_A0 must be finite and > 0, got " + detail::ode_number(C_A0));
    if (!std::isfinite(t_final) || !(t_final > 0))
        detail::ode_invalid("solve_reaction", "t_final must be finite and > 0, got " + detail::ode_number(t_final));
    const auto r = integrate_ode(first_order_reaction{k}, std::array<double, 1>{C_A0}, 0.0, t_final, o);
    return (C_A0 - r.y[0]) / C_A0;
}

/// The chapter's sweep: `solve_reaction(k)` (C_A0 = 1, t_final = 10) for every k, in parallel,
/// conversions in input order.
/// @throws std::invalid_argument for invalid `o.ode`; parkit::task_error (index + the
/// std::invalid_argument nested) for a non-finite k.
inline std::vector<double> reaction_sweep(std::span<const double> ks, const ode_sweep_options& o = {}) {
    detail::check_ode_options("reaction_sweep", o.ode);
    return parkit::parallel_map([&](double k) { return solve_reaction(k, 1.0, 10.0, o.ode); }, ks, o.execution);
}

}  // namespace parkit::kernels
