#pragma once
/// @file
/// The step methods behind `integrate_ode`: one attempted step with its error estimate and its
/// interpolating polynomial, Boost.Odeint's Dormand–Prince 5(4) and Rosenbrock 4(3). Step-size control, events and
/// output are the caller's (`integrate_ode`), the same for every method.

#include <Eigen/Dense>
#include <boost/numeric/odeint/stepper/rosenbrock4.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <ranges>
#include <span>
#include <utility>
#include <vector>

namespace parkit::kernels::detail {

/// `y` as a span of doubles: itself when contiguous, else copied into `scratch`.
template <class State>
std::span<const double> ode_span(const State& y, std::vector<double>& scratch) {
    if constexpr (std::ranges::contiguous_range<const State>) {
        return {std::ranges::data(y), std::ranges::size(y)};
    } else {
        scratch.assign(std::ranges::begin(y), std::ranges::end(y));
        return scratch;
    }
}

/// Dormand–Prince 5(4) (Boost.Odeint `runge_kutta_dopri5`, scipy's RK45): first same as last,
/// so an attempted step costs 6 right-hand-side evaluations; the continuous extension of
/// Hairer & Wanner's DOPRI5 is a polynomial of degree 5 in θ.
template <class State, class Rhs>
class dopri5_method {
public:
    static constexpr int error_order = 4;           ///< order of the error estimate (scipy's)
    static constexpr std::size_t dense_degree = 5;  ///< degree of the interpolating polynomial
    static constexpr bool stiff = false;            ///< an explicit method

    /// The method for `rhs` starting at (t0, y0): evaluates f(t0, y0).
    dopri5_method(Rhs& rhs, const State& y0, double t0) : rhs_(rhs), dydt_(y0), dydt_new_(y0) { rhs_(y0, dydt_, t0); }

    /// f(t, y) at the start of the next step.
    const State& derivative() { return dydt_; }

    /// One step of size h from (t, y): the new state and its error estimate.
    void attempt(const State& y, double t, double h, State& y_new, State& error) {
        stepper_.do_step(std::ref(rhs_), y, dydt_, t, y_new, dydt_new_, h, error);
        t_ = t;
        h_ = h;
    }

    /// Takes the last attempted step (its end becomes the next start).
    void accept() { std::swap(dydt_, dydt_new_); }

    /// The last attempted step's polynomial at θ ∈ [0, 1], from its start y_old to its end y_new
    /// (called before `accept`).
    void interpolate(double theta, const State& y_old, const State& y_new, State& out) const {
        stepper_.calc_state(t_ + theta * h_, out, y_old, dydt_, t_, y_new, dydt_new_, t_ + h_);
    }

private:
    Rhs& rhs_;
    boost::numeric::odeint::runge_kutta_dopri5<State, double, State, double> stepper_;
    State dydt_, dydt_new_;
    double t_ = 0.0, h_ = 0.0;
};

/// Rosenbrock 4(3), L-stable, for stiff systems: Boost.Odeint's `rosenbrock4` scheme (its
/// Kaps–Rentrop coefficients `default_rosenbrock_coefficients`, its step, error estimate and
/// continuous extension), with the linear algebra in Eigen: odeint's own stepper works on
/// uBLAS, whose storage in Boost 1.74 does not compile as C++20 (it calls
/// std::allocator::construct). An attempted step costs 5 evaluations of f plus f, ∂f/∂y and
/// ∂f/∂t at its start: ∂f/∂y from `jacobian` when given, else by forward differences
/// (n evaluations), ∂f/∂t by a forward difference (1 evaluation). Those at a start are kept, so
/// a step retried after a rejection costs 5 evaluations. The continuous extension is cubic in θ.
template <class State, class Rhs, class Jacobian>
class rosenbrock4_method {
public:
    static constexpr int error_order = 3;           ///< order of the error estimate
    static constexpr std::size_t dense_degree = 3;  ///< degree of the interpolating polynomial
    static constexpr bool stiff = true;             ///< a stiff solver

    /// The method for `rhs` (and `jacobian`, if not empty) starting at (t0, y0); counts the
    /// Jacobians it computes in `jacobian_evaluations`.
    rosenbrock4_method(Rhs& rhs, const Jacobian& jacobian, const State& y0, double t0,
                       std::size_t& jacobian_evaluations)
        : rhs_(rhs),
          jacobian_(jacobian),
          jacobian_evaluations_(jacobian_evaluations),
          n_(std::ranges::size(y0)),
          y_(y0),
          f_(y0) {
        for (vector* v :
             {&x_, &x_new_, &x_err_, &f0_, &dfdt_, &g1_, &g2_, &g3_, &g4_, &g5_, &tmp_, &k_, &cont3_, &cont4_})
            v->resize(static_cast<Eigen::Index>(n_));
        jac_.resize(static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
        prepare(y0, t0);
    }

    /// f(t, y) at the start of the next step.
    const State& derivative() {
        copy_out(f0_, f_);
        return f_;
    }

    /// One step of size h from (t, y): the new state and its error estimate (odeint's
    /// `rosenbrock4::do_step` followed by `prepare_dense_output`).
    void attempt(const State& y, double t, double h, State& y_new, State& error) {
        const auto& c = coef_;
        prepare(y, t);
        const Eigen::PartialPivLU<matrix> lu(matrix::Identity(jac_.rows(), jac_.cols()) / (c.gamma * h) - jac_);
        g1_ = lu.solve(f0_ + h * c.d1 * dfdt_);
        tmp_ = x_ + c.a21 * g1_;
        call_rhs(tmp_, k_, t + c.c2 * h);
        g2_ = lu.solve(k_ + h * c.d2 * dfdt_ + c.c21 * g1_ / h);
        tmp_ = x_ + c.a31 * g1_ + c.a32 * g2_;
        call_rhs(tmp_, k_, t + c.c3 * h);
        g3_ = lu.solve(k_ + h * c.d3 * dfdt_ + (c.c31 * g1_ + c.c32 * g2_) / h);
        tmp_ = x_ + c.a41 * g1_ + c.a42 * g2_ + c.a43 * g3_;
        call_rhs(tmp_, k_, t + c.c4 * h);
        g4_ = lu.solve(k_ + h * c.d4 * dfdt_ + (c.c41 * g1_ + c.c42 * g2_ + c.c43 * g3_) / h);
        tmp_ = x_ + c.a51 * g1_ + c.a52 * g2_ + c.a53 * g3_ + c.a54 * g4_;
        call_rhs(tmp_, k_, t + h);
        g5_ = lu.solve(k_ + (c.c51 * g1_ + c.c52 * g2_ + c.c53 * g3_ + c.c54 * g4_) / h);
        tmp_ += g5_;
        call_rhs(tmp_, k_, t + h);
        x_err_ = lu.solve(k_ + (c.c61 * g1_ + c.c62 * g2_ + c.c63 * g3_ + c.c64 * g4_ + c.c65 * g5_) / h);
        x_new_ = tmp_ + x_err_;
        cont3_ = c.d21 * g1_ + c.d22 * g2_ + c.d23 * g3_ + c.d24 * g4_ + c.d25 * g5_;
        cont4_ = c.d31 * g1_ + c.d32 * g2_ + c.d33 * g3_ + c.d34 * g4_ + c.d35 * g5_;
        copy_out(x_new_, y_new);
        copy_out(x_err_, error);
    }

    /// Takes the last attempted step.
    void accept() {}

    /// The last attempted step's polynomial at θ ∈ [0, 1] (odeint's `rosenbrock4::calc_state`).
    void interpolate(double theta, const State&, const State&, State& out) const {
        const double s1 = 1.0 - theta;
        auto o = std::ranges::begin(out);
        for (std::size_t i = 0; i < n_; ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            o[i] = x_[k] * s1 + theta * (x_new_[k] + s1 * (cont3_[k] + theta * cont4_[k]));
        }
    }

private:
    using vector = Eigen::VectorXd;
    using matrix = Eigen::MatrixXd;

    void copy_out(const vector& from, State& to) const {
        auto out = std::ranges::begin(to);
        for (std::size_t i = 0; i < n_; ++i) out[i] = from[static_cast<Eigen::Index>(i)];
    }

    void call_rhs(const vector& x, vector& dxdt, double t) {
        auto y = std::ranges::begin(y_);
        for (std::size_t i = 0; i < n_; ++i) y[i] = x[static_cast<Eigen::Index>(i)];
        rhs_(y_, f_, t);
        auto f = std::ranges::begin(f_);
        for (std::size_t i = 0; i < n_; ++i) dxdt[static_cast<Eigen::Index>(i)] = f[i];
    }

    /// f, ∂f/∂y and ∂f/∂t at (t, y), unless they are those of the previous call's point.
    void prepare(const State& y, double t) {
        const auto in = std::ranges::begin(y);
        const auto n = static_cast<Eigen::Index>(n_);
        bool same = prepared_ && t == t_prepared_;
        for (Eigen::Index i = 0; same && i < n; ++i) same = x_[i] == in[static_cast<std::size_t>(i)];
        if (same) return;
        for (Eigen::Index i = 0; i < n; ++i) x_[i] = in[static_cast<std::size_t>(i)];
        call_rhs(x_, f0_, t);
        ++jacobian_evaluations_;
        const double root_eps = std::sqrt(std::numeric_limits<double>::epsilon());
        if (jacobian_) {
            std::vector<double> dfdy(n_ * n_), scratch;
            jacobian_(t, ode_span(y, scratch), std::span<double>(dfdy));
            for (Eigen::Index r = 0; r < n; ++r)
                for (Eigen::Index c = 0; c < n; ++c) jac_(r, c) = dfdy[static_cast<std::size_t>(r * n + c)];
        } else {
            tmp_ = x_;
            for (Eigen::Index c = 0; c < n; ++c) {
                tmp_[c] = x_[c] + root_eps * std::max(std::abs(x_[c]), 1.0);
                call_rhs(tmp_, k_, t);
                jac_.col(c) = (k_ - f0_) / (tmp_[c] - x_[c]);  // the representable increment
                tmp_[c] = x_[c];
            }
        }
        const double t_shifted = t + root_eps * std::max(std::abs(t), 1.0);
        call_rhs(x_, k_, t_shifted);
        dfdt_ = (k_ - f0_) / (t_shifted - t);
        prepared_ = true;
        t_prepared_ = t;
    }

    Rhs& rhs_;
    const Jacobian& jacobian_;
    std::size_t& jacobian_evaluations_;
    std::size_t n_;
    State y_, f_;  // the user's state type, for calls of rhs
    vector x_, x_new_, x_err_, f0_, dfdt_, g1_, g2_, g3_, g4_, g5_, tmp_, k_, cont3_, cont4_;
    matrix jac_;
    boost::numeric::odeint::default_rosenbrock_coefficients<double> coef_;
    bool prepared_ = false;
    double t_prepared_ = 0.0;
};

}  // namespace parkit::kernels::detail
