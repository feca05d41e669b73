#!/usr/bin/env bash
# Style check: every C++ file of the project is as clang-format (14, .clang-format) leaves it.
# Generated reference headers (tests/reference/*.hpp, written by their committed scripts) and
# fuzz corpora are left out.
#   Usage: bash scripts/check-format.sh          (lists the files that differ; fails if any)
#          bash scripts/check-format.sh --fix    (formats them in place)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
format="$(command -v clang-format || command -v clang-format-14 || true)"
if [[ -z "$format" ]]; then
    echo "check-format: clang-format not found (apt-get install clang-format)" >&2
    exit 1
fi
mapfile -t files < <(git ls-files '*.hpp' '*.cpp' '*.h' | grep -v -E '^tests/reference/|/corpus/')
if [[ "${1:-}" == "--fix" ]]; then
    "$format" -i "${files[@]}"
    exit 0
fi
echo "==> parkit: clang-format over ${#files[@]} files"
differ=()
for f in "${files[@]}"; do
    if ! "$format" "$f" | cmp -s - "$f"; then differ+=("$f"); fi
done
if ((${#differ[@]} > 0)); then
    printf 'check-format: not formatted (run: bash scripts/check-format.sh --fix):\n' >&2
    printf '  %s\n' "${differ[@]}" >&2
    exit 1
fi
echo "==> parkit: clang-format: every file formatted"
