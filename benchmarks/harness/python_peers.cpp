#include "python_peers.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace parkit_bench {

namespace {

/// Runs argv[0] with argv and returns its exit status (-1 when it could not start).
int run_and_wait(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::vector<result_row> parse_python_rows(const std::string& text) {
    std::vector<result_row> rows;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        result_row r;
        if (!(fields >> r.workload >> r.n >> r.impl >> r.workers >> r.median_s >> r.min_s >> r.max_s >> r.reps >>
              r.items)) {
            throw std::runtime_error("parkit-bench: malformed line from chapter_peers.py: '" + line + "'");
        }
        r.source = "chapter_peers.py";
        rows.push_back(r);
    }
    return rows;
}

std::vector<result_row> run_python_peers(const config& cfg) {
#ifndef PARKIT_BENCH_PYTHON_SCRIPT
    (void)cfg;
    return {};
#else
    if (!cfg.python) return {};
    const std::string script = PARKIT_BENCH_PYTHON_SCRIPT;
    if (access(cfg.python_exe.c_str(), X_OK) != 0 || access(script.c_str(), R_OK) != 0) {
        std::printf("python peers: skipped (%s or %s not found)\n", cfg.python_exe.c_str(), script.c_str());
        return {};
    }
    char out_path[] = "/tmp/parkit-bench-python-XXXXXX";
    const int fd = mkstemp(out_path);
    if (fd < 0) throw std::runtime_error("parkit-bench: cannot make a temporary file for the Python results");
    close(fd);
    std::vector<std::string> args{cfg.python_exe, script, "--tsv", out_path, "--workers", join_workers(cfg.workers)};
    if (cfg.quick) args.emplace_back("--quick");
    if (!cfg.filter.empty()) {
        args.emplace_back("--filter");
        args.push_back(cfg.filter);
    }
    std::fflush(stdout);
    const int status = run_and_wait(args);
    std::ifstream in(out_path);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(out_path);
    if (status == 3) {
        std::printf(
            "python peers: skipped (numpy, scipy or joblib missing; apt-get install python3-numpy "
            "python3-scipy python3-joblib)\n");
        return {};
    }
    if (status != 0) {
        std::printf("python peers: chapter_peers.py failed (exit status %d); its results are left out\n", status);
        return {};
    }
    try {
        return parse_python_rows(text.str());
    } catch (const std::exception& e) {
        std::printf("python peers: %s; their results are left out\n", e.what());
        return {};
    }
#endif
}

}  // namespace parkit_bench
