#!/usr/bin/env bash
# run.sh — compiles LeNet-5's training step with kiln, builds it with the
# examples' training loop (../mnist_mlp/train.c) using nothing but cc, trains
# 5 epochs on Fashion-MNIST and evaluates.
#   examples/lenet_cnn/run.sh [--kiln PATH] [--out DIR] [TRAIN OPTIONS...]
# --kiln PATH  the kiln to use (default: build/kiln of this checkout, else kiln on PATH)
# --out DIR    where the generated C, the program, the CSV and the PNG go
#              (default: build/examples/lenet_cnn)
# Every other option goes to the program: --epochs N, --limit N, --data DIR,
# --save FILE, --resume FILE, ... (`train --help`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
common="$(cd "$here/../common" && pwd)"
root="$(cd "$here/../.." && pwd)"
kiln="" out="$root/build/examples/lenet_cnn"
while [ $# -gt 0 ]; do
  case "$1" in
    --kiln) kiln="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$kiln" ] || { [ -x "$root/build/kiln" ] && kiln="$root/build/kiln"; } || kiln=kiln
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/gen"
set -x
# The training step: batch norm on the batch's statistics (updating the
# running ones), dropout with a fresh mask each step, softmax cross-entropy,
# and SGD with momentum 0.9 and L2 weight decay 5e-4, for batches of 32. The
# program then lowers the learning rate by 0.7 after each epoch (model_set_lr).
"$kiln" compile "$here/model.kir" -o "$out/gen" --prefix model --batch 32 \
    --train --loss sparse_softmax_ce --loss-on logits \
    --optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 5e-4
cc -O2 -std=c99 -I "$out/gen" -I "$common" "$out"/gen/*.c \
    "$common/idx.c" "$common/report.c" "$here/../mnist_mlp/train.c" -lz -lm -o "$out/train"
"$out/train" --lr 0.01 --lr-decay 0.7 --csv "$out/lenet_cnn.csv" --png "$out/lenet_cnn.png" "$@"
