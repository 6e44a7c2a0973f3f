# KilnAddModel.cmake — kiln_add_model(): compile an ONNX or .kir model to C at
# build time and wrap the result in a static library target. Installed beside
# kilnConfig.cmake, so `find_package(kiln CONFIG REQUIRED)` provides it; also
# usable from a project that adds kiln's source tree with add_subdirectory().
#
#   kiln_add_model(<target> <model.onnx|model.kir>
#                  [PREFIX <p>]                 symbol prefix (default: <target> as a C identifier)
#                  [TARGET_ISA <isa>]           kiln compile --target (generic, x86-64,
#                                               x86-64-v3, x86-64-v4, aarch64, host)
#                  [BATCH <n>]                  --batch: fix the symbolic first dimension
#                  [INPUT_SHAPE <name=dims>...] --input-shape, one per input
#                  [WEIGHTS embed|file]         --weights (file: <p>.bin beside the sources)
#                  [TRAIN <option>...]          --train followed by these options
#                  [OPTIONS <flag>...]          any other kiln compile flags
#                  [OUTPUT_DIR <dir>])          default: ${CMAKE_CURRENT_BINARY_DIR}/kiln/<target>
#
# `kiln compile` runs at build time, again whenever the model file or the kiln
# executable changes. <target> is a STATIC library of <p>.c whose PUBLIC
# include directory holds <p>.h and the runtime header; link it and
# `#include "<p>.h"`. Target properties KILN_PREFIX, KILN_OUTPUT_DIR and (with
# WEIGHTS file) KILN_WEIGHTS_FILE tell where things went.
include_guard(GLOBAL)

# The kiln to run: KILN_EXECUTABLE if set, else the imported kiln::kiln (from
# find_package), else the kiln target of a source tree added as a subdirectory.
function(_kiln_executable out)
  if(KILN_EXECUTABLE)
    set(${out} "${KILN_EXECUTABLE}" PARENT_SCOPE)
  elseif(TARGET kiln::kiln)
    set(${out} "$<TARGET_FILE:kiln::kiln>" PARENT_SCOPE)
  elseif(TARGET kiln)
    set(${out} "$<TARGET_FILE:kiln>" PARENT_SCOPE)
  else()
    message(FATAL_ERROR "kiln_add_model: no kiln executable (find_package(kiln) first, or set KILN_EXECUTABLE)")
  endif()
endfunction()

function(kiln_add_model target model)
  cmake_parse_arguments(PARSE_ARGV 2 ARG ""
    "PREFIX;TARGET_ISA;BATCH;WEIGHTS;OUTPUT_DIR" "INPUT_SHAPE;TRAIN;OPTIONS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kiln_add_model(${target}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(model "${model}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT ARG_PREFIX)
    string(MAKE_C_IDENTIFIER "${target}" ARG_PREFIX)
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/kiln/${target}")
  endif()
  get_filename_component(dir "${ARG_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  _kiln_executable(kiln)

  set(flags --prefix "${ARG_PREFIX}")
  if(ARG_TARGET_ISA)
    list(APPEND flags --target "${ARG_TARGET_ISA}")
  endif()
  if(ARG_BATCH)
    list(APPEND flags --batch "${ARG_BATCH}")
  endif()
  foreach(shape IN LISTS ARG_INPUT_SHAPE)
    list(APPEND flags --input-shape "${shape}")
  endforeach()
  set(outputs "${dir}/${ARG_PREFIX}.c" "${dir}/${ARG_PREFIX}.h")
  if(ARG_WEIGHTS)
    list(APPEND flags --weights "${ARG_WEIGHTS}")
    if(ARG_WEIGHTS STREQUAL "file")
      list(APPEND outputs "${dir}/${ARG_PREFIX}.bin")
    endif()
  endif()
  if(DEFINED ARG_TRAIN OR "TRAIN" IN_LIST ARG_KEYWORDS_MISSING_VALUES)
    list(APPEND flags --train ${ARG_TRAIN})
  endif()
  list(APPEND flags ${ARG_OPTIONS})

  get_filename_component(model_name "${model}" NAME)
  add_custom_command(
    OUTPUT ${outputs}
    BYPRODUCTS "${dir}/kiln_runtime.h"
    COMMAND "${kiln}" compile "${model}" -o "${dir}" ${flags}
    DEPENDS "${model}" "${kiln}"
    COMMENT "kiln: compiling ${model_name} to ${ARG_PREFIX}.c"
    VERBATIM)
  add_library(${target} STATIC "${dir}/${ARG_PREFIX}.c" "${dir}/${ARG_PREFIX}.h")
  target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${dir}>")
  set_target_properties(${target} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON
    KILN_PREFIX "${ARG_PREFIX}" KILN_OUTPUT_DIR "${dir}")
  if(ARG_WEIGHTS STREQUAL "file")
    set_target_properties(${target} PROPERTIES KILN_WEIGHTS_FILE "${dir}/${ARG_PREFIX}.bin")
  endif()
  if(NOT WIN32)
    target_link_libraries(${target} PUBLIC m)
  endif()
endfunction()
