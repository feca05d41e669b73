#!/usr/bin/python3
"""Speed-up vs workers plots (gnuplot PNG) from parkit-bench JSON files.

Usage: /usr/bin/python3 benchmarks/plot_speedup.py OUT.png RESULTS.json [MORE.json ...] [--title TEXT]

One panel per workload size (not the per-task ones: task_overhead, process_roundtrip) that has parallel results at more than one worker count; one
line per implementation (median speed-up against the sequential loop of the same run), and
the ideal line. Several JSON files (e.g. one run split by --filter) are merged. Needs only
the standard library and gnuplot.
"""
import json
import os
import subprocess
import sys
import tempfile


def load(paths):
    machine, rows = {}, []
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        machine = machine or data["machine"]
        rows += [r for r in data["results"] if r.get("source", "parkit-bench") == "parkit-bench"]
    return machine, rows


def main():
    args = sys.argv[1:]
    title = None
    if "--title" in args:
        i = args.index("--title")
        title = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    out, paths = args[0], args[1:]
    machine, rows = load(paths)
    panels = {}
    for r in rows:
        if r["impl"] != "sequential" and not r.get("items"):  # per-task workloads: no speed-up curve
            panels.setdefault((r["workload"], r["n"]), {}).setdefault(r["impl"], []).append((r["workers"], r["speedup"]))
    panels = {k: v for k, v in panels.items() if any(len({w for w, _ in pts}) > 1 for pts in v.values())}
    if not panels:
        sys.exit("plot_speedup.py: no workload has results at more than one worker count (use --workers 1,2,...)")
    max_workers = max(w for v in panels.values() for pts in v.values() for w, _ in pts)
    cols = 3
    nrows = (len(panels) + cols - 1) // cols
    title = title or (f"parkit-bench speed-up vs workers ({machine.get('cores')} cores, {machine.get('cpu', '')}, "
                      f"load average {machine.get('load_average_at_start')} at start)")
    with tempfile.TemporaryDirectory() as tmp:
        script = [f"set terminal pngcairo size {420 * cols},{320 * nrows + 40} font ',9'",
                  f"set output '{out}'",
                  f"set multiplot layout {nrows},{cols} title \"{title}\"",
                  "set key top left font ',7'", "set grid", "set termoption noenhanced", "set logscale xy 2",
                  f"set xrange [0.9:{max_workers * 1.1}]", "set yrange [0.01:*]",
                  "set xlabel 'workers'", "set ylabel 'speed-up vs sequential'"]
        for (workload, n), impls in sorted(panels.items()):
            plots = [f"x with lines dt 2 lc 'gray' title 'ideal'"]
            for impl, pts in sorted(impls.items()):
                path = os.path.join(tmp, f"{workload}_{n}_{impl}.dat")
                with open(path, "w") as f:
                    for w, s in sorted(pts):
                        f.write(f"{w} {max(s, 1e-3)}\n")
                width = 3 if impl.startswith("parkit") else 1  # parkit's lines stand out
                plots.append(f"'{path}' using 1:2 with linespoints lw {width} title '{impl}'")
            script.append(f"set title '{workload} n={n}'")
            script.append("plot " + ", ".join(plots))
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
