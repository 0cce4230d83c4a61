#!/usr/bin/env bash
# g++ compiling a few hundred lines of STL-heavy C++ at -O2 (driver, cc1plus, as, collect2
# and ld all preloaded), then running the result (preloaded too). The compilation must
# succeed with no diagnostics, produce the same assembly and executable, and the program
# the same output.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require g++ sha256sum
rw_init "$@"
rw_log "$(g++ --version | sed -n 1p)"

rw_compare gxx 120 bash "$RW_WORKLOADS/gxx_workload.sh"
rw_finish
