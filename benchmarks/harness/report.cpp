#include "report.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parkit_bench {

namespace {

/// Seconds with a unit that keeps 3-4 significant digits.
std::string human_time(double s) {
    char text[32];
    if (s >= 1) {
        std::snprintf(text, sizeof text, "%.3f s", s);
    } else if (s >= 1e-3) {
        std::snprintf(text, sizeof text, "%.3f ms", s * 1e3);
    } else if (s >= 1e-6) {
        std::snprintf(text, sizeof text, "%.3f us", s * 1e6);
    } else {
        std::snprintf(text, sizeof text, "%.1f ns", s * 1e9);
    }
    return text;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
}

}  // namespace

void print_table_header(std::FILE* out) {
    std::fprintf(out, "%-18s %10s  %-20s %7s %12s %12s %12s %8s %9s %6s %12s\n", "workload", "n", "impl", "workers",
                 "median", "min", "max", "max/med", "speed-up", "eff.", "per item");
}

void print_rows(std::FILE* out, const std::vector<result_row>& rows) {
    for (const result_row& r : rows) {
        const std::string per_item = r.items ? human_time(r.median_s / static_cast<double>(r.items)) : "";
        std::fprintf(out, "%-18s %10zu  %-20s %7d %12s %12s %12s %7.2fx %8.2fx %6.2f %12s\n", r.workload.c_str(), r.n,
                     r.impl.c_str(), r.workers, human_time(r.median_s).c_str(), human_time(r.min_s).c_str(),
                     human_time(r.max_s).c_str(), max_over_median(r), r.speedup, r.speedup / r.workers,
                     per_item.c_str());
    }
    std::fflush(out);
}

void write_json(const std::string& path, const std::vector<machine_field>& machine,
                const std::vector<result_row>& rows) {
    std::ostringstream j;
    j << "{\n  \"machine\": {";
    for (std::size_t i = 0; i < machine.size(); ++i) {
        const machine_field& f = machine[i];
        j << (i ? ",\n    " : "\n    ") << json_string(f.key) << ": " << (f.numeric ? f.value : json_string(f.value));
    }
    j << "\n  },\n  \"results\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const result_row& r = rows[i];
        j << (i ? ",\n    " : "\n    ") << "{\"workload\": " << json_string(r.workload) << ", \"n\": " << r.n
          << ", \"impl\": " << json_string(r.impl) << ", \"workers\": " << r.workers
          << ", \"median_s\": " << json_number(r.median_s) << ", \"min_s\": " << json_number(r.min_s)
          << ", \"max_s\": " << json_number(r.max_s) << ", \"max_over_median\": " << json_number(max_over_median(r))
          << ", \"speedup\": " << json_number(r.speedup) << ", \"efficiency\": " << json_number(r.speedup / r.workers)
          << ", \"reps\": " << r.reps;
        if (r.items) j << ", \"items\": " << r.items << ", \"per_item_s\": " << json_number(r.median_s / r.items);
        j << ", \"source\": " << json_string(r.source) << "}";
    }
    j << "\n  ]\n}\n";
    std::ofstream file(path);
    if (!(file << j.str())) throw std::runtime_error("parkit-bench: cannot write --json file '" + path + "'");
}

}  // namespace parkit_bench
