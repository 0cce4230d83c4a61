#!/usr/bin/env bash
# Python running a mixed workload (json, sorting, dicts/sets, regexes, classes, itertools,
# zlib, hashlib, a thread pool), once with its own small-object allocator (pymalloc, the
# default) and once with PYTHONMALLOC=malloc so that every object goes through malloc.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_find_python
rw_init "$@"
rw_log "python: $PYTHON ($("$PYTHON" --version 2>&1))"

workload="$RW_WORKLOADS/python_workload.py"
rw_compare pymalloc 60 env PYTHONHASHSEED=0 "$PYTHON" -s -B "$workload"
rw_compare malloc 60 env PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PYTHON" -s -B "$workload"
rw_finish
