#!/usr/bin/env bash
# Builds parkit's libFuzzer targets (tests/fuzz/fuzz_<name>.cpp) with clang++ and runs each for
# a bounded time, seeded from tests/fuzz/corpus/<name>/ (read only: new inputs go to the build
# directory). Exits non-zero when a target crashes, leaks, over-reads, throws anything but a
# clean parse error, or amplifies: one allocation over PARKIT_FUZZ_MALLOC_LIMIT_MB (default 32)
# or a resident size over PARKIT_FUZZ_RSS_LIMIT_MB (default 1024) from inputs of at most 4 KB
# (libFuzzer's -malloc_limit_mb / -rss_limit_mb); the input is saved as crash-* / oom-* there.
#   Usage: bash tests/fuzz/run_fuzzers.sh [seconds per target, default 60] [name ...]
#          bash tests/fuzz/run_fuzzers.sh --write-corpus [name ...]   (rewrites the seed corpora:
#          each target compiled with -DPARKIT_FUZZ_WRITE_CORPUS writes valid encodings)
#   Environment: PARKIT_FUZZ_CXX (compiler, default clang++ or clang++-14),
#                PARKIT_FUZZ_BUILD_DIR (default build/fuzz), PARKIT_FUZZ_MALLOC_LIMIT_MB,
#                PARKIT_FUZZ_RSS_LIMIT_MB (see above), PARKIT_FUZZ_REQUIRED=1 (fail
#                instead of skipping when no clang++ with libFuzzer is installed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
write_corpus=0
if [[ "${1:-}" == "--write-corpus" ]]; then
    write_corpus=1
    shift
    seconds=0
else
    seconds="${1:-60}"
    shift || true
fi
build="${PARKIT_FUZZ_BUILD_DIR:-$root/build/fuzz}"
malloc_limit_mb="${PARKIT_FUZZ_MALLOC_LIMIT_MB:-32}"
rss_limit_mb="${PARKIT_FUZZ_RSS_LIMIT_MB:-1024}"

cxx="${PARKIT_FUZZ_CXX:-}"
if [[ -z "$cxx" ]]; then
    for candidate in clang++ clang++-14; do
        if command -v "$candidate" >/dev/null 2>&1; then cxx="$candidate"; break; fi
    done
fi
skip() {
    echo "parkit fuzz: $1; fuzzing skipped (apt-get install clang libclang-rt-14-dev)" >&2
    [[ "${PARKIT_FUZZ_REQUIRED:-0}" == 1 ]] && exit 1
    exit 0
}
[[ -n "$cxx" ]] || skip "no clang++ found"

mkdir -p "$build"
includes=(-I"$root/include")
[[ -d /usr/include/eigen3 ]] && includes+=(-isystem /usr/include/eigen3)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined "${includes[@]}")

targets=("$@")
if ((${#targets[@]} == 0)); then
    for source in "$here"/fuzz_*.cpp; do
        name="$(basename "$source" .cpp)"
        targets+=("${name#fuzz_}")
    done
fi

failed=()
for name in "${targets[@]}"; do
    source="$here/fuzz_$name.cpp"
    binary="$build/fuzz_$name"
    # A target may name a header it needs ("fuzz-requires: include/..."): skipped without it.
    required="$(sed -n 's|^.*fuzz-requires: *\([^ ]*\).*$|\1|p' "$source" | head -n 1)"
    if [[ -n "$required" && ! -e "$root/$required" ]]; then
        echo "parkit fuzz: $name skipped: $required does not exist in this tree"
        continue
    fi
    if [[ "$write_corpus" == 1 ]]; then
        "$cxx" -std=c++20 -O1 -DPARKIT_FUZZ_WRITE_CORPUS "${includes[@]}" "$source" -o "$binary-write-corpus"
        rm -rf "$here/corpus/$name"
        "$binary-write-corpus" "$here/corpus/$name"
        echo "parkit fuzz: wrote $(ls "$here/corpus/$name" | wc -l) seeds to tests/fuzz/corpus/$name"
        continue
    fi
    if ! "$cxx" "${flags[@]}" "$source" -o "$binary" 2>"$build/fuzz_$name.build.log"; then
        if grep -q "libclang_rt.fuzzer\|fuzzer-no-link\|cannot find -l" "$build/fuzz_$name.build.log"; then
            skip "$cxx cannot link libFuzzer"
        fi
        cat "$build/fuzz_$name.build.log" >&2
        failed+=("$name (build)")
        continue
    fi
    work="$build/corpus-$name"
    mkdir -p "$work" "$here/corpus/$name"
    echo "parkit fuzz: running $name for ${seconds}s (seeds: $(ls "$here/corpus/$name" | wc -l))"
    log="$build/fuzz_$name.log"
    if ASAN_OPTIONS="allocator_may_return_null=0:detect_leaks=1" \
       UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
       "$binary" -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -malloc_limit_mb="$malloc_limit_mb" -max_len=4096 \
                 -timeout=10 -print_final_stats=1 -artifact_prefix="$build/$name-" \
                 "$work" "$here/corpus/$name" >"$log" 2>&1; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
        rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
        echo "parkit fuzz: $name OK: ${runs:-?} inputs in ${seconds}s (${rate:-?}/s), corpus $(ls "$work" | wc -l) new + $(ls "$here/corpus/$name" | wc -l) seeds"
    else
        tail -n 60 "$log" >&2
        echo "parkit fuzz: $name FAILED; the input is in $build/$name-*" >&2
        failed+=("$name")
    fi
done
if ((${#failed[@]} > 0)); then
    echo "parkit fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
