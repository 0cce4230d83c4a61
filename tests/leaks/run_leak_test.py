#!/usr/bin/env python3
"""Run one leak program in one mode and check tally's leak report against its header.

    run_leak_test.py --library build/libtally.so --mode debug --program BIN --source SRC.c
    run_leak_test.py --list-modes SRC.c ...      (prints "name mode mode ..." per source)

The program runs with LD_PRELOAD=<library> and
TALLY_OPTIONS=mode=<mode>:log_path=<dir>/report:<LEAK-OPTIONS>, so every report goes to
report.PID (text) and report.PID.json (one JSON object per line); the runner reads both.
In debug mode mark_threads=2 comes before LEAK-OPTIONS: the heaps here are far too small
for the automatic count to start a helper thread, and nearly every program runs in debug
mode, so that is where the helpers' part of the mark (roots in their thread descriptors,
work shared between threads) is tested; the other modes mark with the automatic count.

Header keys (comment lines in the source). KEY[mode=fast,safe] applies to those modes only
and replaces the unqualified value (for LEAK-EXPECT: the whole list) in them.

  LEAK-MODES: debug fast ...      modes to run in (default: debug)
  LEAK-OPTIONS: a=1:b=2           added to TALLY_OPTIONS ({source_dir} is replaced)
  LEAK-EXPECT: <direct|indirect> <bytes> <objects> [<function> ...]        (repeatable)
      One group of the report: "Direct leak of <bytes> byte(s) in <objects> object(s)",
      whose allocation stack names every function given (as a word of a symbolized
      frame). The groups of the report must be exactly those listed, in any order.
  LEAK-EXPECT: none               no leak report at all
  LEAK-EXPECT-STATUS: <status>    exit status (default 23 when leaks are expected at exit,
      else 0)
  LEAK-EXPECT-REGEX: <regex>      must match the report text               (repeatable)
  LEAK-EXPECT-NO-REGEX: <regex>   must not match the report text or stderr (repeatable)
  LEAK-REPORT-TO: stderr          no log_path: the report is read from the program's stderr
      (and there is no JSON to check)

Every run must also: print 'TALLY-LEAK-TEST: OK' on stdout and no 'TALLY-LEAK-TEST: FAIL'
line (the programs check what tally_check_leaks returns); write no heap-bug report; have a
SUMMARY line whose bytes and allocations are the sums of its direct and indirect groups;
and have one JSON "leak" object per group with the same kind, bytes and objects, and a
"leak-summary" object with the SUMMARY's numbers.

Exit status: 0 pass, 1 fail, 2 usage error.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

MODES = ("fast", "safe", "debug")
HEADER_RE = re.compile(r"^\s*(?://|/?\*)\s*(?P<key>LEAK-[A-Z-]*[A-Z])"
                       r"(?:\[mode=(?P<modes>[a-z, ]+)\])?:\s?(?P<value>.*?)\s*$")
GROUP_RE = re.compile(r"^(?P<kind>Direct|Indirect) leak of (?P<bytes>\d+) byte\(s\) in "
                      r"(?P<objects>\d+) object\(s\) (?P<rest>.*)$")
SUMMARY_RE = re.compile(r"^SUMMARY: tally: (?P<bytes>\d+) byte\(s\) leaked in "
                        r"(?P<objects>\d+) allocation\(s\)\.$")
FRAME_RE = re.compile(r"^    #\d+ 0x[0-9a-f]+ (?:in (?P<function>.+?)(?: \S+:\d+(?::\d+)?| \(.*\))?)?"
                      r"(?: \(.*\))?$")
REPEATABLE = {"LEAK-EXPECT", "LEAK-EXPECT-REGEX", "LEAK-EXPECT-NO-REGEX"}
SINGLE = {"LEAK-MODES", "LEAK-OPTIONS", "LEAK-EXPECT-STATUS", "LEAK-REPORT-TO"}


class HeaderError(Exception):
    pass


def read_header(path):
    entries = []
    with open(path, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            match = HEADER_RE.match(line)
            if not match:
                continue
            key = match.group("key")
            if key not in REPEATABLE and key not in SINGLE:
                raise HeaderError(f"{path}:{number}: unknown key {key}")
            modes = None
            if match.group("modes"):
                modes = tuple(m for m in re.split(r"[, ]+", match.group("modes")) if m)
                if any(m not in MODES for m in modes):
                    raise HeaderError(f"{path}:{number}: modes must be among {MODES}")
            entries.append((key, modes, match.group("value")))
    if not any(key == "LEAK-EXPECT" for key, _, _ in entries):
        raise HeaderError(f"{path}: no LEAK-EXPECT line")
    return entries


def values(entries, key, mode):
    qualified = [v for k, m, v in entries if k == key and m and mode in m]
    if qualified:
        return qualified
    return [v for k, m, v in entries if k == key and m is None]


def modes_of(entries, path):
    listed = values(entries, "LEAK-MODES", None)
    modes = listed[0].split() if listed else ["debug"]
    if any(m not in MODES for m in modes):
        raise HeaderError(f"{path}: LEAK-MODES must list modes among {MODES}")
    return modes


def parse_expected(lines, path):
    if lines == ["none"]:
        return []
    groups = []
    for line in lines:
        fields = line.split()
        if len(fields) < 3 or fields[0] not in ("direct", "indirect"):
            raise HeaderError(f"{path}: bad LEAK-EXPECT {line!r}")
        groups.append((fields[0], int(fields[1]), int(fields[2]), fields[3:]))
    return groups


def parse_report(text):
    """Groups (kind, bytes, objects, [functions]) and the SUMMARY (bytes, objects)."""
    groups, summary, current = [], None, None
    for line in text.splitlines():
        match = GROUP_RE.match(line)
        if match:
            current = [match.group("kind").lower(), int(match.group("bytes")),
                       int(match.group("objects")), []]
            groups.append(current)
            continue
        match = SUMMARY_RE.match(line)
        if match:
            summary = (int(match.group("bytes")), int(match.group("objects")))
            current = None
            continue
        if current is not None:
            frame = FRAME_RE.match(line)
            if frame:
                if frame.group("function"):
                    current[3].append(frame.group("function"))
            elif line.strip() == "":
                current = None
    return [tuple(g) for g in groups], summary


def names_function(functions, name):
    word = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")
    return any(word.search(function) for function in functions)


def match_groups(expected, found):
    """Pairs every expected group with a distinct found one; returns the problems."""
    problems, remaining = [], list(found)
    for kind, size, objects, functions in expected:
        pick = None
        for candidate in remaining:
            if candidate[:3] == (kind, size, objects) and all(
                    names_function(candidate[3], f) for f in functions):
                pick = candidate
                break
        if pick is None:
            problems.append(f"expected group missing: {kind} leak of {size} byte(s) in "
                            f"{objects} object(s) naming {' '.join(functions) or '-'}")
        else:
            remaining.remove(pick)
    for kind, size, objects, functions in remaining:
        problems.append(f"unexpected group: {kind} leak of {size} byte(s) in {objects} "
                        f"object(s), stack {functions[:4]}")
    return problems


def check_json(records, groups, summaries):
    problems, leaks, totals = [], [], []
    for name, number, line in records:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{name}:{number}: not JSON ({error})")
            continue
        if record.get("kind") == "leak":
            leaks.append(("direct" if record.get("direct") else "indirect",
                          record.get("bytes"), record.get("objects")))
        elif record.get("kind") == "leak-summary":
            totals.append((record.get("bytes"), record.get("allocations")))
    if sorted(leaks) != sorted(g[:3] for g in groups):
        problems.append(f"JSON leak objects {sorted(leaks)} differ from the text's groups "
                        f"{sorted(g[:3] for g in groups)}")
    if sorted(totals) != sorted(summaries):
        problems.append(f"JSON summaries {totals} differ from the text's {summaries}")
    return problems


def run(args):
    entries = read_header(args.source)
    mode = args.mode
    expected = parse_expected(values(entries, "LEAK-EXPECT", mode), args.source)
    status_values = values(entries, "LEAK-EXPECT-STATUS", mode)
    expected_status = int(status_values[0]) if status_values else (23 if expected else 0)
    source_dir = os.path.dirname(os.path.abspath(args.source))
    options = (values(entries, "LEAK-OPTIONS", mode) or [""])[0].replace("{source_dir}", source_dir)
    with tempfile.TemporaryDirectory(prefix="tally-leak-") as scratch:
        report_prefix = os.path.join(scratch, "report")
        to_stderr = (values(entries, "LEAK-REPORT-TO", mode) or ["log"])[0] == "stderr"
        tally_options = (f"mode={mode}" + ("" if to_stderr else f":log_path={report_prefix}") +
                         (":mark_threads=2" if mode == "debug" else "") +
                         (f":{options}" if options else ""))
        environment = dict(os.environ, LD_PRELOAD=args.library, TALLY_OPTIONS=tally_options,
                           LEAK_TEST_DIR=scratch)
        try:
            completed = subprocess.run([args.program], env=environment, capture_output=True,
                                       text=True, timeout=args.timeout, cwd=scratch)
        except subprocess.TimeoutExpired:
            print(f"FAIL {os.path.basename(args.program)} [{mode}]: timed out")
            return 1
        text_paths = sorted(p for p in glob.glob(report_prefix + ".*") if not p.endswith(".json"))
        json_paths = sorted(glob.glob(report_prefix + ".*.json"))
        report = "".join(open(p, encoding="utf-8", errors="replace").read() for p in text_paths)
        if to_stderr:
            report = completed.stderr
        json_records = []
        for path in json_paths:
            with open(path, encoding="utf-8") as lines:
                json_records += [(os.path.basename(path), number, line)
                                 for number, line in enumerate(lines, 1)]

    problems = []
    status = completed.returncode
    if status != expected_status:
        problems.append(f"exit status {status}, expected {expected_status}")
    if "TALLY-LEAK-TEST: OK" not in completed.stdout:
        problems.append("the program did not print 'TALLY-LEAK-TEST: OK'")
    for line in completed.stdout.splitlines() + completed.stderr.splitlines():
        if "TALLY-LEAK-TEST: FAIL" in line:
            problems.append(line.strip())
    for line in report.splitlines():
        if "ERROR: tally:" in line and "detected memory leaks" not in line:
            problems.append(f"a heap-bug report: {line.strip()}")
    if expected == [] and not to_stderr:
        # A clean run writes nothing, so it leaves no log file behind (a shell script's
        # processes used to leave one empty file each).
        leftovers = [os.path.basename(p) for p in text_paths + json_paths]
        if leftovers:
            problems.append(f"no leak expected, yet log files were created: {leftovers}")
    groups, _ = parse_report(report)
    summaries = [(int(m.group("bytes")), int(m.group("objects")))
                 for m in (SUMMARY_RE.match(l) for l in report.splitlines()) if m]
    problems += match_groups(expected, groups)
    if groups:
        total = (sum(g[1] for g in groups), sum(g[2] for g in groups))
        if (sum(s[0] for s in summaries), sum(s[1] for s in summaries)) != total:
            problems.append(f"SUMMARY lines {summaries} do not add up to the groups {total}")
    elif summaries:
        problems.append(f"SUMMARY without any group: {summaries}")
    if not to_stderr:
        problems += check_json(json_records, groups, summaries)
    for pattern in values(entries, "LEAK-EXPECT-REGEX", mode):
        if not re.search(pattern, report, re.MULTILINE):
            problems.append(f"report does not match {pattern!r}")
    for pattern in values(entries, "LEAK-EXPECT-NO-REGEX", mode):
        if re.search(pattern, report + completed.stderr, re.MULTILINE):
            problems.append(f"report or stderr matches {pattern!r}")

    name = os.path.basename(args.program)
    if not problems:
        print(f"PASS {name} [{mode}]: {len(groups)} group(s), status {status}")
        return 0
    print(f"FAIL {name} [{mode}]:")
    for problem in problems:
        print(f"  - {problem}")
    print("---- report ----")
    print(report[-6000:] if report else "(none)")
    print("---- stdout ----")
    print(completed.stdout[-2000:])
    print("---- stderr ----")
    print(completed.stderr[-4000:])
    return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library")
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--program")
    parser.add_argument("--source")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--list-modes", nargs="+", metavar="SOURCE")
    args = parser.parse_args()
    try:
        if args.list_modes:
            for source in args.list_modes:
                name = os.path.splitext(os.path.basename(source))[0]
                print(name, " ".join(modes_of(read_header(source), source)))
            return 0
        if not (args.library and args.mode and args.program and args.source):
            parser.error("--library, --mode, --program and --source are required")
        return run(args)
    except HeaderError as error:
        print(f"header error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
