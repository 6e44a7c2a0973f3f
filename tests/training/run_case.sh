#!/usr/bin/env bash
# run_case.sh KILN SRCDIR CASE — trains CASE 20 steps in torch and in kiln's
# generated C from the same initial parameters and batches, and compares.
# With KILN_ORT_DIR (a folder with node_modules/onnxruntime-node), also exports
# the trained model with kiln export and checks it in onnxruntime. With
# KILN_TARGET, compiles for that --target, builds with $KILN_CC (default cc)
# and runs the step under $KILN_EMULATOR (e.g. qemu-aarch64-static -L
# /usr/aarch64-linux-gnu), as kiln run/verify do.
# With KILN_THREADS=N, compiles with --threads N (the step's kernels on the pool).
set -euo pipefail
kiln=$1 src=$2 case=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/tests/training/torch_train.py" "$case" "$tmp" > "$tmp/torch.log" 2>&1 ||
  { cat "$tmp/torch.log"; exit 1; }
# shellcheck disable=SC2046
"$kiln" compile "$tmp/model.onnx" -o "$tmp/gen" --prefix model $(cat "$tmp/flags.txt") \
  ${KILN_TARGET:+--target "$KILN_TARGET"} ${KILN_THREADS:+--threads "$KILN_THREADS"}
${KILN_CC:-cc} -O2 -std=c99 -Wall -Wextra -Werror ${KILN_THREADS:+-pthread} -I "$tmp/gen" "$tmp"/gen/*.c "$src/tests/training/train_harness.c" \
   -lm -o "$tmp/train"
n=$(ls "$tmp"/input_*.bin | wc -l)
# shellcheck disable=SC2086
${KILN_EMULATOR:-} "$tmp/train" 20 "$tmp" $(for k in $(seq 0 $((n - 1))); do echo "$tmp/input_$k.bin"; done) > "$tmp/kiln_losses.txt"
/usr/bin/python3 "$src/tests/training/compare.py" "$tmp" "$tmp/kiln_losses.txt"
# kiln export: the trained parameters back into the ONNX model, run by onnxruntime
if [ -n "${KILN_ORT_DIR:-}" ]; then
  "$kiln" export "$tmp/model.onnx" "$tmp/kiln_params.bin" -o "$tmp/trained.onnx"
  node "$src/tests/training/ort_check.js" "$tmp/trained.onnx" "$tmp" 20
fi
