#!/usr/bin/env bash
# stats.sh KILN SRCDIR — `kiln compile --stats` on LeNet-5 (examples/lenet_cnn)
# with the Adam training step at batch 2: the FLOPs of the convolutions and
# of their weight gradients, counted by hand from the shapes below; per entry
# the workspace next to its liveness lower bound (never below it); a scratch
# column; and P_WORKSPACE_SIZE equal to the generated header's macro.
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$kiln" compile "$src/examples/lenet_cnn/model.kir" -o "$tmp/gen" --prefix lenet --batch 2 \
  --stats --train --loss sparse_softmax_ce --loss-on logits --optimizer adam > "$tmp/stats.txt"
fail() { echo "stats: $*"; cat "$tmp/stats.txt"; exit 1; }
flops() { awk -v node="$1" '$2 == node { f = $(NF-3); gsub(",", "", f); print f; exit }' "$tmp/stats.txt"; }
# conv1: y [2, 6, 28, 28], 1*5*5 multiply-adds each; conv2: y [2, 16, 10, 10], 6*5*5 each
[ "$(flops conv1)" = $((2 * 2 * 6 * 28 * 28 * 25)) ] || fail "conv1 FLOPs $(flops conv1)"
[ "$(flops conv2)" = $((2 * 2 * 16 * 10 * 10 * 150)) ] || fail "conv2 FLOPs $(flops conv2)"
# their weight gradients: dW[m, c, k] sums dY[n, m, p] * X[...] over n and p, as many
# multiply-adds as the forward convolution
grads=$(awk '$3 == "ConvWeightGrad" { f = $(NF-3); gsub(",", "", f); printf " %s", f }' "$tmp/stats.txt")
[ "$grads" = " $((2 * 2 * 16 * 10 * 10 * 150)) $((2 * 2 * 6 * 28 * 28 * 25))" ] ||
  fail "ConvWeightGrad FLOPs:$grads"
[ "$(grep -c "^layer .*workspace B  scratch B$" "$tmp/stats.txt")" = 2 ] || fail "no scratch column"
[ "$(grep -c '^workspace: .* of tensors, liveness lower bound' "$tmp/stats.txt")" = 2 ] ||
  fail "expected the workspace and its lower bound for both entries"
awk '/^workspace: .*lower bound/ { w = $2; b = $(NF-3); gsub(",", "", w); gsub(",", "", b)
       if (w + 0 < b + 0 || b + 0 <= 0) { print "workspace " w " below its bound " b; exit 1 } }' \
  "$tmp/stats.txt" || fail "workspace below the bound"
total=$(awk '/P_WORKSPACE_SIZE/ { gsub(",", "", $5); print $5; exit }' "$tmp/stats.txt")
grep -q "#define lenet_WORKSPACE_SIZE ((size_t)$total)" "$tmp/gen/lenet.h" ||
  fail "P_WORKSPACE_SIZE $total is not the header's"
echo "stats: OK"
