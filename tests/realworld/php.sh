#!/usr/bin/env bash
# PHP's command-line interpreter running a mixed workload (arrays, strings, regexes, JSON,
# objects and cycles, generators, serialization) with Debian's default extensions, which
# PHP opens with dlopen(RTLD_DEEPBIND): tally must stay their allocator too. Once with
# PHP's own allocator (the default), once with every value allocated by malloc.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rw_require php
rw_init "$@"
rw_log "php: $(php -r 'echo PHP_VERSION;'), extensions: $(php -r 'echo count(get_loaded_extensions());')"

workload="$RW_WORKLOADS/php_workload.php"
rw_compare extensions 60 php -d memory_limit=1G "$workload"
rw_compare bare 60 php -n -d memory_limit=1G "$workload"
# USE_ZEND_ALLOC=0: PHP's own allocator steps aside and every value goes through malloc.
rw_compare malloc 60 env USE_ZEND_ALLOC=0 php -d memory_limit=1G "$workload"
rw_finish
