#!/usr/bin/env bash
# perl running a workload of hashes of arrays (half deleted again), string building,
# splitting and regular expressions, nested records sorted by two keys, and closures.
# PERL_DESTRUCT_LEVEL=2 makes perl free its interpreter at exit, which by default it leaves
# to the kernel: debug mode's leak check then has nothing to report, so the run checks that
# tally finds no false leak in a full interpreter's heap (LeakSanitizer, preloaded, crashes
# perl at start-up, so there is nothing to compare with).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require perl
rw_init "$@"
rw_log "perl $(perl -e 'print $^V')"

workload="$RW_WORKLOADS/perl_workload.pl"
rw_compare hashes 60 env PERL_DESTRUCT_LEVEL=2 perl "$workload" 1
rw_finish
