// imap_stream: results of 1 KB each (a std::string of 1,000 bytes) consumed one by one. At
// 200,000 results `parallel_map` (all results in memory, then consumed) is the reference for
// `imap`'s throughput; at 10,000,000 results (10 GB in all) only the streams run, and each run
// prints the process's peak resident memory during it (VmHWM, reset before the run).
#include <parkit/core/indices.hpp>
#include <parkit/imap.hpp>
#include <parkit/parallel_map.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "../harness/registry.hpp"
#include "../peers/loop_peers.hpp"

namespace parkit_bench {

namespace {

/// Above this many results, `parallel_map` would hold more than the reference run should.
constexpr std::size_t max_in_memory = 1'000'000;

/// One result: 1,000 bytes that depend on the index.
std::string make_record(std::size_t i) {
    return std::string(1000, static_cast<char>('a' + i % 26));
}

/// What the consumer does with a result: reads two of its bytes.
std::size_t consume(const std::string& record) {
    return static_cast<unsigned char>(record.front()) + record.size();
}

/// Resets the peak resident set size of this process (Linux: "5" to /proc/self/clear_refs).
void reset_peak_rss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
}

/// The peak resident set size since the last reset, in MB (VmHWM); -1 when unknown.
double peak_rss_mb() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmHWM:") {
            double kb = 0;
            status >> kb;
            return kb / 1024.0;
        }
        status.ignore(1 << 16, '\n');
    }
    return -1.0;
}

/// Runs `stream(n, workers)` and, for the 10 GB size, prints its peak RSS.
template <class Stream>
runner measured(std::size_t n, int workers, const char* name, Stream stream) {
    return [=] {
        const bool report = n > max_in_memory;
        if (report) reset_peak_rss();
        keep(stream(n, workers));
        if (report)
            std::printf("# imap_stream n=%zu %s workers=%d: peak RSS %.0f MB\n", n, name, workers, peak_rss_mb());
    };
}

workload make_imap_stream() {
    return {"imap_stream", {200'000, 10'000'000}, [](std::size_t n) {
                bench_case c;
                c.items = n;
                c.impls.push_back({"parkit_imap", [=](int workers) -> runner {
                                       return measured(n, workers, "imap", [](std::size_t count, int w) {
                                           std::size_t sum = 0;
                                           for (const std::string& r :
                                                parkit::imap(make_record, parkit::indices(count), {.n_jobs = w}))
                                               sum += consume(r);
                                           return sum;
                                       });
                                   }});
                c.impls.push_back(
                    {"parkit_imap_unordered", [=](int workers) -> runner {
                         return measured(n, workers, "imap_unordered", [](std::size_t count, int w) {
                             std::size_t sum = 0;
                             for (const auto& [i, r] :
                                  parkit::imap_unordered(make_record, parkit::indices(count), {.n_jobs = w}))
                                 sum += consume(r) + i;
                             return sum;
                         });
                     }});
                if (n <= max_in_memory) {
                    c.impls.push_back(
                        {"parkit_map", [=](int workers) -> runner {
                             return [=] {
                                 std::size_t sum = 0;
                                 for (const std::string& r :
                                      parkit::parallel_map(make_record, parkit::indices(n), {.n_jobs = workers}))
                                     sum += consume(r);
                                 keep(sum);
                             };
                         }});
                }
                peers::add_loop_impls(c.impls, n, [](std::size_t i) { return consume(make_record(i)); });
                return c;
            }};
}

}  // namespace

PARKIT_BENCH_REGISTER(25, make_imap_stream);

}  // namespace parkit_bench
