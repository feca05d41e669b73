// A map with a progress bar, run by test_progress.cpp under `script` (a real pseudo-terminal)
// at several widths: 24 tasks of 40 ms on 2 workers, some printing a line with
// parkit::progress_write. With an argument, task 9 throws.
#include <parkit/parkit.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

int main(int argc, char**) {
    const bool fail = argc > 1;
    try {
        parkit::parallel_map(
            [fail](int i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(40));
                if (i % 8 == 3) parkit::progress_write("task " + std::to_string(i) + " says hello");
                if (fail && i == 9) throw std::runtime_error("boom");
                return i;
            },
            parkit::indices(24), {.n_jobs = 2, .progress = true});
    } catch (const std::exception& e) {
        std::printf("caught: %s\n", e.what());
    }
}
