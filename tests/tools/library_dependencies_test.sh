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
# No static constructors beyond tally's own init, and no C++ runtime symbols required.
if nm -D --undefined-only "$library" | grep -vE ' w ' | grep -qE '_Z|__cxa|_Unwind'; then
  echo "libtally.so has strong references to the C++ runtime:"
  nm -D --undefined-only "$library" | grep -vE ' w ' | grep -E '_Z|__cxa|_Unwind'
  exit 1
fi
for symbol in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign \
              valloc pvalloc malloc_usable_size mallinfo2 malloc_trim malloc_stats _Znwm _ZdlPv \
              _ZnwmSt11align_val_t _ZdlPvmSt11align_val_t tally_malloc tally_get_stats; do
  if ! nm -D --defined-only "$library" | grep -qE " T $symbol\$"; then
    echo "libtally.so does not export $symbol"
    exit 1
  fi
done
echo "dependencies and exports are as they should be"
