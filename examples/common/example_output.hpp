#pragma once
// Shared by the examples: where results go, CSV writing, gnuplot plotting and Graphviz
// rendering (each skipped with a note when the tool is not installed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

// The folder for an example's files: $PARKIT_OUTPUT_DIR/<name>, default ./parkit-output/<name>.
inline std::filesystem::path output_dir(const std::string& name) {
    const char* root = std::getenv("PARKIT_OUTPUT_DIR");
    std::filesystem::path dir = std::filesystem::path(root ? root : "parkit-output") / name;
    std::filesystem::create_directories(dir);
    return dir;
}

// Writes equally long columns as CSV with a header line.
inline void write_csv(const std::filesystem::path& file, std::initializer_list<std::string> header,
                      std::initializer_list<std::span<const double>> columns) {
    std::ofstream out(file);
    if (!out) throw std::runtime_error("cannot write " + file.string());
    const char* sep = "";
    for (const auto& h : header) {
        out << sep << h;
        sep = ",";
    }
    out << '\n';
    const std::size_t rows = columns.size() ? columns.begin()->size() : 0;
    out.precision(10);
    for (std::size_t r = 0; r < rows; ++r) {
        sep = "";
        for (const auto& c : columns) {
            out << sep << c[r];
            sep = ",";
        }
        out << '\n';
    }
    std::cout << "wrote " << file.string() << '\n';
}

// Writes a CSV whose first column is a text label per row (commas in it become spaces),
// followed by equally long numeric columns; `header` names every column, the label's first.
inline void write_csv(const std::filesystem::path& file, std::initializer_list<std::string> header,
                      const std::vector<std::string>& row_labels,
                      std::initializer_list<std::span<const double>> columns) {
    std::ofstream out(file);
    if (!out) throw std::runtime_error("cannot write " + file.string());
    const char* sep = "";
    for (const auto& h : header) {
        out << sep << h;
        sep = ",";
    }
    out << '\n';
    out.precision(10);
    for (std::size_t r = 0; r < row_labels.size(); ++r) {
        std::string label = row_labels[r];
        for (char& c : label)
            if (c == '\n' || c == ',') c = ' ';
        out << label;
        for (const auto& c : columns) out << ',' << c[r];
        out << '\n';
    }
    std::cout << "wrote " << file.string() << '\n';
}

// True when `tool` is on the PATH.
inline bool have_tool(const std::string& tool) {
    return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs `command` in `dir`; prints `done` on success, a note on failure.
inline void run_in(const std::filesystem::path& dir, const std::string& command, const std::string& done) {
    if (std::system(("cd '" + dir.string() + "' && " + command).c_str()) != 0)
        std::cout << "failed: " << command << '\n';
    else
        std::cout << done << '\n';
}

// Saves a gnuplot script next to the data and runs it to make a PNG.
inline void plot(const std::filesystem::path& script_file, const std::string& script) {
    std::ofstream(script_file) << script;
    if (!have_tool("gnuplot")) {
        std::cout << "gnuplot not found: skipped the plot (script saved as " << script_file.string() << ")\n";
        return;
    }
    run_in(script_file.parent_path(), "gnuplot '" + script_file.filename().string() + "'",
           "plotted with " + script_file.string());
}

// Saves Graphviz DOT as <name>.dot in `dir` and renders <name>.png with `dot` (skipped with a
// note when Graphviz is not installed).
inline void render_dot(const std::filesystem::path& dir, const std::string& name, const std::string& dot) {
    const std::filesystem::path dot_file = dir / (name + ".dot");
    std::ofstream(dot_file) << dot;
    std::cout << "wrote " << dot_file.string() << '\n';
    if (!have_tool("dot")) {
        std::cout << "Graphviz's dot not found: skipped rendering " << dot_file.string() << '\n';
        return;
    }
    run_in(dir, "dot -Tpng -Gdpi=110 '" + name + ".dot' -o '" + name + ".png'",
           "rendered " + (dir / (name + ".png")).string());
}

// gnuplot settings for a log y axis with decade ticks written plainly (0.0001, ..., 1000; '%g'
// would write 1e-05) and unlabelled minor ticks in between.
inline constexpr const char* log_y_decades =
    "set logscale y 10; set mytics 10; set ytics ('0.0000001' 1e-7, '0.000001' 1e-6, '0.00001' 1e-5, "
    "'0.0001' 1e-4, '0.001' 1e-3, '0.01' 1e-2, '0.1' 0.1, '1' 1, '10' 10, '100' 100, '1000' 1000, '10000' 1e4)\n";

// A gnuplot "set xtics (...)" list: labels[i] at x = i (a '\n' in a label breaks its line).
inline std::string gnuplot_xtics(const std::vector<std::string>& labels) {
    std::string xtics;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        std::string label;
        for (char c : labels[i]) label += c == '\n' ? std::string("\\n") : std::string(1, c);
        xtics += (i ? ", \"" : "\"") + label + "\" " + std::to_string(i);
    }
    return "(" + xtics + ")";
}

// One panel of plot_time_panels: a bar per label (a '\n' in a label breaks its line under the
// bar); log_y for times that span decades.
struct time_panel {
    std::string title;
    std::vector<std::string> labels;
    std::vector<double> seconds;
    bool log_y = false;
};

// Writes <name>.csv ([panel,] index, label, seconds, speed-up over the panel's first entry) and
// <name>.png, a bar chart of wall times per panel, side by side under `title`.
inline void plot_time_panels(const std::filesystem::path& dir, const std::string& name, const std::string& title,
                             const std::vector<time_panel>& panels) {
    if (panels.empty()) throw std::invalid_argument("examples::plot_time_panels: no panels");
    const bool several = panels.size() > 1;
    const std::filesystem::path csv = dir / (name + ".csv");
    std::ofstream out(csv);
    if (!out) throw std::runtime_error("cannot write " + csv.string());
    out << (several ? "panel," : "") << "index,label,seconds,speedup\n";
    std::size_t label_lines = 1, bars = 0, bars_before = 0;
    for (const auto& panel : panels) bars += panel.labels.size();
    std::string panel_scripts;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        const time_panel& panel = panels[p];
        if (panel.labels.size() != panel.seconds.size() || panel.labels.empty())
            throw std::invalid_argument(
                "examples::plot_time_panels: labels and seconds must be non-empty and equally long");
        for (std::size_t i = 0; i < panel.labels.size(); ++i) {
            std::string one_line = panel.labels[i];
            for (char& c : one_line)
                if (c == '\n' || c == ',') c = ' ';
            label_lines = std::max<std::size_t>(label_lines,
                                                1 + std::count(panel.labels[i].begin(), panel.labels[i].end(), '\n'));
            if (several) out << p << ',';
            out << i << ',' << one_line << ',' << panel.seconds[i] << ','
                << (panel.seconds[i] > 0 ? panel.seconds[0] / panel.seconds[i] : 0.0) << '\n';
        }
        // Columns of this panel's rows: index, seconds, speed-up (other panels' rows are skipped).
        const std::string c = several ? "2" : "1", t = several ? "4" : "3", s = several ? "5" : "4";
        const std::string row = several ? "($1 == " + std::to_string(p) + " ? $" + c + " : NaN)" : "1";
        // Side by side, each panel as wide as its share of the bars (below the overall title).
        if (several)
            panel_scripts += "set origin " + std::to_string(double(bars_before) / double(bars)) + ",0; set size " +
                             std::to_string(double(panel.labels.size()) / double(bars)) + ",0.93\n";
        bars_before += panel.labels.size();
        panel_scripts += "set title '" + (several ? panel.title : title) +
                         "'\n"
                         "set xtics " +
                         gnuplot_xtics(panel.labels) +
                         "\n"
                         "set xrange [-0.6:" +
                         std::to_string(panel.labels.size() - 1) + ".6]\n" +
                         (panel.log_y ? std::string(log_y_decades) + "set yrange [*:*]\n"
                                      : "unset logscale y; set ytics autofreq; set yrange [0:*]\n") +
                         "plot '" + name + ".csv' using " + row + ":" + t +
                         " skip 1 with boxes lc 'steelblue' notitle, \\\n"
                         "     '' using " +
                         row + ":" + t + ":(sprintf(\"%.3g s\\n%.3gx\", $" + t + ", $" + s +
                         ")) skip 1 with labels offset 0,2 notitle\n";
    }
    out.close();
    std::cout << "wrote " << csv.string() << '\n';
    const std::string width = std::to_string(std::max<std::size_t>(800, 150 * bars + 130 * panels.size()));
    plot(dir / (name + ".gp"), "set terminal pngcairo size " + width +
                                   ",500 noenhanced\n"
                                   "set output '" +
                                   name +
                                   ".png'\n"
                                   "set datafile separator ','\n"
                                   "set ylabel 'Wall time (s)'\n"
                                   "set style fill solid 0.7 border -1\n"
                                   "set boxwidth 0.6\n"
                                   "set grid y\n"
                                   "set bmargin " +
                                   std::to_string(label_lines + 2) +
                                   "\n"
                                   "set offsets 0, 0, graph 0.15, 0\n" +
                                   (several ? "set multiplot title '" + title + "'\n" : "") + panel_scripts +
                                   (several ? "unset multiplot\n" : ""));
}

// Writes <name>.csv (index, label, seconds, speed-up over the first entry) and a bar chart
// <name>.png of wall times, one bar per label (a '\n' in a label breaks its line under the bar).
inline void plot_times(const std::filesystem::path& dir, const std::string& name, const std::string& title,
                       const std::vector<std::string>& labels, const std::vector<double>& seconds) {
    plot_time_panels(dir, name, title, {{title, labels, seconds}});
}

}  // namespace examples
