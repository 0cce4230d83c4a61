#!/usr/bin/env bash
# git (with bash, awk, sed and tar around it, all preloaded): init a repository, commit a
# few hundred generated files over several commits with a rename, a branch and a merge, then
# log --stat, diff, blame, grep, stash, gc --aggressive, fsck, verify-pack, archive, clone.
# Author and committer names, e-mails and dates are fixed, so every hash is deterministic.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require git bash awk sed tar md5sum
rw_init "$@"
rw_log "$(git --version)"

rw_compare git 120 bash "$RW_WORKLOADS/git_workload.sh"
rw_finish
