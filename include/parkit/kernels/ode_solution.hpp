#pragma once
/// @file
/// The dense output of an ODE solve (scipy's `sol(t)` of `solve_ivp(..., dense_output=True)`):
/// one polynomial per step, stored as its values at equally spaced points of the step, so the
/// solution is plain data that can be copied, serialized and sent between processes.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parkit::kernels {

/// A continuous solution y(t) on [t_begin(), t_end()]: per step, the method's interpolating
/// polynomial of degree `degree()` (Dormand–Prince 5(4): 5, Rosenbrock 4: 3), which it
/// reproduces exactly (up to rounding) from the polynomial's values at degree() + 1 equally
/// spaced points of the step.
template <class State>
class ode_solution {
public:
    /// An empty solution (no dense output asked for); calling it throws.
    ode_solution() = default;

    /// A solution of polynomials of degree `degree`, starting at `t_begin` with states shaped
    /// like `shape`.
    ode_solution(std::size_t degree, double t_begin, const State& shape)
        : degree_(degree), t_begin_(t_begin), t_end_(t_begin), shape_(shape), breaks_{t_begin} {}

    /// Appends the step to `t_new` given the polynomial's values at its degree() + 1 equally
    /// spaced points (the first at the previous break, the last at t_new).
    void append_step(double t_new, const std::vector<State>& values) {
        breaks_.push_back(t_new);
        t_end_ = t_new;
        for (const State& v : values)
            for (double x : v) samples_.push_back(x);
    }

    /// Ends the domain at `t` (a terminal event inside the last step).
    void set_end(double t) { t_end_ = t; }

    /// Whether the solution holds no step.
    [[nodiscard]] bool empty() const noexcept { return breaks_.size() < 2; }
    /// Degree of the per-step polynomials.
    [[nodiscard]] std::size_t degree() const noexcept { return degree_; }
    /// Start of the domain (t0 of the solve).
    [[nodiscard]] double t_begin() const noexcept { return t_begin_; }
    /// End of the domain (t1, or the time of a terminal event).
    [[nodiscard]] double t_end() const noexcept { return t_end_; }
    /// The step boundaries, t0 first.
    [[nodiscard]] const std::vector<double>& breaks() const noexcept { return breaks_; }

    /// y(t) for t in [t_begin(), t_end()] (either order of the ends: backward solves too).
    /// @throws std::out_of_range naming the call if the solution is empty or t is outside the
    /// domain or not finite.
    State operator()(double t) const {
        const double lo = std::min(t_begin_, t_end_), hi = std::max(t_begin_, t_end_);
        if (empty() || !(t >= lo && t <= hi))
            throw std::out_of_range("parkit::kernels::ode_solution: t = " + std::to_string(t) +
                                    " is outside the solution's domain [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "]" + (empty() ? " (no dense output was computed)" : ""));
        const bool forward = breaks_.back() >= breaks_.front();
        // The step whose interval holds t (the first such step at a shared break).
        const auto it = forward ? std::lower_bound(breaks_.begin() + 1, breaks_.end() - 1, t)
                                : std::lower_bound(breaks_.begin() + 1, breaks_.end() - 1, t, std::greater<>());
        const std::size_t step = static_cast<std::size_t>(it - breaks_.begin()) - 1;
        const double a = breaks_[step], b = breaks_[step + 1];
        const double theta = b == a ? 0.0 : (t - a) / (b - a);
        return evaluate(step, theta);
    }

    /// The polynomial of step `step` at θ = (t − t_step) / h_step (θ in [0, 1]).
    [[nodiscard]] State evaluate(std::size_t step, double theta) const {
        const std::size_t n = std::ranges::size(shape_);
        const double* v = samples_.data() + step * (degree_ + 1) * n;
        State y = shape_;
        auto out = std::ranges::begin(y);
        // Barycentric Lagrange interpolation on the equispaced nodes θ_j = j / degree, with
        // weights w_j = (−1)^j C(degree, j); a node itself returns its value exactly.
        const double d = static_cast<double>(degree_);
        for (std::size_t j = 0; j <= degree_; ++j)
            if (theta * d == static_cast<double>(j)) {
                for (std::size_t i = 0; i < n; ++i) out[i] = v[j * n + i];
                return y;
            }
        std::vector<double> c(degree_ + 1);
        double weight = 1.0, sum = 0.0;
        for (std::size_t j = 0; j <= degree_; ++j) {
            c[j] = weight / (theta - static_cast<double>(j) / d);
            sum += c[j];
            weight = -weight * static_cast<double>(degree_ - j) / static_cast<double>(j + 1);
        }
        for (std::size_t i = 0; i < n; ++i) {
            double acc = 0.0;
            for (std::size_t j = 0; j <= degree_; ++j) acc += c[j] * v[j * n + i];
            out[i] = acc / sum;
        }
        return y;
    }

    /// Serialization (parkit's and cereal's archives): the solution is plain data.
    template <class Archive>
    void serialize(Archive& ar) {
        ar(degree_, t_begin_, t_end_, shape_, breaks_, samples_);
    }

private:
    std::size_t degree_ = 0;
    double t_begin_ = 0.0;
    double t_end_ = 0.0;
    State shape_{};
    std::vector<double> breaks_;
    std::vector<double> samples_;  // per step, per node, per component
};

}  // namespace parkit::kernels
