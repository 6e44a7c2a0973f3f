#!/usr/bin/env bash
# run.sh — compiles the MLP's training step with kiln, builds it and train.c
# with nothing but cc, and trains 5 epochs on Fashion-MNIST, then evaluates.
#   examples/mnist_mlp/run.sh [--onnx | --model FILE] [--kiln PATH] [--out DIR] [TRAIN OPTIONS...]
# --onnx       compile the PyTorch export (export_onnx.py) instead of model.kir
# --model FILE compile another model (.onnx or .kir) that maps image[N,1,28,28]
#              to logits[N,10] (examples/embed trains its second model so)
# --kiln PATH  the kiln to use (default: build/kiln of this checkout, else kiln on PATH)
# --out DIR    where the generated C, the program, the CSV and the PNG go
#              (default: build/examples/mnist_mlp)
# Every other option goes to the program: --epochs N, --limit N, --data DIR,
# --save FILE, --resume FILE, ... (`train --help`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
common="$(cd "$here/../common" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$here/model.kir" onnx=0 kiln="" out="$root/build/examples/mnist_mlp"
while [ $# -gt 0 ]; do
  case "$1" in
    --onnx) onnx=1; shift ;;
    --model) src="$2"; shift 2 ;;
    --kiln) kiln="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$kiln" ] || { [ -x "$root/build/kiln" ] && kiln="$root/build/kiln"; } || kiln=kiln
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [ "$onnx" = 1 ]; then
  src="$out/model.onnx"
  (set -x; /usr/bin/python3 "$here/export_onnx.py" "$src")
fi
rm -rf "$out/gen"
set -x
# The training step: forward, backward (sparse softmax cross-entropy on the
# logits) and an Adam update, for batches of 32; the inference entry point
# model_run_v comes with it.
"$kiln" compile "$src" -o "$out/gen" --prefix model --batch 32 \
    --train --loss sparse_softmax_ce --loss-on logits --optimizer adam --lr 1e-3
cc -O2 -std=c99 -I "$out/gen" -I "$common" "$out"/gen/*.c \
    "$common/idx.c" "$common/report.c" "$here/train.c" -lz -lm -o "$out/train"
"$out/train" --csv "$out/mnist_mlp.csv" --png "$out/mnist_mlp.png" "$@"
