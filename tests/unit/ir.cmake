# tests/unit/ir.cmake — the IR unit test: .kir print/parse round trips, the
# hand-written files in data/kir, exact parse-error texts, ir_verify and
# pass_init_params. Included from tests/CMakeLists.txt.
add_executable(test_ir ${CMAKE_SOURCE_DIR}/tests/unit/test_ir.c)
target_link_libraries(test_ir PRIVATE kiln_pass kiln_ir kiln_base m)
add_test(NAME unit.ir COMMAND test_ir ${CMAKE_SOURCE_DIR}/tests/unit/data/kir)
