// A program whose ranks do not all join a parkit collective call, run by ctest under mpiexec
// (tests/CMakeLists.txt, mpi.join_*): the ranks that wait must fail with a message naming the
// call instead of hanging. Modes: "skip" (the last rank skips the map and leaves the job) and
// "late" (the last rank joins after the others' options.mpi.join_timeout_s). A rank that gets
// the expected error prints "parkit join check: " and its message, then ends the job.
#include <parkit/mpi.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    const bool late = argc > 1 && std::strcmp(argv[1], "late") == 0;
    const bool last = parkit::mpi::rank() == parkit::mpi::size() - 1 && parkit::mpi::size() > 1;
    if (last && !late) return 0;  // skips the map: its environment ends, announcing it left
    if (last) std::this_thread::sleep_for(std::chrono::seconds(5));
    parkit::options opts{.backend = parkit::backend::mpi};
    if (late) opts.mpi.join_timeout_s = 0.5;
    try {
        parkit::parallel_map([](int x) { return x; }, std::vector<int>(100, 1), opts);
    } catch (const parkit::mpi::join_error& e) {
        std::printf("parkit join check: %s\n", e.what());
        std::fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, 3);  // the call stays pending: the job cannot go on
    }
    return 0;
}
