#!/usr/bin/env bash
# hygiene.sh KILN HYGIENE SRCDIR [CASE...] — compiles the test models (the MLP
# with embedded and with file weights and on 2 threads, and a conformance case of each kernel
# family) with kiln, then checks every generated file with kiln_hygiene
# (libclang): external symbols under the prefix (or kiln_), no writable
# globals, no malloc/free/printf/exit, no warnings under
# -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow. Extra arguments
# name more backend test cases (folders of the ONNX node test data) to check.
# Training builds (--train, each optimizer) are checked the same way.
set -uo pipefail
kiln=$1 hygiene=$2 src=$3
shift 3
node=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=("$src/tests/models/mlp/model.onnx")
for c in test_gemm_default_no_bias test_conv_with_strides_padding test_maxpool_2d_pads \
         test_averagepool_2d_default test_batchnorm_example test_softmax_axis_1 \
         test_logsoftmax_axis_0 test_layer_normalization_2d_axis0 test_lstm_defaults \
         test_gru_defaults test_gather_0 test_reduce_mean_keepdims_example test_transpose_default \
         test_concat_2d_axis_0 test_constant_pad test_slice test_tile test_split_equal_parts_1d test_einsum_batch_matmul \
         test_add_bcast test_sigmoid test_where_example test_cumsum_1d test_matmul_3d \
         test_constant test_shape test_shape_start_1 test_shape_start_negative_1 \
         test_shape_clip_start test_training_dropout_default_mask "$@"; do
  [ -f "$node/$c/model.onnx" ] && models+=("$node/$c/model.onnx")
done
warn=(-Wall -Wextra -Wpedantic -Wconversion -Wshadow)
fails=0 checked=0
for model in "${models[@]}"; do
  name=$(basename "$(dirname "$model")")
  for variant in embed file threads; do
    [ "$name" = mlp ] || [ $variant = embed ] || continue
    out=$tmp/$name-$variant prefix=m_${name//[^A-Za-z0-9_]/_}
    weights=$variant batch=()
    [ "$name" = mlp ] && batch=(--batch 2)
    # the thread pool (kiln_threads.h): batch 8 makes the first Gemm big enough to split
    [ $variant = threads ] && weights="embed --threads 2" batch=(--batch 8)
    if ! "$kiln" compile "$model" -o "$out" --prefix "$prefix" ${batch[@]+"${batch[@]}"} --weights $weights \
         >"$tmp/log" 2>&1; then
      echo "SKIP: kiln does not compile $model: $(head -1 "$tmp/log")"
      continue
    fi
    files=("$out"/*.c "$out"/*.h)
    if "$hygiene" "$prefix" "${files[@]}" -- -std=c99 "${warn[@]}" -I "$out" >"$tmp/report" 2>&1; then
      checked=$((checked + 1))
      echo "ok: $name ($variant, ${#files[@]} files)"
    else
      fails=$((fails + 1))
      echo "FAIL: $name ($variant):"
      grep -v '^ok: ' "$tmp/report" | sed "s|$out/||" | head -40
    fi
  done
done
# Training builds: forward, backward and optimizer code of an MLP, LeNet-5
# (conv, pooling, training-mode batch norm), an LSTM classifier and a model
# with Dropout, under each optimizer and the training options that add code.
sed "s/SEED/1/g" "$src/tests/training/seeded.kir.in" > "$tmp/seeded.kir"
ce=(--train --loss sparse_softmax_ce --loss-on logits)
train_builds=(
  "mlp-adam|$src/tests/models/mlp/model.onnx|--batch 2 ${ce[*]} --optimizer adam --clip-norm 1 --check-finite"
  "lenet-sgd|$src/examples/lenet_cnn/model.kir|--batch 4 ${ce[*]} --optimizer sgd --momentum 0.9 --nesterov --l2 1e-4"
  "rnn-adamw|$src/examples/rnn/model.kir|--batch 4 ${ce[*]} --optimizer adamw --l1 1e-5"
  "seeded-rmsprop|$tmp/seeded.kir|--batch 4 ${ce[*]} --optimizer rmsprop --weights file"
  "seeded-adagrad|$tmp/seeded.kir|--batch 4 --train --loss mse --loss-on logits --optimizer adagrad"
)
for b in "${train_builds[@]}"; do
  IFS='|' read -r name model flags <<< "$b"
  out=$tmp/train-$name prefix=t_${name//-/_}
  # shellcheck disable=SC2086 # flags is a word list
  if ! "$kiln" compile "$model" -o "$out" --prefix "$prefix" $flags >"$tmp/log" 2>&1; then
    fails=$((fails + 1)); echo "FAIL: training build $name does not compile: $(head -1 "$tmp/log")"
    continue
  fi
  files=("$out"/*.c "$out"/*.h)
  if "$hygiene" "$prefix" "${files[@]}" -- -std=c99 "${warn[@]}" -I "$out" >"$tmp/report" 2>&1; then
    checked=$((checked + 1)); echo "ok: training build $name (${#files[@]} files)"
  else
    fails=$((fails + 1)); echo "FAIL: training build $name:"
    grep -v '^ok: ' "$tmp/report" | sed "s|$out/||" | head -40
  fi
done
echo "$checked passed, $fails failed"
[ $fails -eq 0 ] && [ $checked -gt 0 ]
