// A minimal parkit::mpi consumer for the package test: run without mpirun (one rank).
#include <parkit/mpi.hpp>

#include <iostream>
#include <vector>

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    const auto squares = parkit::parallel_map([](int x) { return x * x; }, std::vector<int>{1, 2, 3, 4},
                                              {.backend = parkit::backend::mpi});
    std::cout << "parkit mpi consumer: rank " << parkit::mpi::rank() << " of " << parkit::mpi::size() << '\n';
    if (parkit::mpi::rank() == 0 && squares != std::vector<int>{1, 4, 9, 16}) {
        std::cerr << "parkit mpi consumer: wrong result\n";
        return 1;
    }
    return 0;
}
