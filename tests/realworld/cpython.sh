#!/usr/bin/env bash
# Part of CPython's own regression suite (Debian's libpython3.11-testsuite), with
# PYTHONMALLOC=malloc so that every object goes through malloc: thousands of tests written
# to break the interpreter, run under the allocator instead (workloads/cpython_tests.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_find_python
if ! "$PYTHON" -c 'import test.test_dict' >/dev/null 2>&1; then
  rw_log "SKIP: CPython's test suite is not installed (libpython3.11-testsuite)"
  exit 77
fi
# No leak check at exit: the suite forks children that must exit with status 0 and an empty
# stderr, and a forked CPython leaks on purpose (_PyThread_at_fork_reinit gives the child
# new locks and leaves the old ones, which a thread that no longer exists may have held).
# The leak check has the other real-world tests; this one is for heap errors.
RW_EXTRA_TALLY_OPTIONS=leaks=0
rw_init "$@"
rw_log "python: $PYTHON ($("$PYTHON" --version 2>&1))"

rw_compare regrtest 180 env PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PYTHON" -s -B \
  "$RW_WORKLOADS/cpython_tests.py"
rw_finish
