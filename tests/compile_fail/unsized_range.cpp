// Compile-fail test: a filter view has no size, so parallel_map cannot take it; the message must
// say what to do. With PARKIT_EXPECT_OK, the fixed form (collected into a vector first).
#include <parkit/parallel_map.hpp>

#include <ranges>
#include <vector>

int main() {
    const std::vector<int> xs{1, 2, 3, 4};
    auto even = xs | std::views::filter([](int x) { return x % 2 == 0; });
#ifdef PARKIT_EXPECT_OK
    const std::vector<int> kept(even.begin(), even.end());
    return parkit::parallel_map([](int x) { return x * x; }, kept).size() == 2 ? 0 : 1;
#else
    return parkit::parallel_map([](int x) { return x * x; }, even).size() == 2 ? 0 : 1;
#endif
}
