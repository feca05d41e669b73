// Compile-fail test: f's parameter does not fit the elements of inputs. The message must say so
// in one line, not list every parallel_map overload. With PARKIT_EXPECT_OK, the fixed form.
#include <parkit/parallel_map.hpp>

#include <string>
#include <vector>

int main() {
    const std::vector<std::string> names{"a", "bb"};
#ifdef PARKIT_EXPECT_OK
    return parkit::parallel_map([](const std::string& s) { return s.size(); }, names).size() == 2 ? 0 : 1;
#else
    return parkit::parallel_map([](int x) { return x; }, names).size() == 2 ? 0 : 1;
#endif
}
