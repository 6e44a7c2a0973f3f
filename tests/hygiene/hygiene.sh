#!/usr/bin/env bash
# hygiene.sh KILN HYGIENE SRCDIR [CASE...] — compiles the test models (the MLP
# with embedded and with file weights and on 2 threads, and a conformance case of each kernel
# family) with kiln, then checks every generated file with kiln_hygiene
# (libclang): external symbols under the prefix (or kiln_), no writable
# globals, no malloc/free/printf/exit, no warnings under
# -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow. Extra arguments
# name more backend test cases (folders of the ONNX node test data) to check.
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
echo "$checked passed, $fails failed"
[ $fails -eq 0 ] && [ $checked -gt 0 ]
