// Compile-fail test: parkit::threads::parallel_map (its own header) with an overload set as f
// stops with the same one line as parkit::parallel_map. With PARKIT_EXPECT_OK, the fix.
#include <parkit/thread_map.hpp>

#include <cmath>
#include <vector>

int main() {
    const std::vector<double> xs{1.0, 4.0, 9.0};
#ifdef PARKIT_EXPECT_OK
    return parkit::threads::parallel_map([](double x) { return std::sqrt(x); }, xs).size() == 3 ? 0 : 1;
#else
    return parkit::threads::parallel_map(std::sqrt, xs).size() == 3 ? 0 : 1;
#endif
}
