#!/usr/bin/env bash
# run.sh — compiles the LSTM classifier's training step with kiln, builds it
# with the examples' training loop (../mnist_mlp/train.c) using nothing but
# cc, trains 5 epochs on Fashion-MNIST and evaluates.
#   examples/rnn/run.sh [--kiln PATH] [--out DIR] [TRAIN OPTIONS...]
# --kiln PATH  the kiln to use (default: build/kiln of this checkout, else kiln on PATH)
# --out DIR    where the generated C, the program, the CSV and the PNG go
#              (default: build/examples/rnn)
# Every other option goes to the program: --epochs N, --limit N, --data DIR,
# --save FILE, --resume FILE, ... (`train --help`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
common="$(cd "$here/../common" && pwd)"
root="$(cd "$here/../.." && pwd)"
kiln="" out="$root/build/examples/rnn"
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
# The training step: backpropagation through the 28 time steps, softmax
# cross-entropy, gradients clipped to a global norm of 1, and Adam, for
# batches of 32.
"$kiln" compile "$here/model.kir" -o "$out/gen" --prefix model --batch 32 \
    --train --loss sparse_softmax_ce --loss-on logits \
    --optimizer adam --lr 2e-3 --clip-norm 1.0
cc -O2 -std=c99 -I "$out/gen" -I "$common" "$out"/gen/*.c \
    "$common/idx.c" "$common/report.c" "$here/../mnist_mlp/train.c" -lz -lm -o "$out/train"
"$out/train" --csv "$out/rnn.csv" --png "$out/rnn.png" "$@"
