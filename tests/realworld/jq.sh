#!/usr/bin/env bash
# jq parsing 6.9 MB of generated JSON records and running a filter that selects, reshapes,
# groups and sums them (a JSON value is a tree of small blocks, freed as the filter goes).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require jq awk
rw_init "$@"
rw_log "$(jq --version)"

data="$RW_TMP/records.json"
awk -v records=60000 -f "$RW_WORKLOADS/jq_generate.awk" >"$data"
rw_log "generated $(wc -c <"$data") bytes of JSON"

filter='[.[] | select(.a > 4) | {id, n: (.c | length), s: (.c | add // 0), t: (.d.tags | join("-"))}]
  | group_by(.n) | map({n: .[0].n, count: length, total: (map(.s) | add)}) | tojson'
rw_compare filter 60 jq -r "$filter" "$data"
rw_compare stream 60 jq -c '.[] | select(.d.ok) | [.id, .b, (.c | sort | reverse)]' "$data"
rw_finish
