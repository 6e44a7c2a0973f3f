# The SIMD abstraction and the GEMM micro-kernel templates, each compiled on
# its own with the contract flags (C99, -O2, no -march: the AVX2 kernels
# enable themselves) and checked against naive code. Included from
# tests/CMakeLists.txt.
set(KILN_KERNEL_DIR ${CMAKE_CURRENT_LIST_DIR})

function(kiln_kernel_test name)
  set(t kernels_${name})
  add_executable(${t} ${ARGN})
  set_target_properties(${t} PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
  target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/runtime ${CMAKE_SOURCE_DIR}/templates)
  target_compile_options(${t} PRIVATE -O2 -Wpedantic -Werror)
  target_link_libraries(${t} PRIVATE m)
  add_test(NAME kernels.${name} COMMAND ${t})
endfunction()

kiln_kernel_test(test_simd ${KILN_KERNEL_DIR}/test_simd.c ${KILN_KERNEL_DIR}/simd_other.c)
kiln_kernel_test(test_simd_scalar ${KILN_KERNEL_DIR}/test_simd.c ${KILN_KERNEL_DIR}/simd_other.c)
target_compile_definitions(kernels_test_simd_scalar PRIVATE KILN_SIMD_FORCE_SCALAR)
kiln_kernel_test(test_gemm ${KILN_KERNEL_DIR}/test_gemm.c)
kiln_kernel_test(test_gemv ${KILN_KERNEL_DIR}/test_gemv.c)
kiln_kernel_test(test_conv_grad ${KILN_KERNEL_DIR}/test_conv_grad.c)
kiln_kernel_test(test_norm_grad ${KILN_KERNEL_DIR}/test_norm_grad.c)
kiln_kernel_test(test_norm_grad_scalar ${KILN_KERNEL_DIR}/test_norm_grad.c)
target_compile_definitions(kernels_test_norm_grad_scalar PRIVATE KILN_SIMD_FORCE_SCALAR)
kiln_kernel_test(test_dwconv ${KILN_KERNEL_DIR}/test_dwconv.c)
kiln_kernel_test(test_dwconv_scalar ${KILN_KERNEL_DIR}/test_dwconv.c)
target_compile_definitions(kernels_test_dwconv_scalar PRIVATE KILN_SIMD_FORCE_SCALAR)
kiln_kernel_test(test_optim ${KILN_KERNEL_DIR}/test_optim.c)
kiln_kernel_test(test_optim_scalar ${KILN_KERNEL_DIR}/test_optim.c)
target_compile_definitions(kernels_test_optim_scalar PRIVATE KILN_SIMD_FORCE_SCALAR)
kiln_kernel_test(test_vmath ${KILN_KERNEL_DIR}/test_vmath.c)
kiln_kernel_test(test_vmath_scalar ${KILN_KERNEL_DIR}/test_vmath.c)
target_compile_definitions(kernels_test_vmath_scalar PRIVATE KILN_SIMD_FORCE_SCALAR)
# The --threads pool (runtime/kiln_threads.h), and again under ThreadSanitizer.
find_package(Threads REQUIRED)
kiln_kernel_test(test_threads ${KILN_KERNEL_DIR}/test_threads.c)
target_link_libraries(kernels_test_threads PRIVATE Threads::Threads)
find_program(KILN_CLANG clang)
if(KILN_CLANG)
  set(exe ${CMAKE_CURRENT_BINARY_DIR}/test_threads_tsan)
  add_test(NAME kernels.test_threads_tsan
           COMMAND sh -c "\"$0\" -O1 -g -std=c99 -Wall -Wextra -Wpedantic -Werror -fsanitize=thread -pthread -I\"$1\" -o \"$2\" \"$3\" && TSAN_OPTIONS=halt_on_error=1 \"$2\""
                   ${KILN_CLANG} ${CMAKE_SOURCE_DIR}/runtime ${exe} ${KILN_KERNEL_DIR}/test_threads.c)
endif()

# The same tests cross-compiled for aarch64 (NEON and the generic kernel)
# and run under qemu, where Debian's gcc-aarch64-linux-gnu and
# qemu-user-static are installed.
find_program(KILN_AARCH64_CC aarch64-linux-gnu-gcc)
find_program(KILN_QEMU_AARCH64 qemu-aarch64-static)
if(KILN_AARCH64_CC AND KILN_QEMU_AARCH64)
  foreach(t test_simd test_gemm test_gemv test_conv_grad test_norm_grad test_dwconv test_optim
           test_vmath)
    set(srcs ${KILN_KERNEL_DIR}/${t}.c)
    if(t STREQUAL "test_simd")
      list(APPEND srcs ${KILN_KERNEL_DIR}/simd_other.c)
    endif()
    string(JOIN " " srcs ${srcs})
    set(exe ${CMAKE_CURRENT_BINARY_DIR}/${t}_aarch64)
    add_test(NAME kernels.${t}_aarch64
             COMMAND sh -c "\"$0\" -O2 -std=c99 -Wall -Wextra -Wpedantic -Werror -static -I\"$1\" -I\"$2\" -o \"$3\" $4 -lm && \"$5\" \"$3\""
                     ${KILN_AARCH64_CC} ${CMAKE_SOURCE_DIR}/runtime ${CMAKE_SOURCE_DIR}/templates ${exe} "${srcs}" ${KILN_QEMU_AARCH64})
  endforeach()
endif()

# The specialised layer paths (batch-1 GEMV, 1x1 / depthwise conv, conv
# backward) end to end through kiln verify, against PyTorch in float64.
add_test(NAME kernels.layers COMMAND /usr/bin/python3 ${KILN_KERNEL_DIR}/layers.py $<TARGET_FILE:kiln>)
