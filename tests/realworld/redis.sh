#!/usr/bin/env bash
# redis-server under the library on a free loopback port (--save '' --appendonly no),
# loaded by redis-benchmark (20000 requests per test), a redis-cli --pipe bulk load and a
# list of redis-cli commands, then SHUTDOWN NOSAVE: the replies must match the run without
# the library and the server must exit with status 0. The clients are preloaded too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require redis-server redis-cli redis-benchmark awk
rw_init "$@"
rw_log "$(redis-server --version)"

rw_compare redis 120 bash "$RW_WORKLOADS/redis_workload.sh"
rw_finish
