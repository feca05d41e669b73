#!/usr/bin/env bash
# parkit quick start: install missing Debian packages, build (Release) in build/,
# and run the flagship demo.   Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> parkit: checking system packages"
bash scripts/install-deps.sh

echo "==> parkit: configuring build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPARKIT_SANITIZE=

echo "==> parkit: building"
cmake --build build -j"$(nproc)"

echo "==> parkit: running build/examples/flagship_demo"
./build/examples/flagship_demo
echo "==> parkit: setup done; run the tests with: bash scripts/test.sh"
