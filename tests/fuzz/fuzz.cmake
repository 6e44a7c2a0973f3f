# tests/fuzz/fuzz.cmake — the libFuzzer targets, built only with -DKILN_FUZZ=ON
# (clang; see cmake/sanitize.cmake). Included from tests/robustness.cmake.
# tests/fuzz/fuzz.sh configures such a build and runs them.
if(KILN_FUZZ)
  foreach(target fuzz_onnx fuzz_kir fuzz_tensor fuzz_params)
    add_executable(${target} ${CMAKE_SOURCE_DIR}/tests/fuzz/${target}.c)
    target_link_libraries(${target} PRIVATE kiln_pass kiln_onnx kiln_ir kiln_base m)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  endforeach()
  # the parameter-file readers: the runtime's (P_params_load) and kiln export's
  target_include_directories(fuzz_params PRIVATE ${CMAKE_SOURCE_DIR}/runtime)
  target_compile_definitions(fuzz_params PRIVATE
    KILN_FUZZ_MODEL="${CMAKE_SOURCE_DIR}/tests/unit/data/onnx/basic.onnx")
  add_custom_target(fuzz_targets DEPENDS fuzz_onnx fuzz_kir fuzz_tensor fuzz_params)
endif()
