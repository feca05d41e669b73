// Compile-cost baseline: the same work with only the standard library's <thread> and <future>.
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

int main() {
    std::vector<double> xs(1000, 2.0);
    auto half = [&](std::size_t begin, std::size_t end) {
        double s = 0;
        for (std::size_t i = begin; i < end; ++i) s += xs[i] * xs[i];
        return s;
    };
    std::future<double> first = std::async(std::launch::async, half, 0, xs.size() / 2);
    const double second = half(xs.size() / 2, xs.size());
    std::printf("%f\n", first.get() + second);
}
