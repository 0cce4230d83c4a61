#!/usr/bin/env bash
# The JVM (OpenJDK's java and javac) compiling and running a mixed workload: a pool of
# threads building collections, strings and regexes, direct byte buffers and zlib streams
# (native memory the JVM takes with malloc). The JVM is a demanding host: dozens of threads
# it starts itself, its own SIGSEGV handling (implicit null checks, safepoint polls), large
# reservations of its own, and in debug mode malloc'd blocks whose only pointers lie in its
# class-data archive, a private writable mapping of a file (scan_program_mappings).
# Once with the JVM's defaults (G1, the archive mapped), once with the serial collector and
# no archive.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require java javac
rw_init "$@"
rw_log "java: $(java -version 2>&1 | sed -n 1p)"

compile_and_run='javac -d "$RW_RUN_DIR/classes" "$RW_WORKLOADS/JavaWorkload.java" &&
  exec java "$@" -cp "$RW_RUN_DIR/classes" JavaWorkload'
rw_compare defaults 120 bash -c "$compile_and_run" java
rw_compare serial 120 bash -c "$compile_and_run" java -XX:+UseSerialGC -Xmx256m -Xshare:off
rw_finish
