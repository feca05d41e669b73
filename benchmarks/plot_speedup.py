#!/usr/bin/python3
"""Speed-up vs workers plots (gnuplot PNG) from parkit-bench JSON files.

Usage: /usr/bin/python3 benchmarks/plot_speedup.py OUT.png RESULTS.json [MORE.json ...] [--title TEXT]

One panel per workload size (not the per-task ones: task_overhead, process_roundtrip) that has parallel results at more than one worker count; one
line per implementation (median speed-up against the sequential loop of the same run), and
the ideal line (speed-ups below 0.001 are drawn at 0.001). Several JSON files (e.g. one run split by --filter) are merged. Needs only
the standard library and gnuplot.
"""
import json
import math
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


# A fixed style per implementation, the same in every panel: parkit's two lines bold and dark,
# the others thinner in distinct mid-tone colours.
STYLES = {
    "parkit_threads": "lw 3.5 pt 7 ps 1.1 lc rgb '#08306b'",
    "parkit_processes": "lw 3.5 pt 5 ps 1.1 lc rgb '#b2182b'",
    "tbb": "lw 1.5 pt 9 lc rgb '#1b9e77'",
    "openmp_dynamic": "lw 1.5 pt 2 lc rgb '#d95f02'",
    "openmp_static": "lw 1.5 pt 3 lc rgb '#7570b3'",
    "openmp_tasks": "lw 1.5 pt 1 lc rgb '#a6761d'",
    "std_async": "lw 1.5 pt 6 lc rgb '#e7298a'",
}


def style(impl):
    return STYLES.get(impl, "lw 1.5 pt 4 lc rgb '#666666'")


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
    speedups = [max(s, 1e-3) for v in panels.values() for pts in v.values() for _, s in pts]
    y_lo = 10 ** math.floor(math.log10(min(speedups)))   # whole decades, so every curve is inside
    y_hi = max(max(speedups), max_workers) * 1.5
    impls = sorted({impl for v in panels.values() for impl in v})
    cols = 3
    nrows = (len(panels) + cols - 1) // cols
    title = title or (f"parkit-bench speed-up vs workers ({machine.get('cores')} cores, {machine.get('cpu', '')}, "
                      f"load average {machine.get('load_average_at_start')} at start)")
    width, panel_h, title_h, key_h = 420 * cols, 320, 40, 60
    height = panel_h * nrows + title_h + key_h
    # Plain ticks: powers of two (the worker counts) from 1 up, decades below 1.
    powers_of_two = [2 ** i for i in range(int(math.log2(max_workers)) + 1)]
    x_tics = ", ".join(f"'{w}' {w}" for w in powers_of_two)
    y_tics = ", ".join(f"'{t:g}' {t:g}" for t in [10.0 ** e for e in range(round(math.log10(y_lo)), 0)] + powers_of_two)
    with tempfile.TemporaryDirectory() as tmp:
        script = [f"set terminal pngcairo size {width},{height} font ',9'",
                  f"set output '{out}'",
                  f"set multiplot title \"{title}\"",
                  "unset key", "set grid", "set termoption noenhanced", "set logscale xy",
                  f"set xrange [0.9:{max_workers * 1.1}]", f"set yrange [{y_lo}:{y_hi}]",
                  f"set xtics ({x_tics})", f"set ytics ({y_tics})", "set mytics 10",
                  "set xlabel 'workers'", "set ylabel 'speed-up vs sequential'"]
        for i, ((workload, n), panel) in enumerate(sorted(panels.items())):
            row, col = divmod(i, cols)
            bottom = (key_h + panel_h * (nrows - 1 - row)) / height
            script.append(f"set origin {col / cols},{bottom}; set size {1 / cols},{panel_h / height}")
            plots = ["x with lines dt 2 lw 1.5 lc 'gray40'"]
            for impl, pts in sorted(panel.items()):
                path = os.path.join(tmp, f"{workload}_{n}_{impl}.dat")
                with open(path, "w") as f:
                    for w, s in sorted(pts):
                        f.write(f"{w} {max(s, 1e-3)}\n")
                plots.append(f"'{path}' using 1:2 with linespoints {style(impl)}")
            script.append(f"set title '{workload} n={n}'")
            script.append("plot " + ", ".join(plots))
        # One key for every panel, in a strip under them: curves that never reach 'NaN' only name the styles.
        script += [f"set origin 0,0; set size 1,{key_h / height}", "unset title", "unset border", "unset tics",
                   "unset grid", "unset xlabel", "unset ylabel", "unset logscale", "set xrange [0:1]; set yrange [0:1]",
                   f"set key center center horizontal maxcols {len(impls) + 1} samplen 3 font ',10'",
                   "plot " + ", ".join(["NaN with lines dt 2 lw 1.5 lc 'gray40' title 'ideal'"] +
                                       [f"NaN with linespoints {style(impl)} title '{impl}'" for impl in impls])]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
