# tests/fuzz/fuzz.cmake — the libFuzzer targets, built only with -DKILN_FUZZ=ON
# (clang; see cmake/sanitize.cmake). Included from tests/robustness.cmake.
# tests/fuzz/fuzz.sh configures such a build and runs them.
if(KILN_FUZZ)
  foreach(target fuzz_onnx fuzz_kir fuzz_tensor)
    add_executable(${target} ${CMAKE_SOURCE_DIR}/tests/fuzz/${target}.c)
    target_link_libraries(${target} PRIVATE kiln_pass kiln_onnx kiln_ir kiln_base m)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  endforeach()
  add_custom_target(fuzz_targets DEPENDS fuzz_onnx fuzz_kir fuzz_tensor)
endif()
