#!/usr/bin/env bash
# The main job, for `make demo`: the classic "orders" bug caught by tally, then a real
# program (python3) running under tally with its statistics printed at exit.
set -euo pipefail
build_dir=${1:-build}
tally="$build_dir/tally"

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "1. examples/orders.cc: a vector of order counts, freed too early and then twice"
echo "\$ $tally run -- $build_dir/examples/orders"
set +e
"$tally" run -- "$build_dir/examples/orders"
status=$?
set -e
echo "(exit status $status: tally stopped the program at the double free)"
if [ "$status" -eq 0 ]; then
  echo "demo: expected tally to report the double free" >&2
  exit 1
fi

section "2. python3 under tally, with statistics at exit"
workload=$(mktemp --suffix=.py)
trap 'rm -f "$workload"' EXIT
cat > "$workload" <<'PY'
import json, random, re, zlib, collections
random.seed(7)
orders = [{"id": i, "customer": f"c{random.randrange(5000)}", "items": [random.randrange(100) for _ in range(random.randrange(1, 12))]} for i in range(60000)]
text = json.dumps(orders)
parsed = json.loads(text)
per_customer = collections.Counter()
for order in parsed:
    per_customer[order["customer"]] += sum(order["items"])
packed = zlib.compress(text.encode())
words = re.findall(r'"c\d+"', text)
print(f"orders={len(parsed)} customers={len(per_customer)} top={per_customer.most_common(1)[0]} "
      f"json={len(text)} bytes zlib={len(packed)} bytes matches={len(words)}")
PY
echo "\$ $tally run --stats -- python3 workload.py"
"$tally" run --stats -- python3 "$workload"
