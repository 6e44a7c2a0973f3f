# onnx.cmake — the ONNX importer's unit test; included from tests/CMakeLists.txt.
# The fixtures come from tests/unit/data/onnx/make_fixtures.py.
add_executable(test_onnx_import ${CMAKE_SOURCE_DIR}/tests/unit/test_onnx_import.c)
target_link_libraries(test_onnx_import PRIVATE kiln_onnx kiln_ir kiln_base m)
add_test(NAME test_onnx_import
         COMMAND test_onnx_import ${CMAKE_SOURCE_DIR}/tests/unit/data/onnx)
