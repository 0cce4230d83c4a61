#!/usr/bin/env bash
# The `tally` command: help, version, option passing, and the program's exit status.
set -euo pipefail
tally=$1
fail() { echo "FAIL: $*"; exit 1; }

# Output captured first: `grep -q` stops reading at its match, and under pipefail the
# command's SIGPIPE from a later write failed the test now and then on a loaded machine.
help=$("$tally" --help) || fail "--help exited $?"
grep -q "usage: tally run" <<<"$help" || fail "--help"
version=$("$tally" --version) || fail "--version exited $?"
grep -qE '^tally [0-9]+\.[0-9]+\.[0-9]+$' <<<"$version" || fail "--version"
options=$("$tally" --help-options) || fail "--help-options exited $?"
grep -q "halt_on_error" <<<"$options" || fail "--help-options"

# The program runs with the library preloaded and the options set.
out=$("$tally" run --stats --options=verbosity=1 -- sh -c 'echo "$LD_PRELOAD|$TALLY_OPTIONS"')
grep -q "libtally.so|stats=1:verbosity=1" <<<"$out" || fail "environment: $out"

# Its exit status is the program's.
set +e
"$tally" run -- sh -c 'exit 42'
status=$?
"$tally" run --bogus -- true 2>/dev/null
bogus=$?
"$tally" run -- /nonexistent/program 2>/dev/null
missing=$?
mode_err=$("$tally" run --mode=dbug -- true 2>&1)
bad_mode=$?
set -e
[ "$bad_mode" -eq 2 ] || fail "unknown mode gave $bad_mode, expected 2"
grep -q "unknown mode 'dbug'" <<<"$mode_err" || fail "unknown mode: $mode_err"
[ "$status" -eq 42 ] || fail "exit status $status, expected 42"
[ "$bogus" -eq 2 ] || fail "unknown flag gave $bogus, expected 2"
[ "$missing" -eq 127 ] || fail "missing program gave $missing, expected 127"

# Every mode the library has runs.
for mode in fast safe debug; do
  out=$("$tally" run --mode=$mode --stats -- true 2>&1) || fail "--mode=$mode exited $?"
  grep -q "tally statistics (mode $mode)" <<<"$out" || fail "--mode=$mode: $out"
done

# Statistics appear at exit; an unknown option is reported once.
err=$("$tally" run --stats --options=no_such_option=3 -- true 2>&1 >/dev/null)
grep -q "tally statistics (mode safe)" <<<"$err" || fail "no statistics: $err"
[ "$(echo "$err" | grep -c "unknown option in TALLY_OPTIONS: 'no_such_option=3'")" -eq 1 ] || fail "unknown option: $err"
echo "tally command behaves"
