#!/usr/bin/env bash
# parkit tests: install missing Debian packages, build (Release) in build/ and run
# ctest. With --sanitizers (or PARKIT_SANITIZERS=1) also run the tests under
# ThreadSanitizer (build-tsan/) and AddressSanitizer+UBSan (build-asan/);
# --sanitizers-only runs just those two (CI runs the plain build first). --clang-only
# builds the test suite with clang++ (build-clang/, Release) and runs it.
#   Usage: bash scripts/test.sh [--sanitizers | --sanitizers-only | --clang-only]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitizers="${PARKIT_SANITIZERS:-0}"
plain=1
clang=0
for arg in "$@"; do
    case "$arg" in
        --sanitizers) sanitizers=1 ;;
        --sanitizers-only) sanitizers=1; plain=0 ;;
        --clang-only) clang=1; plain=0; sanitizers=0 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown argument '$arg' (use --sanitizers, --sanitizers-only or --clang-only)" >&2; exit 2 ;;
    esac
done
jobs="$(nproc)"

echo "==> parkit: checking system packages"
bash scripts/install-deps.sh

# configure_build_test <dir> <prefix command...> -- <cmake options...> [-- <ctest options...>]
# The prefix (env vars, setarch) also wraps the build: catch_discover_tests
# runs the test binary at build time to list its test cases.
configure_build_test() {
    local dir="$1"; shift
    local prefix=()
    local options=() ctest_options=()
    while [[ "$1" != "--" ]]; do prefix+=("$1"); shift; done
    shift
    while (($# > 0)) && [[ "$1" != "--" ]]; do options+=("$1"); shift; done
    (($# > 0)) && shift
    ctest_options=("$@")
    echo "==> parkit: configuring $dir"
    cmake -S . -B "$dir" -DPARKIT_BUILD_TESTS=ON "${options[@]}" &&
    echo "==> parkit: building $dir" &&
    "${prefix[@]}" cmake --build "$dir" -j"$jobs" &&
    echo "==> parkit: testing $dir" &&
    "${prefix[@]}" ctest --test-dir "$dir" --output-on-failure -j2 "${ctest_options[@]}"
}

failed=()
if [[ "$plain" == 1 ]]; then
    configure_build_test build env -- \
        -DCMAKE_BUILD_TYPE=Release -DPARKIT_SANITIZE= || failed+=("build (Release)")
fi

if [[ "$sanitizers" == 1 ]]; then
    # TSan: -O1 with line tables, what it recommends (and half the build time of -O2 -g).
    # ASan+UBSan: -O0, a quarter of the -O1 build time (UBSan's checks make -O1 slow to
    # compile) for a suite that runs in seconds either way; nothing is optimised away.
    tsan_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")
    asan_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1 -DNDEBUG")
    # The kernels are single-threaded numerics under parallel_map: AddressSanitizer checks
    # them, ThreadSanitizer skips them (PARKIT_KERNEL_TESTS=OFF) to keep CI within its hour.
    # TSan needs a low-entropy address space; newer kernels' ASLR can make it die
    # with "unexpected memory mapping", so run it with ASLR off where possible.
    no_aslr=()
    if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
        no_aslr=(setarch "$(uname -m)" -R)
    else
        echo "parkit: warning: 'setarch -R' unavailable, running TSan with ASLR on" >&2
    fi
    # die_after_fork=0: the process backend's forked workers may start threads (a nested
    # parallel_map makes a fresh pool there); TSan refuses that by default.
    # report_thread_leaks=0: a forked worker that calls exit() would otherwise report the
    # parent's threads (which do not exist in the child) as leaked and exit with code 66.
    # TSan stays on g++: clang 14's TSan runtime calls Catch2's fatal-signal handler inside the
    # worker processes that the fault matrix crashes on purpose (they exit 66 instead of dying
    # by their signal). tests/tsan.supp: lock-order reports inside OpenMPI's shared-memory
    # transport, which parkit's code does not take part in.
    configure_build_test build-tsan "${no_aslr[@]}" \
        env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 report_thread_leaks=0 suppressions=$PWD/tests/tsan.supp" -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo "${tsan_flags[@]}" -DPARKIT_SANITIZE=thread \
        -DPARKIT_BUILD_EXAMPLES=OFF -DPARKIT_BUILD_BENCHMARKS=OFF -DPARKIT_KERNEL_TESTS=OFF \
        || failed+=("build-tsan (ThreadSanitizer)")
    # handle_segv=0 etc.: tests crash worker processes on purpose and check that the parent
    # sees the signal; ASan's own handlers would turn it into an exit code.
    configure_build_test build-asan \
        env ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo "${asan_flags[@]}" -DPARKIT_SANITIZE=address,undefined \
        -DPARKIT_BUILD_EXAMPLES=OFF -DPARKIT_BUILD_BENCHMARKS=OFF \
        || failed+=("build-asan (AddressSanitizer+UBSan)")
fi

if [[ "$clang" == 1 ]]; then
    # The same unit, kernel, MPI and compile-fail tests built by clang++ (Debian 12: clang 14
    # with libstdc++). The package, docs, layout, fuzz and second-compiler tests run in the
    # plain build only: they build their own programs, with both compilers already.
    configure_build_test build-clang env -- \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release -DPARKIT_SANITIZE= \
        -DPARKIT_BUILD_EXAMPLES=OFF -DPARKIT_BUILD_BENCHMARKS=OFF -- \
        -E '^(package|docs|other_compiler|layout|fuzz)\.' \
        || failed+=("build-clang (clang++)")
fi

if ((${#failed[@]} > 0)); then
    echo "==> parkit: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "==> parkit: all tests passed"
