#!/usr/bin/env bash
# sanitize.sh SRCDIR BUILDDIR [CTEST-ARGS...] — builds kiln and its tests with
# AddressSanitizer + UndefinedBehaviorSanitizer (-DKILN_SANITIZE=ON) in
# BUILDDIR and runs the whole CTest suite there, conformance included: any
# sanitizer report makes kiln exit non-zero, which fails the test that ran it.
# The generated code of the test models is checked under the sanitizers and
# valgrind by tests/robustness/generated_code.sh (part of that suite).
set -euo pipefail
src=$(cd "$1" && pwd) build=$2
shift 2
mkdir -p "$build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
  tail -30 "$build/build.log"; echo "FAIL: the sanitizer build failed"; exit 1; }
# Leaks are reported by the fuzz targets (per input); kiln is a short-lived
# process that frees its arenas, and its tests check its output, not its heap.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
exec ctest --output-on-failure -j"$(nproc)" "$@"
