# tests/hygiene/hygiene.cmake — kiln_hygiene, the libclang checker of
# generated code (Debian libclang-dev), and its CTest test. Included from
# tests/robustness.cmake.
find_path(KILN_CLANG_C_INCLUDE clang-c/Index.h
  PATHS /usr/lib/llvm-16/include /usr/lib/llvm-15/include /usr/lib/llvm-14/include)
find_library(KILN_LIBCLANG NAMES clang clang-16 clang-15 clang-14
  PATHS /usr/lib/llvm-16/lib /usr/lib/llvm-15/lib /usr/lib/llvm-14/lib)
if(KILN_CLANG_C_INCLUDE AND KILN_LIBCLANG)
  add_executable(kiln_hygiene ${CMAKE_SOURCE_DIR}/tests/hygiene/kiln_hygiene.c)
  target_include_directories(kiln_hygiene PRIVATE ${KILN_CLANG_C_INCLUDE})
  target_link_libraries(kiln_hygiene PRIVATE ${KILN_LIBCLANG})
  # libclang is C++ and leaks by design; only kiln's code is sanitized
  target_compile_options(kiln_hygiene PRIVATE -fno-sanitize=all)
  target_link_options(kiln_hygiene PRIVATE -fno-sanitize=all)
  add_test(NAME hygiene.generated_code
           COMMAND ${SRC}/tests/hygiene/hygiene.sh ${KILN} $<TARGET_FILE:kiln_hygiene> ${SRC})
  set_tests_properties(hygiene.generated_code PROPERTIES TIMEOUT 900)
else()
  add_test(NAME hygiene.generated_code COMMAND sh -c
           "echo 'FAIL: libclang not found (Debian libclang-dev; scripts/setup.sh installs it)'; exit 1")
endif()
