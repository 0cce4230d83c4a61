"""Runs a set of CPython's own regression tests (Debian's libpython3.11-testsuite) in one
process and prints, per module, how many tests ran, failed, erred and were skipped, and the
ids of the ones that failed: output that does not change from run to run, so the real-world
driver can compare a run under tally with the baseline's. Tracebacks go to stderr, which
the driver compares too.

The modules are chosen for what they make the allocator do (containers and strings
growing and shrinking, pickling, the cycle collector and weak references, ctypes' and
mmap's own memory, zlib and hashlib in C, threads, os and file calls), for not depending
on timing (debug mode runs them several times slower) and for time: about 50 s under
glibc here. Left out for time: test_datetime (28 s), test_subprocess (27 s), test_queue,
test_lzma, test_bz2 (5-8 s each); test_decimal needs regrtest's own loader.

usage: cpython_tests.py [module ...]   (default: all of MODULES)
"""
import io
import sys
import unittest

MODULES = [
    "test_dict", "test_list", "test_set", "test_tuple", "test_unicode", "test_bytes",
    "test_re", "test_json", "test_pickle", "test_gc", "test_weakref", "test_itertools",
    "test_collections", "test_functools", "test_array", "test_struct", "test_ctypes",
    "test_mmap", "test_zlib", "test_hashlib", "test_memoryview", "test_sort", "test_deque",
    "test_heapq", "test_thread", "test_threading", "test_os", "test_fileio", "test_tempfile",
    "test_csv",
]


def run(name):
    suite = unittest.defaultTestLoader.loadTestsFromName("test." + name)
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0, buffer=True).run(suite)
    print(f"{name}: ran {result.testsRun}, failures {len(result.failures)}, "
          f"errors {len(result.errors)}, skipped {len(result.skipped)}, "
          f"expected failures {len(result.expectedFailures)}, "
          f"unexpected successes {len(result.unexpectedSuccesses)}", flush=True)
    for test, trace in result.failures + result.errors:
        print(f"  failed: {test.id()}", flush=True)
        sys.stderr.write(f"==== {test.id()}\n{trace}\n")
    return result.wasSuccessful()


def main():
    modules = sys.argv[1:] or MODULES
    all_passed = True
    for name in modules:
        all_passed = run(name) and all_passed
    sys.exit(0 if all_passed else 1)


if __name__ == "__main__":
    main()
