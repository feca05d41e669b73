#!/usr/bin/env bash
# Packs a built parkit-bench with the shared libraries it loads (and the dynamic loader) into
# build-device/, so it runs on a machine without the compiler or the peers' packages (a lent
# 16-core machine without network). Usage, from the repository root after building build/:
#   bash benchmarks/device_bundle.sh [build-dir]
# then on the other machine, from the repository root:
#   build-device/run-parkit-bench --workers 1,2,4,8,16 --json out.json
set -euo pipefail
build="${1:-build}"
binary="$build/benchmarks/parkit-bench"
[[ -x "$binary" ]] || { echo "device_bundle.sh: $binary not built" >&2; exit 1; }
rm -rf build-device
mkdir -p build-device/lib
cp "$binary" build-device/
ldd "$binary" | grep -o '/[^ ]*\.so[^ ]*' | while read -r lib; do cp -L "$lib" build-device/lib/; done
cat > build-device/run-parkit-bench <<'RUN'
#!/bin/sh
# Runs the bundled parkit-bench with the bundled libraries and loader.
here=$(dirname "$0")
exec "$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib" "$here/parkit-bench" "$@"
RUN
chmod +x build-device/run-parkit-bench
du -sh build-device
