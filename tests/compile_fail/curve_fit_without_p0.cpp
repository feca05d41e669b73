// Compile-fail test: curve_fit(model, x, y) without p0 needs the parameter count from the
// model's signature; a model taking const Eigen::VectorXd& cannot give it. With
// PARKIT_EXPECT_OK, the accepted forms (p0 given, or a model with N double parameters) compile.
#include <parkit/kernels/curve_fit.hpp>

#include <cmath>
#include <vector>

namespace pk = parkit::kernels;

int main() {
    const std::vector<double> t{0, 1, 2, 3}, y{1.0, 0.6, 0.37, 0.22};
#ifdef PARKIT_EXPECT_OK
    const auto by_vector = [](double ti, const Eigen::VectorXd& p) { return p[0] * std::exp(-p[1] * ti); };
    const auto by_scalars = [](double ti, double a, double k) { return a * std::exp(-k * ti); };
    return pk::curve_fit(by_vector, t, y, {1.0, 1.0}).success() && pk::curve_fit(by_scalars, t, y).success() ? 0 : 1;
#else
    const auto by_vector = [](double ti, const Eigen::VectorXd& p) { return p[0] * std::exp(-p[1] * ti); };
    return pk::curve_fit(by_vector, t, y).success() ? 0 : 1;
#endif
}
