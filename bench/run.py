#!/usr/bin/env python3
"""Interleaved allocator comparison for tally.

Runs every workload (the programs in bench/workloads/ and a few real programs) under every
selected allocator, by LD_PRELOAD, rep after rep with the allocators in a shuffled order
each time, and reports median wall time and median peak RSS per allocator, their ratios to
mimalloc and the geometric means of those ratios, as Markdown (stdout and
bench/results/latest.md) and as raw JSON (bench/results/latest.json).

Run from the repository root:

    python3 bench/run.py --build-dir build            # the full comparison
    python3 bench/run.py --build-dir build --quick    # smoke test, a couple of minutes

Standard library only. The exit status is 0 unless the runner itself breaks: failing
workloads are reported as FAIL in the tables, not by the exit status.
"""

import argparse
import datetime
import fnmatch
import glob
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
PROGRAMS_DIR = os.path.join(BENCH_DIR, "programs")
KNOWN_LEAKS = os.path.join(REPO_DIR, "tests", "realworld", "known_leaks.supp")

BASELINE = "mimalloc"
DEFAULT_ALLOCATORS = "glibc,mimalloc,jemalloc,tcmalloc,scudo,tally-fast,tally-safe,tally-debug"
DEFAULT_REPS = 5
QUICK_REPS = 1
QUICK_SCALE = 0.3
DEFAULT_TIMEOUT = 120.0
SHUFFLE_SEED = 20240607

# Targets for tally-fast (informative: a MISS does not change the exit status).
TARGET_TIME_GEOMEAN = 1.00
TARGET_TIME_WORST = 1.25
TARGET_RSS_GEOMEAN = 1.10
TARGET_VALIDATION_COST = 1.03
# Targets for tally-safe (the checked-modes issue): its cost over tally-fast, and Scudo's.
TARGET_SAFE_OVER_FAST = 1.10

MULTIARCH_LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
                      "/usr/local/lib"]


# ---------------------------------------------------------------------------------------------
# Allocators
# ---------------------------------------------------------------------------------------------

class Allocator:
    def __init__(self, name, library, env=None, note=""):
        self.name = name
        self.library = library  # path to preload, or None for the C library's malloc
        self.env = env or {}
        self.note = note

    def available(self):
        return self.library is None or os.path.isfile(self.library)


def find_library(names, patterns=()):
    """The first existing file among names (tried in the usual library directories) and glob
    patterns; None when there is none."""
    for name in names:
        if os.path.isabs(name):
            if os.path.isfile(name):
                return name
            continue
        for directory in MULTIARCH_LIB_DIRS:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return path
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    return None


def allocator_table(build_dir, novalidate_dir):
    def peer(name, names, patterns=(), fallback=None):
        return Allocator(name, find_library(names, patterns) or fallback)

    tally = os.path.join(build_dir, "libtally.so")
    tally_novalidate = os.path.join(novalidate_dir, "libtally.so")
    table = [
        Allocator("glibc", None, note="no preload"),
        peer("mimalloc", ["libmimalloc.so.2", "libmimalloc.so"],
             fallback="/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"),
        peer("jemalloc", ["libjemalloc.so.2", "libjemalloc.so"],
             fallback="/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
        peer("tcmalloc", ["libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so"],
             fallback="/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"),
        peer("scudo", ["/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so"],
             ["/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so"],
             fallback="/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so"),
        Allocator("tally-fast", tally, {"TALLY_OPTIONS": "mode=fast"}),
        Allocator("tally-safe", tally, {"TALLY_OPTIONS": "mode=safe"}),
        # Debug mode checks for leaks at exit; the real programs' own leaks (the ones
        # LeakSanitizer reports too) are suppressed as in tests/realworld, so the check runs
        # and costs what it costs but does not fail the run.
        Allocator("tally-debug", tally, {"TALLY_OPTIONS": f"mode=debug:suppressions={KNOWN_LEAKS}"}),
        Allocator("tally-novalidate", tally_novalidate, {"TALLY_OPTIONS": "mode=fast"},
                  note="built with -DTALLY_VALIDATE_FREE=OFF"),
    ]
    return {a.name: a for a in table}


def base_environment():
    """The runner's environment without anything that would change which malloc a child
    gets or how it behaves."""
    env = dict(os.environ)
    for key in list(env):
        if key in ("LD_PRELOAD", "LD_LIBRARY_PATH", "BENCH_CHILD_PRELOAD") or \
                key.startswith("TALLY_") or \
                key.startswith("MALLOC_") or key.startswith("MIMALLOC_") or \
                key.startswith("TCMALLOC_") or key.startswith("SCUDO_") or \
                key in ("MALLOC_CONF", "JE_MALLOC_CONF", "GLIBC_TUNABLES"):
            del env[key]
    env["LC_ALL"] = "C"
    return env


def allocator_environment(allocator, extra=None):
    env = base_environment()
    if allocator.library:
        env["LD_PRELOAD"] = allocator.library
    env.update(allocator.env)
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Running one process
# ---------------------------------------------------------------------------------------------

class RunFailure(Exception):
    pass


class ProcessResult:
    def __init__(self, status, wall, maxrss_kb, cpu, stdout, stderr, timed_out):
        self.status = status  # os.wait4 status
        self.wall = wall
        self.maxrss_kb = maxrss_kb
        self.cpu = cpu  # user + system seconds
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def ok(self):
        return not self.timed_out and os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == 0

    def describe(self, what):
        if self.timed_out:
            return f"{what}: timed out after {self.wall:.1f}s"
        if os.WIFSIGNALED(self.status):
            sig = os.WTERMSIG(self.status)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            reason = f"killed by {name}"
        else:
            reason = f"exit status {os.WEXITSTATUS(self.status)}"
        tail = last_lines(self.stderr) or last_lines(self.stdout)
        return f"{what}: {reason}" + (f": {tail}" if tail else "")


def last_lines(text, count=3, limit=300):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    joined = " | ".join(lines[-count:])
    return joined[-limit:]


def require_program(name):
    """The program's path, or a RunFailure saying it is not installed."""
    path = shutil.which(name)
    if not path:
        raise RunFailure(f"{name} is not installed")
    return path


def run_program(ctx, label, cmd, env, result_marker=None):
    """One timed run of a real program in the workload's directory; a failure (status,
    signal, timeout, or no `result_marker` in its output) raises RunFailure."""
    result = run_process(cmd, env, ctx.timeout, cwd=ctx.workdir)
    if not result.ok():
        raise RunFailure(result.describe(label))
    if result_marker is not None and result_marker not in result.stdout:
        raise RunFailure(f"{label}: no result line: " + last_lines(result.stdout))
    return result


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# The helper that measures a child's peak RSS from a small parent (see bench/spawn_rss.cc);
# set by main() when the workload binaries are found. Without it the peak RSS of a run is at
# least the runner's own RSS, which a fork copies into the child before it execs.
SPAWN_HELPER = None


def run_process(cmd, env, timeout, cwd=None, stdin_path=None):
    """Runs cmd in its own process group; returns a ProcessResult with the wall time around
    the child (time.perf_counter) and its peak RSS (ru_maxrss of wait4, which covers the
    child and every descendant it waited for). An LD_PRELOAD in env applies to cmd only,
    not to the spawn helper."""
    env = dict(env)
    preload = env.pop("LD_PRELOAD", None)
    result_path = None
    if SPAWN_HELPER:
        fd, result_path = tempfile.mkstemp(prefix="spawn-", suffix=".txt")
        os.close(fd)
        if preload:
            env["BENCH_CHILD_PRELOAD"] = preload
        argv = [SPAWN_HELPER, result_path, *cmd]
    else:
        if preload:
            env["LD_PRELOAD"] = preload
        argv = list(cmd)
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
            timed_out = threading.Event()

            def on_timeout(pid):
                timed_out.set()
                kill_group(pid)

            try:
                start = time.perf_counter()
                proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=out,
                                        stderr=err, start_new_session=True)
                timer = threading.Timer(timeout, on_timeout, [proc.pid])
                timer.start()
                try:
                    _, status, usage = os.wait4(proc.pid, 0)
                except BaseException:  # e.g. Ctrl-C: do not leave the child running
                    kill_group(proc.pid)
                    raise
                finally:
                    timer.cancel()
                wall = time.perf_counter() - start
                proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
                kill_group(proc.pid)  # anything the child left behind in its group
            finally:
                if stdin is not subprocess.DEVNULL:
                    stdin.close()
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        maxrss_kb = usage.ru_maxrss
        cpu = usage.ru_utime + usage.ru_stime
        if result_path and not timed_out.is_set():
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                with open(result_path) as f:
                    fields = f.read().split()
                status, maxrss_kb, cpu = int(fields[0]), int(fields[1]), int(fields[2]) / 1e6
            else:
                raise RunFailure(f"spawn helper failed ({last_lines(stderr)})")
    finally:
        if result_path:
            os.unlink(result_path)
    return ProcessResult(status, wall, maxrss_kb, cpu, stdout, stderr, timed_out.is_set())


class Measurement:
    def __init__(self, wall, maxrss_kb, cpu=None):
        self.wall = wall
        self.maxrss_kb = maxrss_kb
        self.cpu = cpu  # user + system seconds of the preloaded processes, when known


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

class Context:
    """What a workload needs to run once under one allocator."""

    def __init__(self, allocator, scale, timeout, workdir, quick):
        self.allocator = allocator
        self.scale = scale
        self.timeout = timeout
        self.workdir = workdir
        self.quick = quick

    def env(self, extra=None):
        return allocator_environment(self.allocator, extra)


class MicroWorkload:
    """One of the programs in bench/workloads/, as `<binary> <threads> <scale>`."""

    kind = "micro"

    def __init__(self, program, threads, scale=1.0):
        self.program = program
        self.threads = threads
        self.scale = scale
        self.name = f"{program}-t{threads}"
        self.binary = None

    def prepare(self, bench_bin, workdir, quick, scale):
        self.binary = os.path.join(bench_bin, self.program)
        if not os.access(self.binary, os.X_OK):
            raise RunFailure(f"missing workload binary {self.binary}")

    def command(self, scale):
        return [self.binary, str(self.threads), f"{self.scale * scale:g}"]

    def run(self, ctx):
        result = run_process(self.command(ctx.scale), ctx.env(), ctx.timeout, cwd=ctx.workdir)
        if not result.ok():
            raise RunFailure(result.describe(self.program))
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


class PythonWorkload:
    """/usr/bin/python3 running bench/programs/py_workload.py, with PYTHONMALLOC=malloc so
    that every object allocation reaches the allocator under test (pymalloc would serve the
    small ones itself)."""

    kind = "program"
    name = "python"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else \
            os.path.realpath(sys.executable)
        self.script = os.path.join(PROGRAMS_DIR, "py_workload.py")

    def run(self, ctx):
        env = ctx.env({"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0",
                       "PYTHONDONTWRITEBYTECODE": "1"})
        for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
            env.pop(key, None)
        cmd = [self.python, "-S", "-B", self.script, f"{ctx.scale:g}"]
        result = run_program(ctx, "python", cmd, env, "py_workload: records=")
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


class PhpWorkload:
    """php running tests/realworld/workloads/php_workload.php (arrays, strings, regexes,
    JSON, objects and cycles, serialization) with USE_ZEND_ALLOC=0, so that every value is
    allocated by malloc rather than by PHP's own allocator. With -n (no php.ini, so no
    shared extensions): PHP opens those with RTLD_DEEPBIND, which tally undoes (README) but
    mimalloc and jemalloc do not, and php preloaded with them crashes."""

    kind = "program"
    name = "php"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.php = require_program("php")
        self.script = os.path.join(REPO_DIR, "tests", "realworld", "workloads", "php_workload.php")

    def run(self, ctx):
        cmd = [self.php, "-n", "-d", "memory_limit=2G", self.script]
        result = run_program(ctx, "php", cmd, ctx.env({"USE_ZEND_ALLOC": "0"}), "sha1: ")
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


class PerlWorkload:
    """perl running tests/realworld/workloads/perl_workload.pl (hashes of arrays, strings and
    regexes, nested records, closures): an interpreter whose every value is malloc'd. Scale
    1: about 0.6 s with glibc."""

    kind = "program"
    name = "perl"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.perl = require_program("perl")
        self.script = os.path.join(REPO_DIR, "tests", "realworld", "workloads", "perl_workload.pl")

    def run(self, ctx):
        # Perl frees its interpreter at exit only when asked: without it debug mode's leak
        # check reports what perl leaves to the kernel (tests/realworld/perl.sh).
        cmd = [self.perl, self.script, f"{ctx.scale:g}"]
        result = run_program(ctx, "perl", cmd, ctx.env({"PERL_DESTRUCT_LEVEL": "2"}),
                             "perl_workload: keys=")
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


class JqWorkload:
    """jq parsing JSON records generated by tests/realworld/workloads/jq_generate.awk (6.9 MB
    at scale 1) and running a select/reshape/group filter: a tree of small blocks built and
    freed. The first program outside the suite where tally was slower than mimalloc (huge
    pages on a lazily backed virtual machine, docs/design.md)."""

    kind = "program"
    name = "jq"
    FILTER = ('[.[] | select(.a > 4) | {id, n: (.c | length), s: (.c | add // 0), '
              't: (.d.tags | join("-"))}] | group_by(.n) | '
              'map({n: .[0].n, count: length, total: (map(.s) | add)}) | tojson')

    def prepare(self, bench_bin, workdir, quick, scale):
        self.jq = require_program("jq")
        self.data = os.path.join(workdir, "jq_records.json")
        generator = os.path.join(REPO_DIR, "tests", "realworld", "workloads", "jq_generate.awk")
        with open(self.data, "w") as out:
            subprocess.run(["awk", "-v", f"records={max(1000, int(60000 * scale))}", "-f",
                            generator], stdout=out, check=True, env=base_environment())
        # What jq prints with the C library's malloc: every run must print the same.
        expected = subprocess.run([self.jq, "-r", self.FILTER, self.data], capture_output=True,
                                  text=True, check=True, env=base_environment())
        self.expected = expected.stdout

    def run(self, ctx):
        result = run_program(ctx, "jq", [self.jq, "-r", self.FILTER, self.data], ctx.env())
        if result.stdout != self.expected:
            raise RunFailure("jq: output differs from the run without a preload")
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


def sql_assert(condition, label):
    # abs() of the smallest integer raises "integer overflow", which stops sqlite3 -bail.
    return (f"SELECT CASE WHEN {condition} THEN 'ok {label}' "
            f"ELSE abs(-9223372036854775807 - 1) END;\n")


def generate_sql(scale):
    """A deterministic SQL script: tables filled by INSERT statements and by a recursive
    CTE, indexes, joins, aggregates, window functions, updates and deletes, and assertions
    that make sqlite3 fail if a result is wrong."""
    rng = random.Random(4242)
    customers = max(200, int(8000 * scale))
    products = max(100, int(2000 * scale))
    orders = max(2000, int(100000 * scale))
    cities = ["Aberdeen", "Bergen", "Cork", "Dresden", "Evora", "Florence", "Graz", "Haarlem",
              "Innsbruck", "Jena", "Krakow", "Lyon", "Malmo", "Nantes", "Oulu", "Porto"]
    syllables = ["ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "be", "do", "fa", "gu"]
    out = ["PRAGMA journal_mode=OFF;\n",
           "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, "
           "joined INTEGER);\n",
           "CREATE TABLE product(id INTEGER PRIMARY KEY, title TEXT NOT NULL, price REAL, "
           "category TEXT);\n",
           "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, product_id INTEGER, "
           "qty INTEGER, note TEXT);\n",
           "BEGIN;\n"]
    for start in range(1, customers + 1, 100):
        rows = []
        for i in range(start, min(start + 100, customers + 1)):
            name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 5))).title()
            rows.append(f"({i},'{name} {i}','{rng.choice(cities)}',{rng.randint(2000, 2024)})")
        out.append("INSERT INTO customer VALUES " + ",".join(rows) + ";\n")
    for start in range(1, products + 1, 100):
        rows = []
        for i in range(start, min(start + 100, products + 1)):
            title = "-".join(rng.choice(syllables) for _ in range(rng.randint(2, 6)))
            rows.append(f"({i},'{title}',{rng.randint(100, 99999) / 100},'cat{rng.randint(1, 40)}')")
        out.append("INSERT INTO product VALUES " + ",".join(rows) + ";\n")
    out.append("COMMIT;\nBEGIN;\n")
    out.append(
        f"WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {orders}) "
        f"INSERT INTO orders SELECT x, 1 + (x * 7919) % {customers}, "
        f"1 + ((x * 2246822519) % 1000003) % {products}, "
        f"1 + x % 7, printf('order-%d-%s', x, hex((x * 2654435761) % 1000003)) FROM seq;\n")
    out.append("COMMIT;\n")
    out.append("CREATE INDEX orders_customer ON orders(customer_id);\n")
    out.append("CREATE INDEX orders_product ON orders(product_id, qty);\n")
    out.append("CREATE INDEX customer_city ON customer(city, name);\n")
    out.append(sql_assert(f"(SELECT count(*) FROM orders) = {orders}", "orders"))
    out.append(sql_assert(f"(SELECT count(*) FROM customer) = {customers}", "customers"))
    out.append(
        "SELECT c.city, count(*), round(sum(o.qty * p.price), 2) FROM orders o "
        "JOIN customer c ON c.id = o.customer_id JOIN product p ON p.id = o.product_id "
        "GROUP BY c.city ORDER BY 3 DESC;\n")
    out.append(
        "SELECT p.category, count(*), round(avg(o.qty), 3), max(p.price) FROM orders o "
        "JOIN product p ON p.id = o.product_id GROUP BY p.category ORDER BY 1;\n")
    out.append(
        "SELECT name FROM customer WHERE id IN (SELECT customer_id FROM orders GROUP BY "
        "customer_id HAVING sum(qty) > 60) ORDER BY name LIMIT 20;\n")
    out.append(
        "CREATE TEMP TABLE ranked AS SELECT customer_id, id, qty, sum(qty) OVER (PARTITION BY "
        "customer_id ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS running, "
        "rank() OVER (PARTITION BY product_id ORDER BY qty DESC, id) AS r FROM orders;\n")
    out.append(sql_assert(f"(SELECT count(*) FROM ranked) = {orders}", "window"))
    out.append("SELECT max(running), count(DISTINCT r) FROM ranked;\n")
    out.append("UPDATE orders SET note = note || '-shipped-' || upper(hex(id)) WHERE id % 3 = 0;\n")
    out.append("DELETE FROM orders WHERE id % 5 = 0;\n")
    remaining = orders - orders // 5
    out.append(sql_assert(f"(SELECT count(*) FROM orders) = {remaining}", "delete"))
    shipped = sum(1 for i in range(1, orders + 1) if i % 3 == 0 and i % 5 != 0)
    out.append(sql_assert(f"(SELECT count(*) FROM orders WHERE note LIKE '%-shipped-%') = {shipped}",
                          "update"))
    out.append(
        "SELECT length(group_concat(title, ',')) FROM (SELECT title FROM product ORDER BY title);\n")
    out.append(
        "SELECT c.name, group_concat(p.title, ';') FROM customer c JOIN orders o ON "
        "o.customer_id = c.id JOIN product p ON p.id = o.product_id WHERE c.id % 97 = 1 "
        "GROUP BY c.id ORDER BY c.id LIMIT 50;\n")
    out.append("DROP TABLE ranked;\n")
    out.append("CREATE TABLE words AS SELECT DISTINCT note || '/' || title AS w FROM orders o "
               "JOIN product p ON p.id = o.product_id ORDER BY w DESC;\n")
    out.append(sql_assert("(SELECT count(*) FROM words) > 0", "words"))
    out.append("SELECT 'bench-script-complete';\n")
    return "".join(out)


class SqliteWorkload:
    """sqlite3 (the command-line shell) running a generated SQL script on :memory:."""

    kind = "program"
    name = "sqlite"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.sqlite = shutil.which("sqlite3")
        if not self.sqlite:
            raise RunFailure("sqlite3 is not installed")
        self.script = os.path.join(workdir, "sqlite_workload.sql")
        with open(self.script, "w") as f:
            f.write(generate_sql(scale))

    def run(self, ctx):
        cmd = [self.sqlite, "-batch", "-bail", ":memory:"]
        result = run_process(cmd, ctx.env(), ctx.timeout, cwd=ctx.workdir, stdin_path=self.script)
        if not result.ok():
            raise RunFailure(result.describe("sqlite3"))
        if not result.stdout.rstrip().endswith("bench-script-complete"):
            raise RunFailure("sqlite3: script did not finish: " + last_lines(result.stdout))
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


class GitWorkload:
    """git: init, add and commit a few hundred generated files, change a quarter of them and
    commit again (three times), then log -p, diff, gc, and status. The wall time is the sum
    over the git commands (the file edits between them are not timed); the peak RSS is the
    largest over them."""

    kind = "program"
    name = "git"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.git = shutil.which("git")
        if not self.git:
            raise RunFailure("git is not installed")
        self.files = max(40, int(350 * scale))
        self.commits = 4
        # The file contents of every commit, generated once (deterministically) up front so
        # that the runs spend their time in git, not in Python.
        rng = random.Random(777)
        self.plan = [[(i, self.file_text(rng, i, 0)) for i in range(self.files)]]
        for generation in range(1, self.commits):
            changed = sorted(rng.sample(range(self.files), self.files // 4))
            self.plan.append([(i, self.file_text(rng, i, generation)) for i in changed])

    @staticmethod
    def file_text(rng, index, generation):
        lines = [f"// file {index}, generation {generation}"]
        for n in range(rng.randint(40, 160)):
            words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega", "value",
                                         "count", "index", "buffer", "result", "node"])
                             for _ in range(rng.randint(3, 10)))
            lines.append(f"int f{index}_{n}(int x) {{ return x * {rng.randint(1, 999)}; }} // {words}")
        return "\n".join(lines) + "\n"

    def run(self, ctx):
        repo = tempfile.mkdtemp(prefix="git-", dir=ctx.workdir)
        try:
            return self._run(ctx, repo)
        finally:
            shutil.rmtree(repo, ignore_errors=True)

    def _run(self, ctx, repo):
        home = os.path.join(repo, ".home")
        work = os.path.join(repo, "work")
        os.makedirs(home)
        os.makedirs(work)
        config = {"user.name": "Bench", "user.email": "bench@example.invalid", "gc.auto": "0",
                  "core.fsync": "none", "init.defaultBranch": "main", "core.pager": "cat",
                  "commit.gpgsign": "false", "maintenance.auto": "false"}
        extra = {"HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
                 "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
                 "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "GIT_CONFIG_COUNT": str(len(config))}
        for i, (key, value) in enumerate(config.items()):
            extra[f"GIT_CONFIG_KEY_{i}"] = key
            extra[f"GIT_CONFIG_VALUE_{i}"] = value
        env = ctx.env(extra)
        wall = 0.0
        cpu = 0.0
        maxrss = 0
        deadline = time.perf_counter() + ctx.timeout

        def git(*args):
            nonlocal wall, cpu, maxrss
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise RunFailure("git: timed out")
            result = run_process([self.git, *args], env, remaining, cwd=work)
            wall += result.wall
            cpu += result.cpu
            maxrss = max(maxrss, result.maxrss_kb)
            if result.timed_out:
                raise RunFailure(f"git {args[0]}: timed out (the git commands together "
                                 f"exceeded {ctx.timeout:g}s)")
            if not result.ok():
                raise RunFailure(result.describe("git " + args[0]))
            return result.stdout

        def write_files(files):
            for i, text in files:
                sub = os.path.join(work, f"dir{i % 12}")
                os.makedirs(sub, exist_ok=True)
                with open(os.path.join(sub, f"file{i}.c"), "w") as f:
                    f.write(text)

        write_files(self.plan[0])
        git("init", "-q")
        git("add", "-A")
        git("commit", "-q", "-m", "initial import")
        for generation in range(1, self.commits):
            write_files(self.plan[generation])
            git("add", "-A")
            git("commit", "-q", "-m", f"generation {generation}")
        git("log", "-p", "--stat")
        git("diff", "--stat", "HEAD~2", "HEAD")
        git("gc", "-q")
        count = git("rev-list", "--count", "HEAD").strip()
        if count != str(self.commits):
            raise RunFailure(f"git: expected {self.commits} commits, found {count!r}")
        status = git("status", "--porcelain")
        if status.strip():
            raise RunFailure("git: work tree not clean after commit: " + last_lines(status))
        return Measurement(wall, maxrss, cpu)


class CompileWorkload:
    """g++ -O2 -c bench/programs/compile_me.cc (driver, cc1plus and as all preloaded)."""

    kind = "program"
    name = "gxx"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.compiler = shutil.which("g++")
        if not self.compiler:
            raise RunFailure("g++ is not installed")
        self.source = os.path.join(PROGRAMS_DIR, "compile_me.cc")
        self.quick = quick

    def run(self, ctx):
        output = os.path.join(ctx.workdir, "compile_me.o")
        cmd = [self.compiler, "-std=c++17", "-O2", "-c", self.source, "-o", output]
        if self.quick:
            cmd.insert(1, "-DBENCH_QUICK")
        result = run_process(cmd, ctx.env(), ctx.timeout, cwd=ctx.workdir)
        if not result.ok():
            raise RunFailure(result.describe("g++"))
        if not os.path.getsize(output):
            raise RunFailure("g++: empty object file")
        os.unlink(output)
        return Measurement(result.wall, result.maxrss_kb, result.cpu)


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_command(*args):
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(parts)


def redis_roundtrip(port, payload, expect_prefix, timeout=5.0):
    """Sends one RESP request and reads until the reply starts with expect_prefix (bounded
    by the timeout and by the size of what is read)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        reply = b""
        while len(reply) < len(expect_prefix) + 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
            if reply.startswith(expect_prefix) or (reply.endswith(b"\r\n") and
                                                   len(reply) >= len(expect_prefix)):
                break
        return reply


class RedisWorkload:
    """redis-server preloaded with the allocator, driven by redis-benchmark (not preloaded)
    over loopback: SET, GET and LPUSH, pipelined. Wall time is redis-benchmark's; peak RSS
    is the server's VmHWM, read just before it is shut down.

    Debian links redis-server against libjemalloc, so the `glibc` column preloads libc.so.6
    to make the server use the C library's malloc after all."""

    kind = "program"
    name = "redis"

    def prepare(self, bench_bin, workdir, quick, scale):
        self.server = shutil.which("redis-server")
        self.client = shutil.which("redis-benchmark")
        if not self.server or not self.client:
            raise RunFailure("redis-server or redis-benchmark is not installed")
        self.requests = max(5000, int(100000 * scale))
        self.libc = find_library(["libc.so.6"])

    def run(self, ctx):
        extra = {}
        if ctx.allocator.library is None and self.libc:
            extra["LD_PRELOAD"] = self.libc
        env = ctx.env(extra)
        datadir = tempfile.mkdtemp(prefix="redis-", dir=ctx.workdir)
        server = None
        log = open(os.path.join(datadir, "server.log"), "wb")
        try:
            for attempt in range(3):  # another process may take the free port first
                port = free_loopback_port()
                server = subprocess.Popen(
                    [self.server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
                     "--dir", datadir, "--databases", "1"],
                    env=env, cwd=datadir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True)
                try:
                    self._wait_ready(server, port, datadir)
                    break
                except RunFailure:
                    if server.poll() is None or attempt == 2 or \
                            "Address already in use" not in self._log_tail(datadir):
                        raise
                    server = None
            bench_cmd = [self.client, "-h", "127.0.0.1", "-p", str(port), "-n", str(self.requests),
                         "-q", "-P", "16", "-c", "20", "-d", "64", "-r", "200000",
                         "-t", "set,get,lpush"]
            result = run_process(bench_cmd, base_environment(), ctx.timeout, cwd=datadir)
            if server.poll() is not None:
                raise RunFailure("redis-server died during the benchmark: " +
                                 self._log_tail(datadir))
            if not result.ok():
                raise RunFailure(result.describe("redis-benchmark"))
            if result.stdout.count("requests per second") < 3:
                raise RunFailure("redis-benchmark: incomplete output: " + last_lines(result.stdout))
            self._probe(port)
            hwm_kb = self._vm_hwm_kb(server.pid)
            server_cpu = self._cpu_seconds(server.pid)
            self._stop(server, port)
            status = server.returncode
            server = None
            if status != 0:
                raise RunFailure(f"redis-server exited with status {status} at shutdown: " +
                                 self._log_tail(datadir))
            return Measurement(result.wall, hwm_kb, server_cpu)
        finally:
            if server is not None:
                kill_group(server.pid)
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            log.close()
            shutil.rmtree(datadir, ignore_errors=True)

    @staticmethod
    def _log_tail(datadir):
        try:
            with open(os.path.join(datadir, "server.log"), errors="replace") as f:
                return last_lines(f.read())
        except OSError:
            return ""

    def _wait_ready(self, server, port, datadir):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RunFailure(f"redis-server exited with status {server.returncode} at start: " +
                                 self._log_tail(datadir))
            try:
                if redis_roundtrip(port, resp_command("PING"), b"+PONG", timeout=1).startswith(b"+PONG"):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RunFailure("redis-server did not answer PING within 15 s")

    @staticmethod
    def _probe(port):
        value = b"tally-probe-" + b"x" * 300
        if not redis_roundtrip(port, resp_command("SET", "bench:probe", value), b"+OK").startswith(b"+OK"):
            raise RunFailure("redis: SET probe failed")
        reply = redis_roundtrip(port, resp_command("GET", "bench:probe"), b"$")
        if value not in reply:
            raise RunFailure("redis: GET probe returned the wrong value")

    @staticmethod
    def _vm_hwm_kb(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _cpu_seconds(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def _stop(server, port):
        try:
            redis_roundtrip(port, resp_command("SHUTDOWN", "NOSAVE"), b"", timeout=2)
        except OSError:
            pass  # the server closes the connection without answering
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_group(server.pid)
            server.wait(timeout=10)
            raise RunFailure("redis-server did not shut down within 15 s")


def workload_table():
    multi = ["larson", "xmalloc_test", "cache_scratch", "cache_thrash", "alloc_test", "mstress"]
    single = ["realloc_growth", "large_blocks", "small_churn", "sparse_buffers", "bursty_threads"]
    table = []
    for program in multi:
        table.append(MicroWorkload(program, 1))
        table.append(MicroWorkload(program, 2))
    for program in single:
        table.append(MicroWorkload(program, 1))
    table += [PythonWorkload(), SqliteWorkload(), GitWorkload(), CompileWorkload(), RedisWorkload(),
              PhpWorkload(), PerlWorkload(), JqWorkload()]
    return table


def select_workloads(table, patterns):
    if not patterns:
        return table
    chosen = []
    unmatched = set(patterns)
    for workload in table:
        base = workload.program if isinstance(workload, MicroWorkload) else workload.name
        for pattern in patterns:
            if pattern in (workload.name, base) or fnmatch.fnmatchcase(workload.name, pattern):
                chosen.append(workload)
                unmatched.discard(pattern)
                break
    if unmatched:
        raise SystemExit(f"run.py: no workload matches {', '.join(sorted(unmatched))} "
                         f"(known: {', '.join(w.name for w in table)})")
    return chosen


# ---------------------------------------------------------------------------------------------
# Building what is needed
# ---------------------------------------------------------------------------------------------

def default_workdir_parent():
    """/dev/shm when it is a writable tmpfs (keeps disk latency out of the git and redis
    runs), else the system's temporary directory."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


def log(message):
    print(message, file=sys.stderr, flush=True)


def workload_binaries_present(directory, table):
    programs = ["spawn_rss"] + [w.program for w in table if isinstance(w, MicroWorkload)]
    return all(os.access(os.path.join(directory, p), os.X_OK) for p in programs)


def locate_workload_binaries(args, table):
    """The directory holding the workload executables: --bench-bin as given; else
    <build>/bench, brought up to date through the project's bench_workloads target (a no-op
    when nothing changed); else a standalone build of bench/ in <build>/bench-standalone."""
    if args.bench_bin:
        return os.path.abspath(args.bench_bin)
    build = os.path.abspath(args.build_dir)
    in_build = os.path.join(build, "bench")
    if os.path.isfile(os.path.join(build, "CMakeCache.txt")):
        done = subprocess.run(["cmake", "--build", build, "-j2", "--target", "bench_workloads"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode == 0 and workload_binaries_present(in_build, table):
            return in_build
        log(done.stdout[-3000:])
        if workload_binaries_present(in_build, table):
            log(f"run.py: WARNING: could not rebuild the workloads in {build}; using the "
                "executables already there, which may be out of date")
            return in_build
    elif workload_binaries_present(in_build, table):
        return in_build
    standalone = os.path.join(build, "bench-standalone")
    log(f"run.py: building the workloads standalone in {standalone}")
    for cmd in (["cmake", "-S", BENCH_DIR, "-B", standalone, "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", standalone, "-j2"]):
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            log(done.stdout[-3000:])
            raise SystemExit("run.py: could not build the workloads: " + " ".join(cmd))
    return os.path.join(standalone, "bench")


def build_novalidate(novalidate_dir):
    """Configures and builds the second libtally.so with free validation compiled out."""
    log(f"run.py: building tally without free validation in {novalidate_dir}")
    for cmd in (["cmake", "-S", REPO_DIR, "-B", novalidate_dir, "-DCMAKE_BUILD_TYPE=Release",
                 "-DTALLY_VALIDATE_FREE=OFF", "-DTALLY_BUILD_TESTS=OFF"],
                ["cmake", "--build", novalidate_dir, "-j2", "--target", "tally"]):
        done = subprocess.run(cmd, cwd=REPO_DIR, stdout=sys.stderr, stderr=sys.stderr)
        if done.returncode != 0:
            return "build failed: " + " ".join(cmd)
    return None


# ---------------------------------------------------------------------------------------------
# Statistics and report
# ---------------------------------------------------------------------------------------------

def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(runs, workloads, allocators):
    """{workload: {allocator: {...}}} with medians over the successful runs and the failure
    count."""
    summary = {}
    for w in workloads:
        summary[w] = {}
        for a in allocators:
            mine = [r for r in runs if r["workload"] == w and r["allocator"] == a]
            ok = [r for r in mine if r["ok"]]
            failed = [r for r in mine if not r["ok"]]
            entry = {"runs": len(mine), "failed": len(failed),
                     "errors": sorted({r["error"] for r in failed})}
            if ok:
                entry["wall_s"] = statistics.median(r["wall_s"] for r in ok)
                entry["maxrss_kb"] = statistics.median(r["maxrss_kb"] for r in ok)
                entry["wall_min_s"] = min(r["wall_s"] for r in ok)
                entry["wall_max_s"] = max(r["wall_s"] for r in ok)
                cpus = [r["cpu_s"] for r in ok if r.get("cpu_s") is not None]
                if cpus:
                    entry["cpu_s"] = statistics.median(cpus)
            summary[w][a] = entry
    return summary


def usable(entry):
    return entry is not None and entry["runs"] > 0 and entry["failed"] == 0 and "wall_s" in entry


def ratios(summary, workloads, allocator, reference, key):
    """Per-workload ratio allocator/reference for key; None where either failed."""
    result = {}
    for w in workloads:
        mine = summary[w].get(allocator)
        ref = summary[w].get(reference)
        if usable(mine) and usable(ref) and mine.get(key) and ref.get(key):
            result[w] = mine[key] / ref[key]
        else:
            result[w] = None
    return result


def format_table(summary, workloads, allocators, key, unit_format, title, baseline):
    lines = [f"### {title}", ""]
    lines.append("| workload | " + " | ".join(allocators) + " |")
    lines.append("|---|" + "---:|" * len(allocators))
    per_allocator_ratios = {a: ratios(summary, workloads, a, baseline, key) for a in allocators}
    for w in workloads:
        cells = []
        for a in allocators:
            entry = summary[w][a]
            if entry["runs"] == 0:
                cells.append("–")
            elif not usable(entry):
                cells.append(f"FAIL ({entry['failed']}/{entry['runs']})")
            elif entry.get(key) is None:
                cells.append("–")
            else:
                ratio = per_allocator_ratios[a][w]
                text = unit_format(entry[key])
                cells.append(f"{text} ({ratio:.2f})" if ratio is not None else text)
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    cells = []
    for a in allocators:
        values = [v for v in per_allocator_ratios[a].values() if v is not None]
        g = geomean(values)
        if g is None:
            cells.append("–")
        else:
            missing = len(workloads) - len(values)
            cells.append(f"**{g:.3f}**" + (f" ({len(values)}/{len(workloads)})" if missing else ""))
    lines.append("| **geomean ratio** | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def target_lines(summary, workloads, allocators, validation_cost):
    lines = ["### Targets (tally-fast)", ""]
    verdicts = []

    def verdict(label, ok, detail):
        state = "PASS" if ok else "MISS"
        verdicts.append(state)
        lines.append(f"- {state}: {label} — {detail}")

    def not_measured(label, why):
        lines.append(f"- n/a: {label} — {why}")

    if "tally-fast" not in allocators or BASELINE not in allocators:
        not_measured("all targets", f"needs both tally-fast and {BASELINE} in the run")
        lines.append("")
        # The checked modes' targets compare with tally-fast and Scudo, not the baseline.
        return lines + checked_target_lines(summary, workloads, allocators)
    time_ratios = ratios(summary, workloads, "tally-fast", BASELINE, "wall_s")
    rss_ratios = ratios(summary, workloads, "tally-fast", BASELINE, "maxrss_kb")
    failed = [w for w in workloads if not usable(summary[w]["tally-fast"])]
    baseline_failed = [w for w in workloads if not usable(summary[w][BASELINE])]
    failed_note = f"; tally-fast FAILED in {', '.join(failed)}" if failed else ""
    base_note = f"; {BASELINE} failed in {', '.join(baseline_failed)} (left out)" if baseline_failed else ""

    g = geomean([v for v in time_ratios.values() if v is not None])
    if g is None:
        not_measured(f"time geomean vs {BASELINE} <= {TARGET_TIME_GEOMEAN:.2f}", "no successful runs")
    else:
        verdict(f"time geomean vs {BASELINE} <= {TARGET_TIME_GEOMEAN:.2f}",
                g <= TARGET_TIME_GEOMEAN and not failed, f"{g:.3f}{failed_note}{base_note}")
    worst = sorted(((v, w) for w, v in time_ratios.items() if v is not None), reverse=True)
    over = [f"{w} {v:.2f}" for v, w in worst if v > TARGET_TIME_WORST]
    if worst:
        detail = f"worst {worst[0][1]} {worst[0][0]:.2f}"
        if over:
            detail += "; over: " + ", ".join(over)
        verdict(f"no workload's time ratio > {TARGET_TIME_WORST:.2f}", not over and not failed,
                detail + failed_note)
    else:
        not_measured(f"no workload's time ratio > {TARGET_TIME_WORST:.2f}", "no successful runs")
    g = geomean([v for v in rss_ratios.values() if v is not None])
    if g is None:
        not_measured(f"peak RSS geomean vs {BASELINE} <= {TARGET_RSS_GEOMEAN:.2f}", "no successful runs")
    else:
        verdict(f"peak RSS geomean vs {BASELINE} <= {TARGET_RSS_GEOMEAN:.2f}",
                g <= TARGET_RSS_GEOMEAN and not failed, f"{g:.3f}{failed_note}{base_note}")
    label = f"validation cost: time geomean tally-fast / tally-novalidate <= {TARGET_VALIDATION_COST:.2f}"
    if validation_cost and "tally-novalidate" in allocators:
        v = ratios(summary, workloads, "tally-fast", "tally-novalidate", "wall_s")
        g = geomean([x for x in v.values() if x is not None])
        if g is None:
            not_measured(label, "no successful runs of both")
        else:
            worst_v = max(((x, w) for w, x in v.items() if x is not None))
            verdict(label, g <= TARGET_VALIDATION_COST,
                    f"{g:.3f} (worst {worst_v[1]} {worst_v[0]:.2f})")
    else:
        not_measured(label, "run with --validation-cost to measure")
    lines.append("")
    lines += checked_target_lines(summary, workloads, allocators)
    return lines


def checked_target_lines(summary, workloads, allocators):
    """safe mode's targets: at most TARGET_SAFE_OVER_FAST of fast mode's time (geomean) and
    faster than Scudo; debug mode's cost over fast mode, for information."""
    lines = ["### Targets (tally-safe, tally-debug)", ""]

    def pair(numerator, denominator):
        if numerator not in allocators or denominator not in allocators:
            return None, None
        v = ratios(summary, workloads, numerator, denominator, "wall_s")
        values = [x for x in v.values() if x is not None]
        if not values:
            return None, None
        return geomean(values), max((x, w) for w, x in v.items() if x is not None)

    g, worst = pair("tally-safe", "tally-fast")
    label = f"tally-safe time geomean / tally-fast <= {TARGET_SAFE_OVER_FAST:.2f}"
    if g is None:
        lines.append(f"- n/a: {label} — needs tally-safe and tally-fast")
    else:
        state = "PASS" if g <= TARGET_SAFE_OVER_FAST else "MISS"
        lines.append(f"- {state}: {label} — {g:.3f} (worst {worst[1]} {worst[0]:.2f})")
    g, worst = pair("tally-safe", "scudo")
    label = "tally-safe faster than scudo (time geomean tally-safe / scudo < 1)"
    if g is None:
        lines.append(f"- n/a: {label} — needs tally-safe and scudo")
    else:
        state = "PASS" if g < 1.0 else "MISS"
        lines.append(f"- {state}: {label} — {g:.3f} (worst {worst[1]} {worst[0]:.2f})")
    g, worst = pair("tally-debug", "tally-fast")
    if g is not None:
        lines.append(f"- info: tally-debug time geomean / tally-fast — {g:.3f} "
                     f"(worst {worst[1]} {worst[0]:.2f}); its target (5x faster than memcheck) "
                     "is measured by bench/memcheck_compare.py")
    lines.append("")
    return lines


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "load_at_start": load, "hostname": platform.node()}


def git_commit():
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR,
                              capture_output=True, text=True, timeout=10)
        if done.returncode == 0:
            commit = done.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=REPO_DIR, capture_output=True, text=True, timeout=10)
            if dirty.returncode == 0 and dirty.stdout.strip():
                commit += " (with uncommitted changes)"
            return commit
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def fmt_seconds(value):
    return f"{value:.3f}s"


def fmt_mib(value_kb):
    return f"{value_kb / 1024:.1f}M"


def render_report(meta, summary, workloads, allocators, skipped, validation_cost, elapsed):
    lines = ["# tally allocator benchmark", ""]
    lines.append(f"- date: {meta['date']}")
    m = meta["machine"]
    lines.append(f"- machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}, "
                 f"load average at start {m['load_at_start']}")
    lines.append(f"- commit: {meta['commit']}")
    lines.append(f"- reps: {meta['reps']} (interleaved; allocator order shuffled per rep and "
                 f"workload, seed {SHUFFLE_SEED}), scale {meta['scale']:g}"
                 + (" (--quick)" if meta["quick"] else ""))
    lines.append("- allocators: " + ", ".join(
        f"{a} ({meta['allocators'][a]})" for a in allocators))
    for name, reason in skipped.items():
        lines.append(f"- skipped: {name} — {reason}")
    lines.append(f"- runner time: {elapsed / 60:.1f} min")
    lines.append("")
    lines.append(f"Cells: median over the reps, then (in parentheses) the ratio to {BASELINE}; "
                 "lower is better. FAIL (failed/runs): at least one run failed (non-zero exit, "
                 "signal, timeout or wrong result). The geomean row is over the workloads where "
                 f"both the allocator and {BASELINE} succeeded. Wall time and peak RSS are the "
                 "measures the targets use; CPU time is there to tell allocator cost from noise "
                 "when the machine is shared (compare the load average above).")
    lines.append("")
    lines += format_table(summary, workloads, allocators, "wall_s", fmt_seconds,
                          "Wall time (median)", BASELINE)
    lines += format_table(summary, workloads, allocators, "maxrss_kb", fmt_mib,
                          "Peak RSS (median, MiB)", BASELINE)
    lines += format_table(summary, workloads, allocators, "cpu_s", fmt_seconds,
                          "CPU time (median user+system of the preloaded processes; "
                          "for redis the server's)", BASELINE)
    lines += target_lines(summary, workloads, allocators, validation_cost)
    failures = []
    for w in workloads:
        for a in allocators:
            for error in summary[w][a]["errors"]:
                failures.append(f"- {w} / {a}: {error}")
    if failures:
        lines += ["### Failures", ""] + failures + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Interleaved allocator comparison (run from the repository root).")
    parser.add_argument("--build-dir", default="build",
                        help="tally's build directory: <dir>/libtally.so is preloaded and the "
                             "workloads are taken from <dir>/bench (default: build)")
    parser.add_argument("--bench-bin", help="directory of the workload executables "
                        "(default: <build-dir>/bench, built if missing)")
    parser.add_argument("--allocators", default=DEFAULT_ALLOCATORS,
                        help=f"comma-separated (default: {DEFAULT_ALLOCATORS}); also known: "
                             "tally-debug, tally-novalidate")
    parser.add_argument("--workloads", help="comma-separated names, base names or glob "
                        "patterns (e.g. larson,mstress-t2,'cache_*',redis); default: all")
    parser.add_argument("--reps", type=int, help=f"repetitions (default {DEFAULT_REPS}, "
                        f"--quick {QUICK_REPS})")
    parser.add_argument("--scale", type=float, help="multiplies every workload's size "
                        f"(default 1.0, --quick {QUICK_SCALE})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_REPS} rep(s) at scale {QUICK_SCALE}")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per run (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--validation-cost", action="store_true",
                        help="also build tally with -DTALLY_VALIDATE_FREE=OFF in "
                             "build-novalidate/ and compare tally-fast against it")
    parser.add_argument("--novalidate-dir", default="build-novalidate",
                        help="build directory for --validation-cost (default build-novalidate)")
    parser.add_argument("--output", default=os.path.join(RESULTS_DIR, "latest"),
                        help="path prefix for the .md and .json results (default bench/results/latest)")
    parser.add_argument("--workdir", help="parent of the scratch directory (default /dev/shm "
                        "when writable, else the system temporary directory)")
    parser.add_argument("--tally-variant", action="append", default=[], metavar="NAME=OPTIONS",
                        help="one more allocator: tally from --build-dir with TALLY_OPTIONS=OPTIONS, "
                             "named NAME (repeatable; for A/B runs of one option, e.g. "
                             "'tally-nohuge=mode=fast:huge_pages=0')")
    parser.add_argument("--list", action="store_true", help="list workloads and allocators, then exit")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = QUICK_REPS if args.quick else DEFAULT_REPS
    if args.scale is None:
        args.scale = QUICK_SCALE if args.quick else 1.0
    if args.reps < 1 or args.scale <= 0 or args.timeout <= 0:
        parser.error("--reps, --scale and --timeout must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    build_dir = os.path.abspath(args.build_dir)
    novalidate_dir = os.path.abspath(args.novalidate_dir)
    known = allocator_table(build_dir, novalidate_dir)
    for variant in args.tally_variant:
        name, _, options = variant.partition("=")
        if not name or not options or name in known:
            raise SystemExit(f"run.py: --tally-variant wants a new NAME=OPTIONS, not {variant!r}")
        known[name] = Allocator(name, os.path.join(build_dir, "libtally.so"),
                                {"TALLY_OPTIONS": options}, note=f"TALLY_OPTIONS={options}")
    table = workload_table()
    if args.list:
        print("workloads: " + " ".join(w.name for w in table))
        print("allocators: " + " ".join(f"{a.name}={a.library or '(none)'}" for a in known.values()))
        return 0

    requested = [a.strip() for a in args.allocators.split(",") if a.strip()]
    if args.validation_cost and "tally-novalidate" not in requested:
        requested.append("tally-novalidate")
    unknown = [a for a in requested if a not in known]
    if unknown:
        raise SystemExit(f"run.py: unknown allocator(s) {', '.join(unknown)} "
                         f"(known: {', '.join(known)})")
    skipped = {}
    if "tally-novalidate" in requested:
        problem = build_novalidate(novalidate_dir)
        if problem:
            skipped["tally-novalidate"] = problem
    allocators = []
    for name in dict.fromkeys(requested):
        if name in skipped:
            continue
        allocator = known[name]
        if allocator.available():
            allocators.append(name)
        else:
            skipped[name] = f"{allocator.library} not found"
    for name, reason in skipped.items():
        log(f"run.py: skipping {name}: {reason}")
    if not allocators:
        raise SystemExit("run.py: no allocator available to run")

    patterns = [p.strip() for p in args.workloads.split(",")] if args.workloads else []
    selected = select_workloads(table, [p for p in patterns if p])
    global SPAWN_HELPER
    bench_bin = locate_workload_binaries(args, selected)
    helper = os.path.join(bench_bin, "spawn_rss")
    if os.access(helper, os.X_OK):
        SPAWN_HELPER = helper
    else:
        log(f"run.py: {helper} is missing: peak RSS will include the runner's own size")

    workdir = tempfile.mkdtemp(prefix="tally-bench-", dir=args.workdir or default_workdir_parent())
    runs = []
    prepared = []
    start_time = time.perf_counter()
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(), "commit": git_commit(), "reps": args.reps,
        "scale": args.scale, "quick": args.quick, "timeout_s": args.timeout,
        "baseline": BASELINE, "bench_bin": bench_bin, "spawn_helper": SPAWN_HELPER,
        "allocators": {a: (known[a].library or "no preload") +
                       "".join(f" {k}={v}" for k, v in known[a].env.items()) for a in allocators},
        "skipped": skipped,
    }
    try:
        for workload in selected:
            try:
                workload.prepare(bench_bin, workdir, args.quick, args.scale)
                prepared.append(workload)
            except RunFailure as problem:
                log(f"run.py: cannot prepare {workload.name}: {problem}")
                for a in allocators:
                    runs.append({"workload": workload.name, "allocator": a, "rep": 0, "ok": False,
                                 "error": f"not prepared: {problem}", "wall_s": None,
                                 "maxrss_kb": None})
        shuffler = random.Random(SHUFFLE_SEED)
        total = args.reps * len(prepared) * len(allocators)
        done = 0
        for rep in range(args.reps):
            for workload in prepared:
                order = list(allocators)
                shuffler.shuffle(order)
                for name in order:
                    done += 1
                    ctx = Context(known[name], args.scale, args.timeout, workdir, args.quick)
                    record = {"workload": workload.name, "allocator": name, "rep": rep}
                    try:
                        m = workload.run(ctx)
                        record.update(ok=True, error=None, wall_s=round(m.wall, 6),
                                      maxrss_kb=m.maxrss_kb,
                                      cpu_s=None if m.cpu is None else round(m.cpu, 4))
                        cpu = "" if m.cpu is None else f" cpu {m.cpu:6.3f}s"
                        status = f"{m.wall:7.3f}s {m.maxrss_kb / 1024:8.1f}M{cpu}"
                    except (RunFailure, OSError) as problem:
                        record.update(ok=False, error=str(problem), wall_s=None, maxrss_kb=None,
                                      cpu_s=None)
                        status = f"FAIL {problem}"
                    runs.append(record)
                    log(f"[{done}/{total}] rep {rep + 1}/{args.reps} {workload.name:<18} "
                        f"{name:<16} {status}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.perf_counter() - start_time
    meta["elapsed_s"] = round(elapsed, 1)
    workload_names = [w.name for w in selected]
    summary = summarize(runs, workload_names, allocators)
    report = render_report(meta, summary, workload_names, allocators, skipped,
                           args.validation_cost, elapsed)
    print(report)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output + ".md", "w") as f:
        f.write(report + "\n")
    data = {"meta": meta, "workloads": workload_names, "allocator_names": allocators,
            "summary": summary, "runs": runs}
    with open(output + ".json", "w") as f:
        json.dump(data, f, indent=1)
    raw_dir = os.path.join(os.path.dirname(output), "raw")
    os.makedirs(raw_dir, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(raw_dir, f"run-{stamp}.json"), "w") as f:
        json.dump(data, f, indent=1)
    log(f"run.py: wrote {output}.md and {output}.json ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
