#!/usr/bin/env python3
"""Checks parkit's layer rule: which folder of include/parkit may include which.

The rule is the table between `<!-- include-rules:begin -->` and `<!-- include-rules:end -->`
in docs/architecture.md, read from there so the document and the check cannot drift. A unit
is a folder (written with a trailing `/`; it holds the headers directly in it) or a top-level
header; each row gives a unit, its layer and the units it may include. Fails (exit 1) on an
include the rule forbids, an include that does not resolve to a file, a header whose unit has
no row, and a rule that lets a unit include a unit of a higher layer. Standard library only.

  Usage: python3 scripts/check_includes.py [--root DIR]   (DIR: the repository, default ..)
         python3 scripts/check_includes.py --self-test    (a planted wrong-way include fails)
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

BEGIN, END = "<!-- include-rules:begin -->", "<!-- include-rules:end -->"
INCLUDE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<(parkit/[^>]+)>)')


def read_rule(doc):
    """{unit: (layer, {units it may include})} from the marked table of `doc`."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"check_includes: {doc} has no {BEGIN} ... {END} block")
    rule = {}
    for line in text.split(BEGIN, 1)[1].split(END, 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].isdigit():
            continue  # the header row, the separator, blank lines
        (unit,) = re.findall(r"`([^`]+)`", cells[1])
        rule[unit] = (int(cells[0]), set(re.findall(r"`([^`]+)`", cells[2])))
    return rule


def unit_of(rel):
    """The unit of a header path relative to include/parkit: its folder, or itself at the top."""
    return rel.rsplit("/", 1)[0] + "/" if "/" in rel else rel


def kind(unit):
    return "folder" if unit.endswith("/") else "header"


def check(root):
    base = (root / "include" / "parkit").resolve()
    rule = read_rule(root / "docs" / "architecture.md")
    problems = []
    for unit, (layer, allowed) in sorted(rule.items()):
        for other in sorted(allowed - {unit}):
            if other not in rule:
                problems.append(f"rule: {unit} lists {other}, which has no row")
            elif rule[other][0] > layer:
                problems.append(f"rule: {unit} (layer {layer}) lists {other}, "
                                f"of the higher layer {rule[other][0]}")
    for header in sorted(base.rglob("*.hpp")):
        rel = header.relative_to(base).as_posix()
        unit = unit_of(rel)
        if unit not in rule:
            problems.append(f"{rel}: {kind(unit)} {unit} has no row in the rule")
            continue
        for line in header.read_text().splitlines():
            m = INCLUDE.match(line)
            if not m:
                continue
            target = (header.parent / m[1]) if m[1] else (base.parent / m[2])
            target = target.resolve()
            if not target.is_file() or base not in target.parents:
                problems.append(f"{rel} -> {m[1] or m[2]}: does not resolve to a parkit header")
                continue
            to_rel = target.relative_to(base).as_posix()
            to = unit_of(to_rel)
            if to != unit and to not in rule[unit][1]:
                problems.append(f"{rel} -> {to_rel}: "
                                f"{kind(unit)} {unit} may not include {kind(to)} {to}")
    return problems


def self_test(root):
    """Copies the headers and the rule, plants a wrong-way include, expects the check to fail."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp)
        shutil.copytree(root / "include", copy / "include")
        (copy / "docs").mkdir()
        shutil.copy(root / "docs" / "architecture.md", copy / "docs")
        victim = copy / "include/parkit/detail/support/iota_range.hpp"
        victim.write_text(victim.read_text() + '\n#include "../../thread_pool.hpp"\n')
        run = subprocess.run([sys.executable, __file__, "--root", str(copy)],
                             capture_output=True, text=True)
        expected = ("detail/support/iota_range.hpp -> thread_pool.hpp: "
                    "folder detail/support/ may not include header thread_pool.hpp")
        if run.returncode != 1 or expected not in run.stdout:
            print(f"self-test FAILED: exit {run.returncode}, output:\n{run.stdout}{run.stderr}")
            return 1
    print("check_includes self-test: the planted wrong-way include was caught")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.root)
    problems = check(args.root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} violation(s) of docs/architecture.md's rule")
        return 1
    print("check_includes: every include of include/parkit follows docs/architecture.md's rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
