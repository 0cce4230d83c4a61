#!/usr/bin/env python3
"""Run one program of the heap-bug corpus in one mode and check tally's report against its header.

    run_program_test.py --library build/libtally.so --mode safe --program BIN --source SRC.c
    run_program_test.py --asan --program BIN_BUILT_WITH_ASAN --source SRC.c
    run_program_test.py --plain --program BIN --source SRC.c
    run_program_test.py --list-modes SRC.c ...     (prints "name mode mode ..." per source)

The program runs with LD_PRELOAD=<library> and TALLY_OPTIONS=mode=<mode>:<options of the
header> (with --asan: no preload; the program must be built with -fsanitize=address, and
only halt_on_error/exitcode are passed on in ASAN_OPTIONS). Expectations come from comment
lines in the source. In fast and debug mode a program that reports runs a second time with
log_path set, and every object of log_path.PID.json must say what the text report of
log_path.PID says (kind, address, thread, access, stack functions, block, free and
allocation stacks); --no-json-check skips that.

Header keys. Any key may be qualified with the modes it applies to, KEY[mode=safe,debug]:
the modes are fast, safe, debug (tally's) and asan (validate_with_asan.py). An unqualified
key applies to every mode; a qualified single-valued key overrides it in its modes, a
qualified repeatable key adds to it.

  TALLY-EXPECT-KIND: <kind>[|<kind>...]                                  (required)
      kinds: heap-use-after-free, heap-buffer-overflow, alloc-dealloc-mismatch,
      attempting double-free, bad-free, none (no report). Alternatives: any one of them,
      e.g. none|heap-use-after-free (a sampled detection: no report, or this one).
  TALLY-EXPECT[mode=...]: <kind>      alias of TALLY-EXPECT-KIND[mode=...]
  TALLY-EXPECT-STATUS: <status>[|<status>...]  exit status or signal name (SIGSEGV)   (required)
      In a mode whose kind is none while the program's kind is not, the status is 0 unless
      given for that mode; likewise every report expectation below is dropped in such a
      mode unless it is qualified for it.
  TALLY-MODES: fast safe debug   the modes the program runs in. Default: the mode named in
      TALLY-OPTIONS (mode=debug:...) if any, else all three.
  TALLY-OPTIONS: <value added to TALLY_OPTIONS>
  TALLY-EXPECT-COUNT: <number of reports>        (default 1; 0 for kind none)
  TALLY-EXPECT-THREAD: <regex for the thread of the ERROR line (or access line), e.g. T0>
  TALLY-EXPECT-PID: self | noted   (noted: the pid the program announces; default self)
  TALLY-EXPECT-ACCESS: READ | WRITE   the report has "READ|WRITE of size S at 0x.. thread Tn"
      (the access itself was caught). Undeclared: the line may or may not be there.
  TALLY-EXPECT-FRAME / TALLY-EXPECT-ACCESS-FRAME: <function>   must appear in the first
      stack (the access stack, or where the bug was found)                  (repeatable)
  TALLY-EXPECT-FREE-FRAME: <function>    must appear in "freed by thread Tn here:"   (rep.)
  TALLY-EXPECT-ALLOC-FRAME: <function>   must appear in "(previously) allocated by thread
      Tn here:"                                                               (repeatable)
  TALLY-EXPECT-FREE-THREAD / TALLY-EXPECT-ALLOC-THREAD: <regex for the Tn of that section>
  TALLY-EXPECT-SECTIONS: free alloc | alloc | (empty)   which of the two history sections
      must be there. Default in safe, debug and asan: free+alloc for heap-use-after-free and
      double free, alloc for heap-buffer-overflow and mismatches; none in fast.
  TALLY-EXPECT-REGEX: <regex searched in stderr>              (repeatable)
  TALLY-EXPECT-NO-REGEX: <regex that must not match stderr>   (repeatable; kept in every mode)
  TALLY-TIMEOUT: <seconds>                                    (default 60)
  ASAN-EXPECT-KIND: <kind>|<kind>...   = TALLY-EXPECT-KIND[mode=asan] (also ASan-only kinds:
      SEGV where ASan itself faults, new-delete-type-mismatch)
  ASAN-EXPECT-REGEX: <regex>   replaces the TALLY-EXPECT-REGEX lines under --asan
  ASAN-KNOWN-ISSUE: <why>   ASan itself is known to mishandle this program (e.g. it is not
      fork-safe): under --asan a failure is printed as XFAIL and does not fail the run

Function names match as a word of the symbolized frame: "release" matches
"Pool<Item>::release(Item*)" and "(anonymous namespace)::release(int)". Names are required
in safe, debug and asan runs, with --require-symbols, and in fast runs whose stack is
symbolized; a fast run with raw frames (module+offset) skips them.

With --plain (only for programs that are clean in every mode) the program runs on the C
library's own malloc, to show that the clean programs are correct programs.

Besides the header, every report is checked against the report contract:
  ==<pid>==ERROR: tally: attempting double-free on 0x<addr> in thread T<n>:
  ==<pid>==ERROR: tally: attempting free on address which was not malloc()-ed: 0x<addr> in
      thread T<n>           (one line)
  ==<pid>==ERROR: tally: <kind> on address 0x<addr> in thread T<n>   (the other kinds; a
      mismatch may name the pair: alloc-dealloc-mismatch (malloc vs operator delete) on ...)
  READ|WRITE of size <S|?> at 0x<addr> thread T<n>      (only when the access was caught)
      #0 0x<pc> in <function> <file>:<line>[:<col>]   |   #0 0x<pc> (<module>+0x<offset>)
      #1 ...
  0x<addr> is located <K> bytes inside of | to the right of | to the left of <N>-byte
      region [0x<start>,0x<end>)
  freed by thread T<n> here:                  (+ stack)
  previously allocated by thread T<n> here:   (+ stack; "allocated by" for a live block)
  SUMMARY: tally: <kind> ...
The access line must be absent when the program went on after the bad access (it wrote
'TALLY-TEST: after-bad-access' before the report), and no stack may show tally's own
internals (tally::...). The report is also checked against what the program announced
on stderr (see tally_test.h): the exact pointer
passed to free and the block it points into, or the range of a bad access and its block
(for the region line: the block's start, its requested size in safe/debug/asan, where the
address lies), whether the program went on after a bad free (only allowed with
halt_on_error=0), and its own FAIL lines.

Exit status: 0 pass, 1 fail, 2 usage error.
"""

import glob
import json
import argparse
import os
import re
import signal
import subprocess
import tempfile
import sys

TALLY_MODES = ("fast", "safe", "debug")
QUALIFIER_MODES = TALLY_MODES + ("asan",)
HISTORY_MODES = ("safe", "debug", "asan")  # modes that keep free and allocation stacks

# Kinds: how the ERROR line reads for each tool, the SUMMARY word, and whether the bug is
# a bad deallocation ("free": announced with tt_note_bad_free, the call halts) or a bad
# access ("access": announced with tt_note_bad_access).
KINDS = {
    "attempting double-free": {
        "class": "free",
        "error": {
            "tally": r"attempting double-free on (?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+):",
            "asan": r"attempting double-free on (?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+):",
        },
        "summary": {"tally": "attempting double-free", "asan": "double-free"},
        "history": ("free", "alloc"),
    },
    "bad-free": {
        "class": "free",
        "error": {
            "tally": (r"attempting free on address which was not malloc\(\)-ed: "
                      r"(?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+)"),
            "asan": (r"attempting free on address which was not malloc\(\)-ed: "
                     r"(?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+)"),
        },
        "summary": {"tally": "bad-free", "asan": "bad-free"},
        "history": (),
    },
    "heap-use-after-free": {
        "class": "access",
        "error": {
            "tally": (r"heap-use-after-free on address (?P<addr>0x[0-9a-f]+) "
                      r"in thread (?P<thread>T\d+)"),
            "asan": (r"heap-use-after-free on address (?P<addr>0x[0-9a-f]+) "
                     r"at pc 0x[0-9a-f]+ bp 0x[0-9a-f]+ sp 0x[0-9a-f]+"),
        },
        "summary": {"tally": "heap-use-after-free", "asan": "heap-use-after-free"},
        "history": ("free", "alloc"),
    },
    "heap-buffer-overflow": {
        "class": "access",
        "error": {
            "tally": (r"heap-buffer-overflow on address (?P<addr>0x[0-9a-f]+) "
                      r"in thread (?P<thread>T\d+)"),
            "asan": (r"heap-buffer-overflow on address (?P<addr>0x[0-9a-f]+) "
                     r"at pc 0x[0-9a-f]+ bp 0x[0-9a-f]+ sp 0x[0-9a-f]+"),
        },
        "summary": {"tally": "heap-buffer-overflow", "asan": "heap-buffer-overflow"},
        "history": ("alloc",),
    },
    "alloc-dealloc-mismatch": {
        "class": "free",
        "error": {
            # The pair may be named, with one level of parentheses inside:
            # "(operator new (aligned) vs operator delete)".
            "tally": (r"alloc-dealloc-mismatch(?: \((?:[^()]|\([^()]*\))*\))? on address "
                      r"(?P<addr>0x[0-9a-f]+) in thread (?P<thread>T\d+)"),
            "asan": (r"alloc-dealloc-mismatch \((?:[^()]|\([^()]*\))*\) on "
                     r"(?P<addr>0x[0-9a-f]+)"),
        },
        "summary": {"tally": "alloc-dealloc-mismatch", "asan": "alloc-dealloc-mismatch"},
        "history": ("alloc",),
    },
    # A sized delete told another size than new was given (tally, ASan), or a deallocation
    # whose alignment differs from the allocation's (ASan; tally calls that pair, aligned
    # new and plain delete, alloc-dealloc-mismatch).
    "new-delete-type-mismatch": {
        "class": "free",
        "error": {
            "tally": (r"new-delete-type-mismatch on (?P<addr>0x[0-9a-f]+) in thread "
                      r"(?P<thread>T\d+):"),
            "asan": (r"new-delete-type-mismatch on (?P<addr>0x[0-9a-f]+) in thread "
                     r"(?P<thread>T\d+):"),
        },
        "summary": {"tally": "new-delete-type-mismatch", "asan": "new-delete-type-mismatch"},
        "history": ("alloc",),
    },
}
ASAN_ONLY_KINDS = {
    # ASan faults inside its own free on some wild pointers; we accept that as "the bad
    # free was reached" when the header says so.
    "SEGV": r"SEGV on unknown address",
}
ALL_KIND_NAMES = set(KINDS) | set(ASAN_ONLY_KINDS) | {"none"}

REGION_RE = re.compile(r"^(?P<addr>0x[0-9a-f]+) is located (?P<offset>\d+) bytes "
                       r"(?P<where>inside of|to the right of|to the left of) "
                       r"(?P<size>\d+)-byte region \[(?P<start>0x[0-9a-f]+),"
                       r"(?P<end>0x[0-9a-f]+)\)$")
ACCESS_RE = re.compile(r"^(?P<verb>READ|WRITE) of size (?P<size>\d+|\?) at "
                       r"(?P<addr>0x[0-9a-f]+) thread (?P<thread>T\d+)(?: .*)?$")
FREED_BY_RE = re.compile(r"^freed by thread (?P<thread>T\d+)(?: \([^()]*\))? here:$")
ALLOCATED_BY_RE = re.compile(r"^(?:previously )?allocated by thread (?P<thread>T\d+)"
                             r"(?: \([^()]*\))? here:$")
OTHER_SECTION_RE = re.compile(r"^\S.* here:$")  # e.g. ASan's "Thread T1 created by T0 here:"
NOTE_BAD_FREE_RE = re.compile(r"^TALLY-TEST: bad-free ptr=(0x[0-9a-f]+) block=(0x[0-9a-f]+) "
                              r"size=(\d+)$")
NOTE_BAD_ACCESS_RE = re.compile(r"^TALLY-TEST: bad-access addr=(0x[0-9a-f]+) len=(\d+) "
                                r"block=(0x[0-9a-f]+) size=(\d+)$")
NOTE_PID_RE = re.compile(r"^TALLY-TEST: report-pid=(\d+)$")
HEADER_RE = re.compile(r"^\s*(?://|/?\*)\s*(?P<key>(?:TALLY|ASAN)-[A-Z-]*[A-Z])"
                       r"(?:\[mode=(?P<modes>[a-z, |]+)\])?:\s?(?P<value>.*?)\s*$")
# Frames: "    #3 0x55d0c1a2 in main /src/x.c:12" or "    #3 0x55d0c1a2 (/bin/x+0x1a2)".
TALLY_FRAME_RE = re.compile(r"^    #(?P<index>\d+) 0x[0-9a-f]+ "
                            r"(?:in (?P<function>\S.*?)(?: (?P<location>\S+:\d+(?::\d+)?"
                            r"|\([^()]*\+0x[0-9a-f]+\)))?"
                            r"|\((?P<module>.+)\+0x[0-9a-f]+\))(?: \(BuildId: [0-9a-f]+\))?$")
ASAN_FRAME_RE = re.compile(r"^\s+#(?P<index>\d+) 0x[0-9a-f]+ "
                           r"(?:in (?P<function>\S.*?)"
                           r"(?: (?P<location>\S+:\d+(?::\d+)?|\([^()]*\+0x[0-9a-f]+\)))?"
                           r"|\((?P<module>[^()]+?)\+0x[0-9a-f]+\))(?: \(BuildId: [0-9a-f]+\))?$")

REPEATABLE = {"TALLY-EXPECT-REGEX", "TALLY-EXPECT-NO-REGEX", "TALLY-EXPECT-FRAME",
              "TALLY-EXPECT-ACCESS-FRAME", "TALLY-EXPECT-FREE-FRAME",
              "TALLY-EXPECT-ALLOC-FRAME", "ASAN-EXPECT-REGEX"}
SINGLE = {"TALLY-EXPECT-KIND", "TALLY-EXPECT-STATUS", "TALLY-EXPECT-COUNT",
          "TALLY-EXPECT-THREAD", "TALLY-EXPECT-PID", "TALLY-EXPECT-ACCESS",
          "TALLY-EXPECT-FREE-THREAD", "TALLY-EXPECT-ALLOC-THREAD", "TALLY-EXPECT-SECTIONS",
          "TALLY-OPTIONS", "TALLY-TIMEOUT", "TALLY-MODES", "ASAN-EXPECT-KIND",
          "ASAN-KNOWN-ISSUE"}
ALIASES = {"TALLY-EXPECT": "TALLY-EXPECT-KIND"}
# Expectations about the report itself: dropped in a mode that expects no report, unless
# they are qualified for that mode.
REPORT_KEYS = {"TALLY-EXPECT-STATUS", "TALLY-EXPECT-COUNT", "TALLY-EXPECT-THREAD",
               "TALLY-EXPECT-PID", "TALLY-EXPECT-ACCESS", "TALLY-EXPECT-FREE-THREAD",
               "TALLY-EXPECT-ALLOC-THREAD", "TALLY-EXPECT-SECTIONS", "TALLY-EXPECT-REGEX",
               "TALLY-EXPECT-FRAME", "TALLY-EXPECT-ACCESS-FRAME", "TALLY-EXPECT-FREE-FRAME",
               "TALLY-EXPECT-ALLOC-FRAME", "ASAN-EXPECT-REGEX"}
# Keys that are not expectations of a mode and cannot be qualified.
UNQUALIFIED_ONLY = {"TALLY-MODES", "TALLY-TIMEOUT", "ASAN-EXPECT-KIND", "ASAN-EXPECT-REGEX",
                    "ASAN-KNOWN-ISSUE"}
# TALLY_OPTIONS that also mean something to ASan; the others are tally's own.
ASAN_PASSTHROUGH_OPTIONS = {"halt_on_error", "exitcode"}


class HeaderError(Exception):
    pass


def parse_options(text):
    """TALLY_OPTIONS-style 'a=1:b=2' (also ',' or blanks) -> list of (name, value)."""
    options = []
    for item in re.split(r"[:,\s]+", text or ""):
        if item:
            name, _, value = item.partition("=")
            options.append((name, value))
    return options


def parse_status(text, where):
    statuses = set()
    for item in text.split("|"):
        item = item.strip()
        if re.fullmatch(r"-?\d+", item):
            statuses.add(int(item))
        elif item.startswith("SIG") and hasattr(signal, item):
            statuses.add(-int(getattr(signal, item)))
        else:
            raise HeaderError(f"{where}: bad status {item!r} (a number or a signal name)")
    return statuses


def describe_statuses(statuses):
    names = []
    for status in sorted(statuses, key=lambda s: (s < 0, abs(s))):
        if status < 0:
            try:
                names.append(signal.Signals(-status).name)
            except ValueError:
                names.append(f"signal {-status}")
        else:
            names.append(f"exit status {status}")
    return " or ".join(names)


class Header:
    """The comment header of one program: entries (key, modes or None, value)."""

    def __init__(self, source_path):
        self.path = source_path
        self.entries = []
        with open(source_path, encoding="utf-8") as source:
            for number, line in enumerate(source, 1):
                match = HEADER_RE.match(line)
                if not match:
                    continue
                where = f"{source_path}:{number}"
                key = ALIASES.get(match.group("key"), match.group("key"))
                if key not in REPEATABLE and key not in SINGLE:
                    raise HeaderError(f"{where}: unknown header key {match.group('key')}")
                modes = None
                if match.group("modes") is not None:
                    if key in UNQUALIFIED_ONLY:
                        raise HeaderError(f"{where}: {key} cannot be qualified with [mode=...]")
                    modes = tuple(m for m in re.split(r"[,| ]+", match.group("modes")) if m)
                    bad = [m for m in modes if m not in QUALIFIER_MODES]
                    if bad or not modes:
                        raise HeaderError(f"{where}: modes must be among "
                                          f"{', '.join(QUALIFIER_MODES)}, not {bad}")
                if key in SINGLE:
                    for other_key, other_modes, _, other_where in self.entries:
                        if other_key == key and (
                                (modes is None and other_modes is None) or
                                (modes and other_modes and set(modes) & set(other_modes))):
                            raise HeaderError(f"{where}: {key} given twice for the same mode "
                                              f"(first at {other_where})")
                self.entries.append((key, modes, match.group("value"), where))
        self.validate()

    def raw(self, key, mode):
        """(value, qualified?) of a single-valued key in a mode, or (None, False)."""
        unqualified = None
        for entry_key, modes, value, _ in self.entries:
            if entry_key != key:
                continue
            if modes is None:
                unqualified = value
            elif mode in modes:
                return value, True
        return unqualified, False

    def raw_list(self, key, mode, qualified_only=False):
        return [value for entry_key, modes, value, _ in self.entries
                if entry_key == key and ((modes is None and not qualified_only) or
                                         (modes is not None and mode in modes))]

    def has(self, key):
        return any(entry[0] == key for entry in self.entries)

    def base_kinds(self):
        value, _ = self.raw("TALLY-EXPECT-KIND", None)
        return [k.strip() for k in value.split("|")]

    def is_clean(self):
        """No report expected in any mode (the program can run on glibc's malloc)."""
        return all(self.expectation(mode).kinds == ["none"] for mode in TALLY_MODES)

    def modes(self):
        value, _ = self.raw("TALLY-MODES", None)
        if value is not None:
            modes = value.split()
            bad = [m for m in modes if m not in TALLY_MODES]
            if bad or not modes:
                raise HeaderError(f"{self.path}: TALLY-MODES must list modes among "
                                  f"{', '.join(TALLY_MODES)}, not {value!r}")
            if self.option_mode() is not None:
                raise HeaderError(f"{self.path}: give the modes either in TALLY-MODES or as "
                                  "mode= in TALLY-OPTIONS, not both")
            return modes
        option_mode = self.option_mode()
        return [option_mode] if option_mode else list(TALLY_MODES)

    def option_mode(self):
        value, _ = self.raw("TALLY-OPTIONS", None)
        for name, option_value in parse_options(value):
            if name == "mode":
                return option_value
        return None

    def expectation(self, mode):
        return Expectation(self, mode)

    def validate(self):
        if not self.has("TALLY-EXPECT-KIND") or self.raw("TALLY-EXPECT-KIND", None)[0] is None:
            raise HeaderError(f"{self.path}: missing 'TALLY-EXPECT-KIND:' header line")
        if not self.has("TALLY-EXPECT-STATUS") or self.raw("TALLY-EXPECT-STATUS", None)[0] is None:
            raise HeaderError(f"{self.path}: missing 'TALLY-EXPECT-STATUS:' header line")
        option_mode = self.option_mode()
        if option_mode is not None and option_mode not in TALLY_MODES:
            raise HeaderError(f"{self.path}: TALLY-OPTIONS names mode {option_mode!r}")
        for _, modes, value, _ in [e for e in self.entries if e[0] == "TALLY-OPTIONS"]:
            if modes is not None and any(n == "mode" for n, _ in parse_options(value)):
                raise HeaderError(f"{self.path}: mode= only in the unqualified TALLY-OPTIONS")
        self.modes()
        for mode in QUALIFIER_MODES:
            self.expectation(mode)  # raises on bad values


class Expectation:
    """What one run of the program in one mode must show."""

    def __init__(self, header, mode):
        self.mode = mode
        where = header.path
        kind_text, _ = header.raw("TALLY-EXPECT-KIND", mode)
        if mode == "asan" and header.raw("ASAN-EXPECT-KIND", None)[0] is not None:
            kind_text = header.raw("ASAN-EXPECT-KIND", None)[0]
        self.kinds = [k.strip() for k in kind_text.split("|")]
        for kind in self.kinds:
            if kind not in ALL_KIND_NAMES:
                raise HeaderError(f"{where}: unknown kind {kind!r} (one of "
                                  f"{', '.join(sorted(ALL_KIND_NAMES))})")
            if mode != "asan" and (kind in ASAN_ONLY_KINDS or KINDS.get(kind, {}).get("asan_only")):
                raise HeaderError(f"{where}: {kind!r} is a kind only ASan reports")
        base_kinds = header.base_kinds()
        # A mode that expects nothing of a buggy program: its report keys must be qualified.
        drop = self.kinds == ["none"] and base_kinds != ["none"]

        def single(key, default=None):
            value, qualified = header.raw(key, mode)
            if value is None or (drop and key in REPORT_KEYS and not qualified):
                return default
            return value

        def repeated(key):
            return header.raw_list(key, mode, qualified_only=drop and key in REPORT_KEYS)

        status = single("TALLY-EXPECT-STATUS")
        self.report_statuses = parse_status(status, where) if status is not None else {0}
        self.none_statuses = self.report_statuses if self.kinds == ["none"] else {0}
        try:
            default_count = "0" if self.kinds == ["none"] else "1"
            self.count = int(single("TALLY-EXPECT-COUNT", default_count))
            self.timeout = float(header.raw("TALLY-TIMEOUT", None)[0] or "60")
        except ValueError as error:
            raise HeaderError(f"{where}: {error}") from error
        self.thread = single("TALLY-EXPECT-THREAD")
        self.free_thread = single("TALLY-EXPECT-FREE-THREAD")
        self.alloc_thread = single("TALLY-EXPECT-ALLOC-THREAD")
        self.pid = single("TALLY-EXPECT-PID", "self")
        if self.pid not in ("self", "noted"):
            raise HeaderError(f"{where}: TALLY-EXPECT-PID must be self or noted")
        self.access = single("TALLY-EXPECT-ACCESS")
        if self.access not in (None, "READ", "WRITE"):
            raise HeaderError(f"{where}: TALLY-EXPECT-ACCESS must be READ or WRITE")
        sections = single("TALLY-EXPECT-SECTIONS")
        self.sections = None if sections is None else set(sections.split())
        if self.sections is not None and not self.sections <= {"free", "alloc"}:
            raise HeaderError(f"{where}: TALLY-EXPECT-SECTIONS lists free and/or alloc")
        self.frames = repeated("TALLY-EXPECT-FRAME") + repeated("TALLY-EXPECT-ACCESS-FRAME")
        self.free_frames = repeated("TALLY-EXPECT-FREE-FRAME")
        self.alloc_frames = repeated("TALLY-EXPECT-ALLOC-FRAME")
        self.regexes = repeated("TALLY-EXPECT-REGEX")
        if mode == "asan" and header.raw_list("ASAN-EXPECT-REGEX", None):
            self.regexes = header.raw_list("ASAN-EXPECT-REGEX", None)
        self.no_regexes = header.raw_list("TALLY-EXPECT-NO-REGEX", mode)
        options = [v for v in header.raw_list("TALLY-OPTIONS", mode) if v]
        self.options = ":".join(options)
        self.known_issue = header.raw("ASAN-KNOWN-ISSUE", None)[0] if mode == "asan" else None
        for pattern in (self.regexes + self.no_regexes +
                        [self.thread or "", self.free_thread or "", self.alloc_thread or ""]):
            try:
                re.compile(pattern)
            except re.error as error:
                raise HeaderError(f"{where}: bad regex {pattern!r}: {error}") from error

    def history_sections(self, kind):
        if self.sections is not None:
            return self.sections
        if self.mode not in HISTORY_MODES or kind not in KINDS:
            return set()
        sections = set(KINDS[kind]["history"])
        # Safe mode records free stacks only; allocation stacks are debug mode's.
        if self.mode == "safe":
            sections.discard("alloc")
        return sections

    def describe(self):
        text = "|".join(self.kinds)
        if self.kinds != ["none"] and self.count != 1:
            text += f" x{self.count}"
        statuses = self.report_statuses if self.kinds != ["none"] else self.none_statuses
        text += ", status " + "|".join(str(s) for s in sorted(statuses))
        if self.options:
            text += f", options {self.options}"
        return text


def halts(options):
    for name, value in parse_options(options):
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


class Report:
    """The parts of one report: access line, first stack, region line, history sections."""

    def __init__(self, block, frame_re):
        self.error = block[0]
        self.access = None
        self.first = []          # frames of the first stack
        self.sections = {}       # "free"/"alloc" -> (thread, frames)
        self.regions = []
        self.summaries = []
        self.stray = []          # lines of the first stack's area that are not frames
        current = self.first
        first_done = False
        for line in block[1:]:
            frame = frame_re.match(line)
            if frame:
                if current is not None:
                    current.append(frame)
                continue
            if current is self.first and self.first:
                first_done = True
            if not first_done and current is self.first:
                access = ACCESS_RE.match(line)
                if access and self.access is None:
                    self.access = access
                    continue
                if line.strip():
                    self.stray.append(line)
                continue
            current = None
            freed = FREED_BY_RE.match(line)
            allocated = ALLOCATED_BY_RE.match(line)
            region = REGION_RE.match(line)
            if freed:
                current = []
                self.sections.setdefault("free", (freed.group("thread"), current))
            elif allocated:
                current = []
                self.sections.setdefault("alloc", (allocated.group("thread"), current))
            elif region:
                self.regions.append(region)
            elif OTHER_SECTION_RE.match(line):
                current = []  # a stack we do not check (ASan's "Thread T1 created by")
            if line.startswith("SUMMARY: "):
                self.summaries.append(line)


def frame_function(frame):
    """The function of a symbolized frame, without the trailing location."""
    text = frame.group(0).split(" in ", 1)[1]
    text = re.sub(r" \(BuildId: [0-9a-f]+\)$", "", text)
    return re.sub(r" (\S+:\d+(:\d+)?|\([^()]*\+0x[0-9a-f]+\))$", "", text)


def function_matches(wanted, function):
    # C++ frames are qualified and carry their parameters or template arguments:
    # "(anonymous namespace)::close_connection(Connection*)", "Pool<Item>::release(Item*)".
    return re.search(r"(^|::|[\s(*&])" + re.escape(wanted) + r"($|[\s(<\[])", function) is not None


def frame_mentions_program(frame, program, source):
    module = frame.group("module")
    if module and os.path.realpath(module) == os.path.realpath(program):
        return True
    location = frame.group("location") or ""
    if os.path.basename(source) in location:
        return True
    # "in function (module+0x...)" when there is no line info
    return os.path.basename(program) in location and "+0x" in location


def check_stack(checks, label, frames, wanted_functions, strict, where, args):
    """The frames are numbered from #0 and name every wanted function."""
    indices = [int(frame.group("index")) for frame in frames]
    checks.expect(indices == list(range(len(frames))), f"{label}: frame numbering ({where})",
                  "#0, #1, #2, ...", " ".join(f"#{i}" for i in indices))
    if not wanted_functions:
        return
    functions = [frame_function(f) for f in frames if f.group("function")]
    if not strict and not any(f.group("function") and
                              frame_mentions_program(f, args.program, args.source)
                              for f in frames):
        return  # the program's frames are raw (module+offset) in a fast run: not required
    for wanted in wanted_functions:
        checks.expect(any(function_matches(wanted, f) for f in functions),
                      f"{label}: frame '{wanted}' in {where}", f"'in {wanted}' in {where}",
                      " | ".join(functions) or "(no symbolized frames)")


def check_region_for_free(checks, label, report, addr, note, kind, expectation, tool_mode):
    """Region line of a bad deallocation (double free, bad free, mismatch)."""
    regions = report.regions
    if kind in ("attempting double-free", "alloc-dealloc-mismatch", "new-delete-type-mismatch"):
        expect_block, expect_size = addr, note["size"] if note else None
    elif note is not None and note["block"] != 0:
        expect_block, expect_size = note["block"], note["size"]
    else:
        expect_block, expect_size = None, None
    exact = tool_mode in ("safe", "debug")  # M is the requested size in safe/debug
    if expect_block is None:
        if tool_mode in TALLY_MODES:
            # Not inside a live block; in safe/debug a freed (quarantined) block may be
            # described, with its history.
            allowed = tool_mode != "fast" and "free" in report.sections
            checks.expect(not regions or allowed,
                          f"{label}: no region line (not inside a live block)",
                          "no 'is located K bytes ... region' line (or, in safe/debug, one "
                          "describing a freed block followed by 'freed by thread')",
                          regions[0].group(0) if regions else "")
        return
    region_text = (f"0x{addr:x} is located {addr - expect_block} bytes inside of "
                   f"<N>-byte region [0x{expect_block:x},0x{expect_block:x}+N)"
                   + (f" with N {'==' if exact else '>='} {expect_size}"
                      if expect_size is not None else ""))
    if exact or tool_mode == "asan":
        # With the requested size as the region's size, a pointer into the slack (e.g. one
        # past the end) lies to the right of the region.
        allowed_where = ("inside of", "to the right of")
    else:
        allowed_where = ("inside of",)
    if regions and regions[0].group("where") not in allowed_where:
        checks.expect(False, f"{label}: region line", region_text, regions[0].group(0))
        return
    if checks.expect(len(regions) == 1, f"{label}: region line", region_text,
                     f"{len(regions)} region lines: " + " | ".join(r.group(0) for r in regions)):
        region = regions[0]
        start, end = int(region.group("start"), 16), int(region.group("end"), 16)
        size, offset = int(region.group("size")), int(region.group("offset"))
        ok = int(region.group("addr"), 16) == addr and end - start == size and \
            start == expect_block
        if region.group("where") == "inside of":
            ok = ok and offset == addr - start and offset < max(size, 1)
        else:  # "K bytes to the right of": addr == end + K
            ok = ok and addr == end + offset
        if expect_size is not None:
            ok = ok and (size == expect_size if exact else size >= expect_size)
        checks.expect(ok, f"{label}: region line", region_text, region.group(0))


def check_region_for_access(checks, label, report, addr, notes, kind, tool_mode):
    """Region line of a bad access: the address lies in an announced bad access, and the
    region is the announced block, on the side the kind says."""
    regions = report.regions
    if not checks.expect(len(regions) == 1, f"{label}: region line",
                         "one '0x<addr> is located K bytes <where> N-byte region [a,b)' line",
                         f"{len(regions)}: " + " | ".join(r.group(0) for r in regions)):
        return
    region = regions[0]
    start, end = int(region.group("start"), 16), int(region.group("end"), 16)
    size, offset = int(region.group("size")), int(region.group("offset"))
    where = region.group("where")
    consistent = (int(region.group("addr"), 16) == addr and end - start == size and
                  {"inside of": addr == start + offset and offset < max(size, 1),
                   "to the right of": addr == end + offset,
                   "to the left of": addr == start - offset}[where])
    checks.expect(consistent, f"{label}: region line is self-consistent",
                  f"0x{addr:x} = start + K (inside of), end + K (to the right of) or "
                  "start - K (to the left of), and N = end - start", region.group(0))
    wanted_where = ("inside of",) if kind == "heap-use-after-free" else ("to the right of",
                                                                         "to the left of")
    checks.expect(where in wanted_where, f"{label}: region line says where",
                  " or ".join(f"'bytes {w}'" for w in wanted_where), region.group(0))
    if not notes:
        return
    exact = tool_mode in ("safe", "debug", "asan")
    matching = [n for n in notes if n["block"] == start]
    announced = " | ".join(f"[0x{n['addr']:x},0x{n['addr'] + n['len']:x}) of the "
                           f"{n['size']}-byte block 0x{n['block']:x}" for n in notes)
    if checks.expect(bool(matching), f"{label}: region is the announced block",
                     f"region starting at one of: {announced}", region.group(0)):
        checks.expect(any((size == n["size"]) if exact else (size >= n["size"])
                          for n in matching),
                      f"{label}: region size (the requested size)",
                      " or ".join(f"{n['size']}" for n in matching), f"{size}")
        checks.expect(any(n["addr"] <= addr < n["addr"] + n["len"] for n in matching),
                      f"{label}: address inside the announced bad access",
                      announced, f"0x{addr:x}")


def check_report(checks, number, block, expectation, tool, expected_pid, notes, args,
                 went_on=False):
    """went_on: the program wrote 'after-bad-access' before this report, i.e. it went on
    after the bad access, so the access itself was not caught."""
    mode = args.mode  # fast/safe/debug or asan
    tool_key = "asan" if mode == "asan" else "tally"
    label = f"report {number}"
    error_line = block[0]
    match, kind = None, None
    for candidate, spec in KINDS.items():
        match = re.match(r"^==(?P<pid>\d+)==ERROR: " + re.escape(tool) + ": " +
                         spec["error"][tool_key] + "$", error_line)
        if match:
            kind = candidate
            break
    wanted_kinds = [k for k in expectation.kinds if k in KINDS]
    if not checks.expect(match is not None and kind in wanted_kinds, f"{label}: ERROR line",
                         " or ".join("==<pid>==ERROR: " + tool + ": " +
                                     KINDS[k]["error"][tool_key]
                                     .replace(r"(?P<addr>0x[0-9a-f]+)", "0x<addr>")
                                     .replace(r"(?P<thread>T\d+)", "T<n>").replace("\\", "")
                                     for k in wanted_kinds),
                         error_line):
        return
    klass = KINDS[kind]["class"]
    report = Report(block, TALLY_FRAME_RE if tool == "tally" else ASAN_FRAME_RE)
    pid, addr = int(match.group("pid")), int(match.group("addr"), 16)
    thread = match.groupdict().get("thread")
    if thread is None and report.access is not None:
        thread = report.access.group("thread")
    whose = "announced" if expectation.pid == "noted" else "child"
    checks.expect(pid == expected_pid, f"{label}: pid in ==PID==",
                  f"{expected_pid} (the {whose} process)", f"{pid}")
    if expectation.thread is not None and not (thread is None and tool_key == "asan"):
        # (ASan's mismatch reports name no thread)
        checks.expect(thread is not None and
                      re.fullmatch(expectation.thread, thread) is not None,
                      f"{label}: thread", expectation.thread, f"{thread}")
    free_notes = [n for n in notes if n["type"] == "free"]
    access_notes = [n for n in notes if n["type"] == "access"]
    note = None
    if klass == "free":
        note = free_notes[number] if number < len(free_notes) else None
        if note is not None:
            checks.expect(addr == note["ptr"], f"{label}: address (the pointer given to free)",
                          hex(note["ptr"]), hex(addr))

    # Access line: only when the access itself was caught (the program did not go on).
    if klass == "access" and went_on:
        checks.expect(report.access is None, f"{label}: no access line (found late)",
                      "no 'READ/WRITE of size' line: the program went on after the access "
                      "('TALLY-TEST: after-bad-access' came first), so the report comes from "
                      "a later check (poison, canary) and the access was not caught",
                      report.access.group(0) if report.access else "")
    if report.access is not None:
        access = report.access
        checks.expect(int(access.group("addr"), 16) == addr and
                      (tool_key == "asan" or access.group("thread") == thread),
                      f"{label}: access line", f"... at 0x{addr:x} thread {thread}",
                      access.group(0))
        # The size comes from decoding the faulting instruction; the corpus's own code (built
        # -O0) uses plain moves, which must all decode. (The C library's string functions
        # use vector forms; their size is checked by the decoder's unit test instead.)
        if tool == "tally" and report.first and frame_mentions_program(
                report.first[0], args.program, args.source):
            checks.expect(access.group("size") != "?", f"{label}: access size",
                          "READ|WRITE of size N (the faulting instruction's operand size)",
                          access.group(0))
    if expectation.access is not None:
        checks.expect(report.access is not None and
                      report.access.group("verb") == expectation.access,
                      f"{label}: access line", f"'{expectation.access} of size S at 0x{addr:x} "
                      f"thread Tn' after the ERROR line (the access itself was caught)",
                      report.access.group(0) if report.access else "(no READ/WRITE line)")

    # The first stack.
    strict = args.require_symbols or mode in HISTORY_MODES
    found_late = klass == "access" and report.access is None  # at free/quarantine/exit
    if checks.expect(len(report.first) > 0, f"{label}: stack",
                     "'    #0 0x<pc> ...' right after the ERROR (and access) line",
                     " | ".join(report.stray[:2]) or (block[1] if len(block) > 1 else "(nothing)")):
        if not found_late:
            checks.expect(any(frame_mentions_program(f, args.program, args.source)
                              for f in report.first),
                          f"{label}: stack reaches the program",
                          f"a frame in {os.path.basename(args.program)} "
                          f"({os.path.basename(args.source)})",
                          " | ".join(f.group(0).strip() for f in report.first[:6]))
        check_stack(checks, label, report.first, expectation.frames, strict, "the first stack",
                    args)

    # No stack shows the allocator's own internals (its exported entry points, like
    # ASan's "in free", may appear).
    if tool == "tally":
        stacks = [report.first] + [frames for _, frames in report.sections.values()]
        internal = [frame_function(f) for frames in stacks for f in frames
                    if f.group("function") and frame_function(f).startswith("tally::")]
        checks.expect(not internal, f"{label}: no frames of tally's internals",
                      "stacks that start at the program's call (no 'tally::' frames)",
                      " | ".join(internal[:4]))

    # History sections.
    required = expectation.history_sections(kind)
    for section, heading, wanted, wanted_thread in (
            ("free", "freed by thread Tn here:", expectation.free_frames,
             expectation.free_thread),
            ("alloc", "(previously) allocated by thread Tn here:", expectation.alloc_frames,
             expectation.alloc_thread)):
        present = section in report.sections
        if section in required:
            checks.expect(present, f"{label}: '{heading}' section", f"'{heading}' and its stack",
                          "(missing)")
        if not present:
            continue
        section_thread, frames = report.sections[section]
        if checks.expect(len(frames) > 0, f"{label}: '{heading}' stack", "frames", "(none)"):
            check_stack(checks, label, frames, wanted, strict, f"the '{heading}' stack", args)
        if wanted_thread is not None:
            checks.expect(re.fullmatch(wanted_thread, section_thread) is not None,
                          f"{label}: thread of '{heading}'", wanted_thread, section_thread)

    # Region line.
    if klass == "free":
        check_region_for_free(checks, label, report, addr, note, kind, expectation, mode)
    else:
        check_region_for_access(checks, label, report, addr, access_notes, kind, mode)

    # Summary.
    summary = KINDS[kind]["summary"][tool_key]
    summaries = [line for line in report.summaries if line.startswith(f"SUMMARY: {tool}:")]
    checks.expect(len(summaries) == 1 and re.match(r"^SUMMARY: " + re.escape(tool) + ": " +
                                                   re.escape(summary) + r"(\s|$)", summaries[0]),
                  f"{label}: SUMMARY line", f"SUMMARY: {tool}: {summary} (...)",
                  summaries[0] if summaries else "(no SUMMARY line before the next report/end)")
    return kind


# The modes whose reports the JSON check compares: their detections are deterministic, so
# a second run reports the same bugs (safe mode's guard pages are sampled).
JSON_CHECK_MODES = ("fast", "debug")
ERROR_ADDRESS_RE = re.compile(r" (?:on (?:address |unknown address )?|: )(?P<addr>0x[0-9a-f]+)"
                              r"(?: \(pc 0x[0-9a-f]+)? (?:in thread )?T(?P<thread>\d+)")


def check_json_reports(checks, args, env, expectation):
    """Runs the program again with log_path and checks that the JSON lines of
    log_path.PID.json say what the text reports of log_path.PID say: one object per report,
    with its kind, address, thread, access, stack functions, block and history."""
    with tempfile.TemporaryDirectory(prefix="tally-json-") as directory:
        prefix = os.path.join(directory, "report")
        env = dict(env)
        env["TALLY_OPTIONS"] = env["TALLY_OPTIONS"] + f":log_path={prefix}"
        run_program(args.program, env, expectation.timeout)
        texts = sorted(glob.glob(prefix + ".*[0-9]"))
        checks.expect(bool(texts), "JSON: log_path", "a report.PID file", "none")
        for text_path in texts:
            json_path = text_path + ".json"
            label = "JSON " + os.path.basename(json_path)
            with open(text_path, encoding="utf-8", errors="replace") as text_file:
                reports = [Report(block, TALLY_FRAME_RE)
                           for _, block in find_reports(text_file.read().splitlines(), "tally")]
            objects = []
            if os.path.exists(json_path):
                with open(json_path, encoding="utf-8") as json_file:
                    for number, line in enumerate(json_file):
                        try:
                            objects.append(json.loads(line))
                        except ValueError as error:
                            checks.expect(False, f"{label}: line {number + 1} is JSON", "JSON",
                                          f"{error}: {line[:120]}")
            checks.expect(len(objects) == len(reports), f"{label}: one object per report",
                          str(len(reports)), str(len(objects)))
            for number, (report, item) in enumerate(zip(reports, objects)):
                check_json_report(checks, f"{label} #{number + 1}", report, item)


def check_json_report(checks, label, report, item):
    def expect(ok, what, expected, got):
        checks.expect(ok, f"{label}: {what}", str(expected), str(got))

    expect(item.get("tool") == "tally", "tool", "tally", item.get("tool"))
    kind = item.get("kind", "")
    expect(bool(kind) and f"ERROR: tally: {kind}" in report.error, "kind", report.error, kind)
    headline = ERROR_ADDRESS_RE.search(report.error)
    if headline:
        expect(int(item.get("address", "0x0"), 16) == int(headline.group("addr"), 16),
               "address", headline.group("addr"), item.get("address"))
        expect(item.get("thread") == int(headline.group("thread")), "thread",
               headline.group("thread"), item.get("thread"))
    access = item.get("access")
    if report.access:
        size = report.access.group("size")
        expect(access is not None and access.get("type") == report.access.group("verb") and
               str(access.get("size") or "?") == size, "access",
               f"{report.access.group('verb')} of size {size}", access)
    else:
        expect(access is None, "no access", "none", access)

    def functions(frames):
        return [frame_function(f) if " in " in f.group(0) else "" for f in frames]

    def json_functions(stack):
        return [frame.get("function", "") for frame in stack or []]

    text_functions = functions(report.first)
    expect(json_functions(item.get("stack"))[:len(text_functions)] == text_functions and
           len(item.get("stack") or []) >= len(text_functions), "stack functions",
           text_functions, json_functions(item.get("stack")))
    block = item.get("block")
    if report.regions:
        region = report.regions[0]
        expect(block is not None and int(block.get("start", "0x0"), 16) ==
               int(region.group("start"), 16) and block.get("size") == int(region.group("size")),
               "block", f"[{region.group('start')}, {region.group('size')} bytes]", block)
    for section, key in (("free", "freed_by"), ("alloc", "allocated_by")):
        history = report.sections.get(section)
        entry = item.get(key)
        if history is None:
            expect(entry is None, key, "absent (no such section in the text)", entry)
            continue
        thread, frames = history
        expect(entry is not None and f"T{entry.get('thread')}" == thread and
               json_functions(entry.get("stack"))[:len(frames)] == functions(frames),
               key, f"{thread}: {functions(frames)}",
               entry and f"T{entry.get('thread')}: {json_functions(entry.get('stack'))}")


def check(args, header):
    mode = args.mode
    tool = "AddressSanitizer" if mode == "asan" else "tally"
    expectation = header.expectation("fast" if mode == "plain" else mode)
    checks = Checks()

    env = dict(os.environ)
    for name in ("LD_PRELOAD", "TALLY_OPTIONS", "ASAN_OPTIONS"):
        env.pop(name, None)
    options = expectation.options
    if mode == "asan":
        asan_options = ["detect_leaks=0", "allocator_may_return_null=1", "symbolize=1"]
        asan_options += [f"{n}={v}" for n, v in parse_options(options)
                         if n in ASAN_PASSTHROUGH_OPTIONS]
        env["ASAN_OPTIONS"] = ":".join(asan_options)
        symbolizer = "/usr/lib/llvm-14/bin/llvm-symbolizer"
        if "ASAN_SYMBOLIZER_PATH" not in env and os.path.exists(symbolizer):
            env["ASAN_SYMBOLIZER_PATH"] = symbolizer
    elif mode in TALLY_MODES:
        env["LD_PRELOAD"] = os.path.abspath(args.library)
        if header.option_mode() is None:
            options = f"mode={mode}" + (f":{options}" if options else "")
        env["TALLY_OPTIONS"] = options

    child_pid, status, timed_out, stdout, stderr = run_program(args.program, env,
                                                               expectation.timeout)
    lines = stderr.splitlines()

    # What the program itself said.
    for line in lines:
        if line.startswith("TALLY-TEST: FAIL") or line.startswith("TALLY-TEST: PRECONDITION"):
            checks.expect(False, "program's own checks", "no FAIL/PRECONDITION lines", line)
    notes = []
    for line in lines:
        match = NOTE_BAD_FREE_RE.match(line)
        if match:
            notes.append({"type": "free", "ptr": int(match.group(1), 16),
                          "block": int(match.group(2), 16), "size": int(match.group(3))})
        match = NOTE_BAD_ACCESS_RE.match(line)
        if match:
            notes.append({"type": "access", "addr": int(match.group(1), 16),
                          "len": int(match.group(2)), "block": int(match.group(3), 16),
                          "size": int(match.group(4))})
    noted_pids = [int(m.group(1)) for m in map(NOTE_PID_RE.match, lines) if m]
    survived = sum(1 for line in lines if line == "TALLY-TEST: survived")

    if mode == "asan" and "SEGV" in expectation.kinds:
        segv = [l for l in lines if re.search(r"ERROR: AddressSanitizer: " +
                                              ASAN_ONLY_KINDS["SEGV"], l)]
        if segv:
            # ASan fell over inside its own free: all we can check is that the bad free was
            # reached (announced) and that ASan died in its deallocation path.
            checks.expect(any(n["type"] == "free" for n in notes), "bad free reached",
                          "a 'TALLY-TEST: bad-free' note", "none")
            checks.expect(any("Deallocate" in l or "free" in l for l in lines
                              if re.match(r"^\s+#[01] ", l)),
                          "ASan SEGV is inside free", "#0/#1 in ASan's free/Deallocate",
                          " | ".join(l.strip() for l in lines if re.match(r"^\s+#[01] ", l)))
            return checks, stdout, stderr, "asan-segv", expectation

    reports = find_reports(lines, tool)
    report_kinds = [k for k in expectation.kinds if k != "none"]
    if "none" in expectation.kinds and (not reports or not report_kinds):
        # No report expected (or, for a sampled detection, none happened).
        checks.expect(not timed_out and status in expectation.none_statuses, "exit status",
                      describe_statuses(expectation.none_statuses),
                      describe_status(status, timed_out, expectation.timeout))
        bad = [l for l in lines if ("ERROR" in l and f"{tool}:" in l) or
               l.startswith(f"SUMMARY: {tool}:")]
        checks.expect(not bad, "no report", f"no 'ERROR: {tool}:' / 'SUMMARY: {tool}:' line",
                      " | ".join(bad[:3]))
        branch = "none"
    else:
        branch = "report"
        checks.expect(not timed_out and status in expectation.report_statuses, "exit status",
                      describe_statuses(expectation.report_statuses),
                      describe_status(status, timed_out, expectation.timeout))
        expected_count = expectation.count
        checks.expect(len(reports) == expected_count, "number of reports",
                      f"exactly {expected_count} '==PID==ERROR: {tool}: ...' report(s)",
                      f"{len(reports)}: " + " | ".join(b[0] for _, b in reports[:3]))
        free_kinds = [k for k in report_kinds if KINDS.get(k, {}).get("class") == "free"]
        access_kinds = [k for k in report_kinds if KINDS.get(k, {}).get("class") == "access"]
        free_notes = [n for n in notes if n["type"] == "free"]
        access_notes = [n for n in notes if n["type"] == "access"]
        if free_kinds and not access_kinds:
            checks.expect(len(free_notes) == expected_count, "test bug? bad-free notes",
                          f"{expected_count} 'TALLY-TEST: bad-free' line(s) from the program",
                          f"{len(free_notes)}")
        if access_kinds and not free_kinds:
            checks.expect(len(access_notes) >= 1, "test bug? bad-access notes",
                          "'TALLY-TEST: bad-access' line(s) from the program",
                          f"{len(access_notes)}")
        if expectation.pid == "noted":
            expected_pid = noted_pids[-1] if noted_pids else -1
            checks.expect(bool(noted_pids), "test bug? pid note",
                          "a 'TALLY-TEST: report-pid=' line", "none")
        else:
            expected_pid = child_pid
        went_on_at = [i for i, line in enumerate(lines) if line == "TALLY-TEST: after-bad-access"]
        noted_at = [i for i, line in enumerate(lines) if NOTE_BAD_ACCESS_RE.match(line)]
        kinds_seen = set()
        for number, (start, block) in enumerate(reports):
            # Went on after the access this report is about (the last one announced before
            # it): halt_on_error=0 programs make several, each caught or found late.
            last_note = max((i for i in noted_at if i < start), default=-1)
            went_on = any(last_note < i < start for i in went_on_at)
            kinds_seen.add(check_report(checks, number, block, expectation, tool,
                                        expected_pid, notes, args, went_on))
        if kinds_seen and kinds_seen <= {k for k in KINDS if KINDS[k]["class"] == "free"}:
            if halts(options):
                checks.expect(survived == 0, "halted at the report",
                              "the program stops at the bad free (no 'TALLY-TEST: survived')",
                              f"{survived} 'survived' line(s): the bad free returned")
            else:
                checks.expect(survived >= 1, "went on after the report (halt_on_error=0)",
                              "'TALLY-TEST: survived' after the bad free", "none")

    if (args.json_check and branch == "report" and mode in JSON_CHECK_MODES and
            "log_path=" not in options):
        check_json_reports(checks, args, env, expectation)

    if branch == "report" or expectation.kinds == ["none"]:
        for pattern in expectation.regexes:
            checks.expect(re.search(pattern, stderr, re.MULTILINE) is not None,
                          "TALLY-EXPECT-REGEX" if mode != "asan" else "expected regex",
                          f"stderr matches /{pattern}/", "no match")
    if mode != "asan":
        for pattern in expectation.no_regexes:
            found = re.search(pattern, stderr, re.MULTILINE)
            checks.expect(found is None, "TALLY-EXPECT-NO-REGEX",
                          f"stderr does not match /{pattern}/", found.group(0) if found else "")
    return checks, stdout, stderr, None, expectation


def tail(text, limit=120):
    lines = text.splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join(lines[:limit // 2] + [f"... ({len(lines) - limit} lines omitted) ..."] +
                     lines[-limit // 2:])


def list_modes(sources):
    """For CMake: one line per source, "name mode mode ..."."""
    status = 0
    for source in sources:
        name = os.path.splitext(os.path.basename(source))[0]
        try:
            print(name, *Header(source).modes())
        except (HeaderError, OSError) as error:
            print(f"ERROR {name}: {error}", file=sys.stderr)
            status = 2
    return status


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--list-modes":
        return list_modes(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", help="libtally.so to preload")
    parser.add_argument("--mode", choices=TALLY_MODES, default="fast",
                        help="tally's mode for this run (default fast)")
    parser.add_argument("--program", required=True, help="the compiled program")
    parser.add_argument("--source", required=True, help="its source (for the header)")
    parser.add_argument("--asan", action="store_true",
                        help="the program is built with -fsanitize=address: check ASan's "
                        "report instead of tally's (no preload)")
    parser.add_argument("--plain", action="store_true",
                        help="run a clean program on the C library's malloc")
    parser.add_argument("--require-symbols", action="store_true",
                        help="require the expected functions in the stacks in fast mode too")
    parser.add_argument("--no-json-check", dest="json_check", action="store_false",
                        help="skip the second run that compares the JSON reports of log_path "
                        "with the text ones (fast and debug modes)")
    parser.add_argument("--verbose", action="store_true", help="print the output on success too")
    args = parser.parse_args()
    if args.asan and args.plain:
        parser.error("--asan and --plain exclude each other")
    args.mode = "asan" if args.asan else "plain" if args.plain else args.mode
    if args.mode in TALLY_MODES and not args.library:
        parser.error("--library is required (or --asan / --plain)")
    name = os.path.splitext(os.path.basename(args.source))[0]
    try:
        header = Header(args.source)
    except (HeaderError, OSError) as error:
        print(f"ERROR {name}: {error}", file=sys.stderr)
        return 2
    if args.mode in TALLY_MODES and args.mode not in header.modes():
        print(f"ERROR {name}: does not run in mode {args.mode} (its modes: "
              f"{' '.join(header.modes())})", file=sys.stderr)
        return 2
    if args.mode in TALLY_MODES and not os.path.exists(args.library):
        print(f"FAIL {name}: library {args.library} does not exist", file=sys.stderr)
        return 1
    if args.mode == "plain" and not header.is_clean():
        print(f"SKIP {name} [plain]: only clean programs run on the C library's malloc")
        return 0
    if args.mode == "asan" and header.expectation("asan").kinds == ["none"] and \
            not header.is_clean():
        print(f"SKIP {name} [asan]: no ASan expectation")
        return 0

    checks, stdout, stderr, special, expectation = check(args, header)
    mode = args.mode
    described = expectation.describe()
    if not checks.failures:
        extra = " (ASan faulted inside its free: accepted per ASAN-EXPECT-KIND)" if special else ""
        print(f"PASS {name} [{mode}]: {described}{extra}")
        if args.verbose:
            print(tail(stderr))
        return 0
    known_issue = expectation.known_issue
    print(f"{'XFAIL' if known_issue else 'FAIL'} {name} [{mode}]: {described}")
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
