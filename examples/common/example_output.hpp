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

// Wall-clock seconds that f() takes.
template <class F>
double seconds(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A self-check of an example: prints what failed; returns `ok`.
inline bool check(bool ok, const char* what) {
    if (!ok) std::printf("CHECK FAILED: %s\n", what);
    return ok;
}

} // namespace examples
