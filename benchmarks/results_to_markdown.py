#!/usr/bin/python3
"""Markdown tables (one per workload size) from parkit-bench JSON, for docs/performance.md.

Usage: /usr/bin/python3 benchmarks/results_to_markdown.py RESULTS.json [MORE.json ...]
scripts/refresh_docs.py imports the functions below to write the same tables into the docs.
"""
import json
import sys


def fmt_time(s):
    """Seconds with three significant digits and the largest unit that keeps them >= 1."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def machine_line(machine):
    """One sentence naming the machine, compiler, load and mode of a run."""
    load = machine.get("background_load") or 0
    return (f"Machine: {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('os')}, "
            f"{machine.get('compiler')}, load average at start {machine.get('load_average_at_start')}, "
            f"{'--quick' if machine.get('quick') else 'full run'}"
            f"{f', --background-load {load}' if load else ''}, {machine.get('date')}.")


def case_tables(rows, heading="**{workload}, n = {n:,}**"):
    """One table per (workload, n), implementations in the run's order."""
    out, cases = [], []
    for r in rows:
        if (r["workload"], r["n"]) not in cases:
            cases.append((r["workload"], r["n"]))
    for workload, n in cases:
        out += [heading.format(workload=workload, n=n), "",
                "| impl | workers | median | min | max | max/median | speed-up | efficiency | speed-up of min | per item |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        seq = [r for r in rows if (r["workload"], r["n"], r["impl"]) == (workload, n, "sequential")]
        for r in rows:
            if (r["workload"], r["n"]) != (workload, n):
                continue
            per_item = fmt_time(r["per_item_s"]) if r.get("per_item_s") else ""
            min_speedup = f"{seq[0]['min_s'] / r['min_s']:.3g}x" if seq else ""
            max_ratio = f"{r['max_s'] / r['median_s']:.3g}x" if r["median_s"] else ""
            out.append(f"| {r['impl']} | {r['workers']} | {fmt_time(r['median_s'])} | {fmt_time(r['min_s'])} | "
                       f"{fmt_time(r['max_s'])} | {max_ratio} | {r['speedup']:.3g}x | {r['speedup'] / r['workers']:.2f} | "
                       f"{min_speedup} | {per_item} |")
        out.append("")
    return "\n".join(out)


def main():
    rows, machine = [], {}
    for path in sys.argv[1:]:
        with open(path) as f:
            data = json.load(f)
        machine = machine or data["machine"]
        rows += data["results"]
    print(machine_line(machine) + "\n")
    print(case_tables(rows))


if __name__ == "__main__":
    main()
