// Compile-fail test: a capturing lambda cannot be sent to process_pool::submit (the closure's
// data cannot cross a process boundary). With PARKIT_EXPECT_OK, the accepted form must compile.
#include <parkit/process_pool.hpp>

int add(int x, int offset) {
    return x + offset;
}

int main() {
    parkit::process_pool pool(1);
    const int offset = 3;
#ifdef PARKIT_EXPECT_OK
    return pool.submit(add, 1, offset).get() == 4 ? 0 : 1;
#else
    return pool.submit([offset](int x) { return x + offset; }, 1).get() == 4 ? 0 : 1;
#endif
}
