# Helpers shared by tests/api and tests/stress: the GoogleTest programs that run with tally
# as the process's malloc (LD_PRELOAD=${TALLY_LIBRARY}, or linked against tally_static).
#
# Works inside tally's build (TALLY_LIBRARY and the targets come from the parent) and in a
# standalone build of one test folder, for developing the tests against another allocator:
#   cmake -S tests/api -B /tmp/apibuild -DTALLY_LIBRARY=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#   cmake --build /tmp/apibuild && cd /tmp/apibuild && TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR=1 ctest
# (TALLY_TEST_ALLOW_FOREIGN_ALLOCATOR=1 is for test development only: it turns off the check
# that tally is the allocator.)

set(TALLY_TEST_SUPPORT_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(TALLY_TEST_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/../../include ABSOLUTE)

if(DEFINED TALLY_WARNINGS)
  set(TALLY_TEST_WARNINGS ${TALLY_WARNINGS})
else()
  set(TALLY_TEST_WARNINGS -Wall -Wextra -Werror)
endif()

# tally_test_executable(<name> [STATIC] SOURCES <files...>)
#   A GoogleTest program with its own main (tally_test_support.cc), which first checks that
#   tally is the allocator. STATIC links libtally.a (tally_static) first on the command line.
function(tally_test_executable name)
  cmake_parse_arguments(ARG "STATIC" "" "SOURCES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} ${TALLY_TEST_SUPPORT_DIR}/tally_test_support.cc)
  target_include_directories(${name} PRIVATE ${TALLY_TEST_SUPPORT_DIR} ${TALLY_TEST_INCLUDE_DIR})
  # -fno-builtin: the compiler must not reason about (fold, elide) the calls under test.
  # -fsized-deallocation: clang does not declare sized operator delete without it.
  target_compile_options(${name} PRIVATE ${TALLY_TEST_WARNINGS} -fno-builtin -fsized-deallocation)
  if(ARG_STATIC)
    target_compile_definitions(${name} PRIVATE TALLY_TEST_STATIC_LINK=1)
    target_link_libraries(${name} PRIVATE tally_static Threads::Threads GTest::gtest ${CMAKE_DL_LIBS})
  else()
    target_link_libraries(${name} PRIVATE Threads::Threads GTest::gtest ${CMAKE_DL_LIBS})
    if(TARGET tally)
      add_dependencies(${name} tally)  # the library the tests preload
    endif()
  endif()
endfunction()

# tally_test_suites(<executable> PREFIX <test-name-prefix> LABEL <label> [STATIC]
#                   [TIMEOUT <seconds>] [MODES <modes...>] SUITES <suites...>)
#   One CTest test per GoogleTest suite and mode, named <prefix>.<mode>.<suite>, running with
#   tally preloaded (or, for STATIC programs, with nothing preloaded) and TALLY_OPTIONS=mode=<mode>.
#   MODES defaults to TALLY_TEST_MODES (fast and safe): the API's promises hold in every mode.
#   A mode may carry options after it, `safe:sample_rate=1`: the test is then named
#   <prefix>.safe-sample_rate-1.<suite> and runs with TALLY_OPTIONS=mode=safe:sample_rate=1.
if(NOT DEFINED TALLY_TEST_MODES)
  set(TALLY_TEST_MODES fast safe)
endif()
function(tally_test_suites executable)
  cmake_parse_arguments(ARG "STATIC" "PREFIX;LABEL;TIMEOUT" "SUITES;SERIAL_SUITES;MODES" ${ARGN})
  if(NOT ARG_MODES)
    set(ARG_MODES ${TALLY_TEST_MODES})
  endif()
  foreach(mode IN LISTS ARG_MODES)
    tally_test_suites_in_mode(${executable} ${mode} ${ARGN})
  endforeach()
endfunction()

function(tally_test_suites_in_mode executable mode)
  cmake_parse_arguments(ARG "STATIC" "PREFIX;LABEL;TIMEOUT" "SUITES;SERIAL_SUITES;MODES" ${ARGN})
  string(REGEX REPLACE "[:=]" "-" mode_name "${mode}")
  set(ARG_PREFIX ${ARG_PREFIX}.${mode_name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(ARG_STATIC)
    set(preload "LD_PRELOAD=")
  else()
    set(preload "LD_PRELOAD=${TALLY_LIBRARY}")
  endif()
  foreach(suite IN LISTS ARG_SUITES ARG_SERIAL_SUITES)
    add_test(NAME ${ARG_PREFIX}.${suite} COMMAND ${executable} --gtest_filter=${suite}.*)
    set_tests_properties(${ARG_PREFIX}.${suite} PROPERTIES
      ENVIRONMENT "${preload};TALLY_OPTIONS=mode=${mode}"
      LABELS ${ARG_LABEL}
      TIMEOUT ${ARG_TIMEOUT})
  endforeach()
  foreach(suite IN LISTS ARG_SERIAL_SUITES)
    set_tests_properties(${ARG_PREFIX}.${suite} PROPERTIES RUN_SERIAL TRUE)
  endforeach()
endfunction()
