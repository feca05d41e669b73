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

if [[ -x build/examples/flagship_demo ]]; then
    echo "==> parkit: running build/examples/flagship_demo"
    ./build/examples/flagship_demo
else
    echo "==> parkit: flagship_demo was not built: it needs Eigen 3.4 and Boost (apt-get install libeigen3-dev libboost-dev)"
fi
echo "==> parkit: setup done; run the tests with: bash scripts/test.sh"
