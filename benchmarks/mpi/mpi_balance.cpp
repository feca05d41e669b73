// mpi_balance: load balance of backend::mpi with sleeping tasks standing for work.
// 8,000 tasks of ~1 ms, 1 % of them (every 100th) 100x longer (100 ms), over 16 slots
// (ranks x options.mpi.threads_per_rank). Efficiency = ideal / measured, ideal = the tasks'
// measured time summed over the ranks / 16.
// A second part runs 4,000 tasks under on_error::raise with a failure at task 100 and prints how
// many tasks ran (summed over the ranks) before the map stopped.
//
// Built as build/benchmarks/mpi_balance when MPI is found (not part of parkit-bench, which is
// not an MPI program); run it in each layout of 16 slots:
//   mpirun -n 1 build/benchmarks/mpi_balance 16                   # 1 rank x 16 threads
//   mpirun -n 2 build/benchmarks/mpi_balance 8                    # 2 ranks x 8 threads
//   mpirun --oversubscribe -n 16 build/benchmarks/mpi_balance 1   # 16 ranks x 1 thread
#include <parkit/mpi.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {
std::atomic<long> tasks_ran{0};

// This rank's measured task time (a 1 ms sleep takes ~1.06 ms: the efficiency counts the real
// work, not the nominal one).
std::atomic<long long> busy_ns{0};

int sleepy(int i) {
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::microseconds(i % 100 == 0 ? 100000 : 1000));
    busy_ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    return i;
}

int fail_at_100(int i) {
    tasks_ran.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (i == 100) throw std::runtime_error("task 100 fails");
    return i;
}
}  // namespace

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    const int slots = parkit::mpi::size() * threads;
    const int n = 8000;
    std::vector<int> xs(n);
    double total_sleep_s = 0;
    for (int i = 0; i < n; ++i) {
        xs[i] = i;
        total_sleep_s += i % 100 == 0 ? 0.1 : 0.001;
    }
    parkit::options opts{.backend = parkit::backend::mpi};
    opts.mpi.threads_per_rank = threads;
    const auto start = std::chrono::steady_clock::now();
    const auto out = parkit::parallel_map(sleepy, xs, opts);
    const double measured = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long long mine_ns = busy_ns.load(), all_ns = 0;
    MPI_Allreduce(&mine_ns, &all_ns, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (parkit::mpi::rank() == 0) {
        for (int i = 0; i < n; ++i) {
            if (out[static_cast<std::size_t>(i)] != i) {
                std::printf("wrong result at %d\n", i);
                return 1;
            }
        }
        const double ideal = static_cast<double>(all_ns) * 1e-9 / slots;
        std::printf(
            "mpi_balance ranks=%d threads=%d slots=%d measured=%.3f s ideal=%.3f s efficiency=%.1f %% "
            "(nominal work %.3f s per slot)\n",
            parkit::mpi::size(), threads, slots, measured, ideal, 100.0 * ideal / measured, total_sleep_s / slots);
    }
    std::vector<int> ys(4000);
    for (int i = 0; i < 4000; ++i) ys[i] = i;
    try {
        parkit::parallel_map(fail_at_100, ys, opts);
    } catch (const parkit::task_error&) {
    }
    long mine = tasks_ran.load(), ran = 0;
    MPI_Allreduce(&mine, &ran, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (parkit::mpi::rank() == 0) std::printf("mpi_balance early stop: %ld of 4000 tasks ran (failure at 100)\n", ran);
    return 0;
}
