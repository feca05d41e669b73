#pragma once
// Shared by the examples: where results go, CSV writing, and gnuplot plotting
// (skipped with a note when gnuplot is not installed).
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
    for (const auto& h : header) { out << sep << h; sep = ","; }
    out << '\n';
    const std::size_t rows = columns.size() ? columns.begin()->size() : 0;
    out.precision(10);
    for (std::size_t r = 0; r < rows; ++r) {
        sep = "";
        for (const auto& c : columns) { out << sep << c[r]; sep = ","; }
        out << '\n';
    }
    std::cout << "wrote " << file.string() << '\n';
}

// Saves a gnuplot script next to the data and runs it to make a PNG.
inline void plot(const std::filesystem::path& script_file, const std::string& script) {
    std::ofstream(script_file) << script;
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        std::cout << "gnuplot not found: skipped the plot (script saved as " << script_file.string() << ")\n";
        return;
    }
    const std::string cmd = "cd '" + script_file.parent_path().string() + "' && gnuplot '" +
                            script_file.filename().string() + "'";
    if (std::system(cmd.c_str()) != 0) std::cout << "gnuplot failed on " << script_file.string() << '\n';
    else std::cout << "plotted with " << script_file.string() << '\n';
}

// Writes <name>.csv (label, seconds, speed-up over the first entry) and a bar chart <name>.png
// of wall times, one bar per label (a '\n' in a label breaks its line under the bar).
inline void plot_times(const std::filesystem::path& dir, const std::string& name, const std::string& title,
                       const std::vector<std::string>& labels, const std::vector<double>& seconds) {
    if (labels.size() != seconds.size() || labels.empty())
        throw std::invalid_argument("examples::plot_times: labels and seconds must be non-empty and equally long");
    const std::filesystem::path csv = dir / (name + ".csv");
    std::ofstream out(csv);
    if (!out) throw std::runtime_error("cannot write " + csv.string());
    out << "index,label,seconds,speedup\n";
    std::string xtics;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        std::string one_line = labels[i], gnuplot_label;
        for (char& c : one_line) if (c == '\n' || c == ',') c = ' ';
        for (char c : labels[i]) gnuplot_label += c == '\n' ? std::string("\\n") : std::string(1, c);
        out << i << ',' << one_line << ',' << seconds[i] << ',' << (seconds[i] > 0 ? seconds[0] / seconds[i] : 0.0) << '\n';
        xtics += (i ? ", \"" : "\"") + gnuplot_label + "\" " + std::to_string(i);
    }
    out.close();
    std::cout << "wrote " << csv.string() << '\n';
    const std::string last = std::to_string(labels.size() - 1);
    plot(dir / (name + ".gp"), "set terminal pngcairo size 800,500 noenhanced\n"
                               "set output '" + name + ".png'\n"
                               "set datafile separator ','\n"
                               "set title '" + title + "'\n"
                               "set ylabel 'Wall time (s)'\n"
                               "set xtics (" + xtics + ")\n"
                               "set style fill solid 0.7 border -1\n"
                               "set boxwidth 0.6\n"
                               "set grid y; set yrange [0:*]; set xrange [-0.6:" + last + ".6]\n"
                               "plot '" + name + ".csv' using 1:3 skip 1 with boxes lc 'steelblue' notitle, \\\n"
                               "     '' using 1:3:(sprintf('%.3g s, %.2fx', $3, $4)) skip 1 with labels offset 0,1 notitle\n");
}

} // namespace examples
