// The chapter's reaction-kinetics sweep (conversion of A -> B after 10 s for many rate constants
// k, one adaptive ODE solve each) across the ranks of an MPI job:
//
//   mpirun -n 2 ./mpi_reaction_sweep [number of k values, default 1000000] [threads per rank, default 1]
//   mpirun --hostfile hosts -n 8 ./mpi_reaction_sweep          (a cluster, see docs/distributed.md)
//   srun -n 8 ./mpi_reaction_sweep                              (Slurm)
//
// Every rank holds the k values; parallel_map with backend::mpi deals chunks of them out and
// gathers the conversions on rank 0. Rank 0 also times the sweep in a plain loop and with the
// thread backend, prints the work each rank did and the speed-ups, and checks that the MPI
// result equals the single-process one exactly (exit code 1 on every rank if not). Rank 0 adds
// the times to times.csv, which keeps one row per rank count over runs, and plots time vs ranks.
#include <parkit/kernels/ode_sweep.hpp>
#include <parkit/mpi.hpp>

#include "common/example_output.hpp"
#include "common/timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace pk = parkit::kernels;

namespace {

// Adds this run's times to times.csv (one row per ranks x threads per rank x count: a rerun
// replaces its row, other runs' rows stay) and plots the rows of this count and threads per
// rank: wall time vs number of ranks.
void record_times(int ranks, int threads_per_rank, long count, double t_sequential, double t_threads, double t_mpi) {
    const auto dir = examples::output_dir("mpi_reaction_sweep");
    const auto csv = dir / "times.csv";
    const std::string header = "ranks,threads_per_rank,count,sequential_s,threads_s,mpi_s";
    std::vector<std::string> rows;
    std::ifstream in(csv);
    for (std::string line; std::getline(in, line);) {
        int r = 0, t = 0;
        long c = 0;
        if (line != header && std::sscanf(line.c_str(), "%d,%d,%ld", &r, &t, &c) == 3 &&
            !(r == ranks && t == threads_per_rank && c == count))
            rows.push_back(line);
    }
    in.close();
    char row[160];
    std::snprintf(row, sizeof row, "%d,%d,%ld,%.6g,%.6g,%.6g", ranks, threads_per_rank, count, t_sequential, t_threads,
                  t_mpi);
    rows.emplace_back(row);
    // Sorted by count, threads per rank, ranks: each plotted line is one unbroken block of rows.
    const auto key = [](const std::string& line) {
        int r = 0, t = 0;
        long c = 0;
        std::sscanf(line.c_str(), "%d,%d,%ld", &r, &t, &c);
        return std::tuple{c, t, r};
    };
    std::sort(rows.begin(), rows.end(), [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
    std::ofstream out(csv);
    out << header << '\n';
    for (const auto& r : rows) out << r << '\n';
    out.close();
    std::printf("wrote %s (%zu rows)\n", csv.string().c_str(), rows.size());
    char settings[160];
    std::snprintf(settings, sizeof settings, "count = %ld; threads = %d\n", count, threads_per_rank);
    // Only the rows of this count and threads per rank (NaN skips the others).
    examples::plot(dir / "plot.gp", std::string(settings) + R"(set terminal pngcairo size 800,500 noenhanced
set output 'mpi_reaction_sweep.png'
set datafile separator ','
set title sprintf('Reaction sweep of %d rate constants: wall time vs MPI ranks (%d %s per rank)', count, threads, threads == 1 ? 'thread' : 'threads')
set xlabel 'MPI ranks (mpiexec -n)'; set ylabel 'Wall time (s)'
set xtics 1; set autoscale xfix; set offsets 0.3, 0.3, graph 0.1, 0; set yrange [0:*]; set grid
set key outside below horizontal
same(x) = ($2 == threads && $3 == count) ? x : NaN
plot 'times.csv' using 1:(same($6)) skip 1 with linespoints lw 3 pt 7 ps 1.3 lc rgb '#08306b' title 'MPI backend (all ranks)', \
     '' using 1:(same($5)) skip 1 with linespoints lw 1.5 pt 5 dt 2 lc rgb '#1b9e77' title 'thread backend (rank 0 alone)', \
     '' using 1:(same($4)) skip 1 with linespoints lw 1.5 pt 9 dt 3 lc 'black' title 'sequential loop (rank 0)'
)");
}

}  // namespace

int main(int argc, char** argv) {
    parkit::mpi::environment env{argc, argv};
    const int rank = parkit::mpi::rank();
    const int ranks = parkit::mpi::size();
    const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 1'000'000;
    const int threads_per_rank = argc > 2 ? static_cast<int>(std::strtol(argv[2], nullptr, 10)) : 1;
    if (count <= 0 || threads_per_rank == 0) {
        if (rank == 0) {
            std::fprintf(stderr,
                         "usage: %s [number of rate constants > 0] [threads per rank: > 0, or -1 = all cores]\n",
                         argv[0]);
        }
        return 2;
    }
    const std::vector<double> ks = pk::linspace(0.01, 2.0, static_cast<std::size_t>(count));

    // Single-process references, on rank 0 alone (the other ranks wait without spinning).
    std::vector<double> sequential, threaded;
    double t_sequential = 0, t_threads = 0;
    if (rank == 0) {
        const int usable = parkit::available_cores();
        const int node = static_cast<int>(std::thread::hardware_concurrency());
        std::printf(
            "Reaction sweep over %ld rate constants on %d MPI rank%s; rank 0 may use %d of the %d cores of its node\n",
            count, ranks, ranks == 1 ? "" : "s", usable, node);
        if (usable < node) {
            std::printf(
                "(mpirun bound rank 0 to %d core%s, so its thread-backend time uses only %s; "
                "run with --bind-to none, or ./reaction_sweep alone, for a whole-node comparison)\n",
                usable, usable == 1 ? "" : "s", usable == 1 ? "it" : "those");
        }
        t_sequential = examples::seconds(
            [&] {
                sequential.clear();
                for (double k : ks) sequential.push_back(pk::solve_reaction(k));
            },
            3);
        t_threads = examples::seconds([&] { threaded = pk::reaction_sweep(ks, {.execution = {.n_jobs = -1}}); }, 3);
    }
    parkit::mpi::barrier();

    // The distributed sweep: every rank calls it with the same inputs.
    std::vector<double> distributed;
    const double t_mpi = examples::seconds(
        [&] {
            parkit::mpi::barrier();
            distributed = pk::reaction_sweep(ks, {.execution = {.backend = parkit::backend::mpi,
                                                                .mpi = {.threads_per_rank = threads_per_rank}}});
        },
        3);
    const parkit::mpi::map_stats stats = parkit::mpi::last_map_stats();

    int ok = 1;
    if (rank == 0) {
        std::printf("Sequential loop:             %.4f s\n", t_sequential);
        std::printf("Thread backend (n_jobs=-1):  %.4f s  (speed-up %.2fx)\n", t_threads, t_sequential / t_threads);
        std::printf("MPI backend (%d rank%s x %d thread%s): %.4f s  (speed-up %.2fx vs sequential, %.2fx vs threads)\n",
                    ranks, ranks == 1 ? "" : "s", threads_per_rank, threads_per_rank == 1 ? "" : "s", t_mpi,
                    t_sequential / t_mpi, t_threads / t_mpi);
        std::printf("Work per rank (last run, %.4f s):\n", stats.elapsed_s);
        for (std::size_t r = 0; r < stats.ranks.size(); ++r) {
            const parkit::mpi::rank_work& w = stats.ranks[r];
            std::printf("  rank %zu: %6zu tasks (%5.1f%%) in %3zu chunks, busy %.4f s\n", r, w.tasks,
                        100.0 * static_cast<double>(w.tasks) / static_cast<double>(count), w.chunks, w.busy_s);
        }
        const bool same = distributed == sequential && threaded == sequential;
        std::printf("MPI results identical to the single-process results: %s\n", same ? "yes" : "NO");
        std::printf("Conversion at k = %.2f: %.6f, at k = %.2f: %.6f\n", ks.front(), distributed.front(), ks.back(),
                    distributed.back());
        ok = same ? 1 : 0;
        record_times(ranks, threads_per_rank, count, t_sequential, t_threads, t_mpi);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok ? 0 : 1;
}
