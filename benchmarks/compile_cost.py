#!/usr/bin/env python3
"""Compile cost of a 10-line parallel_map program, by the header it includes.

Compiles each program of benchmarks/compile_cost/ (g++ -std=c++20 -O2, to an object file)
`--rounds` times, the programs interleaved so that a machine's noise falls on all of them
alike, and reports the median compiler CPU time (user + system, of the compiler and its
children), the ratio to the <thread> + <future> baseline, and the preprocessed line count.
With --write FILE it rewrites the region of FILE between `<!-- compile-cost:begin -->` and
`<!-- compile-cost:end -->` with the table, labelled with the machine, commit and date.
Standard library only.
    Usage: python3 benchmarks/compile_cost.py [--compiler g++] [--rounds 5] [--write docs/architecture.md]
"""

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = [  # (file, what it includes)
    ("thread_future.cpp", "`<thread>` + `<future>` (baseline, `std::async`)"),
    ("threads_parallel_map.cpp", "`<parkit/thread_map.hpp>` (`parkit::threads::parallel_map`)"),
    ("parallel_map.cpp", "`<parkit/parallel_map.hpp>` (every backend)"),
    ("umbrella.cpp", "`<parkit/parkit.hpp>` (everything)"),
]
BEGIN, END = "<!-- compile-cost:begin -->", "<!-- compile-cost:end -->"


def compile_cpu_seconds(compiler, source, output):
    """CPU seconds (user + system) one compile of `source` takes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([compiler, "-std=c++20", "-O2", "-I", os.path.join(ROOT, "include"), "-c", source, "-o", output],
                   check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def preprocessed_lines(compiler, source):
    out = subprocess.run([compiler, "-std=c++20", "-E", "-I", os.path.join(ROOT, "include"), source],
                         check=True, capture_output=True, text=True).stdout
    return out.count("\n")


def label(compiler):
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        # Only the timed sources count: the docs this run rewrites do not change what is compiled.
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--",
                                "include", "benchmarks/compile_cost"], capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += " with uncommitted changes"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown commit"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = re.findall(r"^model name\s*:\s*(.+)$", info.read(), re.M)
            if names:
                cpu = names[0].strip()
    except OSError:
        pass
    return (f"{version}, {os.cpu_count()} cores ({cpu}), commit {commit}, "
            f"{datetime.date.today().isoformat()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiler", default="g++")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", metavar="FILE", help="rewrite FILE's compile-cost region with the table")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")

    sources = [os.path.join(ROOT, "benchmarks", "compile_cost", name) for name, _ in PROGRAMS]
    times = {source: [] for source in sources}
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "program.o")
        for _ in range(args.rounds):
            for source in sources:
                times[source].append(compile_cpu_seconds(args.compiler, source, output))
    base = statistics.median(times[sources[0]])
    rows = ["| Program includes | Compile CPU time (median) | vs baseline | Preprocessed lines |",
            "|---|---|---|---|"]
    for (name, what), source in zip(PROGRAMS, sources):
        median = statistics.median(times[source])
        rows.append(f"| {what} | {median:.2f} s | {median / base:.2f}x | "
                    f"{preprocessed_lines(args.compiler, source):,} |")
    table = "\n".join(rows) + "\n\n" + (
        f"`python3 benchmarks/compile_cost.py --rounds {args.rounds}` ({args.compiler} -std=c++20 -O2, "
        f"benchmarks/compile_cost/*.cpp): {label(args.compiler)}.")
    print(table)
    if args.write:
        with open(args.write) as f:
            text = f.read()
        if BEGIN not in text or END not in text:
            sys.exit(f"compile_cost.py: {args.write} has no {BEGIN} ... {END} region")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.write, "w") as f:
            f.write(head + BEGIN + "\n" + table + "\n" + END + tail)


if __name__ == "__main__":
    main()
