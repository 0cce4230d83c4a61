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

# LeakSanitizer makes `as` crash (mode leaks runs every process under it): there the
# comparison stops after the compiler proper, cc1plus, the allocation-heavy step.
if [[ $RW_MODE == leaks ]]; then
  rw_compare gxx 120 env RW_GXX_COMPILE_ONLY=1 bash "$RW_WORKLOADS/gxx_workload.sh"
else
  rw_compare gxx 120 bash "$RW_WORKLOADS/gxx_workload.sh"
fi
rw_finish
