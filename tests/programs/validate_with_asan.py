#!/usr/bin/env python3
"""Validate the heap-bug corpus without tally: against AddressSanitizer, and (for the clean
programs) against the C library's own malloc.

    tests/programs/validate_with_asan.py [--out /tmp/tally-programs-validate] [NAME ...]

Builds every program of tests/programs/ twice into --out:
  asan/   clang/clang++ -fsanitize=address (C++: -std=c++20 -fsized-deallocation, like g++)
  plain/  gcc/g++ with exactly the CMake flags (-std=c++20 for C++), warnings reported
both with -g -O0 -fno-omit-frame-pointer -pthread -Wall -Wextra. Then runs each program
through run_program_test.py --asan, and each clean program through --plain.

Under --asan the runner applies the program's expectations for the pseudo-mode "asan"
(unqualified keys and keys qualified [mode=...,asan]): ASan must report the same kind, the
READ/WRITE access, and name every TALLY-EXPECT-ACCESS-FRAME / FREE-FRAME / ALLOC-FRAME
function in its access, "freed by" and "previously allocated by" stacks (symbolized with
llvm-symbolizer: ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer unless set).
Where ASan is known to differ from tally, the header says so (ASAN-EXPECT-KIND: what ASan
reports instead; ASAN-KNOWN-ISSUE: ASan mishandles the program, a failure is an XFAIL);
those are listed at the end. Prints one line per run and a summary.
"""

import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FLAGS = ["-g", "-O0", "-fno-omit-frame-pointer", "-pthread", "-Wall", "-Wextra"]
SYMBOLIZER = "/usr/lib/llvm-14/bin/llvm-symbolizer"


def build(source, out, flavour):
    name = os.path.splitext(os.path.basename(source))[0]
    directory = os.path.join(out, flavour)
    binary = os.path.join(directory, name)
    cxx = source.endswith(".cc")
    if flavour == "asan":
        command = (["clang++", "-std=c++20", "-fsized-deallocation"] if cxx else ["clang"])
        command += FLAGS + ["-fsanitize=address"]
    else:
        command = (["g++", "-std=c++20"] if cxx else ["gcc"]) + FLAGS
    result = subprocess.run(command + [source, "-o", binary], capture_output=True, text=True)
    return name, flavour, binary, result.returncode, result.stderr


def run(binary, source, flavour):
    env = dict(os.environ)
    if flavour == "asan" and "ASAN_SYMBOLIZER_PATH" not in env and os.path.exists(SYMBOLIZER):
        env["ASAN_SYMBOLIZER_PATH"] = SYMBOLIZER
    result = subprocess.run([sys.executable, os.path.join(HERE, "run_program_test.py"),
                             "--" + flavour, "--program", binary, "--source", source],
                            capture_output=True, text=True, env=env)
    return result.returncode, result.stdout + result.stderr


def asan_differences(sources):
    """The programs whose header declares that ASan differs from tally, and how."""
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import run_program_test as runner  # the one header parser
    lines = []
    for source in sources:
        name = os.path.splitext(os.path.basename(source))[0]
        header = runner.Header(source)
        asan_kind, _ = header.raw("ASAN-EXPECT-KIND", None)
        issue, _ = header.raw("ASAN-KNOWN-ISSUE", None)
        if asan_kind:
            lines.append(f"  {name}: tally reports {'|'.join(header.base_kinds())}, "
                         f"ASan {asan_kind}")
        if issue:
            lines.append(f"  {name}: known ASan issue: {issue}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/tally-programs-validate")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("names", nargs="*", help="only these programs")
    args = parser.parse_args()
    for flavour in ("asan", "plain"):
        os.makedirs(os.path.join(args.out, flavour), exist_ok=True)
    sources = sorted(glob.glob(os.path.join(HERE, "*.c")) + glob.glob(os.path.join(HERE, "*.cc")))
    if args.names:
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in args.names]

    jobs = [(s, f) for s in sources for f in ("asan", "plain")]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        built = list(pool.map(lambda job: build(job[0], args.out, job[1]), jobs))
    failures, xfails, runs = [], [], 0
    binaries = {}
    for (name, flavour, binary, code, messages), (source, _) in zip(built, jobs):
        if code != 0 or messages.strip():
            print(f"BUILD {'FAIL' if code else 'WARNING'} {name} [{flavour}]\n{messages}")
            failures.append(f"{name}[build-{flavour}]")
            if code:
                continue
        binaries[(name, flavour)] = (binary, source)
    # One at a time: several programs are timing-sensitive (races, fork deadlines).
    for source in sources:
        name = os.path.splitext(os.path.basename(source))[0]
        for flavour in ("asan", "plain"):
            if (name, flavour) not in binaries:
                continue
            binary, _ = binaries[(name, flavour)]
            code, output = run(binary, source, flavour)
            if output.startswith("SKIP"):
                continue
            runs += 1
            print(output.rstrip() if (code or output.startswith("XFAIL")) else
                  output.splitlines()[0])
            if code:
                failures.append(f"{name}[{flavour}]")
            elif output.startswith("XFAIL"):
                xfails.append(f"{name}[{flavour}]")
    print(f"\n{runs} runs of {len(sources)} programs: {runs - len(xfails) - len(failures)} "
          f"as declared, {len(xfails)} known ASan issue(s)"
          + (f" ({' '.join(xfails)})" if xfails else "")
          + f", {len(failures)} failure(s)" + (f": {' '.join(failures)}" if failures else ""))
    differences = asan_differences(sources)
    if differences:
        print("\nWhere ASan is declared to differ from tally:")
        print("\n".join(differences))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
