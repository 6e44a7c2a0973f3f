#!/usr/bin/env bash
# run.sh BUILD_DIR — compiles the PyTorch-exported MLP with kiln, builds the
# generated C together with main.c using nothing but cc, and runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
out="$build/example-mlp"
rm -rf "$out"
set -x
"$build/kiln" compile "$here/../../tests/models/mlp/model.onnx" -o "$out/gen" --prefix mlp --batch 2
cc -O2 -std=c99 -I "$out/gen" "$out"/gen/*.c "$here/main.c" -lm -o "$out/mlp"
"$out/mlp"
