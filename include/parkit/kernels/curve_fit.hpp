#pragma once
/// @file
/// Non-linear least-squares curve fitting with scipy's `curve_fit` semantics, and a batch
/// version that fits many datasets in parallel (the chapter's kinetic fits).
///
/// `curve_fit(model, x, y, p0, bounds, options)` minimises 0.5 Σ ((model(x_i, p) − y_i) / σ_i)²,
/// or 0.5 ‖L⁻¹ (model(x, p) − y)‖² for a covariance matrix Σ = L Lᵀ of y's errors (scipy's
/// 2-D `sigma`), and returns the parameters with scipy's covariance (pseudo-inverse of JᵀJ,
/// scaled by the residual variance unless `absolute_sigma`). Without p0 the start is scipy's
/// default (ones) for models whose parameter count their signature gives.
///
/// The algorithm is scipy's trust-region reflective method (`least_squares(method='trf')`),
/// with the trust-region subproblem solved exactly by SVD and Moré's iteration for the
/// Levenberg–Marquardt parameter, in variables scaled by the running column norms of the
/// Jacobian (MINPACK's `diag`, scipy's `x_scale='jac'`):
/// - without finite bounds it is Moré's scaled Levenberg–Marquardt method (what scipy's
///   default 'lm' runs through MINPACK: same scaling, same iteration for the LM parameter),
///   with an SVD instead of a QR and scipy's trust-radius update and stopping tests;
/// - with bounds it adds Coleman–Li scaling and reflected / projected steps that keep every
///   iterate strictly inside the box, like scipy's 'trf' (which `curve_fit` uses with bounds).
///
/// Why not Eigen's unsupported `LevenbergMarquardt` module: it has no bounds, no
/// scipy-compatible covariance and is not part of the supported API. The loop below uses
/// Eigen's `JacobiSVD` for all its linear algebra.

#include "../core/errors.hpp"
#include "../core/options.hpp"
#include "../parallel_map.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace parkit::kernels {

/// Why a fit stopped (scipy's `least_squares` status codes, plus one for a broken Jacobian).
enum class curve_fit_status {
    max_nfev_reached = 0,         ///< options.max_nfev residual evaluations used up: not converged
    gtol_satisfied = 1,           ///< the scaled gradient fell below options.gtol
    ftol_satisfied = 2,           ///< the relative cost reduction fell below options.ftol
    xtol_satisfied = 3,           ///< the relative step fell below options.xtol
    ftol_and_xtol_satisfied = 4,  ///< both ftol and xtol held
    jacobian_not_finite = -1,     ///< the Jacobian became NaN/inf: not converged
};

/// Box constraints lower <= p <= upper, like scipy's `bounds=(lower, upper)`. Each side is
/// empty (unbounded: −inf / +inf), one value (the same for every parameter) or one value per
/// parameter; use ±infinity to leave single parameters free. The chapter's
/// `bounds=(0, [10, 10])` is `{.lower = {0}, .upper = {10, 10}}`.
struct curve_fit_bounds {
    std::vector<double> lower = {};  ///< lower bounds (empty = −inf)
    std::vector<double> upper = {};  ///< upper bounds (empty = +inf)
};

/// Robust loss ρ(z) of a residual, z = (r / f_scale)², as scipy `least_squares`' `loss`;
/// the cost is 0.5 · f_scale² · Σ ρ(z_i).
enum class fit_loss {
    linear,   ///< ρ(z) = z: ordinary least squares (default)
    soft_l1,  ///< ρ(z) = 2 (√(1 + z) − 1): smooth approximation of the absolute value
    huber,    ///< ρ(z) = z for z <= 1, else 2√z − 1
    cauchy,   ///< ρ(z) = ln(1 + z): strongly suppresses outliers
    arctan,   ///< ρ(z) = arctan(z): bounds the cost of a single residual
};

/// Settings of a fit; the defaults are scipy's.
struct curve_fit_options {
    double ftol = 1e-8;  ///< stop when the cost drops by less than ftol · cost in a good step
    double xtol = 1e-8;  ///< stop when ‖step‖ < xtol · (xtol + ‖p‖)
    /// Gradient test. Without bounds and with the linear loss (scipy's 'lm', MINPACK): stop when
    /// the largest cosine |J_jᵀ r| / (‖J_j‖ ‖r‖) between the residual and a Jacobian column is
    /// <= gtol, which does not depend on the scale of y or p. Otherwise (scipy's 'trf'): stop when
    /// ‖g · v‖∞ < gtol (g = Jᵀr, v = Coleman–Li scaling).
    double gtol = 1e-8;
    /// Most residual evaluations (Jacobian finite differences not counted, like scipy's
    /// `least_squares`); 0 = 100 · number of parameters (scipy's default).
    std::size_t max_nfev = 0;
    /// Uncertainties of y (one per point, > 0): residuals are divided by them. Empty = all 1
    /// (for correlated errors see sigma_matrix).
    std::vector<double> sigma = {};
    /// false (scipy's default): sigma are relative weights and the covariance is scaled by the
    /// reduced chi-square cost·2/(m − n); true: sigma are absolute and the covariance is not scaled.
    bool absolute_sigma = false;
    /// true: a fit that does not converge throws `curve_fit_error`, like scipy's RuntimeError;
    /// false (default): it returns with `success() == false` and the status saying why.
    bool throw_on_failure = false;
    /// Robust loss (scipy's `loss`); any loss other than linear runs the trust-region reflective
    /// method also without bounds, as scipy's curve_fit with method 'trf' does.
    fit_loss loss = fit_loss::linear;
    /// Soft margin between inlier and outlier residuals (scipy's `f_scale`, > 0).
    double f_scale = 1.0;
    /// Covariance matrix of y's errors (scipy's 2-D `sigma`): m × m for m points, symmetric
    /// positive definite. With its Cholesky factor Σ = L Lᵀ the fit minimises
    /// 0.5 ‖L⁻¹ (model(x, p) − y)‖² (correlated errors); absolute_sigma applies as for `sigma`.
    /// Empty (default) = not used; give either this or `sigma`, not both.
    Eigen::MatrixXd sigma_matrix = {};
};

/// The outcome of a fit (scipy's popt, pcov and `least_squares`' OptimizeResult fields).
struct curve_fit_result {
    Eigen::VectorXd params;  ///< the fitted parameters (popt)
    /// Their covariance (pcov): all +inf when m <= n; +inf in every entry that involves a
    /// parameter combination the data cannot determine (rank-deficient Jacobian).
    Eigen::MatrixXd covariance;
    Eigen::VectorXd std_errors;  ///< sqrt(diag(covariance))
    Eigen::VectorXd residuals;   ///< (model(x_i, params) − y_i) / σ_i, or L⁻¹ (model − y) with sigma_matrix
    double cost = 0;             ///< 0.5 · Σ residuals²
    double optimality = 0;       ///< ‖g · v‖∞ at params (first-order optimality)
    std::size_t nfev = 0;        ///< residual evaluations (without finite differences)
    std::size_t njev = 0;        ///< Jacobian evaluations
    std::size_t iterations = 0;  ///< trust-region iterations
    curve_fit_status status = curve_fit_status::max_nfev_reached;  ///< why it stopped
    std::string message;                                           ///< scipy's text for the status
    /// False when the Jacobian at params is rank-deficient (e.g. a·b·x: only a·b is
    /// determined): the covariance is then partly +inf where scipy reports ~1e26 or inf.
    bool identifiable = true;

    /// True when a convergence test was met (status 1 to 4).
    [[nodiscard]] bool success() const noexcept { return static_cast<int>(status) > 0; }

    /// Lets a result travel between processes (batch_curve_fit with backend::processes).
    template <class Archive>
    void serialize(Archive& ar) {
        ar(params, covariance, std_errors, residuals, cost, optimality, nfev, njev, iterations, status, message,
           identifiable);
    }
};

/// Thrown for a fit that did not converge when `options.throw_on_failure` is set; the text is
/// scipy's ("Optimal parameters not found: ..."), `result()` has the last iterate.
class curve_fit_error : public std::runtime_error {
public:
    /// Wraps the failed fit's result.
    explicit curve_fit_error(curve_fit_result result)
        : std::runtime_error("Optimal parameters not found: " + result.message), result_(std::move(result)) {}
    /// The failed fit (last parameters, status, counts).
    [[nodiscard]] const curve_fit_result& result() const noexcept { return result_; }

private:
    curve_fit_result result_;
};

/// A model paired with its analytic gradient (defined below; declared here for the traits).
template <class Model, class Gradient>
struct model_with_jacobian;

namespace detail {

/// How a model (or gradient) takes its parameters after x, read from its signature.
enum class fit_parameter_kind {
    vector,        ///< anything else (`const Eigen::VectorXd&`, generic lambdas): count unknown
    scalars,       ///< N `double` parameters: f(x, a, b, ...)
    std_array,     ///< one `std::array<double, N>`
    fixed_vector,  ///< one `Eigen::Matrix<double, N, 1>` (N fixed): called with the VectorXd
};

/// N for std::array<double, N>, else 0.
template <class T>
inline constexpr std::size_t fit_std_array_size = 0;
template <std::size_t N>
inline constexpr std::size_t fit_std_array_size<std::array<double, N>> = N;

/// N for a fixed-size column vector Eigen::Matrix<double, N, 1>, else 0.
template <class T>
inline constexpr std::size_t fit_fixed_vector_size = 0;
template <int N, int Options, int MaxRows>
requires(N > 0) inline constexpr std::size_t fit_fixed_vector_size<Eigen::Matrix<double, N, 1, Options, MaxRows, 1>> =
    static_cast<std::size_t>(N);

/// The parameter form of a call signature R(X, P...): its kind and parameter count.
template <class... Args>
struct fit_parameter_form {
    static constexpr fit_parameter_kind kind = fit_parameter_kind::vector;
    static constexpr std::size_t count = 0;
};
/// The form of R(X, P...): P... read as N doubles, one std::array<double, N> or one fixed-size Eigen vector.
template <class X, class... P>
struct fit_parameter_form<X, P...> {
    static constexpr bool all_double = sizeof...(P) > 0 && (std::is_same_v<std::remove_cvref_t<P>, double> && ...);
    static constexpr std::size_t array_size =
        sizeof...(P) == 1 ? (fit_std_array_size<std::remove_cvref_t<P>> + ...) : 0;
    static constexpr std::size_t fixed_size =
        sizeof...(P) == 1 ? (fit_fixed_vector_size<std::remove_cvref_t<P>> + ...) : 0;
    static constexpr fit_parameter_kind kind = all_double   ? fit_parameter_kind::scalars
                                               : array_size ? fit_parameter_kind::std_array
                                               : fixed_size ? fit_parameter_kind::fixed_vector
                                                            : fit_parameter_kind::vector;
    static constexpr std::size_t count = all_double ? sizeof...(P) : array_size ? array_size : fixed_size;
};

/// The argument types of a function type, function pointer or const member function pointer
/// (a lambda's or functor's single non-template operator()).
template <class F>
struct fit_signature {
    using form = fit_parameter_form<>;
};
/// A plain signature R(A...): its parameter form (the other specializations reduce to it).
template <class R, class... A>
struct fit_signature<R(A...)> {
    using form = fit_parameter_form<A...>;
};
template <class R, class... A>
struct fit_signature<R(A...) noexcept> : fit_signature<R(A...)> {};
template <class R, class... A>
struct fit_signature<R (*)(A...)> : fit_signature<R(A...)> {};
template <class R, class... A>
struct fit_signature<R (*)(A...) noexcept> : fit_signature<R(A...)> {};
template <class R, class C, class... A>
struct fit_signature<R (C::*)(A...) const> : fit_signature<R(A...)> {};
template <class R, class C, class... A>
struct fit_signature<R (C::*)(A...) const noexcept> : fit_signature<R(A...)> {};

/// The parameter form of a callable F (vector when its signature cannot be read).
template <class F>
struct fit_parameters : fit_signature<std::remove_cv_t<F>>::form {};
/// A lambda or functor with one non-template call operator: the form of that operator.
template <class F>
requires std::is_class_v<F> && requires {
    &F::operator();
}
struct fit_parameters<F> : fit_signature<decltype(&F::operator())>::form {};

/// The number of parameters of a model, from its signature (0 = unknown: p0 must be given).
/// A `with_jacobian(model, gradient)` has its model's.
template <class Model>
inline constexpr std::size_t model_parameter_count = fit_parameters<Model>::count;
template <class M, class G>
inline constexpr std::size_t model_parameter_count<model_with_jacobian<M, G>> = fit_parameters<M>::count;

/// Calls f(x, params) in f's parameter form: with p[0], ..., p[N−1], a std::array, or the vector.
template <class F, class X>
auto call_with_parameters(const F& f, X&& x, const Eigen::VectorXd& p) {
    using form = fit_parameters<F>;
    if constexpr (form::kind == fit_parameter_kind::scalars) {
        return [&]<std::size_t... j>(std::index_sequence<j...>) {
            return f(std::forward<X>(x), p[static_cast<Eigen::Index>(j)]...);
        }
        (std::make_index_sequence<form::count>{});
    } else if constexpr (form::kind == fit_parameter_kind::std_array) {
        std::array<double, form::count> a{};
        for (std::size_t j = 0; j < form::count; ++j) a[j] = p[static_cast<Eigen::Index>(j)];
        return f(std::forward<X>(x), a);
    } else {
        return f(std::forward<X>(x), p);
    }
}

/// double, for expanding an index pack into N double arguments.
template <std::size_t>
using fit_double = double;
/// True when f(x, double, ..., double) (one per index) can be called on a const F.
template <class F, class X, class Indices>
inline constexpr bool fit_scalars_invocable = false;
template <class F, class X, std::size_t... j>
inline constexpr bool fit_scalars_invocable<F, X, std::index_sequence<j...>> =
    std::is_invocable_v<const F&, X, fit_double<j>...>;

/// True when call_with_parameters(f, x, p) is well-formed for an x of type X.
template <class F, class X>
concept fit_callable = (fit_parameters<F>::kind == fit_parameter_kind::scalars &&
                        fit_scalars_invocable<F, X, std::make_index_sequence<fit_parameters<F>::count>>) ||
                       (fit_parameters<F>::kind == fit_parameter_kind::std_array &&
                        std::is_invocable_v<const F&, X, const std::array<double, fit_parameters<F>::count>&>) ||
                       (fit_parameters<F>::kind != fit_parameter_kind::scalars &&
                        fit_parameters<F>::kind != fit_parameter_kind::std_array &&
                        std::is_invocable_v<const F&, X, const Eigen::VectorXd&>);

}  // namespace detail

/// A model together with its analytic gradient; pass `with_jacobian(model, gradient)` as the
/// model to `curve_fit` to skip finite differences.
template <class Model, class Gradient>
struct model_with_jacobian {
    Model model;  ///< model(x_i, params) -> double
    /// gradient(x_i, params) -> Eigen vector (or std::array<double, N>) of ∂model/∂params_j;
    /// it takes the parameters in the same form as the model (vector, N doubles, std::array).
    Gradient gradient;

    /// Evaluates the model.
    template <class X>
    double operator()(const X& x, const Eigen::VectorXd& params) const {
        return static_cast<double>(detail::call_with_parameters(model, x, params));
    }
};

/// Bundles a model with its gradient ∂model(x_i, p)/∂p (an Eigen vector with one entry per
/// parameter), e.g. `with_jacobian(f, [](double t, const Eigen::VectorXd& p) { ... })`.
template <class Model, class Gradient>
model_with_jacobian<std::decay_t<Model>, std::decay_t<Gradient>> with_jacobian(Model&& model, Gradient&& gradient) {
    return {std::forward<Model>(model), std::forward<Gradient>(gradient)};
}

/// Any sized random-access range of x values (double for a scalar variable, or any type the
/// model takes, e.g. Eigen::Vector2d for two independent variables).
template <class R>
concept curve_fit_x_range = std::ranges::random_access_range<const R> && std::ranges::sized_range<const R>;

/// A model callable as model(x_i, params) -> double for the elements x_i of X, taking the
/// parameters as `const Eigen::VectorXd&` (or anything an Eigen::VectorXd converts to), as N
/// `double` arguments `model(x_i, a, b, ...)`, or as one `std::array<double, N>`. The last two
/// and `Eigen::Matrix<double, N, 1>` (N fixed) give the parameter count, so p0 may be omitted.
template <class M, class X>
concept curve_fit_model = curve_fit_x_range<X> && detail::fit_callable<M, std::ranges::range_reference_t<const X>> &&
    requires(const M& m, std::ranges::range_reference_t<const X> xi, const Eigen::VectorXd& p) {
    { detail::call_with_parameters(m, xi, p) } -> std::convertible_to<double>;
};

namespace detail {

inline constexpr double fit_eps = std::numeric_limits<double>::epsilon();
inline constexpr double fit_inf = std::numeric_limits<double>::infinity();

/// Throws std::invalid_argument with the kernel's prefix.
[[noreturn]] inline void fit_fail(const std::string& what) {
    throw std::invalid_argument("parkit::kernels::curve_fit: " + what);
}

/// scipy's text for a status.
inline std::string fit_status_message(curve_fit_status s) {
    switch (s) {
        case curve_fit_status::max_nfev_reached:
            return "The maximum number of function evaluations is exceeded.";
        case curve_fit_status::gtol_satisfied:
            return "`gtol` termination condition is satisfied.";
        case curve_fit_status::ftol_satisfied:
            return "`ftol` termination condition is satisfied.";
        case curve_fit_status::xtol_satisfied:
            return "`xtol` termination condition is satisfied.";
        case curve_fit_status::ftol_and_xtol_satisfied:
            return "Both `ftol` and `xtol` termination conditions are satisfied.";
        case curve_fit_status::jacobian_not_finite:
            return "The Jacobian is not finite.";
    }
    return "unknown status";
}

/// The box of a fit, expanded to one bound per parameter, and the checked start point.
struct fit_box {
    Eigen::VectorXd p0, lower, upper;
    bool bounded = false;  ///< any finite bound
};

/// scipy's default start without p0 (curve_fit's _initialize_feasible): 1 for a free
/// parameter, the midpoint of a finite box, lower + 1 or upper − 1 with one finite bound.
inline Eigen::VectorXd default_p0(const Eigen::VectorXd& lower, const Eigen::VectorXd& upper) {
    Eigen::VectorXd p0 = Eigen::VectorXd::Ones(lower.size());
    for (Eigen::Index j = 0; j < p0.size(); ++j) {
        const bool lb = std::isfinite(lower[j]), ub = std::isfinite(upper[j]);
        if (lb && ub)
            p0[j] = 0.5 * (lower[j] + upper[j]);
        else if (lb)
            p0[j] = lower[j] + 1;
        else if (ub)
            p0[j] = upper[j] - 1;
    }
    return p0;
}

/// Checks p0 and bounds (sizes, NaN, lower < upper, p0 inside) and expands the bounds.
/// `model_count` is the model's parameter count when its signature gives it (0 = unknown):
/// an empty p0 then means scipy's default start, a p0 of another size is refused.
inline fit_box make_fit_box(const std::vector<double>& p0, const curve_fit_bounds& bounds,
                            std::size_t model_count = 0) {
    if (p0.empty() && model_count == 0)
        fit_fail(
            "p0 is empty (one start value per parameter is needed; scipy's default p0 of ones needs a model "
            "whose signature gives the parameter count: N double parameters, std::array<double, N> or "
            "Eigen::Matrix<double, N, 1> after x)");
    if (!p0.empty() && model_count != 0 && p0.size() != model_count)
        fit_fail("p0 has " + std::to_string(p0.size()) + " values but the model takes " + std::to_string(model_count) +
                 " parameters");
    const std::size_t count = p0.empty() ? model_count : p0.size();
    const auto n = static_cast<Eigen::Index>(count);
    const std::string count_owner = p0.empty() ? "the model takes " : "p0 has ";
    fit_box box;
    const auto expand = [&](const std::vector<double>& v, double fill, const char* name) -> Eigen::VectorXd {
        if (v.empty()) return Eigen::VectorXd::Constant(n, fill);
        if (v.size() == 1) return Eigen::VectorXd::Constant(n, v[0]);
        if (v.size() != count)
            fit_fail(std::string(name) + " has " + std::to_string(v.size()) + " values but " + count_owner +
                     std::to_string(count) + " (give 0, 1 or one per parameter)");
        return Eigen::Map<const Eigen::VectorXd>(v.data(), n);
    };
    box.lower = expand(bounds.lower, -fit_inf, "bounds.lower");
    box.upper = expand(bounds.upper, fit_inf, "bounds.upper");
    if (p0.empty()) {
        box.p0 = default_p0(box.lower, box.upper);
    } else {
        box.p0 = Eigen::Map<const Eigen::VectorXd>(p0.data(), n);
        if (!box.p0.allFinite()) fit_fail("p0 contains NaN or inf");
    }
    for (Eigen::Index j = 0; j < n; ++j) {
        const std::string interval = std::to_string(box.lower[j]).append(", ").append(std::to_string(box.upper[j]));
        if (!(box.lower[j] < box.upper[j]))
            fit_fail(std::string("bounds: each lower bound must be strictly less than its upper bound (parameter ")
                         .append(std::to_string(j))
                         .append(": [")
                         .append(interval)
                         .append("])"));
        if (box.p0[j] < box.lower[j] || box.p0[j] > box.upper[j])
            fit_fail(std::string("p0[")
                         .append(std::to_string(j))
                         .append("] = ")
                         .append(std::to_string(box.p0[j]))
                         .append(" is outside bounds [")
                         .append(interval)
                         .append("]"));
    }
    box.bounded = (box.lower.array() > -fit_inf).any() || (box.upper.array() < fit_inf).any();
    return box;
}

/// Checks the tolerances (finite, >= 0, at least one usable, as scipy requires).
inline void check_fit_options(const curve_fit_options& o) {
    const auto check = [](double tol, const char* name) {
        if (!(tol >= 0.0) || !std::isfinite(tol))
            fit_fail(std::string("options.") + name + " must be finite and >= 0, got " + std::to_string(tol));
    };
    check(o.ftol, "ftol");
    check(o.xtol, "xtol");
    check(o.gtol, "gtol");
    if (o.ftol < fit_eps && o.xtol < fit_eps && o.gtol < fit_eps)
        fit_fail("at least one of options.ftol, options.xtol, options.gtol must be >= machine epsilon");
    if (!(o.f_scale > 0) || !std::isfinite(o.f_scale))
        fit_fail("options.f_scale must be finite and > 0, got " + std::to_string(o.f_scale));
    switch (o.loss) {
        case fit_loss::linear:
        case fit_loss::soft_l1:
        case fit_loss::huber:
        case fit_loss::cauchy:
        case fit_loss::arctan:
            break;
        default:
            fit_fail("options.loss has an unknown value");
    }
    if (!o.sigma.empty() && o.sigma_matrix.size() != 0)
        fit_fail("options.sigma and options.sigma_matrix are both given (give one: errors or their covariance)");
}

/// The lower Cholesky factor L of a covariance matrix of y's errors (sigma = L Lᵀ, scipy's
/// `cholesky(sigma, lower=True)`), after checking it: square, finite, symmetric (to 1e-10 of
/// sqrt(a_ii a_jj)) and positive definite. `name` is the argument named in the errors.
inline Eigen::MatrixXd sigma_cholesky(const Eigen::MatrixXd& sigma, const std::string& name) {
    if (sigma.rows() != sigma.cols())
        fit_fail(name + " must be square (the covariance of the y values), got " + std::to_string(sigma.rows()) + "x" +
                 std::to_string(sigma.cols()));
    if (!sigma.allFinite()) fit_fail(name + " contains NaN or inf");
    for (Eigen::Index j = 0; j < sigma.cols(); ++j)
        for (Eigen::Index i = j + 1; i < sigma.rows(); ++i)
            if (!(std::abs(sigma(i, j) - sigma(j, i)) <= 1e-10 * std::sqrt(std::abs(sigma(i, i) * sigma(j, j)))))
                fit_fail(name + " must be symmetric, but entry (" + std::to_string(i) + ", " + std::to_string(j) +
                         ") = " + std::to_string(sigma(i, j)) + " and (" + std::to_string(j) + ", " +
                         std::to_string(i) + ") = " + std::to_string(sigma(j, i)));
    const Eigen::LLT<Eigen::MatrixXd> llt(sigma);
    if (llt.info() != Eigen::Success)
        fit_fail(name + " must be positive definite (its Cholesky factorisation fails, scipy's LinAlgError)");
    return llt.matrixL();
}

/// What the residuals are divided by in one fit: nothing, one σ per point, or the Cholesky
/// factor L of their covariance (residuals L⁻¹ (model − y)).
struct fit_uncertainty {
    std::span<const double> sigma = {};               ///< 1-D sigma (empty = none)
    const Eigen::MatrixXd* lower = nullptr;           ///< L of a 2-D sigma (null = none)
    std::string lower_name = "options.sigma_matrix";  ///< how errors about L's size name it
};

template <class>
inline constexpr bool has_gradient = false;
template <class M, class G>
inline constexpr bool has_gradient<model_with_jacobian<M, G>> = true;

/// A gradient's value as something with size() and transpose() (std::array is mapped).
template <class G>
decltype(auto) fit_gradient_vector(const G& g) {
    if constexpr (fit_std_array_size<G> != 0)
        return Eigen::Map<const Eigen::VectorXd>(g.data(), std::ssize(g));
    else
        return (g);
}

/// The weighted residual function r_i(p) = (model(x_i, p) − y_i) · w_i, or with a 2-D sigma
/// r(p) = L⁻¹ (model(x, p) − y), and its Jacobian.
template <class Model, class XRange>
struct residual_function {
    const Model& model;
    const XRange& x;
    std::span<const double> y;
    Eigen::VectorXd weight;                  ///< 1/σ_i (ones with a 2-D sigma)
    const Eigen::MatrixXd* lower = nullptr;  ///< Cholesky factor L of a 2-D sigma, or null

    Eigen::Index size() const { return static_cast<Eigen::Index>(y.size()); }
    decltype(auto) x_at(Eigen::Index i) const { return std::ranges::begin(x)[i]; }

    void operator()(const Eigen::VectorXd& p, Eigen::VectorXd& r) const {
        for (Eigen::Index i = 0; i < size(); ++i)
            r[i] = (static_cast<double>(call_with_parameters(model, x_at(i), p)) - y[static_cast<std::size_t>(i)]) *
                   weight[i];
        if (lower) lower->triangularView<Eigen::Lower>().solveInPlace(r);
    }

    /// The Jacobian at p (r = residuals at p): the user's gradient, or forward differences
    /// with scipy's 'trf' step sqrt(eps)·max(1, |p_j|), turned around where it would leave the
    /// box, or with `relative_step` MINPACK's (scipy 'lm') sqrt(eps)·|p_j| (sqrt(eps) at 0),
    /// which stays accurate for parameters of any magnitude.
    void jacobian(const Eigen::VectorXd& p, const Eigen::VectorXd& r, const fit_box& box, bool relative_step,
                  Eigen::MatrixXd& J) const {
        if constexpr (has_gradient<Model>) {
            for (Eigen::Index i = 0; i < size(); ++i) {
                const auto value = call_with_parameters(model.gradient, x_at(i), p);
                const auto& grad = fit_gradient_vector(value);
                if (grad.size() != p.size())
                    fit_fail("the model's jacobian returned " + std::to_string(grad.size()) + " values for " +
                             std::to_string(p.size()) + " parameters");
                J.row(i) = grad.transpose() * weight[i];
            }
            if (lower) lower->triangularView<Eigen::Lower>().solveInPlace(J);
        } else {
            Eigen::VectorXd shifted = p, r_shifted(size());
            for (Eigen::Index j = 0; j < p.size(); ++j) {
                const double magnitude =
                    relative_step ? (p[j] == 0 ? 1.0 : std::abs(p[j])) : std::max(1.0, std::abs(p[j]));
                double h = std::sqrt(fit_eps) * (p[j] >= 0 ? 1.0 : -1.0) * magnitude;
                if (p[j] + h < box.lower[j] || p[j] + h > box.upper[j]) {
                    const double below = p[j] - box.lower[j], above = box.upper[j] - p[j];
                    h = std::abs(h) <= std::max(below, above) ? -h : (above >= below ? above : -below);
                }
                shifted[j] = p[j] + h;
                h = shifted[j] - p[j];  // the step actually taken
                (*this)(shifted, r_shifted);
                J.col(j) = (r_shifted - r) / h;
                shifted[j] = p[j];
            }
        }
    }
};

/// Moves x strictly inside the box: within rstep (relative) of a bound, or onto one when
/// rstep = 0, it is pushed inside (scipy's make_strictly_feasible).
inline Eigen::VectorXd strictly_feasible(Eigen::VectorXd x, const fit_box& box, double rstep) {
    for (Eigen::Index j = 0; j < x.size(); ++j) {
        const double lb = box.lower[j], ub = box.upper[j];
        const double lt = rstep * std::max(1.0, std::abs(lb)), ut = rstep * std::max(1.0, std::abs(ub));
        const bool at_upper = rstep == 0 ? x[j] >= ub : std::isfinite(ub) && ub - x[j] <= std::min(x[j] - lb, ut);
        const bool at_lower = rstep == 0 ? x[j] <= lb : std::isfinite(lb) && x[j] - lb <= std::min(ub - x[j], lt);
        if (at_upper)
            x[j] = rstep == 0 ? std::nextafter(ub, lb) : ub - ut;
        else if (at_lower)
            x[j] = rstep == 0 ? std::nextafter(lb, ub) : lb + lt;
        if (x[j] < lb || x[j] > ub) x[j] = 0.5 * (lb + ub);
    }
    return x;
}

/// Largest t with x + t·s inside the box, and which components hit a bound there (±1 by the
/// sign of s, 0 otherwise).
inline double step_to_bound(const Eigen::VectorXd& x, const Eigen::VectorXd& s, const fit_box& box,
                            Eigen::VectorXd* hits = nullptr) {
    Eigen::VectorXd steps = Eigen::VectorXd::Constant(x.size(), fit_inf);
    for (Eigen::Index j = 0; j < x.size(); ++j)
        if (s[j] != 0) steps[j] = std::max((box.lower[j] - x[j]) / s[j], (box.upper[j] - x[j]) / s[j]);
    const double t = steps.minCoeff();
    if (hits)
        for (Eigen::Index j = 0; j < x.size(); ++j)
            (*hits)[j] = steps[j] == t ? (s[j] > 0 ? 1.0 : s[j] < 0 ? -1.0 : 0.0) : 0.0;
    return t;
}

/// The quadratic model of the cost in the scaled variables: the least-squares Jacobian J_h,
/// gradient g_h and the Coleman–Li diagonal term diag_h.
struct scaled_quadratic {
    const Eigen::MatrixXd& J_h;
    const Eigen::VectorXd& g_h;
    const Eigen::VectorXd& diag_h;

    /// Predicted change of the cost for step s.
    double value(const Eigen::VectorXd& s) const {
        return 0.5 * ((J_h * s).squaredNorm() + s.dot(diag_h.cwiseProduct(s))) + g_h.dot(s);
    }
    /// Minimum of the cost change along s0 + t·s for t in [lo, hi]: {t, value}.
    std::pair<double, double> minimize_along(const Eigen::VectorXd& s, double lo, double hi,
                                             const Eigen::VectorXd& s0) const {
        const Eigen::VectorXd Js = J_h * s, Js0 = J_h * s0;
        const double a = 0.5 * (Js.squaredNorm() + s.dot(diag_h.cwiseProduct(s)));
        const double b = g_h.dot(s) + Js0.dot(Js) + s0.dot(diag_h.cwiseProduct(s));
        const double c = value(s0);
        std::pair<double, double> best{lo, lo * (a * lo + b) + c};
        const auto consider = [&](double t) {
            const double y = t * (a * t + b) + c;
            if (y < best.second) best = {t, y};
        };
        consider(hi);
        if (a != 0 && -0.5 * b / a > lo && -0.5 * b / a < hi) consider(-0.5 * b / a);
        return best;
    }
};

/// Solves min ‖J_h p + f‖ subject to ‖p‖ <= Delta given the SVD J_h = U S Vᵀ (uf = Uᵀ f):
/// the Gauss–Newton step if it fits, else p(α) = −V (S uf)/(S² + α) with the
/// Levenberg–Marquardt parameter α found by Moré's safeguarded Newton iteration on
/// ‖p(α)‖ = Delta (scipy's solve_lsq_trust_region). `alpha` is the warm start and the result.
inline Eigen::VectorXd solve_trust_region(Eigen::Index m, const Eigen::VectorXd& uf, const Eigen::VectorXd& s,
                                          const Eigen::MatrixXd& V, double Delta, double& alpha) {
    const Eigen::Index n = V.rows();
    const Eigen::ArrayXd suf = s.array() * uf.array();
    const bool full_rank = m >= n && s.size() == n && s[n - 1] > fit_eps * static_cast<double>(m) * s[0];
    if (full_rank) {
        Eigen::VectorXd p = -V * (uf.array() / s.array()).matrix();
        if (p.norm() <= Delta) {
            alpha = 0;
            return p;
        }
    }
    const auto phi = [&](double a, double& derivative) {
        const Eigen::ArrayXd denom = s.array().square() + a;
        const double p_norm = (suf / denom).matrix().norm();
        derivative = -(suf.square() / denom.cube()).sum() / p_norm;
        return p_norm - Delta;
    };
    double upper = suf.matrix().norm() / Delta, lower = 0, derivative = 0;
    if (full_rank) lower = -phi(0.0, derivative) / derivative;
    if (!full_rank && alpha == 0) alpha = std::max(0.001 * upper, std::sqrt(lower * upper));
    for (int it = 0; it < 10; ++it) {
        if (alpha < lower || alpha > upper) alpha = std::max(0.001 * upper, std::sqrt(lower * upper));
        const double value = phi(alpha, derivative);
        if (value < 0) upper = alpha;
        const double ratio = value / derivative;
        lower = std::max(lower, alpha - ratio);
        alpha -= (value + Delta) * ratio / Delta;
        if (std::abs(value) < 0.01 * Delta) break;
    }
    Eigen::VectorXd p = -V * (suf / (s.array().square() + alpha)).matrix();
    return p * (Delta / p.norm());
}

/// One trust-region step in the box (scipy's trf select_step): the step p if it stays inside;
/// otherwise the best of p cut back at the bound, its reflection off that bound, and the
/// scaled steepest-descent step, all kept strictly inside (factor theta). Returns the step in
/// the original and the scaled variables and the predicted cost reduction.
struct box_step {
    Eigen::VectorXd step, step_h;
    double predicted_reduction;
};
inline box_step select_box_step(const Eigen::VectorXd& x, const scaled_quadratic& q, Eigen::VectorXd p_h,
                                const Eigen::VectorXd& d, double Delta, const fit_box& box, double theta) {
    Eigen::VectorXd p = d.cwiseProduct(p_h);
    if (((x + p).array() >= box.lower.array()).all() && ((x + p).array() <= box.upper.array()).all())
        return {p, p_h, -q.value(p_h)};

    Eigen::VectorXd hits(x.size());
    const double p_stride = step_to_bound(x, p, box, &hits);
    Eigen::VectorXd r_h = p_h.array() * (1 - 2 * hits.array().abs());  // reflected off the hit bounds
    p *= p_stride;
    p_h *= p_stride;

    // The reflected direction leaves the box or the trust region first.
    const double a = r_h.squaredNorm(), b = p_h.dot(r_h), c = p_h.squaredNorm() - Delta * Delta;
    const double root = -(b + std::copysign(std::sqrt(std::max(0.0, b * b - a * c)), b));
    const double to_tr = std::max(root / a, c / root);
    const double to_bound = step_to_bound(x + p, d.cwiseProduct(r_h), box);
    const double r_stride = std::min(to_bound, to_tr);
    double r_lo = 0, r_hi = -1, r_value = fit_inf;
    if (r_stride > 0) {
        r_lo = (1 - theta) * p_stride / r_stride;
        r_hi = r_stride == to_bound ? theta * to_bound : to_tr;
    }
    if (r_lo <= r_hi) {
        const auto [t, value] = q.minimize_along(r_h, r_lo, r_hi, p_h);
        r_h = p_h + t * r_h;
        r_value = value;
    }

    p *= theta;  // strictly inside
    p_h *= theta;
    const double p_value = q.value(p_h);

    Eigen::VectorXd ag_h = -q.g_h;
    const Eigen::VectorXd ag = d.cwiseProduct(ag_h);
    const double ag_to_bound = step_to_bound(x, ag, box), ag_to_tr = Delta / ag_h.norm();
    const double ag_max = ag_to_bound < ag_to_tr ? theta * ag_to_bound : ag_to_tr;
    const auto [ag_stride, ag_value] = q.minimize_along(ag_h, 0, ag_max, Eigen::VectorXd::Zero(x.size()));
    ag_h *= ag_stride;

    if (p_value < r_value && p_value < ag_value) return {p, p_h, -p_value};
    if (r_value < p_value && r_value < ag_value) return {d.cwiseProduct(r_h), r_h, -r_value};
    return {d.cwiseProduct(ag_h), ag_h, -ag_value};
}

/// Coleman–Li scaling: v_j is the distance to the bound the gradient points at (1 if that
/// bound is infinite); dv_j its derivative (±1, or 0).
inline void coleman_li(const Eigen::VectorXd& x, const Eigen::VectorXd& g, const fit_box& box, Eigen::VectorXd& v,
                       Eigen::VectorXd& dv) {
    v.setOnes(x.size());
    dv.setZero(x.size());
    for (Eigen::Index j = 0; j < x.size(); ++j) {
        if (g[j] < 0 && std::isfinite(box.upper[j])) {
            v[j] = box.upper[j] - x[j];
            dv[j] = -1;
        }
        if (g[j] > 0 && std::isfinite(box.lower[j])) {
            v[j] = x[j] - box.lower[j];
            dv[j] = 1;
        }
    }
}

/// scipy's covariance: pseudo-inverse of JᵀJ by SVD (singular values below
/// eps·max(m, n)·s_max dropped), scaled by 2·cost/(m − n) unless absolute_sigma; +inf when
/// m <= n (then the residual variance is undetermined) or J or the result has NaN/inf.
/// Where singular values were dropped (rank-deficient J) the variance along the dropped
/// directions is infinite: entry (i, j) is +inf when both parameters take part in one of them
/// (components above sqrt(eps)), and `identifiable` becomes false. scipy's 'lm' reports
/// 1/rounding-error there (~1e26) or inf; the pseudo-inverse alone would report small numbers.
inline Eigen::MatrixXd fit_covariance(const Eigen::MatrixXd& J, double cost, bool absolute_sigma, bool& identifiable) {
    const Eigen::Index m = J.rows(), n = J.cols();
    identifiable = true;
    if (!J.allFinite()) return Eigen::MatrixXd::Constant(n, n, fit_inf);
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(J, Eigen::ComputeThinV);
    const Eigen::VectorXd& s = svd.singularValues();
    const double threshold = fit_eps * static_cast<double>(std::max(m, n)) * s[0];
    const Eigen::Index keep = (s.array() > threshold).count();
    const Eigen::MatrixXd Vk = svd.matrixV().leftCols(keep);
    Eigen::MatrixXd pcov = Vk * s.head(keep).array().square().inverse().matrix().asDiagonal() * Vk.transpose();
    if (pcov.hasNaN() || (!absolute_sigma && m <= n)) return Eigen::MatrixXd::Constant(n, n, fit_inf);
    if (!absolute_sigma) pcov *= 2 * cost / static_cast<double>(m - n);
    if (keep < n) {
        identifiable = false;
        const Eigen::MatrixXd null_space = svd.matrixV().rightCols(n - keep).cwiseAbs();
        for (Eigen::Index k = 0; k < null_space.cols(); ++k)
            for (Eigen::Index i = 0; i < n; ++i)
                for (Eigen::Index j = 0; j < n; ++j)
                    if (null_space(i, k) > std::sqrt(fit_eps) && null_space(j, k) > std::sqrt(fit_eps))
                        pcov(i, j) = fit_inf;
    }
    return pcov;
}

/// scipy's robust loss ρ(z) and its first two derivatives at z = (r/f_scale)², scaled as
/// scipy's construct_loss_function does (ρ·f_scale², ρ', ρ''/f_scale²).
struct loss_terms {
    double rho, d1, d2;
};
inline loss_terms robust_loss(fit_loss loss, double r, double f_scale) {
    const double z = (r / f_scale) * (r / f_scale);
    loss_terms t{z, 1, 0};
    switch (loss) {
        case fit_loss::linear:
            break;
        case fit_loss::soft_l1: {
            const double u = 1 + z;
            t = {2 * (std::sqrt(u) - 1), 1 / std::sqrt(u), -0.5 / (u * std::sqrt(u))};
            break;
        }
        case fit_loss::huber:
            if (z > 1) t = {2 * std::sqrt(z) - 1, 1 / std::sqrt(z), -0.5 / (z * std::sqrt(z))};
            break;
        case fit_loss::cauchy:
            t = {std::log1p(z), 1 / (1 + z), -1 / ((1 + z) * (1 + z))};
            break;
        case fit_loss::arctan: {
            const double u = 1 + z * z;
            t = {std::atan(z), 1 / u, -2 * z / (u * u)};
            break;
        }
    }
    return {t.rho * f_scale * f_scale, t.d1, t.d2 / (f_scale * f_scale)};
}

/// The robust cost 0.5 Σ ρ of true residuals f.
inline double robust_cost(const Eigen::VectorXd& f, const curve_fit_options& o) {
    if (o.loss == fit_loss::linear) return 0.5 * f.squaredNorm();
    double sum = 0;
    for (Eigen::Index i = 0; i < f.size(); ++i) sum += robust_loss(o.loss, f[i], o.f_scale).rho;
    return 0.5 * sum;
}

/// scipy's scale_for_robust_loss_function: turns the true residuals f and Jacobian J into
/// ones whose least-squares problem has the robust cost's gradient and Gauss–Newton Hessian
/// (row scale √(ρ' + 2ρ''f²), at least √eps; f scaled by ρ' over it).
inline void scale_for_robust_loss(Eigen::VectorXd& f, Eigen::MatrixXd& J, const curve_fit_options& o) {
    if (o.loss == fit_loss::linear) return;
    for (Eigen::Index i = 0; i < f.size(); ++i) {
        const loss_terms t = robust_loss(o.loss, f[i], o.f_scale);
        const double row = std::sqrt(std::max(t.d1 + 2 * t.d2 * f[i] * f[i], fit_eps));
        f[i] *= t.d1 / row;
        J.row(i) *= row;
    }
}

/// MINPACK's scale-free gradient test (scipy 'lm'): the largest |cosine| between the
/// residual vector f and a column of J (columns of norm 0 skipped; 0 when f = 0).
inline double gradient_cosine(const Eigen::MatrixXd& J, const Eigen::VectorXd& f, const Eigen::VectorXd& g) {
    const double f_norm = f.norm();
    if (f_norm == 0) return 0;
    double largest = 0;
    for (Eigen::Index j = 0; j < J.cols(); ++j) {
        const double column = J.col(j).norm();
        if (column != 0) largest = std::max(largest, std::abs(g[j]) / (column * f_norm));
    }
    return largest;
}

/// The trust-region reflective loop (scipy's trf_bounds with x_scale='jac'; without finite
/// bounds all the box terms vanish and it is Moré's scaled Levenberg–Marquardt, with
/// MINPACK's gradient test and difference step when the loss is linear, as scipy's 'lm').
/// A robust loss works as in scipy's least_squares: f and J are rescaled after every
/// Jacobian evaluation, the cost is the robust one; the result holds the true residuals.
template <class Residuals>
curve_fit_result solve_least_squares(const Residuals& residuals, const fit_box& box, const curve_fit_options& o) {
    const Eigen::Index n = box.p0.size(), m = residuals.size();
    const std::size_t max_nfev = o.max_nfev ? o.max_nfev : 100 * static_cast<std::size_t>(n);
    const bool minpack = !box.bounded && o.loss == fit_loss::linear;
    curve_fit_result res;
    Eigen::VectorXd x = box.bounded ? strictly_feasible(box.p0, box, 1e-10) : box.p0;
    Eigen::VectorXd f(m), f_true(m), f_new(m), x_new, v, dv;
    residuals(x, f_true);
    if (!f_true.allFinite()) fit_fail("the residuals are not finite at p0 (model(x, p0) or y gives NaN/inf)");
    Eigen::MatrixXd J(m, n);
    residuals.jacobian(x, f_true, box, minpack, J);
    res.nfev = res.njev = 1;
    double cost = robust_cost(f_true, o);
    f = f_true;
    scale_for_robust_loss(f, J, o);
    Eigen::VectorXd g = J.transpose() * f;
    Eigen::VectorXd scale_inv = J.colwise().norm().transpose();
    scale_inv = (scale_inv.array() == 0).select(1.0, scale_inv.array()).matrix();

    coleman_li(x, g, box, v, dv);
    v = (dv.array() != 0).select(v.array() * scale_inv.array(), v.array()).matrix();
    double Delta = (x.cwiseProduct(scale_inv).array() / v.array().sqrt()).matrix().norm();
    if (Delta == 0 || !std::isfinite(Delta)) Delta = 1.0;
    double alpha = 0;
    std::optional<curve_fit_status> status;
    for (;;) {
        if (!J.allFinite()) {
            status = curve_fit_status::jacobian_not_finite;
            break;
        }
        coleman_li(x, g, box, v, dv);
        res.optimality = g.cwiseProduct(v).lpNorm<Eigen::Infinity>();
        const bool gtol_ok = minpack ? gradient_cosine(J, f, g) <= o.gtol : res.optimality < o.gtol;
        if (gtol_ok || res.optimality == 0) status = curve_fit_status::gtol_satisfied;
        if (status || res.nfev >= max_nfev) break;

        // Scaled variables x = d ∘ x_h: Coleman–Li (bounds) times the Jacobian column scale.
        v = (dv.array() != 0).select(v.array() * scale_inv.array(), v.array()).matrix();
        const Eigen::VectorXd d = v.cwiseSqrt().cwiseQuotient(scale_inv);
        const Eigen::VectorXd diag_h = g.cwiseProduct(dv).cwiseQuotient(scale_inv);
        const Eigen::VectorXd g_h = d.cwiseProduct(g);
        const Eigen::MatrixXd J_h = J * d.asDiagonal();
        Eigen::MatrixXd augmented(box.bounded ? m + n : m, n);
        augmented.topRows(m) = J_h;
        if (box.bounded) augmented.bottomRows(n) = diag_h.cwiseSqrt().asDiagonal();
        const Eigen::JacobiSVD<Eigen::MatrixXd> svd(augmented, Eigen::ComputeThinU | Eigen::ComputeThinV);
        const Eigen::VectorXd uf = svd.matrixU().topRows(m).transpose() * f;
        const scaled_quadratic model{J_h, g_h, diag_h};
        const double theta = std::max(0.995, 1 - res.optimality);

        double reduction = -1, cost_new = cost;
        while (reduction <= 0 && res.nfev < max_nfev) {
            const Eigen::VectorXd p_h = solve_trust_region(m, uf, svd.singularValues(), svd.matrixV(), Delta, alpha);
            const box_step step = select_box_step(x, model, p_h, d, Delta, box, theta);
            x_new = strictly_feasible(x + step.step, box, 0);
            residuals(x_new, f_new);
            ++res.nfev;
            const double step_h_norm = step.step_h.norm();
            if (!f_new.allFinite()) {  // stepped where the model breaks down: shrink and retry
                Delta = 0.25 * step_h_norm;
                continue;
            }
            cost_new = robust_cost(f_new, o);
            reduction = cost - cost_new;
            // Trust-region update and scipy's termination tests.
            const double predicted = step.predicted_reduction;
            const double ratio = predicted > 0 ? reduction / predicted : (predicted == 0 && reduction == 0 ? 1 : 0);
            double Delta_new = Delta;
            if (ratio < 0.25)
                Delta_new = 0.25 * step_h_norm;
            else if (ratio > 0.75 && step_h_norm > 0.95 * Delta)
                Delta_new = 2 * Delta;
            const bool ftol_ok = reduction < o.ftol * cost && ratio > 0.25;
            const bool xtol_ok = step.step.norm() < o.xtol * (o.xtol + x.norm());
            if (ftol_ok || xtol_ok) {
                status = ftol_ok && xtol_ok ? curve_fit_status::ftol_and_xtol_satisfied
                         : ftol_ok          ? curve_fit_status::ftol_satisfied
                                            : curve_fit_status::xtol_satisfied;
                break;
            }
            alpha *= Delta / Delta_new;
            Delta = Delta_new;
        }
        if (reduction > 0) {
            x.swap(x_new);
            f_true.swap(f_new);
            cost = cost_new;
            residuals.jacobian(x, f_true, box, minpack, J);
            ++res.njev;
            f = f_true;
            scale_for_robust_loss(f, J, o);
            g = J.transpose() * f;
            scale_inv = scale_inv.cwiseMax(J.colwise().norm().transpose());
        }
        ++res.iterations;
    }
    res.status = status.value_or(curve_fit_status::max_nfev_reached);
    res.message = fit_status_message(res.status);
    res.params = std::move(x);
    res.cost = cost;
    res.covariance = fit_covariance(J, cost, o.absolute_sigma, res.identifiable);
    res.std_errors = res.covariance.diagonal().cwiseSqrt();
    res.residuals = std::move(f_true);
    return res;
}

/// Checks the data and runs one fit (the uncertainties given separately, so a batch can pass
/// each dataset's own).
template <class Model, class XRange>
curve_fit_result fit_one(const Model& model, const XRange& x, std::span<const double> y,
                         const fit_uncertainty& uncertainty, const fit_box& box, const curve_fit_options& o) {
    if (y.empty()) fit_fail("y is empty");
    if (std::ranges::size(x) != y.size())
        fit_fail("x and y must have the same length, got " + std::to_string(std::ranges::size(x)) + " and " +
                 std::to_string(y.size()));
    const Eigen::Map<const Eigen::VectorXd> y_vec(y.data(), static_cast<Eigen::Index>(y.size()));
    if (!y_vec.allFinite()) fit_fail("y contains NaN or inf");
    using X = std::remove_cvref_t<std::ranges::range_reference_t<const XRange>>;
    if constexpr (std::is_arithmetic_v<X>) {
        for (const auto& xi : x)
            if (!std::isfinite(static_cast<double>(xi))) fit_fail("x contains NaN or inf");
    }
    Eigen::VectorXd weight = Eigen::VectorXd::Ones(y_vec.size());
    const std::span<const double> sigma = uncertainty.sigma;
    if (uncertainty.lower && uncertainty.lower->rows() != y_vec.size())
        fit_fail(uncertainty.lower_name + " must be m x m for the m = " + std::to_string(y.size()) + " y values, got " +
                 std::to_string(uncertainty.lower->rows()) + "x" + std::to_string(uncertainty.lower->cols()));
    if (!sigma.empty()) {
        if (sigma.size() != y.size())
            fit_fail("sigma must have one value per y value, got " + std::to_string(sigma.size()) + " for " +
                     std::to_string(y.size()));
        for (std::size_t i = 0; i < sigma.size(); ++i) {
            if (!(sigma[i] > 0) || !std::isfinite(sigma[i])) fit_fail("sigma must be finite and > 0");
            weight[static_cast<Eigen::Index>(i)] = 1.0 / sigma[i];
        }
    }
    const residual_function<Model, XRange> residuals{model, x, y, std::move(weight), uncertainty.lower};
    return solve_least_squares(residuals, box, o);
}

}  // namespace detail

/// Fits `model(x_i, params) -> double` to the points (x_i, y_i) by non-linear least squares,
/// like `scipy.optimize.curve_fit(model, x, y, p0, sigma, absolute_sigma, bounds=...)`.
///
/// - `model`: any callable taking an element of `x` and the parameters, as
///   `const Eigen::VectorXd&`, as N `double` arguments (scipy's `f(x, a, b)`), as one
///   `std::array<double, N>` or one `Eigen::Matrix<double, N, 1>`; wrap it with
///   `with_jacobian(model, gradient)` to use an analytic Jacobian instead of finite differences.
///   A batch calls it from several threads, so it must be safe to call that way.
/// - `x`: a sized random-access range (std::vector<double>, std::span, or e.g.
///   std::vector<Eigen::Vector2d> for several independent variables); `y`: one value per x.
/// - `p0`: start values (also fixes the number of parameters); empty = scipy's default (ones,
///   or inside finite bounds their midpoint, lower + 1 or upper − 1) for a model whose
///   signature gives the parameter count (N doubles, std::array, fixed-size Eigen vector).
/// - `bounds`: optional box; `options.sigma` / `options.sigma_matrix`: errors of y or their
///   covariance matrix (scipy's 1-D / 2-D `sigma`).
/// - Without finite bounds this runs Levenberg–Marquardt; with bounds the trust-region
///   reflective method (the start point is moved strictly inside, like scipy's 'trf').
///
/// Returns a `curve_fit_result`; a fit that does not converge has `success() == false` (or
/// throws `curve_fit_error` with `options.throw_on_failure`).
/// @throws std::invalid_argument naming the argument for empty data, x/y length mismatch,
/// NaN/inf in x, y or p0, a bad sigma, a sigma_matrix that is not m × m, symmetric and positive
/// definite, p0/bounds of different sizes (or a p0 whose size is not the model's count), an empty
/// p0 for a model whose count is unknown, lower >= upper, p0 outside the bounds, negative
/// tolerances, or residuals that are not finite at p0.
template <class Model, class XRange>
requires curve_fit_model<Model, XRange> curve_fit_result curve_fit(const Model& model, const XRange& x,
                                                                   std::span<const double> y,
                                                                   const std::vector<double>& p0,
                                                                   const curve_fit_bounds& bounds = {},
                                                                   const curve_fit_options& options = {}) {
    detail::check_fit_options(options);
    const detail::fit_box box = detail::make_fit_box(p0, bounds, detail::model_parameter_count<Model>);
    Eigen::MatrixXd lower;
    detail::fit_uncertainty uncertainty{.sigma = options.sigma};
    if (options.sigma_matrix.size() != 0) {
        lower = detail::sigma_cholesky(options.sigma_matrix, "options.sigma_matrix");
        uncertainty.lower = &lower;
    }
    auto result = detail::fit_one(model, x, y, uncertainty, box, options);
    if (options.throw_on_failure && !result.success()) throw curve_fit_error(std::move(result));
    return result;
}

/// `curve_fit(model, x, y)` without p0: scipy's default start, ones, for a model whose
/// signature gives the number of parameters (`model(x_i, a, b, ...)` with `double`s, or one
/// `std::array<double, N>` or `Eigen::Matrix<double, N, 1>`). With bounds or options, pass an
/// empty p0: `curve_fit(model, x, y, {}, bounds, options)`. Does not compile (static_assert)
/// for a model taking `const Eigen::VectorXd&`, whose count only p0 can give.
template <class Model, class XRange>
requires curve_fit_model<Model, XRange> curve_fit_result curve_fit(const Model& model, const XRange& x,
                                                                   std::span<const double> y) {
    static_assert(detail::model_parameter_count<Model> != 0,
                  "parkit::kernels::curve_fit without p0: the model's signature does not give the number of "
                  "parameters. Give p0, or let the model take N double parameters, std::array<double, N> or "
                  "Eigen::Matrix<double, N, 1> after x.");
    return curve_fit(model, x, y, std::vector<double>{});
}

/// One dataset of a batch: points (x_i, y_i) and optional uncertainties (empty = none, or
/// options.sigma / options.sigma_matrix if given). Any type with members `x` and `y` (and
/// optionally `sigma` and / or `sigma_matrix`) works as a batch element too.
template <class X = double>
struct curve_fit_dataset {
    std::vector<X> x = {};           ///< independent variable
    std::vector<double> y = {};      ///< observations
    std::vector<double> sigma = {};  ///< uncertainties of y (empty = the options')
    /// Covariance matrix of y's errors (scipy's 2-D sigma; empty = the options'); give this
    /// or `sigma`, not both.
    Eigen::MatrixXd sigma_matrix = {};

    /// Lets datasets travel (`parkit::mpi::broadcast` / `scatter`) and be hashed by
    /// backend::mpi's check that every rank passed the same ones.
    template <class Archive>
    void serialize(Archive& ar) {
        ar(x, y, sigma, sigma_matrix);
    }
};

/// The outcome of one dataset of a batch, like the chapter's result dicts: a fit, or
/// `{'error': ...}`.
struct batch_fit_entry {
    /// The solver's result whenever it ran (also when it did not converge).
    std::optional<curve_fit_result> fit = {};
    /// Empty for a converged fit; otherwise why it failed: the invalid_argument text for bad
    /// data, "Optimal parameters not found: ..." when it did not converge, or the model's exception.
    std::string error = {};

    /// True for a converged fit.
    [[nodiscard]] bool ok() const noexcept { return error.empty(); }

    /// Lets an entry travel between processes (backend::processes).
    template <class Archive>
    void serialize(Archive& ar) {
        ar(fit, error);
    }
};

/// What `batch_curve_fit` takes: a sized range of datasets, each with `x` (a curve_fit x range)
/// and `y` (viewable as doubles), that `Model` can fit.
template <class Datasets, class Model>
concept curve_fit_datasets = std::ranges::sized_range<const Datasets> &&
    requires(const std::ranges::range_value_t<Datasets>& d) {
    { d.x } -> curve_fit_x_range;
    {std::span<const double>(d.y)};
} && curve_fit_model<Model, decltype(std::declval<std::ranges::range_value_t<Datasets>&>().x)>;

/// Fits `model` to every dataset in parallel with `parkit::parallel_map` (the chapter's
/// `Parallel(n_jobs=-1)(delayed(fit)(d) for d in datasets)`). Each element of `datasets`
/// needs members `x` and `y` (and may have `sigma` and / or `sigma_matrix`), e.g.
/// `curve_fit_dataset<>`. A dataset's own non-empty sigma or sigma_matrix replaces the options'
/// (either kind); an empty p0 is scipy's default as in `curve_fit`.
///
/// Every dataset gets an entry, in input order: a failure (bad data, no convergence, a
/// throwing model) is recorded in that entry and never stops the others. Each fit is
/// deterministic, so the entries are identical for any n_jobs, chunk size or backend.
/// `execution` sets n_jobs, backend, chunking and progress (`.progress = true` prints
/// joblib-style lines); `fit_options.throw_on_failure` is ignored here.
/// @throws std::invalid_argument (before fitting anything) for bad p0, bounds or tolerances,
/// an options.sigma_matrix that is not square, symmetric and positive definite (its size is
/// checked per dataset), or an invalid n_jobs.
template <class Model, class Datasets>
requires curve_fit_datasets<Datasets, Model> std::vector<batch_fit_entry> batch_curve_fit(
    const Datasets& datasets, const Model& model, const std::vector<double>& p0, const curve_fit_bounds& bounds = {},
    const curve_fit_options& fit_options = {}, const parkit::options& execution = {}) {
    detail::check_fit_options(fit_options);
    const detail::fit_box box = detail::make_fit_box(p0, bounds, detail::model_parameter_count<Model>);
    std::optional<Eigen::MatrixXd> shared_lower;  // factorised once for all datasets
    if (fit_options.sigma_matrix.size() != 0)
        shared_lower = detail::sigma_cholesky(fit_options.sigma_matrix, "options.sigma_matrix");
    const auto fit = [&](const auto& data) {
        batch_fit_entry entry;
        try {
            detail::fit_uncertainty uncertainty;
            Eigen::MatrixXd own_lower;
            bool own = false;
            if constexpr (requires { std::span<const double>(data.sigma); })
                if (!data.sigma.empty()) {
                    uncertainty.sigma = data.sigma;
                    own = true;
                }
            if constexpr (requires {
                              { data.sigma_matrix.size() } -> std::convertible_to<Eigen::Index>;
                              Eigen::MatrixXd(data.sigma_matrix);
                          })
                if (data.sigma_matrix.size() != 0) {
                    if (own) detail::fit_fail("the dataset's sigma and sigma_matrix are both given (give one)");
                    own_lower = detail::sigma_cholesky(data.sigma_matrix, "the dataset's sigma_matrix");
                    uncertainty.lower = &own_lower;
                    uncertainty.lower_name = "the dataset's sigma_matrix";
                    own = true;
                }
            if (!own) {
                if (shared_lower)
                    uncertainty.lower = &*shared_lower;
                else
                    uncertainty.sigma = fit_options.sigma;
            }
            entry.fit = detail::fit_one(model, data.x, data.y, uncertainty, box, fit_options);
            if (!entry.fit->success()) entry.error = "Optimal parameters not found: " + entry.fit->message;
        } catch (...) {
            entry.error = parkit::detail::exception_message(std::current_exception());
            if (entry.error.empty()) entry.error = "unknown error";
        }
        return entry;
    };
    return parkit::parallel_map(fit, datasets, execution);
}

/// `batch_curve_fit(datasets, model)` without p0: scipy's default start for a model whose
/// signature gives the number of parameters, as `curve_fit(model, x, y)`; with bounds or
/// options pass an empty p0. Does not compile (static_assert) for a `const Eigen::VectorXd&` model.
template <class Model, class Datasets>
requires curve_fit_datasets<Datasets, Model> std::vector<batch_fit_entry> batch_curve_fit(const Datasets& datasets,
                                                                                          const Model& model) {
    static_assert(detail::model_parameter_count<Model> != 0,
                  "parkit::kernels::batch_curve_fit without p0: the model's signature does not give the number of "
                  "parameters. Give p0, or let the model take N double parameters, std::array<double, N> or "
                  "Eigen::Matrix<double, N, 1> after x.");
    return batch_curve_fit(datasets, model, std::vector<double>{});
}

}  // namespace parkit::kernels
