#!/usr/bin/env python3
"""tally's debug mode against Valgrind memcheck on the benchmark workloads.

The issue's target: "debug runs at least 5x faster than memcheck on the workloads". This
script runs each workload under memcheck and under tally (debug, and fast/safe and plain
glibc for reference), interleaved, and reports median wall time and peak RSS, the ratio
memcheck / tally-debug per workload and its geometric mean, as Markdown (stdout and
bench/results/debug_vs_memcheck.md).

Workloads: the programs in <build>/bench/ run single-threaded (`<exe> 1 <scale>`), python3
on bench/programs/py_workload.py and sqlite3 on the SQL script bench/run.py generates. The
scale of each is reduced so that memcheck finishes in reasonable time: by default it is
calibrated per workload with two short memcheck runs and a linear fit, aiming at
--target seconds under memcheck (see --scale/--scales to fix it instead).

memcheck replaces malloc itself, so it runs without any preload:
    valgrind --tool=memcheck --error-exitcode=99 -q <exe> args
tally runs as LD_PRELOAD=<build>/libtally.so TALLY_OPTIONS=mode=<mode> <exe> args.

Run from the repository root:

    python3 bench/memcheck_compare.py                          # calibrate, 3 reps
    python3 bench/memcheck_compare.py --workloads larson,sqlite --scale 0.02 --reps 1
    python3 bench/memcheck_compare.py --wait-for /tmp/bench-done   # start once that exists

Standard library only; uses bench/run.py's process runner (peak RSS through spawn_rss) and
SQL generator. Exit status 0 unless the script itself breaks: a failed run shows as FAIL.
"""

import argparse
import datetime
import hashlib
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # importing run.py must not leave bench/__pycache__ behind
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import run as bench_run  # noqa: E402  (bench/run.py)

REPO_DIR = os.path.dirname(BENCH_DIR)
DEFAULT_OUTPUT = os.path.join(BENCH_DIR, "results", "debug_vs_memcheck.md")
MICRO_WORKLOADS = ["larson", "xmalloc_test", "cache_scratch", "cache_thrash", "alloc_test",
                   "mstress", "realloc_growth", "large_blocks", "small_churn"]
PROGRAM_WORKLOADS = ["python", "sqlite"]
ALL_WORKLOADS = MICRO_WORKLOADS + PROGRAM_WORKLOADS
TOOLS = ["glibc", "tally-fast", "tally-safe", "tally-debug", "memcheck"]
SHUFFLE_SEED = 20240611
TARGET_RATIO = 5.0

# Calibration: a first memcheck run at PROBE_SCALE (raised while it runs too briefly to tell
# work from start-up), a second at a tenth of it, and a line through the two.
PROBE_SCALE = 0.02
PROBE_MIN_WORK_S = 1.5   # the probe must take this much longer than the small run
MIN_SCALE = 0.001
MAX_SCALE = 1.0


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Workloads and tools
# ---------------------------------------------------------------------------------------------

class Workload:
    def __init__(self, name, bench_bin, workdir):
        self.name = name
        self.workdir = workdir
        self.sql_scripts = {}
        if name in MICRO_WORKLOADS:
            self.binary = os.path.join(bench_bin, name)
            if not os.access(self.binary, os.X_OK):
                raise SystemExit(f"memcheck_compare.py: missing workload binary {self.binary}")
        elif name == "python":
            self.python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else \
                os.path.realpath(sys.executable)
            self.script = os.path.join(BENCH_DIR, "programs", "py_workload.py")
        elif name == "sqlite":
            self.sqlite = shutil.which("sqlite3")
            if not self.sqlite:
                raise SystemExit("memcheck_compare.py: sqlite3 is not installed")
        else:
            raise SystemExit(f"memcheck_compare.py: unknown workload {name} "
                             f"(known: {', '.join(ALL_WORKLOADS)})")

    def command(self, scale):
        """(argv, extra environment, stdin path) for one run at this scale."""
        if self.name in MICRO_WORKLOADS:
            return [self.binary, "1", f"{scale:g}"], {}, None
        if self.name == "python":
            # PYTHONMALLOC=malloc: every object goes to the allocator under test (and memcheck
            # sees every block instead of pymalloc's arenas); the same for every tool.
            extra = {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
            return [self.python, "-S", "-B", self.script, f"{scale:g}"], extra, None
        path = self.sql_scripts.get(scale)
        if path is None:
            path = os.path.join(self.workdir, f"sqlite-{len(self.sql_scripts)}.sql")
            with open(path, "w") as f:
                f.write(bench_run.generate_sql(scale))
            self.sql_scripts[scale] = path
        return [self.sqlite, "-batch", "-bail", ":memory:"], {}, path

    def check_output(self, stdout):
        if self.name == "python" and "py_workload: records=" not in stdout:
            return "python: no result line"
        if self.name == "sqlite" and not stdout.rstrip().endswith("bench-script-complete"):
            return "sqlite3: script did not finish: " + bench_run.last_lines(stdout)
        return None


def tool_command(tool, libtally, argv):
    """(argv, environment additions) that run argv under the tool."""
    if tool == "memcheck":
        return ["valgrind", "--tool=memcheck", "--error-exitcode=99", "-q", *argv], {}
    if tool == "glibc":
        return list(argv), {}
    mode = tool.split("-", 1)[1]
    options = f"mode={mode}"
    if mode == "debug":  # its leak check at exit runs; the programs' own leaks are known
        options += ":suppressions=" + os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), "tests", "realworld", "known_leaks.supp")
    return list(argv), {"LD_PRELOAD": libtally, "TALLY_OPTIONS": options}


def run_once(tool, workload, scale, libtally, timeout):
    """Runs the workload once under the tool; returns (wall_s, maxrss_kb, cpu_s, error)."""
    argv, extra, stdin_path = workload.command(scale)
    cmd, tool_env = tool_command(tool, libtally, argv)
    env = bench_run.base_environment()
    env.update(extra)
    env.update(tool_env)
    try:
        result = bench_run.run_process(cmd, env, timeout, cwd=workload.workdir, stdin_path=stdin_path)
    except (bench_run.RunFailure, OSError) as problem:
        return None, None, None, str(problem)
    if not result.ok():
        what = f"{tool} {workload.name}"
        if tool == "memcheck" and os.WIFEXITED(result.status) and os.WEXITSTATUS(result.status) == 99:
            what += " (memcheck reported errors)"
        return None, None, None, result.describe(what)
    problem = workload.check_output(result.stdout)
    if problem:
        return None, None, None, problem
    return result.wall, result.maxrss_kb, result.cpu, None


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------

def calibrate(workload, libtally, target_s, timeout):
    """The scale at which memcheck should take about target_s on this workload, from a line
    through two memcheck runs (a probe, and a tenth of it for the fixed start-up cost).
    Returns (scale, note)."""
    probe = PROBE_SCALE
    while True:
        t_probe, _, _, error = run_once("memcheck", workload, probe, libtally, timeout)
        if error:
            return None, f"calibration failed: {error}"
        small = probe / 10
        t_small, _, _, error = run_once("memcheck", workload, small, libtally, timeout)
        if error:
            return None, f"calibration failed: {error}"
        work = t_probe - t_small
        if work >= PROBE_MIN_WORK_S or probe >= MAX_SCALE or t_probe >= target_s / 2:
            break
        # Too little work to extrapolate from: raise the probe towards the target.
        factor = 4 if work <= 0 else min(8.0, max(2.0, PROBE_MIN_WORK_S * 2 / work))
        probe = min(MAX_SCALE, probe * factor)
    if work > 0:
        slope = work / (probe - small)
        fixed = max(0.0, t_probe - slope * probe)
        scale = (target_s - fixed) / slope if target_s > fixed else small
        # Never more than twice what plain proportion to the probe would give.
        scale = min(scale, 2 * probe * target_s / t_probe)
    else:
        scale = probe * target_s / t_probe
    scale = max(MIN_SCALE, min(MAX_SCALE, scale))
    scale = float(f"{scale:.2g}")
    note = (f"memcheck {t_small:.2f}s at {small:g}, {t_probe:.2f}s at {probe:g} "
            f"-> {scale:g}")
    return scale, note


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(runs, workloads, tools):
    summary = {}
    for w in workloads:
        summary[w] = {}
        for t in tools:
            mine = [r for r in runs if r["workload"] == w and r["tool"] == t]
            ok = [r for r in mine if r["ok"]]
            failed = [r for r in mine if not r["ok"]]
            entry = {"runs": len(mine), "failed": len(failed),
                     "errors": sorted({r["error"] for r in failed})}
            for key in ("wall_s", "maxrss_kb", "cpu_s"):
                values = [r[key] for r in ok if r[key] is not None]
                entry[key] = statistics.median(values) if values else None
            walls = [r["wall_s"] for r in ok]
            entry["wall_min"] = min(walls) if walls else None
            entry["wall_max"] = max(walls) if walls else None
            summary[w][t] = entry
    return summary


def cell_ok(entry):
    return entry["runs"] > 0 and entry["failed"] == 0 and entry["wall_s"] is not None


def ratio(summary, w, numerator, denominator, key):
    if numerator not in summary[w] or denominator not in summary[w]:
        return None
    a, b = summary[w][numerator], summary[w][denominator]
    if not (cell_ok(a) and cell_ok(b)) or not b[key]:
        return None
    return a[key] / b[key]


def metric_table(summary, workloads, tools, scales, key, fmt, title, mark_target=False):
    """A Markdown table of one measure: a column per tool, the ratio memcheck / tally-debug
    per workload, and a last row of geometric means (each tool relative to glibc, and of the
    memcheck / tally-debug ratios). Returns (ratios per workload, their geomean, lines)."""
    lines = [f"### {title}", ""]
    lines.append("| workload | scale | " + " | ".join(tools) + " | memcheck / tally-debug |")
    lines.append("|---|---:|" + "---:|" * len(tools) + "---:|")
    ratios = {}
    for w in workloads:
        cells = []
        for t in tools:
            e = summary[w][t]
            if e["runs"] == 0:
                cells.append("—")
            elif e["failed"]:
                cells.append(f"FAIL ({e['failed']}/{e['runs']})")
            elif e[key] is None:
                cells.append("—")
            else:
                cells.append(fmt(e[key]))
        r = ratio(summary, w, "memcheck", "tally-debug", key)
        ratios[w] = r
        if r is None:
            shown = "—"
        elif mark_target:
            shown = f"**{r:.1f}x**" + (" ✓" if r >= TARGET_RATIO else " ✗")
        else:
            shown = f"{r:.2f}x"
        lines.append(f"| {w} | {scales[w]:g} | " + " | ".join(cells) + f" | {shown} |")
    vs_glibc = []
    for t in tools:
        g = geomean([ratio(summary, w, t, "glibc", key) for w in workloads])
        vs_glibc.append("—" if g is None else f"{g:.2f}x")
    g_ratio = geomean(ratios.values())
    shown = "—" if g_ratio is None else (f"**{g_ratio:.2f}x**" if mark_target else f"{g_ratio:.2f}x")
    lines.append("| geomean (tools: vs glibc) | | " + " | ".join(vs_glibc) + f" | {shown} |")
    lines.append("")
    return ratios, g_ratio, lines


def render(meta, summary, workloads, tools, scales):
    lines = ["# tally debug mode vs Valgrind memcheck", ""]
    m = meta["machine"]
    lines.append(f"- date: {meta['date']}")
    lines.append(f"- machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}, "
                 f"load average at start {m['load_at_start']}")
    lines.append(f"- commit: {meta['commit']}; {meta['libtally']}: {meta['libtally_id']} "
                 "(a copy taken at the start is what every run preloads)")
    reps = meta.get("reps_done", meta["reps"])
    lines.append(f"- reps: {reps} (interleaved: for rep, for workload, tools in an order "
                 f"shuffled per rep and workload, seed {SHUFFLE_SEED}); timeout {meta['timeout']:g}s "
                 "per run")
    if meta.get("budget_note"):
        lines.append(f"- {meta['budget_note']}")
    lines.append(f"- {meta['valgrind']}: `valgrind --tool=memcheck --error-exitcode=99 -q <cmd>` "
                 "(no preload); tally: `LD_PRELOAD=" + meta["libtally"] +
                 " TALLY_OPTIONS=mode=fast|safe|debug <cmd>`; glibc: no preload")
    lines.append("- workloads: `build/bench/<name> 1 <scale>` (single-threaded); python = "
                 "`python3 -S -B bench/programs/py_workload.py <scale>` with PYTHONMALLOC=malloc; "
                 "sqlite = `sqlite3 -batch -bail :memory:` on run.py's generated script at <scale>")
    lines.append(f"- scales ({meta['scale_source']}): " +
                 ", ".join(f"{w} {scales[w]:g}" for w in workloads))
    lines.append(f"- script time: {meta['elapsed_s'] / 60:.1f} min"
                 + (f" (calibration {meta['calibration_s'] / 60:.1f} min)"
                    if meta.get("calibration_s") else ""))
    lines.append("")

    time_ratios, g_time, table = metric_table(
        summary, workloads, tools, scales, "wall_s", lambda v: f"{v:.3f}s",
        "Wall time (median) — the target's measure", mark_target=True)
    lines += table
    lines += metric_table(summary, workloads, tools, scales, "maxrss_kb",
                          lambda v: f"{v / 1024:.1f}", "Peak RSS (median, MiB)")[2]
    lines += metric_table(summary, workloads, tools, scales, "cpu_s", lambda v: f"{v:.3f}s",
                          "CPU time (median user+system; tells tool cost from machine load)")[2]

    # Verdict.
    measured = [w for w in workloads if time_ratios[w] is not None]
    debug_failed = [w for w in workloads if summary[w].get("tally-debug", {}).get("failed")]
    memcheck_failed = [w for w in workloads if summary[w].get("memcheck", {}).get("failed")]
    at_target = [w for w in measured if time_ratios[w] >= TARGET_RATIO]
    below = [f"{w} {time_ratios[w]:.1f}x" for w in measured if time_ratios[w] < TARGET_RATIO]
    lines.append("### Target: tally-debug at least 5x faster than memcheck")
    lines.append("")
    if g_time is None:
        lines.append("- **NOT MEASURED**: no workload succeeded under both memcheck and tally-debug")
    else:
        ok = g_time >= TARGET_RATIO and not debug_failed
        lines.append(f"- **{'PASS' if ok else 'MISS'}**: geomean of memcheck / tally-debug wall "
                     f"time = **{g_time:.2f}x** over {len(measured)} of {len(workloads)} workloads "
                     f"(target >= {TARGET_RATIO:g}x)")
        lines.append(f"- workloads individually >= {TARGET_RATIO:g}x: {len(at_target)} of "
                     f"{len(measured)}" + (f"; below: {', '.join(below)}" if below else ""))
        best = max(measured, key=lambda w: time_ratios[w])
        worst = min(measured, key=lambda w: time_ratios[w])
        lines.append(f"- range: {worst} {time_ratios[worst]:.1f}x .. {best} {time_ratios[best]:.1f}x")
    if debug_failed:
        lines.append(f"- tally-debug FAILED in: {', '.join(debug_failed)}")
    if memcheck_failed:
        lines.append(f"- memcheck failed in: {', '.join(memcheck_failed)} (left out of the geomean)")
    lines.append("")
    lines.append("Cells are medians over the reps; the geomean row gives, for each tool, the "
                 "geometric mean of its ratio to plain glibc malloc (slowdown, RSS growth), and "
                 "in the last column the geometric mean of the memcheck / tally-debug ratios. "
                 "Memcheck serializes threads onto one core, instruments every memory access "
                 "and pays a start-up cost (about 1 s for the small programs here, several for "
                 "python3) that counts in its time, as tally's start-up counts in tally's; the "
                 "calibration section shows the memcheck runs the scales were derived from. "
                 "FAIL (failed/runs): a non-zero exit (memcheck: 99 when it reported errors), a "
                 "signal, a timeout, or a wrong result.")
    lines.append("")
    if meta.get("calibration"):
        lines.append("### Calibration")
        lines.append("")
        for w in workloads:
            if w in meta["calibration"]:
                lines.append(f"- {w}: {meta['calibration'][w]}")
        lines.append("")
    failures = [f"- {w} / {t}: {e}" for w in workloads for t in tools for e in summary[w][t]["errors"]]
    if failures:
        lines += ["### Failures", ""] + failures + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def file_identity(path):
    """'sha256 <first 12 hex digits>, built <mtime>' of a file, to tell builds apart."""
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        built = datetime.datetime.fromtimestamp(os.path.getmtime(path)).astimezone()
        return f"sha256 {digest}, built {built.isoformat(timespec='seconds')}"
    except OSError:
        return "not found"


def parse_scales(text):
    scales = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, value = item.partition("=")
        try:
            scales[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"memcheck_compare.py: bad --scales entry {item!r} (want name=F)")
    return scales


def wait_for(path, limit_s, poll_s):
    start = time.monotonic()
    if os.path.exists(path):
        return
    log(f"memcheck_compare.py: waiting for {path} (polling every {poll_s:g}s, at most "
        f"{limit_s / 60:g} min)")
    while not os.path.exists(path):
        if time.monotonic() - start >= limit_s:
            log(f"memcheck_compare.py: {path} did not appear in {limit_s / 60:g} min; "
                "measuring anyway")
            return
        time.sleep(poll_s)
    log(f"memcheck_compare.py: {path} exists after {(time.monotonic() - start) / 60:.1f} min")


def main(argv):
    parser = argparse.ArgumentParser(description="tally debug mode vs Valgrind memcheck "
                                     "(run from the repository root).")
    parser.add_argument("--build-dir", default="build",
                        help="<dir>/libtally.so is preloaded, workloads come from <dir>/bench")
    parser.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                        help=f"comma-separated (default all: {','.join(ALL_WORKLOADS)})")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)} (tally-debug and "
                             "memcheck are needed for the ratio)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--scale", type=float,
                        help="one scale for every workload (skips the calibration)")
    parser.add_argument("--scales", default="",
                        help="per-workload scales, e.g. larson=0.1,sqlite=0.05 (skips the "
                             "calibration of those)")
    parser.add_argument("--target", type=float, default=12.0,
                        help="calibration aims at this many seconds per memcheck run (default 12)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed per run (default 600)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="minutes: no further rep is started when it would end past this "
                             "(default 20; 0 = no limit)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT,
                        help="Markdown report (default bench/results/debug_vs_memcheck.md)")
    parser.add_argument("--wait-for", metavar="FILE",
                        help="do not start measuring before FILE exists (polls; see --wait-max)")
    parser.add_argument("--wait-max", type=float, default=40.0,
                        help="minutes to wait for --wait-for before measuring anyway (default 40)")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between polls (default 30)")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.timeout <= 0 or args.target <= 0 or \
            (args.scale is not None and args.scale <= 0):
        parser.error("--reps, --timeout, --target and --scale must be positive")

    build_dir = os.path.abspath(args.build_dir)
    libtally = os.path.join(build_dir, "libtally.so")
    bench_bin = os.path.join(build_dir, "bench")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)} (known: {', '.join(TOOLS)})")
    tools = [t for t in TOOLS if t in tools]  # fixed column order
    if any(t.startswith("tally-") for t in tools) and not os.path.isfile(libtally):
        raise SystemExit(f"memcheck_compare.py: {libtally} not found (build tally first)")
    if "memcheck" in tools and not shutil.which("valgrind"):
        raise SystemExit("memcheck_compare.py: valgrind is not installed")
    helper = os.path.join(bench_bin, "spawn_rss")
    if os.access(helper, os.X_OK):
        bench_run.SPAWN_HELPER = helper
    else:
        log(f"memcheck_compare.py: {helper} is missing: peak RSS will include this script's size")
    fixed_scales = parse_scales(args.scales)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for name in list(fixed_scales) + names:
        if name not in ALL_WORKLOADS:
            parser.error(f"unknown workload {name} (known: {', '.join(ALL_WORKLOADS)})")

    # A SIGTERM unwinds like Ctrl-C, so the run in progress is killed rather than left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.wait_for:
        wait_for(args.wait_for, args.wait_max * 60, args.poll)

    workdir = tempfile.mkdtemp(prefix="tally-memcheck-", dir=bench_run.default_workdir_parent())
    start = time.perf_counter()
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": bench_run.machine_info(), "commit": bench_run.git_commit(),
            "reps": args.reps, "timeout": args.timeout, "libtally": os.path.relpath(libtally, REPO_DIR),
            "calibration": {}, "libtally_id": file_identity(libtally)}
    try:
        meta["valgrind"] = subprocess.run(["valgrind", "--version"], capture_output=True,
                                          text=True).stdout.strip() or "valgrind"
    except OSError:
        meta["valgrind"] = "valgrind"
    runs = []
    try:
        # Measure a copy taken now: a rebuild of the library during the run must not change
        # what the later runs preload.
        if os.path.isfile(libtally):
            snapshot = os.path.join(workdir, "libtally.so")
            shutil.copy2(libtally, snapshot)
            libtally = snapshot
        workloads = [Workload(name, bench_bin, workdir) for name in names]
        scales = {}
        calibrated = False
        for w in workloads:
            if w.name in fixed_scales:
                scales[w.name] = fixed_scales[w.name]
            elif args.scale is not None:
                scales[w.name] = args.scale
            elif "memcheck" not in tools:
                scales[w.name] = PROBE_SCALE
            else:
                calibrated = True
                t0 = time.perf_counter()
                scale, note = calibrate(w, libtally, args.target, args.timeout)
                if scale is None:
                    scale = PROBE_SCALE
                    note += f"; using {scale:g}"
                scales[w.name] = scale
                meta["calibration"][w.name] = note + f" ({time.perf_counter() - t0:.0f}s)"
                log(f"calibrate {w.name:<15} {note}")
        meta["calibration_s"] = time.perf_counter() - start if calibrated else 0
        if args.scale is not None and not fixed_scales:
            meta["scale_source"] = "--scale"
        elif calibrated:
            meta["scale_source"] = (f"calibrated for ~{args.target:g}s under memcheck"
                                    + (", some from --scales" if fixed_scales else ""))
        else:
            meta["scale_source"] = "--scales" + (" and --scale" if args.scale is not None else "")
        log("scales: " + ", ".join(f"{w.name} {scales[w.name]:g}" for w in workloads))

        shuffler = random.Random(SHUFFLE_SEED)
        total = args.reps * len(workloads) * len(tools)
        done = 0
        for rep in range(args.reps):
            rep_start = time.perf_counter()
            for w in workloads:
                order = list(tools)
                shuffler.shuffle(order)
                for tool in order:
                    done += 1
                    wall, rss, cpu, error = run_once(tool, w, scales[w.name], libtally, args.timeout)
                    runs.append({"workload": w.name, "tool": tool, "rep": rep, "ok": error is None,
                                 "error": error, "wall_s": wall, "maxrss_kb": rss, "cpu_s": cpu})
                    status = f"FAIL {error}" if error else \
                        f"{wall:8.3f}s {rss / 1024:8.1f}M cpu {cpu:7.3f}s"
                    log(f"[{done}/{total}] rep {rep + 1}/{args.reps} {w.name:<15} {tool:<12} {status}")
            meta["reps_done"] = rep + 1
            rep_s = time.perf_counter() - rep_start
            elapsed = time.perf_counter() - start
            if rep + 1 < args.reps and args.budget and elapsed + rep_s > args.budget * 60:
                meta["budget_note"] = (f"stopped after {rep + 1} of {args.reps} reps: another "
                                       f"rep ({rep_s / 60:.1f} min) would end past the "
                                       f"{args.budget:g}-minute budget")
                log("memcheck_compare.py: " + meta["budget_note"])
                break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    meta["elapsed_s"] = time.perf_counter() - start
    names = [w.name for w in workloads]
    summary = summarize(runs, names, tools)
    report = render(meta, summary, names, tools, scales)
    print(report)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        f.write(report + "\n")
    log(f"memcheck_compare.py: wrote {output} ({meta['elapsed_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
