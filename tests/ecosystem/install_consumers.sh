#!/usr/bin/env bash
# install_consumers.sh BUILD_DIR SRC_DIR — installs the kiln built in BUILD_DIR
# into a temporary prefix, checks the installed layout, runs the installed
# kiln from an unrelated folder, then configures, builds and runs the
# out-of-tree consumer project (tests/ecosystem/consumer: three models, one
# with a training step, in one binary) with CMake (find_package +
# kiln_add_model) and with plain Make (kiln.mk through pkg-config), checking
# that a build reruns kiln exactly when the model or kiln changes.
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fails=0
check() { # check "WHAT" COMMAND...: runs it, counts a failure
  local what=$1; shift
  if "$@" > "$tmp/check.log" 2>&1; then
    echo "ok: $what"
  else
    echo "FAIL: $what"; sed 's/^/  | /' "$tmp/check.log" | tail -20
    fails=$((fails + 1))
  fi
}
contains() { grep -q -- "$2" "$1"; }
lacks() { ! grep -q -- "$2" "$1"; }

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
for f in bin/kiln include/kiln/kiln_runtime.h lib/cmake/kiln/kilnConfig.cmake \
         lib/cmake/kiln/kilnConfigVersion.cmake lib/cmake/kiln/kilnTargets.cmake \
         lib/cmake/kiln/KilnAddModel.cmake lib/pkgconfig/kiln.pc share/kiln/kiln.mk \
         share/man/man1/kiln.1; do
  check "installed $f" test -f "$prefix/$f"
done
if grep -rq "$src" "$prefix/lib" "$prefix/share/kiln"; then
  echo "FAIL: an installed file names the source tree"; fails=$((fails + 1))
fi

# The installed kiln works from anywhere: no path into the source tree.
mkdir "$tmp/elsewhere" && cd "$tmp/elsewhere"
cp "$src/tests/models/mlp/model.onnx" mlp.onnx
check "installed kiln --version" "$prefix/bin/kiln" --version
check "installed kiln compiles from another folder" \
  "$prefix/bin/kiln" compile mlp.onnx -o gen --prefix mlp --batch 2
check "its output builds with the contract command" \
  cc -O2 -std=c99 -I gen -c gen/mlp.c -o mlp.o
if command -v man > /dev/null; then
  check "man kiln finds the page" env MANPATH="$prefix/share/man" man -w kiln
fi

# pkg-config: the runtime headers and the variables.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
printf '#include "kiln_runtime.h"\nint main(void) { return KILN_OK; }\n' > rt.c
check "pkg-config --cflags kiln compiles against the runtime header" \
  sh -c "cc -std=c99 \$(pkg-config --cflags kiln) rt.c \$(pkg-config --libs kiln) -o rt && ./rt"
check "pkg-config --variable=kiln names the installed kiln" \
  sh -c "test \"\$(pkg-config --variable=kiln kiln)\" -ef '$prefix/bin/kiln'"

# The CMake consumer, out of tree, against the installed package.
cp -r "$src/tests/ecosystem/consumer" "$tmp/cmake-consumer"
cp "$src/tests/models/mlp/model.onnx" "$tmp/cmake-consumer/"
cb=$tmp/cmake-consumer-build
check "CMake consumer configures" cmake -S "$tmp/cmake-consumer" -B "$cb" -DCMAKE_PREFIX_PATH="$prefix"
check "CMake consumer builds" cmake --build "$cb"
check "CMake consumer runs (three models in one binary)" sh -c "'$cb/consumer' > '$tmp/run.log' && grep -q 'consumer: .* ok' '$tmp/run.log'"
cmake --build "$cb" > "$tmp/rebuild.log" 2>&1
check "CMake: a rebuild with nothing changed does not rerun kiln" lacks "$tmp/rebuild.log" "kiln: compiling"
touch "$tmp/cmake-consumer/model.onnx"
cmake --build "$cb" > "$tmp/rebuild.log" 2>&1
check "CMake: touching the model reruns kiln for the three models" \
  test "$(grep -c 'kiln: compiling' "$tmp/rebuild.log")" -eq 3
touch "$prefix/bin/kiln"
cmake --build "$cb" > "$tmp/rebuild.log" 2>&1
check "CMake: a new kiln reruns kiln" contains "$tmp/rebuild.log" "kiln: compiling"
check "CMake consumer still runs" sh -c "'$cb/consumer' > '$tmp/run.log' && grep -q 'consumer: .* ok' '$tmp/run.log'"
if command -v ninja > /dev/null; then
  check "CMake consumer builds with Ninja" sh -c "cmake -S '$tmp/cmake-consumer' -B '$cb-ninja' -G Ninja \
    -DCMAKE_PREFIX_PATH='$prefix' && cmake --build '$cb-ninja' && '$cb-ninja/consumer' > '$tmp/run.log'"
fi

# The same project with plain Make and kiln.mk (kiln found through pkg-config,
# not PATH).
cp -r "$src/tests/ecosystem/consumer" "$tmp/make-consumer"
cp "$src/tests/models/mlp/model.onnx" "$tmp/make-consumer/"
cd "$tmp/make-consumer"
check "Make consumer builds" make
check "Make consumer runs (three models in one binary)" sh -c "./consumer > '$tmp/run.log' && grep -q 'consumer: .* ok' '$tmp/run.log'"
make > "$tmp/remake.log" 2>&1
check "Make: a rebuild with nothing changed does not rerun kiln" lacks "$tmp/remake.log" "kiln compile"
touch model.onnx
make > "$tmp/remake.log" 2>&1
check "Make: touching the model reruns kiln for the three models" \
  test "$(grep -c 'kiln compile' "$tmp/remake.log")" -eq 3
touch "$prefix/bin/kiln"
make > "$tmp/remake.log" 2>&1
check "Make: a new kiln reruns kiln" contains "$tmp/remake.log" "kiln compile"
check "Make consumer still runs" sh -c "./consumer > '$tmp/run.log' && grep -q 'consumer: .* ok' '$tmp/run.log'"

[ $fails -eq 0 ] && echo "all install and consumer checks passed" || echo "$fails failed"
exit $((fails > 0))
