#!/usr/bin/env bash
# Regenerate the docs' figures from one run: build (Release), run every example and
# `parkit-bench --quick` once, copy the examples' PNGs to docs/images/, keep the raw benchmark
# results in benchmarks/results/current_quick.{json,txt}, and rewrite the marked regions of
# README.md, docs/examples.md and docs/performance.md (scripts/refresh_docs.py) and the
# compile-cost table of docs/architecture.md (benchmarks/compile_cost.py), each labelled
# with the machine, commit and date of the run. Run it on an otherwise idle machine, from a
# committed tree (the label says "with uncommitted changes" otherwise).
#   Usage: bash scripts/refresh-docs.sh [--build DIR] [--no-python]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build
bench_flags=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build="$2"; shift ;;
        --no-python) bench_flags+=(--no-python) ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "refresh-docs.sh: unknown argument '$1' (use --build DIR or --no-python)" >&2; exit 2 ;;
    esac
    shift
done
python=/usr/bin/python3   # Debian's, with numpy/scipy/joblib for the Python peers
root="$(pwd)"
run="$root/$build/refresh-docs"

echo "==> refresh-docs: building $build/ (Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARKIT_SANITIZE= > /dev/null
cmake --build "$build" -j"$(nproc)" --target parkit-examples parkit-bench

rm -rf "$run" && mkdir -p "$run/examples"
"$python" scripts/refresh_docs.py record-machine "$run"

# The examples run in $run, so the paths they print are relative (parkit-output/NAME/...).
mpi_example=mpi_reaction_sweep
for exe in "$build"/examples/*; do
    name="$(basename "$exe")"
    [[ -f "$exe" && -x "$exe" && "$name" != "$mpi_example" ]] || continue
    echo "==> refresh-docs: running $name"
    (cd "$run" && "$root/$exe") > "$run/examples/$name.txt" 2>&1 ||
        { echo "refresh-docs.sh: $name failed; its output:" >&2; cat "$run/examples/$name.txt" >&2; exit 1; }
done
if [[ -x "$build/examples/$mpi_example" ]] && command -v mpiexec > /dev/null; then
    mpi_flags=(--bind-to none --oversubscribe)
    [[ "$(id -u)" == 0 ]] && mpi_flags+=(--allow-run-as-root)
    # One row of times.csv per rank count; the printed block is the 2-rank run's.
    for ranks in 1 3 4 2; do
        echo "==> refresh-docs: running mpiexec -n $ranks $mpi_example"
        (cd "$run" && OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
            mpiexec "${mpi_flags[@]}" -n "$ranks" "$root/$build/examples/$mpi_example" 200000) \
            > "$run/examples/$mpi_example.txt" 2>&1 ||
            { echo "refresh-docs.sh: $mpi_example failed:" >&2; cat "$run/examples/$mpi_example.txt" >&2; exit 1; }
    done
fi
# The plots the docs show (a docs page names images/NAME.png) are replaced by this run's.
for txt in "$run"/examples/*.txt; do
    name="$(basename "$txt" .txt)"
    png="$run/parkit-output/$name/$name.png"
    if [[ -f "$png" ]] && grep -q "images/$name.png" README.md docs/*.md; then cp "$png" "docs/images/$name.png"; fi
done

echo "==> refresh-docs: running parkit-bench --quick ${bench_flags[*]}"
"$build/benchmarks/parkit-bench" --quick "${bench_flags[@]}" --json "$run/bench.json" | tee "$run/bench.txt"
cp "$run/bench.json" benchmarks/results/current_quick.json
grep -v '^wrote /' "$run/bench.txt" > benchmarks/results/current_quick.txt   # no path of this machine

"$python" scripts/refresh_docs.py rewrite "$run" README.md docs/examples.md docs/performance.md
echo "==> refresh-docs: timing the compile-cost programs (benchmarks/compile_cost.py)"
"$python" benchmarks/compile_cost.py --rounds 5 --write docs/architecture.md
echo "==> refresh-docs: done; review the changes (git diff, the PNGs in docs/images/) before committing"
