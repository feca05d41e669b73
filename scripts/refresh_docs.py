#!/usr/bin/python3
"""Rewrite the figures in README.md and docs/*.md from one run of scripts/refresh-docs.sh.

The docs mark every generated part with a pair of HTML comments:

    <!-- refresh-docs:begin KEY -->
    ... (replaced) ...
    <!-- refresh-docs:end -->

KEY is one of
    run-label           the machine, commit and date of the run
    example NAME        the printed output of examples/NAME, as a fenced block
    bench-summary       the README's one-table summary of parkit-bench --quick
    bench-targets       docs/performance.md's targets, met or missed, from the same run
    bench-tables        every case of the run as a table (benchmarks/results_to_markdown.py)

Usage (scripts/refresh-docs.sh calls these):
    refresh_docs.py record-machine RUN_DIR          before the run: machine, commit, load
    refresh_docs.py rewrite RUN_DIR FILE.md...      after it: replace every marked region
    refresh_docs.py check ROOT                      every region of README.md and docs/*.md
                                                    well formed, its KEY known (ctest docs.regions)

A region whose data the run lacks (an example that was not built, no benchmark) is left as it
was and named on stderr; an unknown KEY or an unclosed region is an error.
"""
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
from results_to_markdown import case_tables, fmt_time  # noqa: E402

REGION = re.compile(r"(<!-- refresh-docs:begin (?P<key>[^>]*?) -->\n)(?P<body>.*?)(<!-- refresh-docs:end -->)",
                    re.DOTALL)
SOURCE_DIRS = ["include", "examples", "benchmarks", "CMakeLists.txt", "cmake"]
# What examples print about the files they write: left out of the docs' printed blocks.
FILE_NOTICE = re.compile(r"^(wrote|plotted with|rendered) \S")


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()


def record_machine(run_dir):
    """Writes RUN_DIR/run.json: what the label of every generated region says."""
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    if git("status", "--porcelain", "--", *SOURCE_DIRS):
        commit += " with uncommitted changes"
    info = {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    pathlib.Path(run_dir, "run.json").write_text(json.dumps(info, indent=1) + "\n")


def run_label(run):
    return (f"From one run of `scripts/refresh-docs.sh` on {run['cores']} cores ({run['cpu']}, "
            f"{run['os']}), commit {run['commit']}, {run['date']}, load average {run['load_average_at_start']} "
            f"at the start.")


def example_block(run_dir, name):
    path = pathlib.Path(run_dir, "examples", f"{name}.txt")
    if not path.exists():
        return None
    lines = [line.rstrip() for line in path.read_text(errors="replace").splitlines() if not FILE_NOTICE.match(line)]
    while lines and not lines[-1]:
        lines.pop()
    return "```\n" + "\n".join(lines) + "\n```"


class Bench:
    """The rows of parkit-bench's JSON, looked up by case and implementation."""

    def __init__(self, data):
        self.machine = data["machine"]
        self.rows = data["results"]

    def get(self, workload, n, impl):
        for r in self.rows:
            if (r["workload"], r["n"], r["impl"]) == (workload, n, impl):
                return r
        return None

    def best_peer(self, workload, n, impls=("openmp_static", "openmp_dynamic", "tbb")):
        rows = [r for r in (self.get(workload, n, i) for i in impls) if r]
        return min(rows, key=lambda r: r["median_s"]) if rows else None

    def workers(self):
        return max(r["workers"] for r in self.rows if r["workload"] not in ("io_wait",))


def per_item(r):
    return fmt_time(r["per_item_s"]) if r and r.get("per_item_s") else "—"


def median(r, speedup=False):
    if not r:
        return "—"
    return fmt_time(r["median_s"]) + (f" ({r['speedup']:.2f}x)" if speedup else "")


def bench_label(run, b):
    """The run's label plus what parkit-bench reports of itself (compiler, mode, workers)."""
    mode = "--quick" if b.machine.get("quick") else "full run"
    return f"{run_label(run)} `parkit-bench` ({mode}), {b.machine.get('compiler')}, {b.workers()} workers, medians."


def bench_summary(b, label):
    """The README's table: the chapter's workloads at their large sizes, and per-task costs."""
    out = [label + " Speed-up = sequential median / median.", "",
           "| workload | sequential loop | `parkit_threads` | best of OpenMP / oneTBB | Python (the chapter's code) |",
           "|---|---:|---:|---:|---:|"]
    big = [("reaction_sweep", 20_000, "20,000 ODE solves (`reaction_sweep`)",
            ("reaction_sweep", 200, "python_sequential", "200 solves, `solve_ivp` loop")),
           ("fin_monte_carlo", 10_000_000, "10 M-sample fin Monte Carlo",
            ("fin_monte_carlo", 10_000, "python_processpool", "10,000 samples, `ProcessPoolExecutor`")),
           ("curve_fit", 10_000, "10,000 bounded curve fits",
            ("curve_fit", 100, "python_sequential", "100 fits, scipy loop")),
           ("io_wait", 32, "32 × 50 ms waits, 32 threads", ("io_wait", 32, "python_threads", "`ThreadPoolExecutor`"))]
    for workload, n, label, (pw, pn, pimpl, plabel) in big:
        seq = b.get(workload, n, "sequential")
        if not seq:
            continue
        peer = b.best_peer(workload, n)
        py = b.get(pw, pn, pimpl)
        out.append(f"| {label} | {median(seq)} | {median(b.get(workload, n, 'parkit_threads'), True)} | "
                   f"{median(peer)} | {plabel + ': ' + median(py) if py else '—'} |")
    per_task = [("submit + get, per task", ("task_overhead", 100_000, "parkit_threads"),
                 ("task_overhead", 100_000, "tbb", "TBB `task_group`"), None),
                ("`process_pool`, per task, pipelined (all submitted, then all awaited)",
                 ("process_roundtrip", 2_000, "parkit_processes"), None,
                 ("process_roundtrip", 2_000, "python_processpool", "`ProcessPoolExecutor`")),
                ("`process_pool` round trip, one task at a time (submit, get, next)",
                 ("process_roundtrip", 2_000, "parkit_processes_one_at_a_time"), None,
                 ("process_roundtrip", 2_000, "python_processpool_one_at_a_time", "`ProcessPoolExecutor`")),
                ("disk-cache hit, per call (one thread)", ("cache_hit", 1_000, "sequential"), None,
                 ("cache_hit", 1_000, "python_joblib_memory", "`joblib.Memory`"))]
    for label, ours, peer, py in per_task:
        mine = b.get(*ours)
        if not mine:
            continue
        peer_cell = f"{per_item(b.get(*peer[:3]))} ({peer[3]})" if peer and b.get(*peer[:3]) else "—"
        py_cell = f"{per_item(b.get(*py[:3]))} ({py[3]})" if py and b.get(*py[:3]) else "—"
        out.append(f"| {label} | — | {per_item(mine)} | {peer_cell} | {py_cell} |")
    return "\n".join(out)


def bench_targets(b, label):
    """docs/performance.md's targets, each with what this run measured and whether it is met."""
    w = b.workers()
    out = [label, "",
           "| target | measured | status |", "|---|---|---|"]

    def status(ok):
        return "**met**" if ok else "**missed**"

    not_speedup = {"task_overhead", "graph", "process_roundtrip", "imap_stream", "cache_hit"}
    cases = []
    for r in b.rows:
        if r["impl"] == "parkit_threads" and r["workload"] not in not_speedup:
            cases.append(r)
    if cases:
        slow = [r for r in cases if r["speedup"] < 0.95]
        listed = ", ".join(f"`{r['workload']}` {r['n']:,} {r['speedup']:.2f}x" for r in cases)
        missed = ", ".join(f"`{r['workload']}` {r['n']:,}" for r in slow)
        out.append(f"| no case slower with `parkit_threads` than `sequential` by > 5 % | {listed} | "
                   f"{status(not slow)}{' for all' if not slow else ' for ' + missed} |")
    big = [("reaction_sweep", 20_000), ("fin_monte_carlo", 10_000_000), ("curve_fit", 10_000)]
    for impl, share in (("parkit_threads", 0.925), ("parkit_processes", 0.875)):
        rows = [b.get(wl, n, impl) for wl, n in big]
        rows = [r for r in rows if r]
        if rows:
            need = share * w
            listed = ", ".join(f"`{r['workload']}` {r['n']:,} {r['speedup']:.2f}x" for r in rows)
            out.append(f"| large kernel cases, `{impl}`: >= {need:.2f}x ({share:.1%} of {w} workers) | {listed} | "
                       f"{status(all(r['speedup'] >= need for r in rows))} |")
    for wl, n in (("map_tiny", 10_000_000), ("reaction_sweep", 20_000)):
        mine, peer = b.get(wl, n, "parkit_threads"), b.best_peer(wl, n)
        if mine and peer:
            gap = mine["median_s"] / peer["median_s"] - 1
            out.append(f"| `{wl}` {n:,}: `parkit_threads` within 5 % of the best of OpenMP / oneTBB | "
                       f"parkit {fmt_time(mine['median_s'])}, {peer['impl']} {fmt_time(peer['median_s'])} "
                       f"({gap:+.1%}) | {status(gap <= 0.05)} |")
    mine, tbb = b.get("task_overhead", 100_000, "parkit_threads"), b.get("task_overhead", 100_000, "tbb")
    if mine and tbb:
        ratio = mine["per_item_s"] / tbb["per_item_s"]
        out.append(f"| `task_overhead`: parkit submit + get <= 1.5x oneTBB `task_group::run` + wait | "
                   f"parkit {per_item(mine)}, TBB {per_item(tbb)} per task ({ratio:.2f}x) | {status(ratio <= 1.5)} |")
    mine = b.get("process_roundtrip", 2_000, "parkit_processes")
    py = b.get("process_roundtrip", 2_000, "python_processpool")
    if mine and py:
        ratio = py["per_item_s"] / mine["per_item_s"]
        one, py_one = (b.get("process_roundtrip", 2_000, "parkit_processes_one_at_a_time"),
                       b.get("process_roundtrip", 2_000, "python_processpool_one_at_a_time"))
        extra = f"; one at a time: parkit {per_item(one)}, Python {per_item(py_one)}" if one and py_one else ""
        out.append(f"| `process_roundtrip` (pipelined) >= 10x cheaper than `ProcessPoolExecutor` | "
                   f"parkit {per_item(mine)}, Python {per_item(py)} per task ({ratio:.0f}x){extra} | "
                   f"{status(ratio >= 10)} |")
    mine, py = b.get("stiff_vdp", 8, "sequential"), b.get("stiff_vdp", 8, "python_lsoda")
    if mine and py:
        ratio = py["per_item_s"] / mine["per_item_s"]
        out.append(f"| `stiff_vdp`: Van der Pol μ = 1000 on [0, 3000], rosenbrock4 >= 100x faster than scipy's "
                   f"`solve_ivp(method='LSODA')` | parkit {per_item(mine)}, LSODA {per_item(py)} per solve, one "
                   f"thread each ({ratio:.0f}x) | {status(ratio >= 100)} |")
    mine = b.get("io_wait", 32, "parkit_threads")
    if mine:
        out.append(f"| `io_wait`: 32 × 50 ms on 32 threads in < 0.1 s | {median(mine)} | "
                   f"{status(mine['median_s'] < 0.1)} |")
    mine, py = b.get("cache_hit", 1_000, "sequential"), b.get("cache_hit", 1_000, "python_joblib_memory")
    if mine:
        py_cell = f", `joblib.Memory` {per_item(py)} ({py['per_item_s'] / mine['per_item_s']:.0f}x)" if py else ""
        out.append(f"| (no target) `cache_hit`: one `parkit::memory` hit | {per_item(mine)} per hit on one thread"
                   f"{py_cell} | — |")
    seq, mine = b.get("graph", 100_000, "sequential"), b.get("graph", 100_000, "parkit_graph_sequential")
    if mine:
        out.append(f"| (no target) `graph`: cost per node built and computed | {per_item(mine)} per node on the "
                   f"calling thread, {per_item(b.get('graph', 100_000, 'parkit_threads'))} on the pool "
                   f"(the same arithmetic in a loop: {per_item(seq)}) | — |")
    return "\n".join(out)


KEYS_WITH_ARGUMENT = {"example"}
KEYS = {"run-label", "example", "bench-summary", "bench-targets", "bench-tables"}


def regions(name, text):
    """(key, argument) of every region of `text`; exits naming `name` on a malformed one."""
    if text.count("<!-- refresh-docs:begin") != text.count("<!-- refresh-docs:end -->"):
        sys.exit(f"refresh_docs.py: {name}: a refresh-docs:begin without its refresh-docs:end")
    found = []
    for m in REGION.finditer(text):
        key, _, arg = m.group("key").partition(" ")
        if key not in KEYS or bool(arg) != (key in KEYS_WITH_ARGUMENT):
            sys.exit(f"refresh_docs.py: {name}: unknown region 'refresh-docs:begin {m.group('key')}'")
        found.append((key, arg))
    return found


def check(root):
    """Every region well formed and known; every `example NAME` an examples/NAME.cpp."""
    root = pathlib.Path(root)
    count = 0
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for key, arg in regions(path.name, path.read_text()):
            if key == "example" and not (root / "examples" / f"{arg}.cpp").exists():
                sys.exit(f"refresh_docs.py: {path.name}: region 'example {arg}' names no examples/{arg}.cpp")
            count += 1
    print(f"refresh_docs.py: {count} regions, all well formed")


def rewrite(run_dir, files):
    run = json.loads(pathlib.Path(run_dir, "run.json").read_text())
    bench_path = pathlib.Path(run_dir, "bench.json")
    bench = Bench(json.loads(bench_path.read_text())) if bench_path.exists() else None
    generators = {
        "run-label": lambda arg: run_label(run),
        "example": lambda arg: example_block(run_dir, arg),
        "bench-summary": lambda arg: bench and bench_summary(bench, bench_label(run, bench)),
        "bench-targets": lambda arg: bench and bench_targets(bench, bench_label(run, bench)),
        "bench-tables": lambda arg: bench and (bench_label(run, bench) + "\n\n" +
                                               case_tables(bench.rows, heading="#### {workload}, n = {n:,}")),
    }
    for name in files:
        path = pathlib.Path(name)
        text = path.read_text()
        regions(name, text)

        def replace(m):
            key, _, arg = m.group("key").partition(" ")
            body = generators[key](arg)
            if not body:
                print(f"refresh_docs.py: {name}: no data for '{m.group('key')}' in this run; left as it was",
                      file=sys.stderr)
                return m.group(0)
            return m.group(1) + body.rstrip("\n") + "\n" + m.group(4)

        new = REGION.sub(replace, text)
        if new != text:
            path.write_text(new)
            print(f"refresh_docs.py: rewrote {name}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "record-machine":
        record_machine(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "rewrite":
        rewrite(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
