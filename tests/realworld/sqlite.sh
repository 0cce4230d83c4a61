#!/usr/bin/env bash
# sqlite3 running a generated SQL script: tables, tens of thousands of inserts in one
# transaction, indexes, joins, GROUP BY, window functions, recursive CTEs, JSON, updates,
# deletes, a rollback, VACUUM and an integrity check; on a database file and in memory.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require sqlite3 awk
rw_init "$@"
rw_log "sqlite3 $(sqlite3 --version | cut -d' ' -f1)"

script="$RW_TMP/workload.sql"
awk -f "$RW_WORKLOADS/sqlite_generate.awk" >"$script"
rw_log "generated $(wc -l <"$script") lines of SQL"

rw_compare file 60 sqlite3 -bail -batch test.db ".read $script"
rw_compare memory 60 sqlite3 -bail -batch :memory: ".read $script"
rw_finish
