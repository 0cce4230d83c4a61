#!/usr/bin/env bash
# Python running a mixed workload (json, sorting, dicts/sets, regexes, classes, itertools,
# zlib, hashlib, a thread pool), once with its own small-object allocator (pymalloc, the
# default) and once with PYTHONMALLOC=malloc so that every object goes through malloc.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Debian's interpreter, not a version manager's shim, when it is there.
if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else rw_require python3; PYTHON=$(command -v python3); fi
rw_init "$@"
rw_log "python: $PYTHON ($("$PYTHON" --version 2>&1))"

workload="$RW_WORKLOADS/python_workload.py"
rw_compare pymalloc 60 env PYTHONHASHSEED=0 "$PYTHON" -s -B "$workload"
rw_compare malloc 60 env PYTHONHASHSEED=0 PYTHONMALLOC=malloc "$PYTHON" -s -B "$workload"
rw_finish
