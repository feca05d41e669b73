// Compile-fail test: f names an overload set (std::sqrt has one overload per floating-point type,
// and function templates for the integer types), so no callable type can be deduced. The message
// must say so in one line, not list every parallel_map overload. With PARKIT_EXPECT_OK, the fix.
#include <parkit/parallel_map.hpp>

#include <cmath>
#include <vector>

int main() {
    const std::vector<double> xs{1.0, 4.0, 9.0};
#ifdef PARKIT_EXPECT_OK
    return parkit::parallel_map([](double x) { return std::sqrt(x); }, xs).size() == 3 ? 0 : 1;
#else
    return parkit::parallel_map(std::sqrt, xs).size() == 3 ? 0 : 1;
#endif
}
