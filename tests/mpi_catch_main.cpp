// The Catch2 (v2) main of parkit_mpi_tests, compiled on its own (without our warning flags, like
// catch_main.cpp): MPI is initialised before the tests and finalised after them, and every rank
// exits with the same status.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <parkit/mpi.hpp>

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    Catch::Session session;
    if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
    int failed = session.run();
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return failed;
}
