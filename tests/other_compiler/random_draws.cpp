// Prints parkit's uniform and normal draws of a few streams in hexadecimal (exact bits). The
// ctest other_compiler.libcxx_same_draws builds this with g++ (libstdc++) and with
// clang++ -stdlib=libc++ and requires identical output: parkit's draws must not depend on
// the C++ standard library.
#include <parkit/core/random.hpp>

#include <cstdio>

int main() {
    const parkit::seed_sequence seeds{42};
    for (std::uint64_t stream = 0; stream < 4; ++stream) {
        auto rng = seeds.stream(stream);
        for (int i = 0; i < 250; ++i) {
            const double u = rng.uniform01();  // sequenced: argument order differs between compilers
            const double h = rng.normal(50.0, 5.0);
            std::printf("%a %a\n", u, h);
        }
    }
    auto tail = seeds.spawn(7).stream(3);
    for (int i = 0; i < 1000; ++i) std::printf("%a\n", tail.normal());
    return 0;
}
