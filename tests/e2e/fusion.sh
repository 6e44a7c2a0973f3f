#!/usr/bin/env bash
# fusion.sh KILN SRCDIR — the fusion passes (compiler/pass/fuse_*.c) fire and
# keep the outputs: a PyTorch network built so that every pass has work
# (tests/models/make_fusion.py) is dumped after the fusion passes and checked
# for the fused ops, then run fused (both targets) and with --no-fuse against
# torch's outputs, and the fused .kir is compiled again (round trip).
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 "$src/tests/models/make_fusion.py" "$tmp/net" >/dev/null 2>&1 ||
  fail "make_fusion.py did not run (is python3-torch installed? scripts/setup.sh installs it)"

# count PATTERN TEXT: the lines of TEXT matching the extended regex PATTERN
count() { grep -cE "$1" <<<"$2" || true; }
expect_count() { # WHAT N PATTERN TEXT
  local got; got=$(count "$3" "$4")
  [ "$got" = "$2" ] || fail "$1: expected $2 lines matching '$3', got $got"
  echo "ok: $1 ($2)"
}

ir=$("$kiln" ir "$tmp/net/model.onnx" --batch 3 --dump-after fuse_activation)
nodes=$(grep '^node' <<<"$ir")
expect_count "BatchNormalization folded away" 0 '= BatchNormalization\(' "$nodes"
expect_count "Conv+BN+activation -> FusedConv" 2 '= kiln::FusedConv\(' "$nodes"
expect_count "Gemm/MatMul+Add + activation -> FusedGemm" 4 '= kiln::FusedGemm\(' "$nodes"
expect_count "activations left as nodes" 0 '= (Relu|LeakyRelu|HardSwish|Sigmoid|Tanh|Clip|Add|Transpose|MatMul)\(' "$nodes"
expect_count "Transpose folded into transA" 1 '= Gemm\(.*\) \{transA = 1\}' "$nodes"
for act in Relu LeakyRelu HardSwish Sigmoid Tanh Clip; do
  expect_count "activation $act" 1 "activation = \"$act\"" "$ir"
done
un=$("$kiln" ir "$tmp/net/model.onnx" --batch 3 --dump-after fuse_activation --no-fuse 2>&1 || true)
grep -q "unknown pass 'fuse_activation'" <<<"$un" || fail "--no-fuse still ran the fusion passes"

# LeNet (examples/lenet_cnn): both Conv+BN+Relu and both hidden Gemm+Relu fuse
lenet=$("$kiln" ir "$src/examples/lenet_cnn/model.kir" --batch 1 --dump-after fuse_activation | grep '^node')
expect_count "LeNet FusedConv" 2 'kiln::FusedConv\(' "$lenet"
expect_count "LeNet FusedGemm" 2 'kiln::FusedGemm\(' "$lenet"
# ... but not in its training build, where the parameters are state, not constants
lenet_t=$("$kiln" ir "$src/examples/lenet_cnn/model.kir" --batch 4 --train --loss sparse_softmax_ce \
          --loss-on logits --dump-after fuse_activation | grep '^node')
[ "$(count '= BatchNormalization\(' "$lenet_t")" -gt 0 ] ||
  fail "LeNet training: a BatchNormalization over trainable state was folded"
echo "ok: LeNet training keeps its BatchNormalization"

# outputs against torch: fused on both targets, and unfused
"$kiln" verify "$tmp/net" --rtol 1e-4 --atol 1e-5
"$kiln" verify "$tmp/net" --rtol 1e-4 --atol 1e-5 --target generic
"$kiln" verify "$tmp/net" --rtol 1e-4 --atol 1e-5 --no-fuse

# the fused IR as .kir text compiles again to the same results (batch 3: data set 0)
mkdir -p "$tmp/kir"
cp -r "$tmp/net/test_data_set_0" "$tmp/kir/"
printf '%s\n' "$ir" > "$tmp/kir/model.kir"
"$kiln" verify "$tmp/kir" --rtol 1e-4 --atol 1e-5
