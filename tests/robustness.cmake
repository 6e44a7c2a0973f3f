# tests/robustness.cmake — reliability and security tests (issue 7), included
# from tests/CMakeLists.txt: hostile inputs with their exact errors, fuzz smoke
# runs and crash replay, generated-code hygiene (libclang), two models in two
# threads, and deterministic output. Uses KILN and SRC from tests/CMakeLists.txt.

# Malformed models, .kir texts and .pb tensor files: one exact line, exit 1,
# no crash, no hang, bounded memory (tests/robustness/expected.txt).
add_test(NAME robustness.hostile_inputs
         COMMAND ${SRC}/tests/robustness/run.sh ${KILN} ${SRC})
set_tests_properties(robustness.hostile_inputs PROPERTIES TIMEOUT 900)

# libFuzzer: a clang build of its own (BUILD/fuzz), crash replay, then 15 s
# for each of the four targets. Not registered in an instrumented build.
include(${SRC}/tests/fuzz/fuzz.cmake)
if(NOT KILN_SANITIZE AND NOT KILN_FUZZ)
  add_test(NAME robustness.fuzz_smoke
           COMMAND ${SRC}/tests/fuzz/fuzz.sh ${SRC} ${CMAKE_BINARY_DIR}/fuzz 15)
  set_tests_properties(robustness.fuzz_smoke PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE)
endif()

# The whole suite again, conformance included, with kiln built under
# AddressSanitizer + UndefinedBehaviorSanitizer in BUILD/sanitize (about 20
# minutes on 2 cores; it runs alone, after the rest). Skip it while developing
# with `ctest -LE slow`.
if(NOT KILN_SANITIZE AND NOT KILN_FUZZ)
  add_test(NAME robustness.sanitized_suite
           COMMAND ${SRC}/tests/robustness/sanitize.sh ${SRC} ${CMAKE_BINARY_DIR}/sanitize)
  set_tests_properties(robustness.sanitized_suite PROPERTIES TIMEOUT 3600 RUN_SERIAL TRUE
                       LABELS slow)
endif()

# Cast from float to integers on NaN, ±Inf and out-of-range values: the
# kernel and constant folding both saturate as SECURITY.md says.
add_test(NAME robustness.cast_saturate
         COMMAND /usr/bin/python3 ${SRC}/tests/robustness/cast_saturate.py ${KILN})

# Generated code checked with libclang (tests/hygiene/).
include(${SRC}/tests/hygiene/hygiene.cmake)

# Two models, two instances each, two threads (also under ThreadSanitizer).
add_test(NAME e2e.two_models_two_threads COMMAND ${SRC}/tests/e2e/two_models.sh ${KILN} ${SRC})
# The same model compiled twice gives byte-identical files.
add_test(NAME e2e.determinism COMMAND ${SRC}/tests/e2e/determinism.sh ${KILN} ${SRC})

# The generated code of the test models under ASan/UBSan (gcc, clang) and
# valgrind --error-exitcode=1.
add_test(NAME robustness.generated_code_sanitized
         COMMAND ${SRC}/tests/robustness/generated_code.sh ${KILN} ${SRC})
set_tests_properties(robustness.generated_code_sanitized PROPERTIES TIMEOUT 1200)
