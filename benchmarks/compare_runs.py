#!/usr/bin/python3
"""Compare parkit-bench runs of two builds, taken alternately (before, after, before, ...).

Speed-ups are ratios inside one run, so they are compared run by run; per-task costs as the
median over the runs. Prints a markdown table of the parkit implementations.

Usage: /usr/bin/python3 benchmarks/compare_runs.py --before B1.json B2.json ... --after A1.json A2.json ...
"""
import argparse
import json
import statistics


def load(path):
    with open(path) as f:
        return {(r["workload"], r["n"], r["impl"]): r for r in json.load(f)["results"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", nargs="+", required=True)
    parser.add_argument("--after", nargs="+", required=True)
    args = parser.parse_args()
    before, after = [load(p) for p in args.before], [load(p) for p in args.after]
    print("| case | impl | speed-up before (each run) | speed-up after (each run) | per task, median: before → after |")
    print("|---|---|---|---|---|")
    for key in before[0]:
        if not key[2].startswith("parkit") or not all(key in run for run in before + after):
            continue
        speedups = [" / ".join(f"{run[key]['speedup']:.2f}" for run in runs) for runs in (before, after)]
        per_task = ""
        if before[0][key].get("per_item_s"):
            b, a = (statistics.median(run[key]["per_item_s"] for run in runs) * 1e9 for runs in (before, after))
            per_task = f"{b:.0f} ns → {a:.0f} ns ({a / b - 1:+.0%})"
        print(f"| `{key[0]}` {key[1]:,} | {key[2]} | {speedups[0]} | {speedups[1]} | {per_task} |")


if __name__ == "__main__":
    main()
