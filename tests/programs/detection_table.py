#!/usr/bin/env python3
"""Which heap bugs of the corpus each tool catches: a Markdown table of bug kinds x tools.

    tests/programs/detection_table.py --library build/libtally.so [--bindir DIR]
        [--modes fast,safe,debug] [--no-memcheck] [--asan] [--details] [NAME ...]

Every buggy program of tests/programs/ (every program whose TALLY-EXPECT-KIND is not
none) runs under
  memcheck      valgrind --error-exitcode=99 -q (no tally), the gcc build
  tally-<mode>  LD_PRELOAD=<library> TALLY_OPTIONS=mode=<mode>:<the header's other options
                for that mode>, for each mode of --modes, whatever modes the program
                declares (a debug-only underflow program also runs in fast and safe here)
  asan          (with --asan) the clang -fsanitize=address build
A run catches the bug when the tool reports the program's kind (the first kind of its
unqualified TALLY-EXPECT-KIND line). memcheck's errors are mapped to kinds: "Invalid
read/write" of a freed block -> heap-use-after-free, of bytes before or after a block ->
heap-buffer-overflow, "Mismatched free() / delete / delete []" -> alloc-dealloc-mismatch,
"Invalid free()" of the start of a freed block -> attempting double-free, other invalid
frees -> bad-free. The two mismatch kinds count for each other: ASan calls an aligned new
freed by a plain delete new-delete-type-mismatch, and a tool that names a sized delete's
wrong size alloc-dealloc-mismatch has caught it too.

Rows are the kinds, split by access where the program declares one (read, write,
underflow). Cells are caught/total. --details adds one line per program with the kinds
each tool reported and, for tally, whether the run matched the program's declared
expectation for that mode (= declared, ~ sampled: "none|kind" either way, ! differs).

Programs are built into --out with the CMake flags (gcc/g++ -g -O0
-fno-omit-frame-pointer -pthread; C++ -std=c++20), unless --bindir points at CMake's
build/tests/programs/bin.
"""

import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import run_program_test as runner  # noqa: E402  (the one header parser)

FLAGS = ["-g", "-O0", "-fno-omit-frame-pointer", "-pthread"]
ROW_ORDER = ["heap-use-after-free", "heap-buffer-overflow", "alloc-dealloc-mismatch",
             "new-delete-type-mismatch", "attempting double-free", "bad-free"]
MISMATCH_KINDS = {"alloc-dealloc-mismatch", "new-delete-type-mismatch"}
TALLY_ERROR_RE = re.compile(r"==\d+==ERROR: tally: (?P<rest>.*)$")
ASAN_ERROR_RE = re.compile(r"==\d+==ERROR: AddressSanitizer: (?P<rest>.*)$")
VALGRIND_LINE_RE = re.compile(r"^==(?P<pid>\d+)== (?P<text>.*)$")
SYMBOLIZER = "/usr/lib/llvm-14/bin/llvm-symbolizer"


def kind_of_error_line(rest):
    """The kind named by the text after 'ERROR: <tool>: ' (tally's or ASan's wording)."""
    if rest.startswith("attempting double-free"):
        return "attempting double-free"
    if rest.startswith("attempting free on address which was not malloc()-ed"):
        return "bad-free"
    for kind in ("heap-use-after-free", "heap-buffer-overflow", "alloc-dealloc-mismatch",
                 "new-delete-type-mismatch"):
        if rest.startswith(kind):
            return kind
    return rest.split(" on ")[0].split(" (")[0].strip() or "other"


def tool_kinds(stderr, error_re):
    kinds = []
    for line in stderr.splitlines():
        match = error_re.search(line)
        if match:
            kinds.append(kind_of_error_line(match.group("rest")))
    return kinds


def memcheck_kinds(stderr):
    """Memcheck's errors, each mapped to a kind. An error is a line at the left margin
    (after ==PID==) followed by indented stack lines and an ' Address ...' line."""
    errors = []
    current = None
    for line in stderr.splitlines():
        match = VALGRIND_LINE_RE.match(line)
        if not match:
            continue
        text = match.group("text")
        if text and not text.startswith(" "):
            current = {"head": text, "address": ""}
            errors.append(current)
        elif current is not None and text.strip().startswith("Address "):
            if not current["address"]:
                current["address"] = text.strip()
    kinds = []
    for error in errors:
        head, address = error["head"], error["address"]
        if head.startswith("Invalid read") or head.startswith("Invalid write"):
            if "free'd" in address:
                kinds.append("heap-use-after-free")
            elif re.search(r"bytes (after|before|inside) a block of size [\d,]+ "
                           r"(alloc'd|in arena)", address):
                # "inside ... alloc'd": an access that straddles the end of the block;
                # "in arena": past the block's redzone
                kinds.append("heap-buffer-overflow")
            else:
                kinds.append("other: " + head)
        elif head.startswith("Invalid free()"):
            if re.search(r"is 0 bytes (inside a block of size [\d,]+|after a block of size 0) "
                         r"free'd", address):
                kinds.append("attempting double-free")
            else:
                kinds.append("bad-free")
        elif head.startswith("Mismatched free()") or head.startswith("Mismatched new/delete"):
            kinds.append("alloc-dealloc-mismatch")
        elif head.startswith("Thread ") or head.startswith("HEAP SUMMARY") or not head:
            continue
        else:
            kinds.append("other: " + head)
    return kinds


def build(source, out, flavour):
    name = os.path.splitext(os.path.basename(source))[0]
    directory = os.path.join(out, flavour)
    os.makedirs(directory, exist_ok=True)
    binary = os.path.join(directory, name)
    cxx = source.endswith(".cc")
    if flavour == "asan":
        command = ["clang++", "-std=c++20", "-fsized-deallocation"] if cxx else ["clang"]
        command += FLAGS + ["-fsanitize=address"]
    else:
        command = (["g++", "-std=c++20"] if cxx else ["gcc"]) + FLAGS
    result = subprocess.run(command + [source, "-o", binary], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"build of {name} ({flavour}) failed:\n{result.stderr}")
    return binary


def run(command, env, timeout):
    try:
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout)
        return result.returncode, result.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode("utf-8", "replace") if expired.stderr else ""
        return "timeout", stderr


def clean_env():
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "TALLY_OPTIONS", "ASAN_OPTIONS"):
        env.pop(name, None)
    return env


def tally_options(header, mode):
    """mode=<mode> and the header's other options for that mode. A program that names its
    own mode (mode=debug:guard_side=left) keeps its other options in every mode here."""
    options = [f"{n}={v}" if v else n
               for n, v in runner.parse_options(header.expectation(mode).options)
               if n != "mode"]
    return ":".join([f"mode={mode}"] + options)


def category(header):
    kind = [k for k in header.base_kinds() if k != "none"][0]
    asan = header.expectation("asan")
    if kind in ("heap-use-after-free", "heap-buffer-overflow"):
        if any("to the left of" in r for r in asan.regexes + header.raw_list(
                "TALLY-EXPECT-REGEX", "debug")):
            return kind, "underflow"
        if asan.access:
            return kind, asan.access.lower()
    return kind, None


def caught(kind, kinds):
    """Whether a run that reported `kinds` caught a bug of `kind`."""
    if kind in MISMATCH_KINDS:
        return bool(MISMATCH_KINDS & set(kinds))
    return kind in kinds


def declared_match(header, mode, kinds):
    """= the run matches the mode's declared kinds, ~ a sampled 'none|kind' either way,
    ! it differs."""
    if mode not in header.modes():
        return " "
    expected = header.expectation(mode).kinds
    seen = set(kinds) or {"none"}
    if not seen <= set(expected):
        return "!"
    return "~" if len(expected) > 1 and "none" in expected else "="


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", help="libtally.so (without it: no tally columns)")
    parser.add_argument("--modes", default="fast,safe,debug",
                        help="tally modes to run, comma-separated (default fast,safe,debug)")
    parser.add_argument("--bindir", help="use the programs built by CMake in this directory")
    parser.add_argument("--out", default="/tmp/tally-programs-detection")
    parser.add_argument("--no-memcheck", action="store_true")
    parser.add_argument("--asan", action="store_true", help="add an ASan column")
    parser.add_argument("--details", action="store_true", help="one line per program too")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("names", nargs="*", help="only these programs")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    if not set(args.modes) <= set(runner.TALLY_MODES):
        parser.error(f"--modes: among {','.join(runner.TALLY_MODES)}, not {','.join(args.modes)}")
    if args.library and not os.path.exists(args.library):
        parser.error(f"{args.library} does not exist")

    sources = sorted(glob.glob(os.path.join(HERE, "*.c")) + glob.glob(os.path.join(HERE, "*.cc")))
    programs = []
    for source in sources:
        name = os.path.splitext(os.path.basename(source))[0]
        if args.names and name not in args.names:
            continue
        header = runner.Header(source)
        if header.base_kinds() == ["none"]:
            continue
        programs.append((name, source, header))

    tools = ([] if args.no_memcheck else ["memcheck"]) + \
            ([f"tally-{m}" for m in args.modes] if args.library else []) + \
            (["asan"] if args.asan else [])
    if not tools:
        parser.error("nothing to run (give --library, or drop --no-memcheck, or --asan)")

    def binary_of(name, source, flavour):
        if flavour == "gcc" and args.bindir:
            return os.path.join(args.bindir, name)
        return build(source, args.out, flavour)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        gcc_binaries = dict(zip([p[0] for p in programs],
                                pool.map(lambda p: binary_of(p[0], p[1], "gcc"), programs)))
        asan_binaries = {}
        if args.asan:
            asan_binaries = dict(zip([p[0] for p in programs],
                                     pool.map(lambda p: binary_of(p[0], p[1], "asan"), programs)))

    def job(program, tool):
        name, source, header = program
        timeout = header.expectation("fast").timeout
        env = clean_env()
        if tool == "memcheck":
            command = ["valgrind", "--error-exitcode=99", "-q", "--num-callers=30",
                       gcc_binaries[name]]
            status, stderr = run(command, env, timeout * 20)
            return memcheck_kinds(stderr), status
        if tool == "asan":
            env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1:symbolize=0"
            status, stderr = run([asan_binaries[name]], env, timeout * 3)
            return tool_kinds(stderr, ASAN_ERROR_RE), status
        mode = tool.split("-", 1)[1]
        env["LD_PRELOAD"] = os.path.abspath(args.library)
        env["TALLY_OPTIONS"] = tally_options(header, mode)
        status, stderr = run([gcc_binaries[name]], env, timeout * 2)
        return tool_kinds(stderr, TALLY_ERROR_RE), status

    jobs = [(program, tool) for program in programs for tool in tools]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip([(p[0], t) for p, t in jobs], pool.map(lambda j: job(*j), jobs)))

    rows = {}
    for name, _, header in programs:
        rows.setdefault(category(header), []).append(name)

    def row_label(key):
        kind, shape = key
        return kind + (f" ({shape})" if shape else "")

    ordered = sorted(rows, key=lambda k: (ROW_ORDER.index(k[0]) if k[0] in ROW_ORDER else 99,
                                          k[1] or ""))
    header_cells = ["bug kind", "programs"] + tools
    print("| " + " | ".join(header_cells) + " |")
    print("|" + "|".join(["---"] * 2 + [":-:"] * len(tools)) + "|")
    totals = {tool: 0 for tool in tools}
    for key in ordered:
        names = rows[key]
        cells = [row_label(key), str(len(names))]
        for tool in tools:
            count = sum(1 for n in names if caught(key[0], results[(n, tool)][0]))
            totals[tool] += count
            cells.append(f"{count}/{len(names)}")
        print("| " + " | ".join(cells) + " |")
    print("| **all** | " + str(len(programs)) + " | " +
          " | ".join(f"**{totals[t]}/{len(programs)}**" for t in tools) + " |")

    if args.details:
        print()
        print("| program | kind | " + " | ".join(tools) + " |")
        print("|---|---|" + "|".join(["---"] * len(tools)) + "|")
        headers = {name: header for name, _, header in programs}
        for name, _, header in programs:
            kind = row_label(category(header))
            cells = []
            for tool in tools:
                kinds, status = results[(name, tool)]
                text = ", ".join(sorted(set(kinds))) or "-"
                if status == "timeout":
                    text += " (timeout)"
                if tool.startswith("tally-"):
                    text = declared_match(headers[name], tool.split("-", 1)[1], kinds) + " " + text
                cells.append(text)
            print(f"| {name} | {kind} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
