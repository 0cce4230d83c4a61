#!/usr/bin/env python3
"""The leak check on a big live heap: tally beside LeakSanitizer and Valgrind's memcheck.

    python3 bench/leak_check/run.py [--build-dir build] [--sizes 100,1024] [--reps 3]
                                    [--layouts grouped,interleaved] [--no-memcheck]

big_live_heap.c builds MEGABYTES of 48-byte linked nodes reachable from a global, leaks a
4000-byte block with 3 nodes hanging off it, and exits: the leak check runs at exit. For
each tool the cost of the check is the median wall time of a run with the check minus the
median of a run without it, interleaved rep by rep:

  tally       LD_PRELOAD=<build>/libtally.so, TALLY_OPTIONS=mode=fast:leaks=1 (and leaks=0);
              its own figures too: the pause (world stopped) and the mark's scan rate
  lsan        clang -fsanitize=leak, LSAN_OPTIONS=detect_leaks=1 (and 0)
  memcheck    valgrind --leak-check=full (and --leak-check=no)

stream_read.c measures the machine's memory read bandwidth (1 GiB, 2 threads and 1), the
speed limit of any scan. Writes bench/results/leak_check.md (and .json). Every run must
report the leak (a run that does not counts as failed).
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    workload = os.path.join(HERE, "big_live_heap.c")
    targets = {
        "plain": (["cc", "-O2", "-pthread", "-o"], workload),
        "lsan": (["clang", "-O2", "-pthread", "-fsanitize=leak", "-o"], workload),
        "stream": (["cc", "-O2", "-pthread", "-o"], os.path.join(HERE, "stream_read.c")),
    }
    paths = {}
    for name, (command, source) in targets.items():
        path = os.path.join(out_dir, f"leak_check_{name}")
        subprocess.run(command + [path, source], check=True)
        paths[name] = path
    return paths


def timed(command, env, timeout):
    """Seconds from the end of the workload's main (which prints the moment, on the same
    CLOCK_MONOTONIC as time.monotonic) to the end of the process: the exit-time work,
    leak check included, without the seconds of building the heap and their noise."""
    start = time.monotonic()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    end = time.monotonic()
    match = re.search(r"main returned at ([0-9.]+)", completed.stderr)
    return end - (float(match.group(1)) if match else start), completed


def found_leak(completed):
    text = completed.stdout + completed.stderr
    return ("4000 byte(s)" in text or "4096 byte(s)" in text or "4,000" in text or
            "definitely lost: 4,000" in text)


def run_tool(tool, paths, library, megabytes, layout, check, timeout):
    env = dict(os.environ)
    for key in ("LD_PRELOAD", "TALLY_OPTIONS", "LSAN_OPTIONS"):
        env.pop(key, None)
    args = [str(megabytes), layout]
    if tool == "tally":
        env["LD_PRELOAD"] = library
        env["TALLY_OPTIONS"] = f"mode=fast:leaks={1 if check else 0}:verbosity={1 if check else 0}:leak_exitcode=0"
        command = [paths["plain"]] + args
    elif tool == "lsan":
        env["LSAN_OPTIONS"] = f"detect_leaks={1 if check else 0}:exitcode=0"
        command = [paths["lsan"]] + args
    else:
        command = ["valgrind", "-q", f"--leak-check={'full' if check else 'no'}",
                   paths["plain"]] + args
    seconds, completed = timed(command, env, timeout)
    result = {"seconds": seconds, "ok": completed.returncode == 0}
    if check:
        result["ok"] = result["ok"] and found_leak(completed)
    if tool == "tally" and check:
        match = re.search(r"tally mark: .*?, ([0-9.]+) (KiB|MiB|GiB) scanned, (\d+) blocks marked in "
                          r"([0-9.]+) ms on (\d+) thread.*?the world was stopped for ([0-9.]+) ms",
                          completed.stderr)
        if match:
            scale = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[match.group(2)]
            result["scanned_bytes"] = float(match.group(1)) * scale
            result["mark_ms"] = float(match.group(4))
            result["pause_ms"] = float(match.group(6))
            result["mark_threads"] = int(match.group(5))
    if not result["ok"]:
        result["error"] = (completed.stderr or completed.stdout)[-400:]
    return result


def median(values):
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--sizes", default="100,1024", help="live heap sizes in MiB")
    parser.add_argument("--layouts", default="grouped,interleaved")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-memcheck", action="store_true")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results", "leak_check"))
    args = parser.parse_args()

    library = os.path.abspath(os.path.join(args.build_dir, "libtally.so"))
    if not os.path.exists(library):
        sys.exit(f"no {library}: build first (make build)")
    tools = ["tally", "lsan"] + ([] if args.no_memcheck or not shutil.which("valgrind") else ["memcheck"])
    paths = build(os.path.join(os.path.abspath(args.build_dir), "bench", "leak_check"))
    started = time.time()

    bandwidth = {}
    for threads in (2, 1):
        out = subprocess.run([paths["stream"], "1024", str(threads)], capture_output=True,
                             text=True, check=True).stdout
        bandwidth[threads] = float(re.search(r"([0-9.]+) GB/s", out).group(1))

    sizes = [int(s) for s in args.sizes.split(",")]
    layouts = args.layouts.split(",")
    runs = {}
    for rep in range(args.reps):
        for size in sizes:
            for layout in layouts:
                for tool in tools:
                    for check in (True, False):
                        key = (tool, size, layout, check)
                        print(f"rep {rep + 1}: {tool} {size} MiB {layout} "
                              f"{'check' if check else 'no check'}", flush=True)
                        try:
                            result = run_tool(tool, paths, library, size, layout, check, args.timeout)
                        except subprocess.TimeoutExpired:
                            result = {"ok": False, "error": "timeout", "seconds": None}
                        runs.setdefault(key, []).append(result)

    rows = []
    for size in sizes:
        for layout in layouts:
            row = {"size": size, "layout": layout}
            for tool in tools:
                with_check = [r for r in runs[(tool, size, layout, True)] if r["ok"]]
                without = [r for r in runs[(tool, size, layout, False)] if r["ok"]]
                if len(with_check) < args.reps or len(without) < args.reps:
                    errors = [r.get("error", "") for r in runs[(tool, size, layout, True)] +
                              runs[(tool, size, layout, False)] if not r["ok"]]
                    row[tool] = {"failed": True, "errors": errors[:1]}
                    continue
                cost = median([r["seconds"] for r in with_check]) - median([r["seconds"] for r in without])
                entry = {"check_seconds": max(cost, 0.0),
                         "exit_seconds": median([r["seconds"] for r in with_check])}
                if tool == "tally":
                    entry["pause_ms"] = median([r.get("pause_ms", 0) for r in with_check])
                    entry["mark_ms"] = median([r.get("mark_ms", 0) for r in with_check])
                    scanned = median([r.get("scanned_bytes", 0) for r in with_check])
                    entry["scan_gb_s"] = scanned / (entry["mark_ms"] / 1000) / 1e9 if entry["mark_ms"] else 0
                row[tool] = entry
            rows.append(row)

    lines = ["# Leak check on a big live heap", ""]
    lines.append(f"- date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    lines.append(f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
                 f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    lines.append(f"- memory read bandwidth (stream_read, 1 GiB): {bandwidth[2]:.1f} GB/s on 2 threads, "
                 f"{bandwidth[1]:.1f} GB/s on 1")
    lines.append(f"- reps: {args.reps}, interleaved; cost of the check = median(time from the end "
                 f"of main to the end of the process, with the check) - the same without it; "
                 f"script time {(time.time() - started) / 60:.1f} min")
    lines.append("- workload: big_live_heap.c: 48-byte nodes in 4096 lists from a global, plus one "
                 "leak (4000 bytes + 3 nodes); grouped: each list's nodes allocated together, "
                 "interleaved: node i in list i % 4096")
    lines.append("- tally: mode=fast:leaks=1 (2 marking threads); lsan: clang 14 -fsanitize=leak; "
                 "memcheck: valgrind --leak-check=full")
    lines.append("")
    header = "| live heap | layout | " + " | ".join(f"{t} check" for t in tools) + \
             " | tally pause | tally mark | tally scan rate | of bandwidth | lsan / tally |"
    lines.append(header)
    lines.append("|" + "---|" * (header.count("|") - 1))

    def cell(entry):
        if entry.get("failed"):
            return "FAIL"
        return f"{entry['check_seconds']:.3f}s"

    verdicts = []
    for row in rows:
        tally = row.get("tally", {})
        cells = [f"{row['size']} MiB", row["layout"]] + [cell(row[t]) for t in tools]
        if tally and not tally.get("failed"):
            share = tally["scan_gb_s"] / bandwidth[2]
            cells += [f"{tally['pause_ms']:.0f} ms", f"{tally['mark_ms']:.0f} ms",
                      f"{tally['scan_gb_s']:.1f} GB/s", f"{share * 100:.0f}%"]
            lsan = row.get("lsan", {})
            if lsan and not lsan.get("failed") and tally["check_seconds"] > 0:
                ratio = lsan["check_seconds"] / tally["check_seconds"]
                cells.append(f"{ratio:.1f}x")
                if row["size"] >= 1024:
                    verdicts.append(f"{'PASS' if ratio > 1 else 'MISS'}: leak check of "
                                    f"{row['size']} MiB ({row['layout']}) faster than LeakSanitizer's: "
                                    f"{ratio:.1f}x")
            else:
                cells.append("-")
            if row["size"] >= 1024:
                verdicts.append(f"{'PASS' if share >= 0.5 else 'MISS'}: scan rate at least half the "
                                f"read bandwidth on two cores ({row['size']} MiB, {row['layout']}): "
                                f"{tally['scan_gb_s']:.1f} of {bandwidth[2]:.1f} GB/s ({share * 100:.0f}%)")
        else:
            cells += ["-"] * 5
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "### Targets", ""] + [f"- {v}" for v in verdicts]
    lines += ["", "The check's cost includes everything the at-exit check does: for tally starting "
              "its marking thread, stopping the world, the mark, the classification and the "
              "report; for LeakSanitizer its tracer and its scan; for memcheck its leak search "
              "(the rest of the exit, such as returning the heap's memory and valgrind's own "
              "shutdown, is in both runs and cancels out)."]
    failures = [(t, row["size"], row["layout"], row[t]["errors"]) for row in rows for t in tools
                if row.get(t, {}).get("failed")]
    if failures:
        lines += ["", "### Failures", ""] + [f"- {t} {s} MiB {l}: {e}" for t, s, l, e in failures]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".md", "w") as out:
        out.write(text)
    with open(args.output + ".json", "w") as out:
        json.dump({"bandwidth": bandwidth, "rows": rows}, out, indent=1)
    print(text)
    print(f"wrote {args.output}.md")


if __name__ == "__main__":
    main()
