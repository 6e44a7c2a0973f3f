#!/bin/sh
# bench/fusion.sh — what the fusion passes buy: the MLP (examples/mnist_mlp)
# and LeNet-5 (examples/lenet_cnn) inference at batch 1 and 64, compiled with
# and without --no-fuse for the default target, built with the plain contract
# command, timed side by side: REPS rounds, each running every variant once
# in alternating order (bench/fusion_main.c, mean ns per call over ITERS
# calls); prints the median, min and max per variant and the ratio
# unfused / fused of the medians and of the minima. With CALLGRIND=1 it also
# counts instructions per call under valgrind --tool=callgrind (repeatable
# where the times on a shared machine are not). Usage: bench/fusion.sh [KILN]
#   (REPS=11, ITERS scaled per model; KEEP=1 keeps the generated folders)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/ab.sh"
KILN=${1:-$ROOT/build/kiln}
REPS=${REPS:-11}
TMP=$(mktemp -d)
[ -z "$KEEP" ] || echo "kept in $TMP"
[ -n "$KEEP" ] || trap 'rm -rf "$TMP"' EXIT
variants=""
for model in mnist_mlp lenet_cnn; do
  for batch in 1 64; do
    for mode in fused unfused; do
      v=${model}_b${batch}_$mode
      flag=""; [ $mode = unfused ] && flag=--no-fuse
      "$KILN" compile "$ROOT/examples/$model/model.kir" -o "$TMP/$v" --prefix m --batch $batch \
        $flag --quiet
      cc -O2 -std=c99 -I "$TMP/$v" "$TMP/$v"/*.c "$ROOT/bench/fusion_main.c" -o "$TMP/$v/run" -lm
      variants="$variants $v"
    done
  done
done
iters() { case $1 in mnist_mlp_b1*) echo 20000;; mnist_mlp_b64*) echo 400;;
                      lenet_cnn_b1*) echo 2000;; *) echo 40;; esac; }
ab_time
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$REPS rounds, variants alternating; ns per inference: median (min-max)"
ab_summary fused unfused
[ "${CALLGRIND:-0}" = 1 ] || exit 0
echo "instructions per call (callgrind, 12 calls of m_run_v):"
ab_callgrind m_run_v fused unfused
