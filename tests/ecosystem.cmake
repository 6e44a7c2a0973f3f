# tests/ecosystem.cmake — kiln in other people's builds, and its documents:
# install + out-of-tree CMake and Make consumers, the getting-started guide
# run command by command, graph pictures through Graphviz, docs/ops.md kept
# in step with the op table, docs and man page kept in step with the CLI.
# Included from tests/CMakeLists.txt. Tests that need a missing tool
# (graphviz) report SKIPPED, never pass silently.
set(ECO ${PROJECT_SOURCE_DIR}/tests/ecosystem)
set(ECO_MLP ${PROJECT_SOURCE_DIR}/tests/models/mlp/model.onnx)

# eco_tool: ir_print_dot, the --stats table and cli_suggest, driven directly.
# dot.c and cli_suggest.c are compiled in unless a kiln library has them
# (cli_suggest.c in compiler/base/ belongs to kiln_base).
set(eco_extra "")
if(EXISTS ${PROJECT_SOURCE_DIR}/compiler/cli_suggest.c)
  list(APPEND eco_extra ${PROJECT_SOURCE_DIR}/compiler/cli_suggest.c)
endif()
get_target_property(ir_sources kiln_ir SOURCES)
if(NOT ir_sources MATCHES "dot\\.c")
  list(APPEND eco_extra ${PROJECT_SOURCE_DIR}/compiler/ir/dot.c)
endif()
add_executable(eco_tool ${ECO}/eco_tool.c ${eco_extra})
target_include_directories(eco_tool PRIVATE ${PROJECT_SOURCE_DIR}/compiler)
target_link_libraries(eco_tool PRIVATE kiln_sched kiln_pass kiln_onnx kiln_ir kiln_base m)
add_test(NAME ecosystem.tools COMMAND eco_tool check ${ECO_MLP})

# docs/ops.md is generated from the op table; stale means failing.
add_executable(gen_ops_md ${ECO}/gen_ops_md.c)
target_include_directories(gen_ops_md PRIVATE ${PROJECT_SOURCE_DIR}/compiler/ir)
add_custom_target(ops_md
  COMMAND gen_ops_md > ${PROJECT_SOURCE_DIR}/docs/ops.md
  COMMENT "Regenerating docs/ops.md from compiler/ir/ops.def")
add_test(NAME ecosystem.ops_md
  COMMAND ${ECO}/ops_md_fresh.sh $<TARGET_FILE:gen_ops_md> ${PROJECT_SOURCE_DIR}/docs/ops.md)

# compiler/ir/attr_schema.def is generated from python3-onnx's schemas and
# from the op table; stale (an op added without its attribute types) fails.
add_test(NAME ecosystem.attr_schema
  COMMAND sh -c "/usr/bin/python3 scripts/gen_attr_schema.py | diff -u compiler/ir/attr_schema.def - && echo 'attr_schema.def matches the ONNX schemas' || { echo 'compiler/ir/attr_schema.def is stale: /usr/bin/python3 scripts/gen_attr_schema.py > compiler/ir/attr_schema.def'; exit 1; }"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})

# Graphviz renders what ir_print_dot writes, for the MLP and a few CNN/RNN
# cases; and `kiln ir --dot/--svg` once the CLI has them.
add_test(NAME ecosystem.dot_render
  COMMAND ${ECO}/dot_render.sh $<TARGET_FILE:eco_tool> $<TARGET_FILE:kiln> ${PROJECT_SOURCE_DIR})
set_tests_properties(ecosystem.dot_render PROPERTIES SKIP_RETURN_CODE 77)

# README, docs/ and the man page against each other and against kiln --help.
add_test(NAME ecosystem.docs COMMAND ${ECO}/docs_check.sh $<TARGET_FILE:kiln> ${PROJECT_SOURCE_DIR})

# cmake --install into a temporary prefix, then the consumer project with
# CMake and with Make against it.
add_test(NAME ecosystem.install_consumers
  COMMAND ${ECO}/install_consumers.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(ecosystem.install_consumers PROPERTIES TIMEOUT 900)

# Every command of docs/getting-started.md, in order, in a fresh copy of the
# source tree with a fresh HOME (it builds and installs kiln itself).
add_test(NAME ecosystem.getting_started
  COMMAND ${ECO}/run_doc_commands.sh ${PROJECT_SOURCE_DIR}/docs/getting-started.md ${PROJECT_SOURCE_DIR})
set_tests_properties(ecosystem.getting_started PROPERTIES TIMEOUT 1200)
# docs/training.md the same way, with the kiln just built on PATH.
add_test(NAME ecosystem.training_guide
  COMMAND ${ECO}/run_doc_commands.sh ${PROJECT_SOURCE_DIR}/docs/training.md ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE_DIR:kiln>)
set_tests_properties(ecosystem.training_guide PROPERTIES TIMEOUT 600)
