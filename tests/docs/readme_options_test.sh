#!/usr/bin/env bash
# The README's option table must be what the option table says (tally --help-options=markdown).
set -euo pipefail
tally=$1
readme=$2
expected=$("$tally" --help-options=markdown)
actual=$(sed -n '/<!-- options:begin -->/,/<!-- options:end -->/p' "$readme" | sed '1d;$d')
if [ "$expected" != "$actual" ]; then
  echo "README.md's option table is out of date; regenerate it with: tally --help-options=markdown"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi
echo "README option table matches the option table"
