#!/bin/sh
# bench/fuse_grad_update.sh — what fuse_grad_update buys: the training step
# (P_train_step_v) of the MLP (examples/mnist_mlp, Adam) and LeNet-5
# (examples/lenet_cnn, SGD with momentum) at batch 64, from the IR before
# and after that pass (kiln ir --dump-after, each compiled with --no-fuse, so
# every other fusion is the same in both), built with the plain contract
# command and timed side by side: REPS rounds, each running every variant
# once in alternating order (bench/train_step_main.c, mean ns per step over
# ITERS steps); prints the median, min and max and the ratio before / after.
# With CALLGRIND=1 it also counts instructions per step under valgrind.
# Usage: bench/fuse_grad_update.sh [KILN]   (TARGET=x86-64-v3, REPS=11;
#   valgrind has no AVX-512, so keep TARGET below x86-64-v4 for CALLGRIND)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/ab.sh"
KILN=${1:-$ROOT/build/kiln}
REPS=${REPS:-11}
TARGET=${TARGET:-x86-64-v3}
TMP=$(mktemp -d)
[ -z "$KEEP" ] || echo "kept in $TMP"
[ -n "$KEEP" ] || trap 'rm -rf "$TMP"' EXIT
flags_mnist_mlp="--optimizer adam"
flags_lenet_cnn="--optimizer sgd --momentum 0.9"
variants=""
for model in mnist_mlp lenet_cnn; do
  eval "extra=\$flags_$model"
  for mode in before after; do
    v=${model}_$mode
    pass=fuse_elementwise; [ $mode = after ] && pass=fuse_grad_update
    # shellcheck disable=SC2086
    "$KILN" ir "$ROOT/examples/$model/model.kir" --batch 64 --train --loss sparse_softmax_ce \
      --loss-on logits $extra --dump-after $pass > "$TMP/$v.kir"
    "$KILN" compile "$TMP/$v.kir" -o "$TMP/$v" --prefix m --no-fuse --target "$TARGET" --quiet
    cc -O2 -std=c99 -I "$TMP/$v" "$TMP/$v"/*.c "$ROOT/bench/train_step_main.c" -o "$TMP/$v/run" -lm
    variants="$variants $v"
  done
done
iters() { case $1 in mnist_mlp*) echo 400;; *) echo 100;; esac; }
ab_time
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "target $TARGET, batch 64; $REPS rounds, variants alternating; ns per training step: median (min-max)"
ab_summary after before
[ "${CALLGRIND:-0}" = 1 ] || exit 0
echo "instructions per step (callgrind, 12 calls of m_train_step_v):"
ab_callgrind m_train_step_v after before
