// Compile-fail test: process_pool::map refuses a result type that cannot travel back from a
// worker. With PARKIT_EXPECT_OK, the type gains a serialize member. (parallel_map picks its
// backend at run time, so there the same mistake is a std::invalid_argument naming the type.)
#include <parkit/process_pool.hpp>

#include <string>
#include <vector>

struct unsendable_summary {
    std::string label;
#ifdef PARKIT_EXPECT_OK
    template <class Archive>
    void serialize(Archive& ar) {
        ar(label);
    }
#endif
};

unsendable_summary summarize(int x) {
    return {std::to_string(x)};
}

int main() {
    parkit::process_pool pool(1);
    const std::vector<int> xs{1, 2, 3};
    return pool.map(summarize, xs).size() == 3 ? 0 : 1;
}
