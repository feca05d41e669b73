#!/usr/bin/env bash
# Static checks: clang-tidy (the checks in .clang-tidy) over a program that uses every public
# header, so every header is parsed and its templates instantiated. Any finding fails.
#   Usage: bash scripts/check-tidy.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tidy="$(command -v clang-tidy || command -v clang-tidy-14 || true)"
if [[ -z "$tidy" ]]; then
    echo "check-tidy: clang-tidy not found (apt-get install clang-tidy)" >&2
    exit 1
fi
flags=(-std=c++20 -Iinclude -pthread)
if [[ -d /usr/include/eigen3 ]]; then
    flags+=(-I/usr/include/eigen3 -DPARKIT_TEST_KERNELS)
fi
echo "==> parkit: clang-tidy over every public header"
"$tidy" --quiet tests/other_compiler/all_headers.cpp -- "${flags[@]}"
echo "==> parkit: clang-tidy: no findings"
