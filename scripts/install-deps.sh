#!/usr/bin/env bash
# Installs the Debian packages tally needs to build, test and benchmark (Debian 12).
# Idempotent: when every package is already installed it changes nothing and needs no root.
# Usage: bash scripts/install-deps.sh      (make deps runs it; .ci/run runs it first)
set -euo pipefail

PACKAGES=(
  build-essential cmake clang clang-format       # toolchains and the formatter
  libgtest-dev libgmock-dev libbenchmark-dev     # unit tests and micro-benchmarks
  python3 git sqlite3 redis-server redis-tools   # the real programs of tests/realworld
  libpython3.11-testsuite                        # CPython's own tests (tests/realworld/cpython.sh)
  php-cli default-jdk-headless perl jq           # (php, java, perl, jq: tests/realworld too)
  libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev libgc-dev  # peer allocators (bench)
  libclang-rt-14-dev llvm-14 binutils valgrind   # sanitizers, symbolizer, nm/objdump, valgrind
  liblsan0                                       # LeakSanitizer, to compare leak reports with
  procps time                                    # ps/pgrep and /usr/bin/time for measurements
)

installed() { # installed PACKAGE: dpkg knows it as fully installed (not just configured-files)
  dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'
}

if ! command -v dpkg >/dev/null 2>&1; then
  echo "install-deps: this script is for Debian (dpkg and apt-get); install the equivalents of:" >&2
  echo "  ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are already installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: not root; run this as root (for example with sudo), then run this script again:" >&2
  echo "  $command" >&2
  exit 1
fi

# Installing redis-server normally starts the system's redis on port 6379. Nothing here uses
# it (tests/realworld starts its own server on a random loopback port), so keep the package's
# scripts from starting any service while we install: a policy-rc.d that answers "101: action
# forbidden", removed again afterwards. One that already exists is left alone.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# temporary, from tally scripts/install-deps.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
remove_policy() { if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi; }
trap remove_policy EXIT

export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update; then break; fi
  [[ $attempt -lt 3 ]] || { echo "install-deps: apt-get update failed 3 times" >&2; exit 1; }
  sleep $((attempt * 10))
done
apt-get install -y --no-install-recommends "${missing[@]}"

still_missing=()
for package in "${missing[@]}"; do
  installed "$package" || still_missing+=("$package")
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still not installed: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-deps: installed ${#missing[@]} packages: ${missing[*]}"
