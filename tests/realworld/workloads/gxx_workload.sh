#!/usr/bin/env bash
# The g++ workload of tests/realworld/gxx.sh, run in a fresh directory: compile the STL
# program to assembly at -O2 (cc1plus does the heavy allocation), assemble and link it
# (as, collect2, ld), run it. Prints the compiler's diagnostics (there must be none), digests
# of the assembly and the executable (the compiler's output must not depend on the
# allocator) and the program's own output.
set -euo pipefail

CXX=${RW_CXX:-g++}  # RW_CXX=clang++ to try another compiler
FLAGS=(-std=c++17 -O2 -Wall -Wextra -pthread)
cp "$RW_WORKLOADS/gxx_program.cc" prog.cc

# count_diagnostics FILE: lines of FILE that are not tally's own.
count_diagnostics() { grep -v -i -E '(^|[=[:space:]])tally:' "$1" | grep -c . || true; }

status=0
"$CXX" "${FLAGS[@]}" -S prog.cc -o prog.s 2>"$RW_LOG_DIR/compile.stderr" || status=$?
echo "compile: status $status, $(count_diagnostics "$RW_LOG_DIR/compile.stderr") lines of diagnostics"
grep -v -i -E '(^|[=[:space:]])tally:' "$RW_LOG_DIR/compile.stderr" || true
[[ $status -eq 0 ]] || exit 1
if [[ ${RW_GXX_COMPILE_ONLY:-0} == 1 ]]; then
  echo "assembly: $(wc -l <prog.s) lines, sha256 $(sha256sum <prog.s | cut -c1-32)"
  exit 0
fi

status=0
"$CXX" "${FLAGS[@]}" prog.s -o prog 2>"$RW_LOG_DIR/link.stderr" || status=$?
echo "link: status $status, $(count_diagnostics "$RW_LOG_DIR/link.stderr") lines of diagnostics"
grep -v -i -E '(^|[=[:space:]])tally:' "$RW_LOG_DIR/link.stderr" || true
[[ $status -eq 0 ]] || exit 1

echo "assembly: $(wc -l <prog.s) lines, sha256 $(sha256sum <prog.s | cut -c1-32)"
echo "executable: sha256 $(sha256sum <prog | cut -c1-32)"
status=0
./prog || status=$?
echo "program: status $status"
if [[ $(count_diagnostics "$RW_LOG_DIR/compile.stderr") -ne 0 || $(count_diagnostics "$RW_LOG_DIR/link.stderr") -ne 0 ]]; then
  echo "the compiler printed diagnostics" >&2
  exit 1
fi
exit "$status"
