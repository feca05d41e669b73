#pragma once
// Shared by the examples: wall-clock timing of a piece of work.
#include <algorithm>
#include <chrono>

namespace examples {

/// Wall-clock seconds of f(), the best of `repeats` runs (1 = a single run).
template <class F>
double seconds(F&& f, int repeats = 1) {
    double best = 1e300;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

/// a / b as a speed-up factor (0 when b is 0).
inline double speedup(double a, double b) {
    return b > 0 ? a / b : 0.0;
}

}  // namespace examples
