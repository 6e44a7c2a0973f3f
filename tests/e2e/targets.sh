#!/usr/bin/env bash
# targets.sh KILN SRCDIR TARGET — whole models compiled with --target TARGET:
# the PyTorch MLP (committed reference data) and a LeNet-5 exported afresh
# from PyTorch (tests/models/make_lenet.py) through kiln verify, which builds
# the generated C without -march and checks the outputs against torch's
# (rtol 1e-4, atol 1e-5, as e2e.mlp). aarch64 is cross-compiled with
# aarch64-linux-gnu-gcc and run under qemu-aarch64-static. Then the generated
# C of both models must be warning-free under -std=c99 -Wall -Wextra
# -Wpedantic -Wconversion -Wshadow for each compiler of the target (gcc and
# clang on x86; aarch64-linux-gnu-gcc, and clang --target=aarch64-linux-gnu
# where it finds the aarch64 headers).
set -euo pipefail
kiln=$1 src=$2 target=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run=()
compilers=(gcc clang)
if [ "$target" = aarch64 ]; then
  for tool in aarch64-linux-gnu-gcc qemu-aarch64-static; do
    command -v $tool >/dev/null || {
      echo "FAIL: $tool not found (scripts/setup.sh installs gcc-aarch64-linux-gnu qemu-user-static)"
      exit 1
    }
  done
  run=(--cc aarch64-linux-gnu-gcc --emulator "qemu-aarch64-static -L /usr/aarch64-linux-gnu")
  compilers=(aarch64-linux-gnu-gcc)
  [ -d /usr/aarch64-linux-gnu/include ] && compilers+=("clang --target=aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include")
fi
/usr/bin/python3 "$src/tests/models/make_lenet.py" "$tmp/lenet" >/dev/null 2>&1 || {
  echo "FAIL: make_lenet.py did not run (is python3-torch installed? scripts/setup.sh installs it)"; exit 1; }
"$kiln" verify "$src/tests/models/mlp" "$tmp/lenet" --target "$target" "${run[@]}" --rtol 1e-4 --atol 1e-5
for model in "$src/tests/models/mlp/model.onnx" "$tmp/lenet/model.onnx"; do
  name=$(basename "$(dirname "$model")")
  out="$tmp/gen-$name"
  "$kiln" compile "$model" -o "$out" --prefix "$name" --batch 4 --target "$target" --quiet
  grep -q "^ \* Target: $target\$" "$out/$name.c" || { echo "FAIL: $name.c does not say Target: $target"; exit 1; }
  for cc in "${compilers[@]}"; do
    # shellcheck disable=SC2086
    $cc -O2 -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror -c "$out/$name.c" \
        -I "$out" -o "$out/$name.o"
    echo "ok: $name for $target compiles warning-free with $cc"
  done
done
