# sanitize.cmake — instrumented builds of kiln itself, each in a build folder
# of its own (included from the top-level CMakeLists.txt before any target):
#   -DKILN_SANITIZE=ON   kiln and its tests with AddressSanitizer and
#                        UndefinedBehaviorSanitizer (any UB report is fatal);
#                        tests/robustness/sanitize.sh runs the whole suite so.
#   -DKILN_FUZZ=ON       also builds the libFuzzer targets of tests/fuzz/
#                        (clang only, Debian libclang-rt-14-dev); implies the
#                        sanitizers. tests/fuzz/fuzz.sh makes such a build.
option(KILN_SANITIZE "Build kiln with ASan + UBSan" OFF)
option(KILN_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

if(KILN_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "KILN_FUZZ needs clang (configure with CC=clang); "
                      "this build uses ${CMAKE_C_COMPILER_ID}")
endif()

if(KILN_SANITIZE OR KILN_FUZZ)
  set(KILN_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  # e.g. -DKILN_SANITIZE_EXTRA=-fno-sanitize=alignment to look past a known report
  set(KILN_SANITIZE_EXTRA "" CACHE STRING "flags added after the sanitizer flags")
  list(APPEND KILN_SANITIZE_FLAGS ${KILN_SANITIZE_EXTRA})
  add_compile_options(${KILN_SANITIZE_FLAGS})
  add_link_options(${KILN_SANITIZE_FLAGS})
endif()

if(KILN_FUZZ)
  # coverage for every kiln library; only the fuzz targets link libFuzzer's main
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
