# Shared driver for the real-world tests; sourced by tests/realworld/<name>.sh.
#
# Every test runs a real program twice on the same input: once as the system ships it
# (the baseline) and once with LD_PRELOAD=<library>. The two runs must agree:
#   - same exit status (and the baseline must succeed, or the test proves nothing);
#   - same stdout, byte for byte;
#   - same stderr, once lines written by tally itself ("tally:" lines) are taken out;
#   - no "ERROR: tally:" anywhere in the preloaded run's output or logs;
#   - the library really was preloaded (the dynamic loader did not skip it).
# Usage of a test script:  bash tests/realworld/<name>.sh /path/to/libtally.so [fast|safe|debug|leaks]
# The optional mode is passed to the preloaded run as TALLY_OPTIONS=mode=<mode>. In debug
# mode every process checks for leaks at exit, with known_leaks.supp: the leaks the programs
# themselves have (LeakSanitizer finds the same). Mode `leaks` checks that claim: the
# baseline runs under LeakSanitizer (GCC's liblsan, preloaded), the other run under tally
# in debug mode without suppressions, and besides the comparisons above, tally must find
# no more leaked bytes over all processes than LeakSanitizer does.
# Exit status: 0 pass, 1 fail, 2 bad usage, 77 skipped (the program is not installed).
# Set RW_KEEP=1 to keep the temporary directory for inspection.

set -euo pipefail

RW_NAME=$(basename "${0%.sh}")
RW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RW_WORKLOADS="$RW_DIR/workloads"
RW_FAILURES=0
RW_CHECKS=0
RW_TMP=""

rw_log() { printf '[realworld.%s] %s\n' "$RW_NAME" "$*"; }

rw_usage() {
  echo "usage: bash $0 /path/to/libtally.so [fast|safe|debug]" >&2
  exit 2
}

rw_cleanup() {
  local status=$?
  # Kill any server a workload left behind (its pid file lives in the run directory).
  local pidfile pid
  if [[ -n "$RW_TMP" ]]; then
    while IFS= read -r -d '' pidfile; do
      pid=$(cat "$pidfile" 2>/dev/null || true)
      if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done < <(find "$RW_TMP" -name '*.pid' -print0 2>/dev/null)
    if [[ "${RW_KEEP:-0}" == 1 ]]; then
      rw_log "kept $RW_TMP"
    else
      rm -rf "$RW_TMP"
    fi
  fi
  exit "$status"
}

# rw_init "$@": parse the arguments, make the temporary directory, preflight the library.
rw_init() {
  [[ $# -ge 1 && $# -le 2 && -n "$1" ]] || rw_usage
  RW_MODE="${2:-}"
  if [[ ! -f "$1" ]]; then
    echo "realworld.$RW_NAME: FAIL: library '$1' does not exist (build it first)" >&2
    exit 1
  fi
  RW_LIBRARY=$(realpath "$1")
  if [[ -n "$RW_MODE" ]]; then
    case "$RW_MODE" in
      fast | safe | debug) ;;
      leaks)
        RW_LSAN=""
        for candidate in /usr/lib/x86_64-linux-gnu/liblsan.so.0 /usr/lib64/liblsan.so.0; do
          [[ -f $candidate ]] && RW_LSAN=$candidate && break
        done
        if [[ -z $RW_LSAN ]]; then
          echo "SKIP: realworld.$RW_NAME: GCC's liblsan is not installed (package liblsan0)"
          exit 77
        fi
        ;;
      *) echo "unknown mode '$RW_MODE' (expected fast, safe, debug or leaks)" >&2; rw_usage ;;
    esac
  fi
  # Nothing from the caller's environment may change either run.
  unset LD_PRELOAD LD_LIBRARY_PATH TALLY_OPTIONS GLIBC_TUNABLES MALLOC_CHECK_ MALLOC_PERTURB_ \
    MALLOC_ARENA_MAX PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONMALLOC PYTHONHASHSEED \
    GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY || true
  export LC_ALL=C TZ=UTC
  RW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/realworld-$RW_NAME.XXXXXX")
  trap rw_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  rw_log "library: $RW_LIBRARY${RW_MODE:+ (TALLY_OPTIONS=mode=$RW_MODE)}"
  rw_preflight
}

# The dynamic loader only warns when it cannot preload a library, and then runs the
# program without it: a test that did not notice would pass without testing anything.
rw_preflight() {
  local out="$RW_TMP/preflight.out" err="$RW_TMP/preflight.err" status=0
  timeout -k 5 30 env LD_PRELOAD="$RW_LIBRARY" TALLY_OPTIONS="$(rw_tally_options "$RW_TMP/preflight")" \
    cat /proc/self/maps >"$out" 2>"$err" || status=$?
  if [[ $status -ne 0 ]] || ! grep -qF "$RW_LIBRARY" "$out"; then
    echo "realworld.$RW_NAME: FAIL: '$RW_LIBRARY' is not loaded by LD_PRELOAD (cat exited $status)" >&2
    sed 's/^/  | /' "$err" >&2
    exit 1
  fi
}

# rw_require PROGRAM...: skip the test (status 77) when a program is not installed.
rw_require() {
  local program
  for program in "$@"; do
    if ! command -v "$program" >/dev/null 2>&1; then
      echo "SKIP: realworld.$RW_NAME: '$program' is not installed (scripts/install-deps.sh installs it)"
      exit 77
    fi
  done
}

# Sets PYTHON to Debian's interpreter, not a version manager's shim, when it is there.
rw_find_python() {
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else rw_require python3; PYTHON=$(command -v python3); fi
}

# The TALLY_OPTIONS of a preloaded run whose directory is $1, with a test's own
# RW_EXTRA_TALLY_OPTIONS after them (set before rw_init).
rw_tally_options() {
  local options
  case "$RW_MODE" in
    "") return ;;
    debug) options="mode=debug:suppressions=$RW_DIR/known_leaks.supp" ;;
    leaks) options="mode=debug:leak_exitcode=0:log_path=$1/leaks/tally" ;;
    *) options="mode=$RW_MODE" ;;
  esac
  echo "$options${RW_EXTRA_TALLY_OPTIONS:+:$RW_EXTRA_TALLY_OPTIONS}"
}

# Sums the SUMMARY lines of leak reports in the files given: "BYTES ALLOCATIONS".
rw_leak_totals() {
  awk '/SUMMARY: (tally|LeakSanitizer): [0-9]+ byte\(s\) leaked in/ {
      bytes += $3; allocations += $7 } END { printf "%d %d\n", bytes, allocations }' \
    "$@" </dev/null 2>/dev/null || true
}

rw_strip_tally_lines() { grep -v -i -E '(^|[=[:space:]])tally:' "$1" || true; }

rw_show() { # rw_show TITLE FILE [LINES]
  local lines="${3:-40}"
  echo "---- $1 (last $lines lines) ----"
  if [[ -s "$2" ]]; then tail -n "$lines" "$2" | sed 's/^/  | /'; else echo "  (empty)"; fi
}

rw_now() { date +%s.%N; }

# rw_run KIND DIR TIMEOUT COMMAND...: one run in DIR (fresh); KIND is base or preload.
rw_run() {
  local kind=$1 dir=$2 limit=$3
  shift 3
  mkdir -p "$dir/home" "$dir/tmp" "$dir/logs" "$dir/work"
  local -a environment=(HOME="$dir/home" TMPDIR="$dir/tmp" RW_RUN_DIR="$dir" RW_LOG_DIR="$dir/logs"
    RW_WORKLOADS="$RW_WORKLOADS")
  mkdir -p "$dir/leaks"
  if [[ $kind == preload ]]; then
    environment+=(LD_PRELOAD="$RW_LIBRARY")
    [[ -z "$RW_MODE" ]] || environment+=(TALLY_OPTIONS="$(rw_tally_options "$dir")")
    # The checked modes cost several times fast mode's time on allocation-heavy runs
    # (bench/results); the limit guards against hangs, not against that cost.
    [[ $RW_MODE != safe && $RW_MODE != debug && $RW_MODE != leaks ]] || limit=$((limit * 4))
  elif [[ $RW_MODE == leaks ]]; then
    environment+=(LD_PRELOAD="$RW_LSAN" LSAN_OPTIONS="exitcode=0:log_path=$dir/leaks/lsan")
    limit=$((limit * 4))
  fi
  local status=0 start end
  start=$(rw_now)
  (cd "$dir/work" && exec timeout -k 10 "$limit" env "${environment[@]}" "$@") \
    </dev/null >"$dir/stdout" 2>"$dir/stderr" || status=$?
  end=$(rw_now)
  echo "$status" >"$dir/status"
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f\n", e - s }' >"$dir/seconds"
}

# rw_compare LABEL TIMEOUT COMMAND...: run COMMAND without and with the library and compare.
rw_compare() {
  local label=$1 limit=$2
  shift 2
  local base="$RW_TMP/$label.base" pre="$RW_TMP/$label.preload"
  local -a problems=()
  RW_CHECKS=$((RW_CHECKS + 1))
  rw_log "$label: baseline run (timeout ${limit}s): $*"
  rw_run base "$base" "$limit" "$@"
  rw_log "$label: preloaded run"
  rw_run preload "$pre" "$limit" "$@"
  local bs ps
  bs=$(cat "$base/status")
  ps=$(cat "$pre/status")
  rw_log "$label: baseline exit $bs in $(cat "$base/seconds")s, preloaded exit $ps in $(cat "$pre/seconds")s"

  [[ $bs -ne 124 && $bs -ne 137 ]] || problems+=("the baseline run timed out after ${limit}s")
  [[ $ps -ne 124 && $ps -ne 137 ]] || problems+=("the preloaded run timed out after ${limit}s")
  [[ $bs -eq 0 ]] || problems+=("the baseline run (no preload) failed with status $bs: the test or its environment is broken")
  [[ $bs -eq $ps ]] || problems+=("exit status differs: baseline $bs, preloaded $ps")
  if ! cmp -s "$base/stdout" "$pre/stdout"; then
    problems+=("stdout differs")
  fi
  if ! cmp -s <(rw_strip_tally_lines "$base/stderr") <(rw_strip_tally_lines "$pre/stderr"); then
    problems+=("stderr differs (lines from tally itself ignored)")
  fi
  # No heap bug may be reported; leak reports are what mode leaks compares, so only there
  # are they expected.
  local reports
  reports=$(grep -rIh 'ERROR: tally:' "$pre/stdout" "$pre/stderr" "$pre/logs" "$pre/leaks" 2>/dev/null || true)
  if [[ $RW_MODE == leaks ]]; then
    reports=$(grep -v 'ERROR: tally: detected memory leaks' <<<"$reports" || true)
  fi
  [[ -z $reports ]] || problems+=("tally reported an error (ERROR: tally:)")
  if grep -qF 'cannot be preloaded' "$pre/stderr"; then
    problems+=("the dynamic loader could not preload the library in some process")
  fi
  if [[ ! -s "$base/stdout" ]]; then
    problems+=("the baseline produced no output: nothing was compared")
  fi
  if [[ $RW_MODE == leaks ]]; then
    local lsan tally
    lsan=$(rw_leak_totals "$base"/leaks/lsan.*)
    tally=$(rw_leak_totals "$pre"/leaks/tally.[0-9]*[0-9])
    rw_log "$label: leaks over all processes: LeakSanitizer ${lsan% *} bytes in ${lsan#* } allocations, tally ${tally% *} bytes in ${tally#* } allocations"
    # Both scan conservatively: a stale word on a stack keeps a block alive in one run and
    # not in the next (LeakSanitizer's own totals vary from run to run by whole blocks), so
    # the counts are compared with a margin; a false positive of tally's own would show as
    # many more allocations than LeakSanitizer finds.
    local most=$(( ${lsan#* } + ${lsan#* } / 10 + 16 ))
    [[ ${tally#* } -le $most ]] ||
      problems+=("tally reports more leaked allocations than LeakSanitizer (${tally#* } > ${lsan#* } + 10% + 16)")
  fi

  if [[ ${#problems[@]} -eq 0 ]]; then
    rw_log "$label: PASS ($(wc -l <"$base/stdout") identical lines of output)"
    return 0
  fi
  RW_FAILURES=$((RW_FAILURES + 1))
  local problem
  for problem in "${problems[@]}"; do rw_log "$label: FAIL: $problem"; done
  if ! cmp -s "$base/stdout" "$pre/stdout"; then
    echo "---- diff of stdout (baseline vs preloaded, first 80 lines) ----"
    diff -u --label baseline --label preloaded "$base/stdout" "$pre/stdout" | head -n 80 || true
  fi
  if ! cmp -s <(rw_strip_tally_lines "$base/stderr") <(rw_strip_tally_lines "$pre/stderr"); then
    echo "---- diff of stderr (baseline vs preloaded, first 40 lines) ----"
    diff -u --label baseline --label preloaded <(rw_strip_tally_lines "$base/stderr") \
      <(rw_strip_tally_lines "$pre/stderr") | head -n 40 || true
  fi
  rw_show "baseline stderr" "$base/stderr" 15
  rw_show "preloaded stderr" "$pre/stderr" 40
  local log
  for log in "$pre"/logs/*; do
    [[ -f "$log" ]] || continue
    if grep -qF 'ERROR: tally:' "$log" || [[ $ps -ne $bs ]]; then
      rw_show "preloaded log $(basename "$log")" "$log" 25
    fi
  done
  return 0
}

# rw_finish: the test's verdict.
rw_finish() {
  if [[ $RW_FAILURES -ne 0 ]]; then
    rw_log "FAILED: $RW_FAILURES of $RW_CHECKS comparisons failed against $RW_LIBRARY${RW_MODE:+ (mode=$RW_MODE)}"
    exit 1
  fi
  rw_log "PASSED: $RW_CHECKS of $RW_CHECKS comparisons identical with and without $RW_LIBRARY${RW_MODE:+ (mode=$RW_MODE)}"
  exit 0
}
