#!/usr/bin/env bash
# libtally.so is loaded into every process: it may need libc and the loader, nothing else.
set -euo pipefail
library=$1
needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "NEEDED: $needed"
if [ "$needed" != "libc.so.6 " ] && [ "$needed" != "ld-linux-x86-64.so.2 libc.so.6 " ]; then
  echo "libtally.so must depend on libc only"
  exit 1
fi
# The symbol tables are read once into variables: `nm | grep -q` under pipefail fails when
# grep stops reading at its match and nm dies of SIGPIPE.
undefined=$(nm -D --undefined-only "$library")
defined=$(nm -D --defined-only "$library")
# No static constructors beyond tally's own init, and no C++ runtime symbols required.
strong_runtime=$(grep -vE ' w ' <<<"$undefined" | grep -E '_Z|__cxa|_Unwind' || true)
if [ -n "$strong_runtime" ]; then
  echo "libtally.so has strong references to the C++ runtime:"
  echo "$strong_runtime"
  exit 1
fi
for symbol in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign \
              valloc pvalloc malloc_usable_size mallinfo2 malloc_trim malloc_stats _Znwm _ZdlPv \
              _ZnwmSt11align_val_t _ZdlPvmSt11align_val_t tally_malloc tally_get_stats; do
  if ! grep -qE " T $symbol\$" <<<"$defined"; then
    echo "libtally.so does not export $symbol"
    exit 1
  fi
done
echo "dependencies and exports are as they should be"
