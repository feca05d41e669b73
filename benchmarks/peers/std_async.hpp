#pragma once
/// @file
/// The standard-library peer: `std::async(std::launch::async)`, one task per worker over a
/// static block of the items (what a user without a pool writes).

#include <algorithm>
#include <cstddef>
#include <future>
#include <vector>

namespace parkit_bench::peers {

/// Calls `body(i)` for i in [0, n): `workers` std::async tasks, each over one contiguous block.
template <class Body>
void async_for(std::size_t n, int workers, const Body& body) {
    const auto parts = static_cast<std::size_t>(workers);
    std::vector<std::future<void>> tasks;
    tasks.reserve(parts);
    for (std::size_t p = 0; p < parts; ++p) {
        const std::size_t first = n * p / parts, last = n * (p + 1) / parts;
        tasks.push_back(std::async(std::launch::async, [&body, first, last] {
            for (std::size_t i = first; i < last; ++i) body(i);
        }));
    }
    for (auto& t : tasks) t.get();
}

}  // namespace parkit_bench::peers
