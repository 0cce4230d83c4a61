#!/usr/bin/env bash
# Checks the real-world tests themselves (not registered with CTest; takes a few minutes):
#   - they PASS with peer allocators (jemalloc, mimalloc, tcmalloc, when installed) and with
#     a correct wrapper around glibc's malloc;
#   - they FAIL with deliberately broken preload libraries: one whose malloc returns the same
#     buffer every time, one that under-allocates by 1/8, one whose realloc does not copy,
#     one that reports a fake "ERROR: tally:" at exit, and a file that is not a library;
#   - "reuse" (every 5003rd malloc after the first 50000 aliases a live block) is subtle and
#     reported for information only: processes that allocate little never trigger it.
# Usage: bash tests/realworld/selftest.sh [test names...]   (default: all five)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(python sqlite git gxx redis)
work=$(mktemp -d "${TMPDIR:-/tmp}/realworld-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT

for kind in correct same short nocopy reuse marker; do
  gcc -O2 -Wall -Wextra -shared -fPIC "-DKIND_${kind^^}=1" "$here/selftest/broken_malloc.c" \
    -o "$work/lib$kind.so" -ldl
done
printf 'not a shared library\n' >"$work/libgarbage.so"

pass_libraries=("$work/libcorrect.so")
for peer in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
  [[ -f /usr/lib/x86_64-linux-gnu/$peer ]] && pass_libraries+=("/usr/lib/x86_64-linux-gnu/$peer")
done
fail_libraries=("$work/libsame.so" "$work/libshort.so" "$work/libnocopy.so" "$work/libmarker.so"
  "$work/libgarbage.so")
info_libraries=("$work/libreuse.so")

wrong=0
check() { # check EXPECTATION LIBRARY
  local expect=$1 library=$2 test status verdict reason
  for test in "${tests[@]}"; do
    status=0
    bash "$here/$test.sh" "$library" fast >"$work/out" 2>&1 || status=$?
    reason=$(grep -m1 -E 'FAIL' "$work/out" | sed 's/^\[[^]]*\] //' || true)
    case "$expect:$status" in
      pass:0 | fail:1 | info:*) verdict=ok ;;
      *) verdict=WRONG; wrong=$((wrong + 1)) ;;
    esac
    [[ $status -ne 77 ]] || verdict=skipped
    printf '%-8s %-26s %-7s expected %-4s exit %-3s %s\n' "$verdict" "$(basename "$library")" \
      "$test" "$expect" "$status" "$reason"
  done
}
for library in "${pass_libraries[@]}"; do check pass "$library"; done
for library in "${fail_libraries[@]}"; do check fail "$library"; done
for library in "${info_libraries[@]}"; do check info "$library"; done
if [[ $wrong -ne 0 ]]; then
  echo "selftest: $wrong results were not as expected"
  exit 1
fi
echo "selftest: every result as expected"
