#!/usr/bin/env python3
"""Run one program of the bad-free corpus and check tally's report against its header.

    run_program_test.py --library build/libtally.so --program BIN --source SRC.c
    run_program_test.py --asan --program BIN_BUILT_WITH_ASAN --source SRC.c

The program runs with LD_PRELOAD=<library> and TALLY_OPTIONS from its header (with --asan:
no preload; the program must be built with -fsanitize=address, and the options go to
ASAN_OPTIONS). Expectations come from comment lines in the source:

  TALLY-EXPECT-KIND: attempting double-free | bad-free | none        (required)
  TALLY-EXPECT-STATUS: <exit status>                                 (required)
  TALLY-EXPECT-COUNT: <number of reports>        (default 1; 0 for kind none)
  TALLY-EXPECT-THREAD: <regex for the thread, e.g. T0 or T[1-9][0-9]*>
  TALLY-EXPECT-PID: self | noted   (noted: the pid the program announces; default self)
  TALLY-EXPECT-REGEX: <regex searched in stderr>              (repeatable)
  TALLY-EXPECT-NO-REGEX: <regex that must not match stderr>   (repeatable)
  TALLY-EXPECT-FRAME: <function that must appear in the report's stack>   (repeatable;
      checked with --require-symbols, and always with --asan)
  TALLY-OPTIONS: <value for TALLY_OPTIONS>
  TALLY-TIMEOUT: <seconds>                                    (default 60)
  ASAN-EXPECT-KIND: <kind>|<kind>...   what ASan may report instead (e.g. SEGV where ASan
      itself faults); default: the same kind as tally
  ASAN-EXPECT-REGEX: <regex>   replaces the TALLY-EXPECT-REGEX lines under --asan
  ASAN-KNOWN-ISSUE: <why>   ASan itself is known to mishandle this program (e.g. it is not
      fork-safe): under --asan a failure is printed as XFAIL and does not fail the run

With --plain (only for programs of kind none) the program runs on the C library's own
malloc, to show that the clean programs are correct programs.

Besides the header, every report is checked against the report contract:
  ==<pid>==ERROR: tally: attempting double-free on 0x<addr> in thread T<n>:
  ==<pid>==ERROR: tally: attempting free on address which was not malloc()-ed: 0x<addr> in
      thread T<n>           (one line)
      #0 0x<pc> in <function> <file>:<line>   |   #0 0x<pc> (<module>+0x<offset>)
      #1 ...
  0x<addr> is located <K> bytes inside of <N>-byte region [0x<start>,0x<end>)
  SUMMARY: tally: <kind> ...
and against what the program announced on stderr (see tally_test.h): the exact pointer
passed to free, the live block it points into (for the region line), whether the program
went on after the bad free (only allowed with halt_on_error=0), and its own FAIL lines.

Exit status: 0 pass, 1 fail, 2 usage error.
"""

import argparse
import os
import re
import signal
import subprocess
import sys

KINDS = {
    "attempting double-free": {
        "error": r"attempting double-free on (?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+):",
        "summary": {"tally": "attempting double-free", "asan": "double-free"},
    },
    "bad-free": {
        "error": (r"attempting free on address which was not malloc\(\)-ed: "
                  r"(?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+)"),
        "summary": {"tally": "bad-free", "asan": "bad-free"},
    },
}
ASAN_ONLY_KINDS = {
    # ASan faults inside its own free on some wild pointers; we accept that as "the bad
    # free was reached" when the header says so.
    "SEGV": r"SEGV on unknown address",
}

REGION_RE = re.compile(r"^(?P<addr>0x[0-9a-f]+) is located (?P<offset>\d+) bytes inside of "
                       r"(?P<size>\d+)-byte region \[(?P<start>0x[0-9a-f]+),"
                       r"(?P<end>0x[0-9a-f]+)\)$")
ASAN_RIGHT_RE = re.compile(r"^(?P<addr>0x[0-9a-f]+) is located (?P<offset>\d+) bytes to the "
                           r"right of (?P<size>\d+)-byte region \[(?P<start>0x[0-9a-f]+),"
                           r"(?P<end>0x[0-9a-f]+)\)$")
ANY_REGION_RE = re.compile(r"is located \d+ bytes inside of \d+-byte region")
NOTE_BAD_FREE_RE = re.compile(r"^TALLY-TEST: bad-free ptr=(0x[0-9a-f]+) block=(0x[0-9a-f]+) "
                              r"size=(\d+)$")
NOTE_PID_RE = re.compile(r"^TALLY-TEST: report-pid=(\d+)$")
HEADER_RE = re.compile(r"^\s*(?://|/?\*)\s*((?:TALLY|ASAN)-[A-Z-]+):\s?(.*?)\s*$")
# Frames: "    #3 0x55d0c1a2 in main /src/x.c:12" or "    #3 0x55d0c1a2 (/bin/x+0x1a2)".
TALLY_FRAME_RE = re.compile(r"^    #(?P<index>\d+) 0x[0-9a-f]+ "
                            r"(?:in (?P<function>\S.*?)(?: (?P<location>\S+:\d+(?::\d+)?))?"
                            r"|\((?P<module>.+)\+0x[0-9a-f]+\))$")
ASAN_FRAME_RE = re.compile(r"^\s+#(?P<index>\d+) 0x[0-9a-f]+ "
                           r"(?:in (?P<function>\S.*?)"
                           r"(?: (?P<location>\S+:\d+(?::\d+)?|\([^()]*\+0x[0-9a-f]+\)))?"
                           r"|\((?P<module>[^()]+?)\+0x[0-9a-f]+\))(?: \(BuildId: [0-9a-f]+\))?$")

REPEATABLE = {"TALLY-EXPECT-REGEX", "TALLY-EXPECT-NO-REGEX", "TALLY-EXPECT-FRAME",
              "ASAN-EXPECT-REGEX"}
KNOWN_KEYS = REPEATABLE | {"TALLY-EXPECT-KIND", "TALLY-EXPECT-STATUS", "TALLY-EXPECT-COUNT",
                           "TALLY-EXPECT-THREAD", "TALLY-EXPECT-PID", "TALLY-OPTIONS",
                           "TALLY-TIMEOUT", "ASAN-EXPECT-KIND", "ASAN-KNOWN-ISSUE"}


class HeaderError(Exception):
    pass


def parse_header(source_path):
    header = {key: [] for key in REPEATABLE}
    with open(source_path, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            match = HEADER_RE.match(line)
            if not match:
                continue
            key, value = match.group(1), match.group(2)
            if key not in KNOWN_KEYS:
                raise HeaderError(f"{source_path}:{number}: unknown header key {key}")
            if key in REPEATABLE:
                header[key].append(value)
            elif key in header:
                raise HeaderError(f"{source_path}:{number}: {key} given twice")
            else:
                header[key] = value
    for required in ("TALLY-EXPECT-KIND", "TALLY-EXPECT-STATUS"):
        if required not in header:
            raise HeaderError(f"{source_path}: missing '{required}:' header line")
    kind = header["TALLY-EXPECT-KIND"]
    if kind != "none" and kind not in KINDS:
        raise HeaderError(f"{source_path}: TALLY-EXPECT-KIND must be one of "
                          f"{sorted(KINDS) + ['none']}, not {kind!r}")
    try:
        header["status"] = int(header["TALLY-EXPECT-STATUS"])
        header["count"] = int(header.get("TALLY-EXPECT-COUNT", "0" if kind == "none" else "1"))
        header["timeout"] = float(header.get("TALLY-TIMEOUT", "60"))
    except ValueError as error:
        raise HeaderError(f"{source_path}: {error}") from error
    if header.get("TALLY-EXPECT-PID", "self") not in ("self", "noted"):
        raise HeaderError(f"{source_path}: TALLY-EXPECT-PID must be self or noted")
    for pattern in (header["TALLY-EXPECT-REGEX"] + header["TALLY-EXPECT-NO-REGEX"] +
                    header["ASAN-EXPECT-REGEX"] + [header.get("TALLY-EXPECT-THREAD", "")]):
        try:
            re.compile(pattern)
        except re.error as error:
            raise HeaderError(f"{source_path}: bad regex {pattern!r}: {error}") from error
    return header


def parse_options(text):
    """TALLY_OPTIONS-style 'a=1:b=2' (also ',' or blanks) -> list of (name, value)."""
    options = []
    for item in re.split(r"[:,\s]+", text or ""):
        if item:
            name, _, value = item.partition("=")
            options.append((name, value))
    return options


def halts(header):
    for name, value in parse_options(header.get("TALLY-OPTIONS", "")):
        if name == "halt_on_error":
            return value not in ("0", "false", "no")
    return True


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, ok, what, expected, got):
        if not ok:
            self.failures.append((what, expected, got))
        return ok


def run_program(program, env, timeout):
    """Runs the program in its own process group; kills the whole group on timeout."""
    process = subprocess.Popen([program], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = process.communicate()
    # Reap anything the program forked and left behind in its group.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return (process.pid, process.returncode, timed_out,
            stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


def describe_status(status, timed_out, timeout):
    if timed_out:
        return f"timed out after {timeout:g}s (killed)"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"killed by {name}"
    return f"exit status {status}"


def find_reports(lines, tool):
    """Splits stderr into reports: (index of the ERROR line, lines up to its SUMMARY)."""
    starts = [i for i, line in enumerate(lines) if f"ERROR: {tool}:" in line]
    reports = []
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        block = lines[start:end]
        for offset, line in enumerate(block):
            if line.startswith(f"SUMMARY: {tool}:"):
                block = block[:offset + 1]
                break
        reports.append((start, block))
    return reports


def stack_frames(block, frame_re):
    """The first stack of a report: consecutive frame lines right after the ERROR line."""
    frames = []
    for line in block[1:]:
        match = frame_re.match(line)
        if not match:
            break
        frames.append(match)
    return frames


def frame_function(frame):
    """The function of a symbolized frame, without the trailing location."""
    text = frame.group(0).split(" in ", 1)[1]
    text = re.sub(r" \(BuildId: [0-9a-f]+\)$", "", text)
    return re.sub(r" (\S+:\d+(:\d+)?|\([^()]*\+0x[0-9a-f]+\))$", "", text)


def frame_mentions_program(frame, program, source):
    module = frame.group("module")
    if module and os.path.realpath(module) == os.path.realpath(program):
        return True
    location = frame.group("location") or ""
    if os.path.basename(source) in location:
        return True
    # "in function (module+0x...)" from ASan when no line info
    return os.path.basename(program) in location and "+0x" in location


def check_report(checks, number, block, header, kind, mode, tool, expected_pid, note, args):
    label = f"report {number}"
    error_line = block[0]
    error_re = re.compile(r"^==(?P<pid>\d+)==ERROR: " + re.escape(tool) + ": " +
                          KINDS[kind]["error"] + "$")
    match = error_re.match(error_line)
    if not checks.expect(match is not None, f"{label}: ERROR line",
                         "==<pid>==ERROR: " + tool + ": " + KINDS[kind]["error"]
                         .replace(r"(?P<addr>0x[0-9a-f]+)", "0x<addr>")
                         .replace(r"(?P<thread>T\d+)", "T<n>").replace("\\", ""),
                         error_line):
        return
    pid, addr, thread = int(match.group("pid")), int(match.group("addr"), 16), match.group("thread")
    whose = "announced" if header.get("TALLY-EXPECT-PID") == "noted" else "child"
    checks.expect(pid == expected_pid, f"{label}: pid in ==PID==",
                  f"{expected_pid} (the {whose} process)", f"{pid}")
    if "TALLY-EXPECT-THREAD" in header:
        checks.expect(re.fullmatch(header["TALLY-EXPECT-THREAD"], thread) is not None,
                      f"{label}: thread", header["TALLY-EXPECT-THREAD"], thread)
    if note is not None:
        checks.expect(addr == note["ptr"], f"{label}: address (the pointer given to free)",
                      hex(note["ptr"]), hex(addr))

    # Stack.
    frame_re = TALLY_FRAME_RE if mode == "tally" else ASAN_FRAME_RE
    frames = stack_frames(block, frame_re)
    if checks.expect(len(frames) > 0, f"{label}: stack", "'    #0 0x<pc> ...' right after the "
                     "ERROR line", block[1] if len(block) > 1 else "(nothing)"):
        indices = [int(frame.group("index")) for frame in frames]
        checks.expect(indices == list(range(len(frames))), f"{label}: frame numbering",
                      "#0, #1, #2, ...", " ".join(f"#{i}" for i in indices))
        checks.expect(any(frame_mentions_program(f, args.program, args.source) for f in frames),
                      f"{label}: stack reaches the program",
                      f"a frame in {os.path.basename(args.program)} "
                      f"({os.path.basename(args.source)})",
                      " | ".join(f.group(0).strip() for f in frames[:6]))
        if args.require_symbols or mode == "asan":
            functions = [frame_function(f) for f in frames if f.group("function")]
            for wanted in header["TALLY-EXPECT-FRAME"]:
                # C++ frames are qualified and carry their parameters:
                # "(anonymous namespace)::close_connection(Connection*)".
                wanted_re = re.compile(r"(^|::|\s)" + re.escape(wanted) + r"(\(|$)")
                checks.expect(any(wanted_re.search(f) for f in functions),
                              f"{label}: frame '{wanted}'", f"'in {wanted}' in the stack",
                              " | ".join(functions) or "(none)")

    # Region line.
    regions = [REGION_RE.match(line) for line in block]
    regions = [r for r in regions if r]
    if kind == "attempting double-free":
        expect_block, expect_size = addr, note["size"] if note else None
    elif note is not None and note["block"] != 0:
        expect_block, expect_size = note["block"], note["size"]
    else:
        expect_block, expect_size = None, None
    if expect_block is None:
        if mode == "tally":
            checks.expect(not regions, f"{label}: no region line (not inside a live block)",
                          "no 'is located K bytes inside of N-byte region' line",
                          regions[0].group(0) if regions else "")
    else:
        if mode == "asan" and not regions:
            regions = [r for r in (ASAN_RIGHT_RE.match(line) for line in block) if r]
        region_text = (f"0x{addr:x} is located {addr - expect_block} bytes inside of "
                       f"<N>-byte region [0x{expect_block:x},0x{expect_block:x}+N)"
                       + (f" with N >= {expect_size}" if expect_size is not None else ""))
        if checks.expect(len(regions) == 1, f"{label}: region line", region_text,
                         f"{len(regions)} region lines: " +
                         " | ".join(r.group(0) for r in regions)):
            region = regions[0]
            start, end = int(region.group("start"), 16), int(region.group("end"), 16)
            size, offset = int(region.group("size")), int(region.group("offset"))
            inside = "to the right" not in region.group(0)
            ok = (int(region.group("addr"), 16) == addr and start == expect_block and
                  end - start == size)
            if inside:
                ok = ok and offset == addr - start and offset < max(size, 1)
            else:  # ASan's "K bytes to the right of": addr == end + K
                ok = ok and addr == end + offset
            if expect_size is not None:
                ok = ok and size >= expect_size
            checks.expect(ok, f"{label}: region line", region_text, region.group(0))

    # Summary.
    summary = KINDS[kind]["summary"][mode]
    summaries = [line for line in block if line.startswith(f"SUMMARY: {tool}:")]
    checks.expect(len(summaries) == 1 and re.match(r"^SUMMARY: " + re.escape(tool) + ": " +
                                                   re.escape(summary) + r"(\s|$)", summaries[0]),
                  f"{label}: SUMMARY line", f"SUMMARY: {tool}: {summary} (...)",
                  summaries[0] if summaries else "(no SUMMARY line before the next report/end)")


def check(args, header):
    mode = args.mode
    tool = "AddressSanitizer" if mode == "asan" else "tally"
    kind = header["TALLY-EXPECT-KIND"]
    checks = Checks()

    env = dict(os.environ)
    for name in ("LD_PRELOAD", "TALLY_OPTIONS", "ASAN_OPTIONS"):
        env.pop(name, None)
    options = header.get("TALLY-OPTIONS", "")
    if mode == "asan":
        asan_options = ["detect_leaks=0", "allocator_may_return_null=1", "symbolize=1"]
        asan_options += [f"{n}={v}" for n, v in parse_options(options)]
        env["ASAN_OPTIONS"] = ":".join(asan_options)
    elif mode == "tally":
        env["LD_PRELOAD"] = os.path.abspath(args.library)
        if options:
            env["TALLY_OPTIONS"] = options

    child_pid, status, timed_out, stdout, stderr = run_program(args.program, env,
                                                               header["timeout"])
    lines = stderr.splitlines()

    # Exit status.
    expected_status = header["status"]
    checks.expect(not timed_out and status == expected_status, "exit status",
                  f"exit status {expected_status}",
                  describe_status(status, timed_out, header["timeout"]))

    # What the program itself said.
    for line in lines:
        if line.startswith("TALLY-TEST: FAIL") or line.startswith("TALLY-TEST: PRECONDITION"):
            checks.expect(False, "program's own checks", "no FAIL/PRECONDITION lines", line)
    notes = []
    for line in lines:
        match = NOTE_BAD_FREE_RE.match(line)
        if match:
            notes.append({"ptr": int(match.group(1), 16), "block": int(match.group(2), 16),
                          "size": int(match.group(3))})
    noted_pids = [int(m.group(1)) for m in map(NOTE_PID_RE.match, lines) if m]
    survived = sum(1 for line in lines if line == "TALLY-TEST: survived")

    asan_kinds = header.get("ASAN-EXPECT-KIND", kind).split("|")
    if mode == "asan" and kind != "none" and "SEGV" in asan_kinds:
        segv = [l for l in lines if re.search(r"ERROR: AddressSanitizer: " +
                                              ASAN_ONLY_KINDS["SEGV"], l)]
        if segv:
            # ASan fell over inside its own free: all we can check is that the bad free was
            # reached (announced) and that ASan died in its deallocation path.
            checks.failures = [f for f in checks.failures if f[0] != "exit status"]
            checks.expect(len(notes) >= 1, "bad free reached", "a 'TALLY-TEST: bad-free' note",
                          "none")
            checks.expect(any("Deallocate" in l or "free" in l for l in lines
                              if re.match(r"^\s+#[01] ", l)),
                          "ASan SEGV is inside free", "#0/#1 in ASan's free/Deallocate",
                          " | ".join(l.strip() for l in lines if re.match(r"^\s+#[01] ", l)))
            return checks, stdout, stderr, "asan-segv"

    if kind == "none":
        bad = [l for l in lines if ("ERROR" in l and f"{tool}:" in l) or
               l.startswith(f"SUMMARY: {tool}:")]
        checks.expect(not bad, "no report", f"no 'ERROR: {tool}:' / 'SUMMARY: {tool}:' line",
                      " | ".join(bad[:3]))
    else:
        reports = find_reports(lines, tool)
        expected_count = header["count"]
        checks.expect(len(reports) == expected_count, "number of reports",
                      f"exactly {expected_count} '==PID==ERROR: {tool}: ...' report(s)",
                      f"{len(reports)}: " + " | ".join(b[0] for _, b in reports[:3]))
        checks.expect(len(notes) == expected_count, "test bug? bad-free notes",
                      f"{expected_count} 'TALLY-TEST: bad-free' line(s) from the program",
                      f"{len(notes)}")
        if header.get("TALLY-EXPECT-PID") == "noted":
            expected_pid = noted_pids[-1] if noted_pids else -1
            checks.expect(bool(noted_pids), "test bug? pid note",
                          "a 'TALLY-TEST: report-pid=' line", "none")
        else:
            expected_pid = child_pid
        for number, (_, block) in enumerate(reports):
            note = notes[number] if number < len(notes) else None
            check_report(checks, number, block, header, kind, mode, tool, expected_pid, note,
                         args)
        if halts(header):
            checks.expect(survived == 0, "halted at the report",
                          "the program stops at the bad free (no 'TALLY-TEST: survived')",
                          f"{survived} 'survived' line(s): the bad free returned")
        else:
            checks.expect(survived >= 1, "went on after the report (halt_on_error=0)",
                          "'TALLY-TEST: survived' after the bad free", "none")

    patterns = header["TALLY-EXPECT-REGEX"]
    if mode == "asan" and header["ASAN-EXPECT-REGEX"]:
        patterns = header["ASAN-EXPECT-REGEX"]
    for pattern in patterns:
        checks.expect(re.search(pattern, stderr, re.MULTILINE) is not None,
                      "TALLY-EXPECT-REGEX" if mode == "tally" else "expected regex",
                      f"stderr matches /{pattern}/", "no match")
    if mode == "tally":
        for pattern in header["TALLY-EXPECT-NO-REGEX"]:
            found = re.search(pattern, stderr, re.MULTILINE)
            checks.expect(found is None, "TALLY-EXPECT-NO-REGEX",
                          f"stderr does not match /{pattern}/", found.group(0) if found else "")
    return checks, stdout, stderr, None


def tail(text, limit=120):
    lines = text.splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join(lines[:limit // 2] + [f"... ({len(lines) - limit} lines omitted) ..."] +
                     lines[-limit // 2:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", help="libtally.so to preload")
    parser.add_argument("--program", required=True, help="the compiled program")
    parser.add_argument("--source", required=True, help="its source (for the header)")
    parser.add_argument("--asan", action="store_true",
                        help="the program is built with -fsanitize=address: check ASan's "
                        "report instead of tally's (no preload)")
    parser.add_argument("--plain", action="store_true",
                        help="run a clean (kind none) program on the C library's malloc")
    parser.add_argument("--require-symbols", action="store_true",
                        help="also require the TALLY-EXPECT-FRAME functions in the stack")
    parser.add_argument("--verbose", action="store_true", help="print the output on success too")
    args = parser.parse_args()
    if args.asan and args.plain:
        parser.error("--asan and --plain exclude each other")
    args.mode = "asan" if args.asan else "plain" if args.plain else "tally"
    if args.mode == "tally" and not args.library:
        parser.error("--library is required (or --asan / --plain)")
    name = os.path.splitext(os.path.basename(args.source))[0]
    try:
        header = parse_header(args.source)
    except (HeaderError, OSError) as error:
        print(f"ERROR {name}: {error}", file=sys.stderr)
        return 2
    if args.mode == "tally" and not os.path.exists(args.library):
        print(f"FAIL {name}: library {args.library} does not exist", file=sys.stderr)
        return 1
    if args.mode == "plain" and header["TALLY-EXPECT-KIND"] != "none":
        print(f"SKIP {name} [plain]: only clean programs run on the C library's malloc")
        return 0

    checks, stdout, stderr, special = check(args, header)
    mode = args.mode
    expectation = header["TALLY-EXPECT-KIND"]
    if expectation != "none" and header["count"] != 1:
        expectation += f" x{header['count']}"
    expectation += f", status {header['status']}"
    if header.get("TALLY-OPTIONS"):
        expectation += f", options {header['TALLY-OPTIONS']}"
    if not checks.failures:
        extra = " (ASan faulted inside its free: accepted per ASAN-EXPECT-KIND)" if special else ""
        print(f"PASS {name} [{mode}]: {expectation}{extra}")
        if args.verbose:
            print(tail(stderr))
        return 0
    known_issue = header.get("ASAN-KNOWN-ISSUE") if mode == "asan" else None
    print(f"{'XFAIL' if known_issue else 'FAIL'} {name} [{mode}]: {expectation}")
    if known_issue:
        print(f"  known ASan issue: {known_issue}")
    for what, expected, got in checks.failures:
        print(f"  - {what}")
        print(f"      expected: {expected}")
        print(f"      got:      {got}")
    print("---- stderr " + "-" * 60)
    print(tail(stderr))
    if stdout.strip():
        print("---- stdout " + "-" * 60)
        print(tail(stdout, 40))
    print("-" * 72)
    return 0 if known_issue else 1


if __name__ == "__main__":
    sys.exit(main())
