// parkit-bench: sequential vs parkit vs peers on every workload; see docs/performance.md.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <regex>

#include "config.hpp"
#include "machine.hpp"
#include "measure.hpp"
#include "python_peers.hpp"
#include "registry.hpp"
#include "report.hpp"

namespace parkit_bench {

std::vector<workload> all_workloads() {
    std::vector<registered_workload> registered = registered_workloads();
    std::stable_sort(registered.begin(), registered.end(),
                     [](const registered_workload& a, const registered_workload& b) { return a.rank < b.rank; });
    std::vector<workload> out;
    for (const registered_workload& r : registered) out.push_back(r.make());
    return out;
}

namespace {

int run(const config& cfg) {
    const std::regex filter(cfg.filter);
    const std::vector<machine_field> machine = describe_machine(cfg);
    if (!cfg.list) {
        for (const machine_field& f : machine) std::printf("%s: %s\n", f.key.c_str(), f.value.c_str());
        std::printf("\n");
        print_table_header(stdout);
    }
    // Started after describe_machine (its load average is the machine's own) and kept to the end.
    const background_load load(cfg.list ? 0 : cfg.background_load);
    std::vector<result_row> rows;
    for (const workload& w : all_workloads()) {
        for (std::size_t n : w.sizes) {
            const std::string id = w.name + "/" + std::to_string(n);
            if (!std::regex_search(id, filter)) continue;
            if (cfg.list) {
                std::printf("%s\n", id.c_str());
                continue;
            }
            const bench_case c = w.make(n);
            const std::vector<result_row> case_rows = run_case(w.name, n, c, cfg);
            print_rows(stdout, case_rows);
            rows.insert(rows.end(), case_rows.begin(), case_rows.end());
            if (!cfg.json_path.empty()) write_json(cfg.json_path, machine, rows);  // survives an abort
        }
    }
    if (cfg.list) return 0;
    std::vector<result_row> python_rows = run_python_peers(cfg);
    if (!python_rows.empty()) {
        rows.insert(rows.end(), python_rows.begin(), python_rows.end());
        fill_speedups(rows);  // Python rows against the C++ sequential loop of the same case
        std::printf("\nThe chapter's Python (speed-up against the C++ sequential loop):\n");
        print_table_header(stdout);
        print_rows(stdout, {rows.end() - static_cast<std::ptrdiff_t>(python_rows.size()), rows.end()});
    }
    std::printf("\nload average at the end: %.2f\n", load_average());
    if (!cfg.json_path.empty()) {
        write_json(cfg.json_path, machine, rows);
        std::printf("wrote %s\n", cfg.json_path.c_str());
    }
    return 0;
}

}  // namespace

}  // namespace parkit_bench

int main(int argc, char** argv) {
    try {
        const auto cfg = parkit_bench::parse_command_line(argc, argv);
        return cfg ? parkit_bench::run(*cfg) : 0;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());  // the messages name parkit-bench
        return 1;
    }
}
