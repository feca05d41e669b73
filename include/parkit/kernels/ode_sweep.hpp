#pragma once
/// @file
/// Parameter sweeps of ODE systems (the chapter's reaction-kinetics experiment): one adaptive
/// Dormand–Prince 5(4) solve per parameter value (Boost.Odeint's `runge_kutta_dopri5` under a
/// controlled stepper, scipy `solve_ivp`'s default method and tolerances), run as tasks of
/// `parkit::parallel_map`, results in input order.
///
/// Every solve is deterministic and independent of the others, so a sweep gives bit-identical
/// results for any n_jobs, chunk size and backend.

#include "../core/options.hpp"
#include "../parallel_map.hpp"

#include <boost/numeric/odeint/stepper/controlled_runge_kutta.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
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
concept ode_state = std::ranges::random_access_range<S> && std::ranges::sized_range<S> &&
                    std::same_as<std::ranges::range_value_t<S>, double> && std::copyable<S>;

/// The right-hand side of dy/dt = f(y, t) in Boost.Odeint's form: `rhs(y, dydt, t)` writes
/// f(y, t) into `dydt` (which has y's size).
template <class F, class State>
concept ode_system = std::invocable<F&, const State&, State&, double>;

/// Settings of one adaptive solve. The defaults are scipy `solve_ivp`'s.
struct ode_options {
    double rtol = 1e-3;  ///< relative tolerance (> 0)
    double atol = 1e-6;  ///< absolute tolerance (> 0)
    /// First step size; 0 = automatic (scipy's rule, which costs one extra rhs evaluation).
    double first_step = 0.0;
    /// Largest step size allowed (> 0; infinity = no limit).
    double max_step = std::numeric_limits<double>::infinity();
    /// Accepted steps allowed before the solve gives up with `ode_integration_error` (> 0).
    std::size_t max_steps = 100'000;
};

/// Settings of a sweep: the solver's and the `parallel_map`'s.
struct ode_sweep_options {
    ode_options ode{};            ///< tolerances and step limits of every solve
    parkit::options execution{};  ///< n_jobs, backend, chunk_size, progress over the parameters
};

/// What a solve returns: the state at t1 and what it cost.
template <class State>
struct ode_result {
    State y{};                        ///< the state at t1
    std::size_t steps = 0;            ///< accepted steps
    std::size_t rejected_steps = 0;   ///< steps rejected by the error control (and retried smaller)
    std::size_t rhs_evaluations = 0;  ///< calls of the right-hand side
};

/// A solve that could not reach t1: too many steps (a stiff system), a step size below the
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

/// Checks the options of a solve; `where` names the public call.
inline void check_ode_options(const char* where, const ode_options& o) {
    if (!std::isfinite(o.rtol) || !(o.rtol > 0)) ode_invalid(where, "rtol must be finite and > 0, got " + ode_number(o.rtol));
    if (!std::isfinite(o.atol) || !(o.atol > 0)) ode_invalid(where, "atol must be finite and > 0, got " + ode_number(o.atol));
    if (!std::isfinite(o.first_step) || !(o.first_step >= 0))
        ode_invalid(where, "first_step must be finite and >= 0 (0 = automatic), got " + ode_number(o.first_step));
    if (!(o.max_step > 0)) ode_invalid(where, "max_step must be > 0, got " + ode_number(o.max_step));
    if (o.max_steps == 0) ode_invalid(where, "max_steps must be > 0");
}

/// Checks the interval [t0, t1] and the options of a solve; `where` names the public call.
inline void check_ode_arguments(const char* where, double t0, double t1, const ode_options& o) {
    if (!std::isfinite(t0)) ode_invalid(where, "t0 must be finite, got " + ode_number(t0));
    if (!std::isfinite(t1) || !(t1 > t0))
        ode_invalid(where, "t1 must be finite and > t0, got t0 = " + ode_number(t0) + ", t1 = " + ode_number(t1));
    check_ode_options(where, o);
}

/// Checks that an initial state is non-empty and finite.
template <ode_state State>
void check_initial_state(const char* where, const State& y0) {
    if (std::ranges::empty(y0)) ode_invalid(where, "y0 must not be empty");
    if (!std::ranges::all_of(y0, [](double v) { return std::isfinite(v); })) ode_invalid(where, "y0 must be finite");
}

/// scipy's `select_initial_step` (Hairer, Nørsett & Wanner) for an error estimate of order 4:
/// a first step from the sizes of y0, f(y0) and an estimate of f's change along the solution.
/// Evaluates the right-hand side once.
template <ode_state State, class System>
double initial_step(System& rhs, const State& y0, const State& f0, double t0, double t1, const ode_options& o) {
    const std::size_t n = std::ranges::size(y0);
    const auto rms = [n](auto&& term) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += term(i) * term(i);
        return std::sqrt(sum / static_cast<double>(n));
    };
    const auto y = std::ranges::begin(y0);
    const auto f = std::ranges::begin(f0);
    const auto scale = [&](std::size_t i) { return o.atol + std::abs(y[i]) * o.rtol; };
    const double d0 = rms([&](std::size_t i) { return y[i] / scale(i); });
    const double d1 = rms([&](std::size_t i) { return f[i] / scale(i); });
    const double h0 = std::min(d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1, t1 - t0);

    State y1 = y0;
    State f1 = f0;
    for (std::size_t i = 0; i < n; ++i) std::ranges::begin(y1)[i] = y[i] + h0 * f[i];
    rhs(y1, f1, t0 + h0);
    const auto g = std::ranges::begin(f1);
    const double d2 = rms([&](std::size_t i) { return (g[i] - f[i]) / scale(i); }) / h0;
    const double h1 = d1 <= 1e-15 && d2 <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                                   : std::pow(0.01 / std::max(d1, d2), 1.0 / 5.0);
    return std::min({100 * h0, h1, t1 - t0, o.max_step});
}

/// y0 itself, or y0(param) when the sweep's initial state is a function of the parameter.
template <class Initial, class Param>
decltype(auto) initial_state(const Initial& y0, const Param& param) {
    if constexpr (std::invocable<const Initial&, const Param&>) return std::invoke(y0, param);
    else return (y0);
}

}  // namespace detail

/// Solves dy/dt = rhs(y, t) from y(t0) = y0 to t1 > t0 with adaptive Dormand–Prince 5(4)
/// steps (Boost.Odeint `runge_kutta_dopri5`, controlled), as scipy's
/// `solve_ivp(f, [t0, t1], y0)` does: a step is accepted when every component's error estimate
/// is at most atol + rtol·|y| (odeint's max norm; scipy uses an RMS norm). The last step ends
/// exactly at t1.
/// @code
/// auto r = parkit::kernels::integrate_ode(
///     [](const std::vector<double>& y, std::vector<double>& dydt, double) { dydt[0] = -y[0]; },
///     std::vector<double>{1.0}, 0.0, 1.0, {.rtol = 1e-8, .atol = 1e-10});
/// // r.y[0] ≈ exp(-1); r.steps, r.rhs_evaluations
/// @endcode
/// @throws std::invalid_argument naming the argument for t0/t1 not finite or t1 <= t0, rtol or
/// atol not finite or <= 0, a bad first_step/max_step/max_steps, or an empty or non-finite y0.
/// @throws ode_integration_error when more than `max_steps` steps are needed, the step size
/// underflows, or the state becomes infinite/NaN.
template <ode_state State, ode_system<State> System>
ode_result<State> integrate_ode(System&& rhs, State y0, double t0, double t1, const ode_options& o = {}) {
    namespace odeint = boost::numeric::odeint;
    detail::check_ode_arguments("integrate_ode", t0, t1, o);
    detail::check_initial_state("integrate_ode", y0);

    ode_result<State> r;
    auto counted = [&rhs, &r](const State& y, State& dydt, double t) {
        ++r.rhs_evaluations;
        std::invoke(rhs, y, dydt, t);
    };
    using controlled = odeint::controlled_runge_kutta<odeint::runge_kutta_dopri5<State, double, State, double>>;
    // Error scale atol + rtol·|y| as scipy (a_x = 1, a_dxdt = 0); odeint's "no limit" is 0.
    controlled stepper(typename controlled::error_checker_type(o.atol, o.rtol, 1.0, 0.0),
                       typename controlled::step_adjuster_type(std::isinf(o.max_step) ? 0.0 : o.max_step));

    State y = std::move(y0);
    State dydt = y;
    counted(y, dydt, t0);
    double dt = o.first_step > 0 ? std::min(o.first_step, o.max_step)
                                 : detail::initial_step(counted, y, dydt, t0, t1, o);
    const auto fail = [&](const std::string& why, double t) {
        throw ode_integration_error("parkit::kernels::integrate_ode: stopped at t = " + detail::ode_number(t) +
                                        " (t0 = " + detail::ode_number(t0) + ", t1 = " + detail::ode_number(t1) +
                                        "): " + why,
                                    t);
    };
    double t = t0;
    while (t < t1) {
        if (r.steps == o.max_steps)
            fail("max_steps = " + std::to_string(o.max_steps) +
                     " steps were not enough (the system may be stiff; raise max_steps or loosen rtol/atol)", t);
        const bool last = dt >= t1 - t;
        double h = last ? t1 - t : dt;
        if (stepper.try_step(counted, y, dydt, t, h) == odeint::fail) {
            ++r.rejected_steps;
            if (t + h == t) fail("the step size fell below the spacing of doubles (" + detail::ode_number(h) +
                     "); the solution may have a singularity here", t);
            dt = h;
            continue;
        }
        ++r.steps;
        if (!std::ranges::all_of(y, [](double v) { return std::isfinite(v); }))
            fail("the state became infinite or NaN (the solution may blow up)", t);
        if (last) t = t1;
        else dt = h;
    }
    r.y = std::move(y);
    return r;
}

/// Solves one ODE per parameter value, in parallel, results in input order: for each `p` in
/// `params`, `integrate_ode(make_system(p), y0, t0, t1, o.ode)` (with `y0(p)` when `y0` is a
/// function of the parameter), passed through `extract` (default: the whole `ode_result`).
/// @code
/// // dy/dt = -k y for k in 0.1 .. 2, keeping y(10) only
/// auto y10 = parkit::kernels::ode_sweep(
///     [](double k) { return [k](const std::vector<double>& y, std::vector<double>& d, double) { d[0] = -k * y[0]; }; },
///     std::vector<double>{1.0}, 0.0, 10.0, parkit::kernels::linspace(0.1, 2.0, 20), {},
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
    if constexpr (ode_state<Initial>) detail::check_initial_state("ode_sweep", y0);
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
