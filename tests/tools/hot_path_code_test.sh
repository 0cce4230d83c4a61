#!/usr/bin/env bash
# The machine code of the checked modes' hot paths: no `rep stos`. Compilers recognize a
# fill loop as a memset and emit that instruction for it, whose start-up costs more than a
# whole fill of the few dozen bytes a free poisons (safe mode's small_churn ran 23% faster
# without it). src/safety/fill_patterns.h keeps its loops opaque to stop that; this test
# fails if a compiler or a change brings the instruction back. Meant for optimized builds
# (Release, RelWithDebInfo: where compilers make that substitution); without objdump it
# is skipped.
set -euo pipefail
library=$1
command -v objdump >/dev/null || { echo "no objdump: skipped"; exit 77; }
# Read once into a variable: `objdump | awk` under pipefail fails when a reader quits early.
code=$(objdump -d --no-show-raw-insn "$library")
hot='deallocate_checked|allocate_checked_small|allocate_checked|release_from_quarantine|quarantine_put|reallocate_checked'
offenders=$(awk -v hot="$hot" '
  /^[0-9a-f]+ <.*>:$/ { function_name = $2; next }
  /rep stos/ && function_name ~ hot && function_name !~ /\.cold/ { print function_name }
' <<<"$code" | sort -u)
found=$(awk -v hot="$hot" '/^[0-9a-f]+ <.*>:$/ && $2 ~ hot { n++ } END { print n + 0 }' <<<"$code")
if [ "$found" -lt 4 ]; then
  echo "only $found of the hot functions found in $library: did they move or get renamed?"
  exit 1
fi
if [ -n "$offenders" ]; then
  echo "rep stos in hot paths:"
  echo "$offenders"
  exit 1
fi
echo "no rep stos in the $found hot functions"
