#!/usr/bin/env python3
"""Compiles every C++ block of README.md and docs/*.md, with each compiler given, and runs the
blocks marked runnable, checking the output they claim. Run by ctest (docs.snippets).

A block that has a `main` is compiled as it stands. Any other block is a fragment: its
`#include` lines go to the top, the rest becomes the body of `main`, after `<parkit/parkit.hpp>`
and the usual standard headers. What a fragment assumes (a `simulate` function, a `pool`) is
written in an HTML comment right above the block, which Markdown does not show:

    <!-- snippet
    double simulate(double x);        (C++ at namespace scope, before main)
    -->

Words after `<!-- snippet` change how the block is built:
    toplevel    the block goes at namespace scope (it defines functions), main stays empty
    continues   the block continues the previous block of the same file (same main)
    run         the program is built and run; every `expect: <text>` line of the comment
                must appear in what it prints (stdout and stderr)
    needs-mpi   built only when MPI's headers are given (--mpi-include)

Usage: check_doc_snippets.py --root <parkit source> --cxx g++ [--cxx clang++]
                             [--include <dir>]... [--mpi-include <dir>]... [--list]
"""

import argparse
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(cpp|c\+\+)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*snippet\b(.*)$")
STANDARD_HEADERS = ["algorithm", "chrono", "cmath", "cstddef", "cstdint", "cstdio", "fstream", "functional",
                    "iostream", "list", "map", "numeric", "random", "ranges", "span", "stdexcept",
                    "string", "thread", "utility", "vector"]
# Warnings a fragment may have because it is a fragment (values computed to be shown).
FRAGMENT_WARNINGS_OFF = ["-Wno-unused-variable", "-Wno-unused-but-set-variable",
                         "-Wno-unused-parameter", "-Wno-unused-function"]


class Block:
    """One ```cpp block: where it is, its code and the snippet comment above it."""

    def __init__(self, path, line, code, options, context, expects):
        self.path, self.line, self.code = path, line, code
        self.options, self.context, self.expects = options, context, expects

    @property
    def name(self):
        return f"{self.path}:{self.line}"


def read_directive(lines, fence_index):
    """The snippet comment ending just above the fence (blank lines allowed), if any."""
    i = fence_index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    if i < 0 or not lines[i].rstrip().endswith("-->"):
        return set(), [], []
    end = i
    while i >= 0 and not DIRECTIVE.match(lines[i].strip()):
        if lines[i].strip().startswith("<!--") or end - i > 200:
            return set(), [], []
        i -= 1
    if i < 0:
        return set(), [], []
    body = lines[i:end + 1]
    head = DIRECTIVE.match(body[0].strip()).group(1)
    body[0] = ""
    body[-1] = body[-1].rstrip()[:-3]
    if i == end:  # one-line comment: options only
        head = head.rstrip()[:-3]
        body = []
    options = set(head.split())
    context, expects = [], []
    for line in body:
        if line.strip().startswith("expect:"):
            expects.append(line.strip()[len("expect:"):].strip())
        else:
            context.append(line)
    return options, context, expects


def find_blocks(path, root):
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(root).as_posix()
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            options, context, expects = read_directive(lines, i)
            unknown = options - {"toplevel", "continues", "run", "needs-mpi"}
            if unknown:
                raise SystemExit(f"{rel}:{i + 1}: unknown snippet option(s) {sorted(unknown)}")
            blocks.append(Block(rel, i + 1, lines[i + 1:j], options, context, expects))
            i = j + 1
        else:
            i += 1
    return blocks


def program_of(block, previous):
    """The translation unit for a block (and the blocks it continues)."""
    chain = previous + [block]
    includes, context, body, toplevel = [], [], [], []
    for b in chain:
        context += b.context
        for line in b.code:
            (includes if line.lstrip().startswith("#include") else
             toplevel if "toplevel" in b.options else body).append(line)
    code = "\n".join(block.code)
    if "main(" in code and len(chain) == 1:
        return "\n".join(["#include <parkit/parkit.hpp>"] + context + block.code) + "\n", False
    head = includes + ["#include <parkit/parkit.hpp>"] + [f"#include <{h}>" for h in STANDARD_HEADERS]
    source = head + context + toplevel + ["int main() {"] + body + ["}"]
    return "\n".join(source) + "\n", True


def check(block, previous, compiler, flags, workdir):
    """Builds (and runs, if marked) one block with one compiler; returns an error text or None."""
    source, fragment = program_of(block, previous)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{block.name}_{os.path.basename(compiler)}")
    cpp = pathlib.Path(workdir) / f"{stem}.cpp"
    cpp.write_text(source, encoding="utf-8")
    command = [compiler, "-std=c++20", "-Wall", "-Wextra", "-Werror", "-pthread"] + flags
    if fragment:
        command += FRAGMENT_WARNINGS_OFF
    run = "run" in block.options
    exe = pathlib.Path(workdir) / stem
    command += [str(cpp), "-o", str(exe)] if run else ["-fsyntax-only", str(cpp)]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        return f"does not compile with {compiler}:\n{built.stdout}{built.stderr}"
    if not run:
        return None
    try:
        ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, cwd=workdir)
    except subprocess.TimeoutExpired:
        return f"built with {compiler}, but did not finish within 120 s"
    output = ran.stdout + ran.stderr
    if ran.returncode != 0:
        return f"built with {compiler}, but exited with {ran.returncode}:\n{output}"
    missing = [e for e in block.expects if e not in output]
    if missing:
        return f"built with {compiler}, but its output lacks {missing}:\n{output}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=pathlib.Path)
    parser.add_argument("--cxx", action="append", required=True)
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("--mpi-include", action="append", default=[])
    parser.add_argument("--list", action="store_true", help="list the blocks, build nothing")
    args = parser.parse_args()
    root = args.root.resolve()
    files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    jobs = []
    for path in files:
        previous = []
        for block in find_blocks(path, root):
            if "continues" not in block.options:
                previous = []
            jobs.append((block, list(previous)))
            previous.append(block)
    if args.list:
        for block, previous in jobs:
            print(block.name, " ".join(sorted(block.options)))
        return 0
    flags = [f"-I{root / 'include'}"] + [f"-I{d}" for d in args.include]
    mpi_flags = [f"-I{d}" for d in args.mpi_include]
    failures, skipped, checked = [], [], 0
    with tempfile.TemporaryDirectory(prefix="parkit-doc-snippets-") as workdir, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        pending = {}
        for block, previous in jobs:
            needs_mpi = "needs-mpi" in block.options or any(
                "parkit/mpi.hpp" in line for b in previous + [block] for line in b.code)
            if needs_mpi and not mpi_flags:
                skipped.append(block.name)
                continue
            extra = mpi_flags + ["-lmpi"] if needs_mpi and "run" in block.options else mpi_flags
            for compiler in args.cxx:
                future = pool.submit(check, block, previous, compiler, flags + extra, workdir)
                pending[future] = block
        for future, block in pending.items():
            checked += 1
            error = future.result()
            if error:
                failures.append(f"{block.name}: {error}")
    for failure in failures:
        print(f"FAIL {failure}\n", file=sys.stderr)
    for name in skipped:
        print(f"skipped (no MPI headers given): {name}")
    print(f"doc snippets: {len(jobs)} blocks, {checked} builds, {len(failures)} failed, "
          f"{len(skipped)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
