#!/usr/bin/env bash
# Installs the Debian packages parkit needs that are missing (Debian 12).
# Used by scripts/setup.sh and scripts/test.sh; safe to run again.
# Set PARKIT_SKIP_DEPS=1 to skip (e.g. on a non-Debian system with the tools installed).
set -euo pipefail

required=(g++ cmake make catch2)
optional=(libeigen3-dev libboost-dev libcereal-dev libtbb-dev gnuplot-nox graphviz pkg-config clang-tidy clang-format
          libopenmpi-dev openmpi-bin libbenchmark-dev clang libclang-rt-14-dev libc++-dev libc++abi-dev
          python3-numpy python3-scipy python3-joblib)

if [[ "${PARKIT_SKIP_DEPS:-0}" == 1 ]]; then
    echo "parkit: PARKIT_SKIP_DEPS=1, not checking system packages"
    exit 0
fi
if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "parkit: dpkg/apt-get not found (not Debian?); please install: ${required[*]}" >&2
    exit 0
fi

is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for pkg in "${required[@]}" "${optional[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    echo "parkit: all required and optional packages are installed"
    exit 0
fi
echo "parkit: installing missing packages: ${missing[*]}"

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "parkit: error: not root and sudo is not available; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
apt_install() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "$@"
}

"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
if ! apt_install "${missing[@]}"; then
    # An optional package may be unavailable: fall back to the required ones.
    req_missing=()
    for pkg in "${required[@]}"; do
        is_installed "$pkg" || req_missing+=("$pkg")
    done
    echo "parkit: warning: could not install all of: ${missing[*]}" >&2
    if ((${#req_missing[@]} > 0)); then
        apt_install "${req_missing[@]}"
    fi
    echo "parkit: continuing without some optional packages" >&2
fi
echo "parkit: packages OK"
