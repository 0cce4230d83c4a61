#!/usr/bin/env python3
"""Self-test of run_program_test.py against the report contract of the safe and debug modes.

    tests/programs/runner_selftest.py [--verbose]

The library does not write these reports yet, so the runner's parser for them is tested
here on fake programs: small Python scripts that print a report in the contract's layout
(with their own pid and the addresses they announce) and exit like the library would.
Each case states whether the runner must pass it (0), fail it (1) or reject the header
(2). A wrong report must fail for the reason the case names. Needs no library: the fake
programs run with LD_PRELOAD set to the C library's libm, which changes nothing.
"""

import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "run_program_test.py")
HARMLESS_PRELOAD = next((p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6",
                                     "/lib64/libm.so.6") if os.path.exists(p)), None)

BLOCK = 0x7F3A5C001000
SEP = "=" * 65

UAF_WRITE_HEADER = """\
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS[mode=debug,asan]: WRITE
// TALLY-EXPECT-ACCESS-FRAME[mode=debug,asan]: on_write_complete
// TALLY-EXPECT-FREE-FRAME: close_stream
// TALLY-EXPECT-ALLOC-FRAME: open_stream
"""

UAF_READ_HEADER = """\
// TALLY-EXPECT-KIND: heap-use-after-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT[mode=safe]: none|heap-use-after-free
// TALLY-EXPECT-ACCESS: READ
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: audit_logout
// TALLY-EXPECT-FREE-FRAME: end_session
// TALLY-EXPECT-ALLOC-FRAME: start_session
"""

OVERFLOW_HEADER = """\
// TALLY-EXPECT-KIND: heap-buffer-overflow
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast]: none
// TALLY-EXPECT-REGEX: is located 0 bytes to the right of 37-byte region
// TALLY-EXPECT-ACCESS-FRAME: register_user
// TALLY-EXPECT-ALLOC-FRAME: copy_name
"""

MISMATCH_HEADER = """\
// TALLY-EXPECT-KIND: alloc-dealloc-mismatch
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT[mode=fast,safe]: none
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: close_config
// TALLY-EXPECT-ALLOC-FRAME: config_load
"""

DOUBLE_FREE_HEADER = """\
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-ACCESS-FRAME: cleanup_connection
// TALLY-EXPECT-FREE-FRAME: reject_request
// TALLY-EXPECT-ALLOC-FRAME: parse_request
// TALLY-EXPECT-FREE-THREAD: T1
"""


def frames(*functions, source="case.c"):
    return [f"    #{i} 0x55d0c1a2{i:04x} in {f} /src/{source}:{10 + i}:3"
            for i, f in enumerate(functions)]


def report(kind_line, first, region, freed=None, allocated=None, access=None,
           summary="heap-use-after-free /src/case.c:12:3 in f", freed_thread="T0",
           allocated_heading="previously allocated by thread T0 here:"):
    lines = [SEP, "==@PID@==ERROR: tally: " + kind_line]
    if access:
        lines.append(access)
    lines += first + ["", region]
    if freed is not None:
        lines += [f"freed by thread {freed_thread} here:"] + freed + [""]
    if allocated is not None:
        lines += [allocated_heading] + allocated + [""]
    lines += [f"SUMMARY: tally: {summary}"]
    return lines


def uaf_write_safe(**changes):
    addr = BLOCK + 4
    args = dict(
        kind_line=f"heap-use-after-free on address {addr:#x} in thread T0",
        first=frames("check_quarantine", "__run_exit_handlers", "exit"),
        region=f"{addr:#x} is located 4 bytes inside of 64-byte region "
               f"[{BLOCK:#x},{BLOCK + 64:#x})",
        freed=frames("free", "close_stream", "main"),
        allocated=frames("calloc", "open_stream", "main"))
    args.update(changes)
    notes = [f"TALLY-TEST: bad-access addr={addr:#x} len=4 block={BLOCK:#x} size=64",
             "TALLY-TEST: after-bad-access"]  # the program went on: found at exit
    return notes, report(**args)


def uaf_read_debug(verb="READ", addr=None, **changes):
    addr = BLOCK + 8 if addr is None else addr
    args = dict(
        kind_line=f"heap-use-after-free on address {addr:#x} in thread T0",
        access=f"{verb} of size 4 at {addr:#x} thread T0",
        first=frames("audit_logout", "main"),
        region=f"{addr:#x} is located {addr - BLOCK} bytes inside of 48-byte region "
               f"[{BLOCK:#x},{BLOCK + 48:#x})",
        freed=frames("free", "end_session", "main"),
        allocated=frames("malloc", "start_session", "main"))
    args.update(changes)
    notes = [f"TALLY-TEST: bad-access addr={BLOCK + 8:#x} len=4 block={BLOCK:#x} size=48"]
    return notes, report(**args)


def overflow_safe(size=37):
    addr = BLOCK + 37
    notes = [f"TALLY-TEST: bad-access addr={addr:#x} len=1 block={BLOCK:#x} size=37"]
    where = (f"{addr - BLOCK - size} bytes to the right of" if addr >= BLOCK + size else
             f"{addr - BLOCK} bytes inside of")
    return notes, report(
        kind_line=f"heap-buffer-overflow on address {addr:#x} in thread T0",
        first=frames("free", "register_user", "main"),
        region=f"{addr:#x} is located {where} {size}-byte region [{BLOCK:#x},{BLOCK + size:#x})",
        allocated=frames("malloc", "copy_name", "register_user", "main"),
        summary="heap-buffer-overflow /src/case.c:20:3 in register_user")


def mismatch_debug(allocated_heading="allocated by thread T0 here:"):
    notes = [f"TALLY-TEST: bad-free ptr={BLOCK:#x} block={BLOCK:#x} size=72"]
    return notes, report(
        kind_line=f"alloc-dealloc-mismatch (operator new [] (aligned) vs operator delete) on "
                  f"address {BLOCK:#x} in thread T0",
        first=frames("operator delete(void*, unsigned long)",
                     "(anonymous namespace)::close_config(config*)", "main", source="case.cc"),
        region=f"{BLOCK:#x} is located 0 bytes inside of 72-byte region "
               f"[{BLOCK:#x},{BLOCK + 72:#x})",
        allocated=frames("malloc", "config_load", "main", source="case.cc"),
        allocated_heading=allocated_heading,
        summary="alloc-dealloc-mismatch /src/case.cc:40:3 in close_config")


def double_free_safe(with_alloc=True):
    notes = [f"TALLY-TEST: bad-free ptr={BLOCK:#x} block={BLOCK:#x} size=88"]
    return notes, report(
        kind_line=f"attempting double-free on {BLOCK:#x} in thread T0:",
        first=frames("free", "cleanup_connection", "main"),
        region=f"{BLOCK:#x} is located 0 bytes inside of 88-byte region "
               f"[{BLOCK:#x},{BLOCK + 88:#x})",
        freed=frames("free", "reject_request", "worker"), freed_thread="T1",
        allocated=frames("malloc", "parse_request", "main") if with_alloc else None,
        summary="attempting double-free /src/case.c:30:3 in cleanup_connection")


def without(lines, text):
    return [line for line in lines if text not in line]


# (name, header, mode, notes and report lines or None, exit status, expected runner result);
# a failing case must fail with the reason REASONS gives.
CASES = [
    ("safe write-after-free found at exit", UAF_WRITE_HEADER, "safe", uaf_write_safe(), 1, 0),
    ("safe write-after-free without 'freed by'", UAF_WRITE_HEADER, "safe",
     uaf_write_safe(freed=None), 1, 1),
    ("safe write-after-free naming the wrong free function", UAF_WRITE_HEADER, "safe",
     uaf_write_safe(freed=frames("free", "close_file", "main")), 1, 1),
    ("safe write-after-free with the wrong exit status", UAF_WRITE_HEADER, "safe",
     uaf_write_safe(), 0, 1),
    ("safe write-after-free found at exit but claiming the access", UAF_WRITE_HEADER, "safe",
     uaf_write_safe(access=f"WRITE of size ? at {BLOCK + 4:#x} thread T0"), 1, 1),
    ("safe write-after-free whose stack shows tally's internals", UAF_WRITE_HEADER, "safe",
     uaf_write_safe(first=frames("tally::stack_capture(unsigned long*, int, unsigned long)",
                                 "__run_exit_handlers", "exit")), 1, 1),
    ("debug write-after-free needs the access line", UAF_WRITE_HEADER, "debug",
     uaf_write_safe(first=frames("on_write_complete", "main")), 1, 1),
    ("debug read-after-free caught at the access", UAF_READ_HEADER, "debug", uaf_read_debug(),
     1, 0),
    ("debug read-after-free reported as a WRITE", UAF_READ_HEADER, "debug",
     uaf_read_debug(verb="WRITE"), 1, 1),
    ("debug read-after-free at an address never accessed", UAF_READ_HEADER, "debug",
     uaf_read_debug(addr=BLOCK + 32), 1, 1),
    ("debug read-after-free without the access function", UAF_READ_HEADER, "debug",
     uaf_read_debug(first=frames("main")), 1, 1),
    ("fast read-after-free: nothing", UAF_READ_HEADER, "fast", None, 0, 0),
    ("fast read-after-free: a report where none is expected", UAF_READ_HEADER, "fast",
     uaf_read_debug(), 1, 1),
    ("safe read-after-free, sampled: not caught", UAF_READ_HEADER, "safe", None, 0, 0),
    ("safe read-after-free, sampled: caught", UAF_READ_HEADER, "safe", uaf_read_debug(), 1, 0),
    ("safe overflow found by the canary", OVERFLOW_HEADER, "safe", overflow_safe(), 1, 0),
    ("safe overflow describing the size class, not the request", OVERFLOW_HEADER, "safe",
     overflow_safe(size=48), 1, 1),
    ("debug mismatch, C++ names, 'allocated by'", MISMATCH_HEADER, "debug", mismatch_debug(), 1, 0),
    ("debug mismatch, 'previously allocated by'", MISMATCH_HEADER, "debug",
     mismatch_debug("previously allocated by thread T0 here:"), 1, 0),
    ("debug mismatch without its allocation stack", MISMATCH_HEADER, "debug",
     (mismatch_debug()[0], without(mismatch_debug()[1], "allocated by")), 1, 1),
    ("safe mismatch: not checked", MISMATCH_HEADER, "safe", None, 0, 0),
    ("safe double free with its history", DOUBLE_FREE_HEADER, "safe", double_free_safe(), 1, 0),
    # Safe mode records free stacks only: a report without the allocation stack is right.
    ("safe double free without the allocation stack", DOUBLE_FREE_HEADER, "safe",
     double_free_safe(with_alloc=False), 1, 0),
    ("bad header: unknown mode", "// TALLY-EXPECT-KIND: none\n// TALLY-EXPECT-STATUS: 0\n"
     "// TALLY-EXPECT[mode=turbo]: none\n", "fast", None, 0, 2),
    ("bad header: unknown kind", "// TALLY-EXPECT-KIND: heap-overflow\n"
     "// TALLY-EXPECT-STATUS: 1\n", "fast", None, 0, 2),
]

REASONS = {
    "safe write-after-free found at exit but claiming the access":
        "no access line (found late)",
    "safe write-after-free whose stack shows tally's internals":
        "no frames of tally's internals",
    "safe write-after-free without 'freed by'":
        "'freed by thread Tn here:' section",
    'safe write-after-free naming the wrong free function':
        "frame 'close_stream'",
    'safe write-after-free with the wrong exit status':
        'exit status',
    'debug write-after-free needs the access line':
        'access line',
    'debug read-after-free reported as a WRITE':
        'access line',
    'debug read-after-free at an address never accessed':
        'address inside the announced bad access',
    'debug read-after-free without the access function':
        "frame 'audit_logout'",
    'fast read-after-free: a report where none is expected':
        'no report',
    'safe overflow describing the size class, not the request':
        'region size (the requested size)',
    'debug mismatch without its allocation stack':
        "allocated by thread Tn here:' section",
}

FAKE_PROGRAM = """\
#!{python}
import os, sys
notes = {notes!r}
lines = {lines!r}
out = [n for n in notes] + [l.replace("@PID@", str(os.getpid())) for l in lines]
if out:
    sys.stderr.write("\\n".join(out) + "\\n")
sys.exit({status})
"""


def main():
    verbose = "--verbose" in sys.argv
    if HARMLESS_PRELOAD is None:
        print("SKIP runner self-test: no libm to preload")
        return 0
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tally-runner-selftest-") as directory:
        for number, (name, header, mode, output, status, expected) in enumerate(CASES):
            source = os.path.join(directory, "case.cc" if "MISMATCH" in header or
                                  "close_config" in header else "case.c")
            with open(source, "w", encoding="utf-8") as file:
                file.write(header + "int main(void) { return 0; }\n")
            notes, lines = output if output is not None else ([], [])
            program = os.path.join(directory, f"case{number}")
            with open(program, "w", encoding="utf-8") as file:
                file.write(FAKE_PROGRAM.format(python=sys.executable, notes=notes, lines=lines,
                                               status=status))
            os.chmod(program, 0o755)
            # The fake programs write no log_path files: no JSON check.
            result = subprocess.run([sys.executable, RUNNER, "--no-json-check",
                                     "--library", HARMLESS_PRELOAD,
                                     "--mode", mode, "--program", program, "--source", source],
                                    capture_output=True, text=True)
            ok = result.returncode == expected
            reason = REASONS.get(name)
            failed_checks = [line for line in result.stdout.splitlines()
                             if line.strip().startswith("- ")]
            if ok and reason is not None and not any(reason in line for line in failed_checks):
                ok = False
                print(f"      (did not fail for the expected reason: {reason})")
            failures += not ok
            verdict = {0: "passes", 1: "fails", 2: "rejects the header"}[expected]
            print(f"{'ok  ' if ok else 'FAIL'} [{mode}] {name}: runner {verdict}"
                  + ("" if ok else f" (got exit {result.returncode})"))
            if not ok or verbose:
                print(textwrap.indent(result.stdout + result.stderr, "      "))
    print(f"\n{len(CASES) - failures}/{len(CASES)} runner self-test cases as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
