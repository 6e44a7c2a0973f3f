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

# fuse_elementwise: chains of cheap elementwise arithmetic from torch's export
# (the tails of GELU's erf and tanh forms, LayerNorm's tail;
# tests/models/make_elementwise.py) become one FusedElementwise loop each,
# matching torch fused, unfused and through .kir; ops that call libm (Erf,
# Tanh, Sigmoid, Sqrt) stay nodes, so SiLU's Sigmoid keeps its vector loop
/usr/bin/python3 "$src/tests/models/make_elementwise.py" "$tmp/ew" >/dev/null 2>&1 ||
  fail "make_elementwise.py did not run"
ew=$("$kiln" ir "$tmp/ew/model.onnx" --batch 3 --dump-after fuse_elementwise)
ewn=$(grep '^node' <<<"$ew")
expect_count "elementwise chains -> FusedElementwise" 4 '= kiln::FusedElementwise\(' "$ewn"
expect_count "GELU (erf) after its Erf in one loop" 1 'ops = \["Add", "Mul", "Mul"\]' "$ew"
expect_count "LayerNorm tail in one loop" 1 'ops = \["Div", "Mul", "Add"\]' "$ew"
expect_count "GELU (tanh) before its Tanh in one loop" 1 'ops = \["Mul", "Mul", "Mul", "Add", "Mul"\]' "$ew"
expect_count "GELU (tanh) after its Tanh + scale, add, LeakyRelu in one loop" 1 \
  'ops = \["Add", "Mul", "Mul", "Mul", "Add", "LeakyRelu"\]' "$ew"
expect_count "LeakyRelu's alpha kept as its step's" 1 'alpha_5 = 0\.2' "$ew"
expect_count "libm ops stay nodes" 4 '= (Erf|Sigmoid|Tanh|Sqrt)\(' "$ewn"
# the LayerNorm's centred value has two readers (Pow, Div): neither fuses it away
expect_count "values read twice stay" 1 '= Sub\(' "$ewn"
expect_count "elementwise ops left as nodes" 9 '= (Add|Sub|Mul|Div|Erf|Sigmoid|Tanh|Sqrt|Pow|LeakyRelu)\(' "$ewn"
ewu=$("$kiln" ir "$tmp/ew/model.onnx" --batch 3 --dump-after dce --no-fuse | grep '^node')
expect_count "--no-fuse: no FusedElementwise" 0 'FusedElementwise' "$ewu"
"$kiln" verify "$tmp/ew" --rtol 1e-4 --atol 1e-5
"$kiln" verify "$tmp/ew" --rtol 1e-4 --atol 1e-5 --target generic
"$kiln" verify "$tmp/ew" --rtol 1e-4 --atol 1e-5 --no-fuse
mkdir -p "$tmp/ewkir"
cp -r "$tmp/ew/test_data_set_0" "$tmp/ewkir/"
printf '%s\n' "$ew" > "$tmp/ewkir/model.kir"
"$kiln" verify "$tmp/ewkir" --rtol 1e-4 --atol 1e-5
# a hand-written program that is wrong is a one-line error, not a crash
sed 's/"Div", "Mul", "Add"/"Div", "Gemm", "Add"/' "$tmp/ewkir/model.kir" > "$tmp/bad.kir"
msg=$("$kiln" compile "$tmp/bad.kir" -o "$tmp/badout" 2>&1) && fail "a bad FusedElementwise compiled"
grep -q "step 1: 'Gemm' is not an elementwise op FusedElementwise takes" <<<"$msg" ||
  fail "bad FusedElementwise op: $msg"
echo "ok: a bad FusedElementwise program is refused"

# fuse_grad_mask: in the MLP's training step (examples/mnist_mlp) the Relu's
# gradient becomes the epilogue of the Gemm computing dY (a FusedGemm with the
# Relu's input as its fourth input); training.mlp_* check the step against torch
tr=$("$kiln" ir "$src/examples/mnist_mlp/model.kir" --batch 8 --train --loss softmax_ce \
     --loss-on logits --dump-after fuse_grad_mask | grep '^node')
expect_count "Relu gradient fused into its Gemm" 1 '= kiln::FusedGemm\(%[^,]+, %[^,]+, _, %[^)]+\)$' "$tr"
expect_count "no Relu gradient left" 0 '= kiln::UnaryGrad\(' "$tr"
tru=$("$kiln" ir "$src/examples/mnist_mlp/model.kir" --batch 8 --train --loss softmax_ce \
      --loss-on logits --dump-after dce --no-fuse | grep '^node')
expect_count "--no-fuse: the Relu gradient stays" 1 '= kiln::UnaryGrad\(' "$tru"

# fuse_grad_update: a bias gradient (SumToShape of dY, a conv's through a
# Reshape) that only its parameter's update reads becomes part of that update
# (FusedOptimizer reading dY). MLP: both biases; LeNet: its three Gemm biases,
# not the BatchNormalizations' scale and shift (BatchNormGrad makes those).
tr=$("$kiln" ir "$src/examples/mnist_mlp/model.kir" --batch 8 --train --loss softmax_ce \
     --loss-on logits --dump-after fuse_grad_update | grep '^node')
expect_count "MLP bias gradients fused into their updates" 2 '= kiln::FusedOptimizer\(%fc[12]\.bias, ' "$tr"
expect_count "MLP: no SumToShape left" 0 '= kiln::SumToShape\(' "$tr"
expect_count "--no-fuse: the bias gradients stay" 2 '= kiln::SumToShape\(' "$tru"
expect_count "--no-fuse: no FusedOptimizer" 0 'FusedOptimizer' "$tru"
lt=$("$kiln" ir "$src/examples/lenet_cnn/model.kir" --batch 4 --train --loss sparse_softmax_ce \
     --loss-on logits --optimizer sgd --momentum 0.9 --dump-after fuse_grad_update | grep '^node')
expect_count "LeNet Gemm bias gradients fused" 3 '= kiln::FusedOptimizer\(%fc[123]\.bias, ' "$lt"
expect_count "LeNet BatchNormalization parameters updated apart" 4 '= kiln::Optimizer\(%bn[12]\.' "$lt"
# --clip-norm needs every gradient's norm before any update: nothing fuses
tc=$("$kiln" ir "$src/examples/mnist_mlp/model.kir" --batch 8 --train --loss softmax_ce \
     --loss-on logits --clip-norm 1 --dump-after fuse_grad_update | grep '^node')
expect_count "--clip-norm: no FusedOptimizer" 0 'FusedOptimizer' "$tc"

# The fused step is the unfused one to the bit: the IR before and after
# fuse_grad_update (as .kir), each compiled with --no-fuse and trained 20
# steps by tests/training/train_harness.c; losses and parameter files cmp
# equal. Cases: torch_train.py's MLP (Adam on vectors, bias sums over rows,
# two blocks of 64), its 1-D conv net (SGD with momentum; a conv bias through
# a Reshape, summed in double runs) and conv net (AdamW); a tiny conv net
# (RMSprop with momentum and --l2 on the scalar loop, a conv bias over 3x3
# outputs summed in float).
same_bits() { # NAME DIR: DIR has model.onnx or model.kir, flags.txt and input_*.bin
  local name=$1 dir=$2 model flags v
  model=$dir/model.onnx
  [ -f "$model" ] || model=$dir/model.kir
  flags=$(cat "$dir/flags.txt")
  # shellcheck disable=SC2086
  "$kiln" ir "$model" $flags --dump-after fuse_elementwise > "$tmp/$name.u.kir"
  # shellcheck disable=SC2086
  "$kiln" ir "$model" $flags --dump-after fuse_grad_update > "$tmp/$name.f.kir"
  [ "$(count '= kiln::FusedOptimizer\(' "$(cat "$tmp/$name.f.kir")")" -gt 0 ] ||
    fail "$name: fuse_grad_update did not fire"
  for v in u f; do
    "$kiln" compile "$tmp/$name.$v.kir" --no-fuse -o "$tmp/$name.$v" --prefix model
    cc -O2 -std=c99 -Wall -Wextra -Werror -I "$tmp/$name.$v" "$tmp/$name.$v"/*.c \
      "$src/tests/training/train_harness.c" -lm -o "$tmp/$name.$v/train"
    mkdir -p "$tmp/$name.$v/out"
    "$tmp/$name.$v/train" 20 "$tmp/$name.$v/out" "$dir"/input_*.bin > "$tmp/$name.$v/out/losses.txt"
  done
  cmp "$tmp/$name.u/out/losses.txt" "$tmp/$name.f/out/losses.txt" || fail "$name: losses differ"
  cmp "$tmp/$name.u/out/kiln_params.bin" "$tmp/$name.f/out/kiln_params.bin" ||
    fail "$name: trained parameters differ"
  echo "ok: $name: fused updates give the same bits"
}
for c in mlp_adam conv_misc_sgd conv_mse_adamw; do
  /usr/bin/python3 "$src/tests/training/torch_train.py" "$c" "$tmp/$c" >/dev/null 2>&1 ||
    fail "torch_train.py $c did not run"
  same_bits "$c" "$tmp/$c"
done
mkdir -p "$tmp/tiny"
cat > "$tmp/tiny/model.kir" <<'KIR'
graph "tiny" producer "kiln tests" opset 13
input  %x : f32[4, 2, 5, 5]
param  %cw : f32[3, 2, 3, 3] = glorot_uniform(seed=1)
param  %cb : f32[3] = zeros
param  %fw : f32[5, 27] = glorot_uniform(seed=2)
param  %fb : f32[5] = zeros
node "conv" %c = Conv(%x, %cw, %cb) {kernel_shape = [3, 3]}
node "relu" %r = Relu(%c)
node "flat" %f = Flatten(%r) {axis = 1}
node "fc"   %y = Gemm(%f, %fw, %fb) {transB = 1}
output %y
KIR
echo "--train --loss mse --loss-on y --optimizer rmsprop --momentum 0.9 --l2 1e-3 --lr 1e-2" > "$tmp/tiny/flags.txt"
/usr/bin/python3 - "$tmp/tiny" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
rng.standard_normal((20 * 4, 2, 5, 5)).astype(np.float32).tofile(sys.argv[1] + "/input_0.bin")
rng.standard_normal((20 * 4, 5)).astype(np.float32).tofile(sys.argv[1] + "/input_1.bin")
PY
same_bits tiny "$tmp/tiny"
# a hand-written FusedOptimizer whose dY doesn't sum to its parameter is a
# one-line error, not a crash
sed 's/shape = \[1, 3, 1, 1\]/shape = [1, 3, 3, 1]/' "$tmp/tiny.f.kir" > "$tmp/bad_update.kir"
msg=$("$kiln" compile "$tmp/bad_update.kir" -o "$tmp/badout" 2>&1) && fail "a bad FusedOptimizer compiled"
[ "$(wc -l <<<"$msg")" = 1 ] && grep -q "FusedOptimizer.*dY does not sum to the parameter's 3 elements" <<<"$msg" ||
  fail "bad FusedOptimizer: $msg"
echo "ok: a bad FusedOptimizer is refused"
