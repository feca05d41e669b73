// A minimal parkit consumer, used by the package tests (find_package,
// add_subdirectory and plain -I include). Exits 0 only if the map is right.
#include <parkit/parkit.hpp>

#include <iostream>
#include <vector>

int main() {
    auto squares = parkit::parallel_map([](int x) { return x * x; }, std::vector<int>{1, 2, 3, 4});
    std::cout << "parkit consumer: available_cores() = " << parkit::available_cores() << '\n';
    if (squares != std::vector<int>{1, 4, 9, 16}) {
        std::cerr << "parkit consumer: wrong result\n";
        return 1;
    }
    return 0;
}
