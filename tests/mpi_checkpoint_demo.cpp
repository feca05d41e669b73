// A crash and a rerun of an MPI job with options.checkpoint, run by ctest under mpiexec
// (tests/CMakeLists.txt, mpi.checkpoint_*): "crash" empties the checkpoint directory, then runs
// a 400-task map in which the last rank SIGKILLs itself in its 40th task (mpiexec ends the
// job); "resume" runs the same map again without the crash and prints, on rank 0, how many
// tasks the ranks computed (the others came from the checkpoint) and whether every result is
// right: "parkit checkpoint check: computed K of 400, results ok".
#include <parkit/mpi.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {
bool crash_mode = false;

double task(int x) {
    static int ran_here = 0;  // tasks this rank computed (not taken from the checkpoint)
    if (crash_mode && parkit::mpi::rank() == parkit::mpi::size() - 1 && ++ran_here == 40) ::raise(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return 1.0 / (1.0 + x);
}
}  // namespace

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    if (argc < 3) {
        std::fprintf(stderr, "usage: mpi_checkpoint_demo <dir> crash|resume\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    crash_mode = std::strcmp(argv[2], "crash") == 0;
    if (crash_mode && parkit::mpi::rank() == 0) std::filesystem::remove_all(dir);
    MPI_Barrier(MPI_COMM_WORLD);
    parkit::memory mem{dir};
    std::vector<int> xs(400);
    for (int i = 0; i < 400; ++i) xs[static_cast<std::size_t>(i)] = i;
    const auto out = parkit::parallel_map(task, xs, {.backend = parkit::backend::mpi, .checkpoint = {mem, "demo_v1"}});
    std::uint64_t computed = mem.stats().misses, total = 0;
    MPI_Reduce(&computed, &total, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (parkit::mpi::rank() == 0) {
        bool ok = out.size() == 400;
        for (int i = 0; ok && i < 400; ++i) ok = out[static_cast<std::size_t>(i)] == 1.0 / (1.0 + i);
        std::printf("parkit checkpoint check: computed %llu of 400, results %s\n",
                    static_cast<unsigned long long>(total), ok ? "ok" : "WRONG");
    }
    return 0;
}
