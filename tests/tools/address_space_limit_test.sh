#!/usr/bin/env bash
# Programs under a limit of address space (RLIMIT_AS, `ulimit -v`) run with tally preloaded
# in fast and safe mode, and what tally itself reserves stays small. The registry was a flat
# 256 MiB reservation and safe mode's guard pool took 66 MiB more: python could not start
# under a 200 MB limit (glibc's malloc needs 15 MB of address space for the same run).
set -euo pipefail
library=$1
fail() { echo "FAIL: $*"; exit 1; }

python=/usr/bin/python3
[ -x "$python" ] || { echo "no $python: nothing to run under the limit"; exit 1; }
script='import json; print(len(json.dumps([list(range(1000))] * 200)))'
expected=$("$python" -c "$script")

for mode in fast safe; do
  out=$(ulimit -v 100000; LD_PRELOAD="$library" TALLY_OPTIONS="mode=$mode" "$python" -c "$script" 2>&1) ||
    fail "mode=$mode under ulimit -v 100000 exited $?: $out"
  [ "$out" = "$expected" ] || fail "mode=$mode under ulimit -v 100000 printed: $out"
  # What a small program's process maps in all (its own mappings included).
  size_kb=$(LD_PRELOAD="$library" TALLY_OPTIONS="mode=$mode" "$python" -c \
    "import re; print(re.search(r'VmSize:\s+(\d+)', open('/proc/self/status').read()).group(1))")
  limit_kb=$([ "$mode" = fast ] && echo 65536 || echo 262144)
  [ "$size_kb" -lt "$limit_kb" ] || fail "mode=$mode: python's address space is $size_kb KiB (limit $limit_kb)"
  echo "mode=$mode: runs under ulimit -v 100000; address space $size_kb KiB"
done
