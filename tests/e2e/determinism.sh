#!/usr/bin/env bash
# determinism.sh KILN SRCDIR — compiling the same model twice gives
# byte-identical files: the MLP (embedded and file weights), its .kir text,
# and a handful of ONNX node test models. The second compile runs from a
# folder with a longer path, another time zone and locale, with malloc
# filling fresh memory with junk (MALLOC_PERTURB_) and with address-space
# randomization, so output that depends on addresses, uninitialized memory,
# the clock or the environment shows up as a difference.
set -euo pipefail
kiln=$(realpath "$1") src=$(realpath "$2")
node=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/1" "$tmp/a-much-longer-folder-name/2"
"$kiln" ir "$src/tests/models/mlp/model.onnx" > "$tmp/mlp.kir"
compile() { # compile DIR NAME ARGS... (relative -o, so the command line is the same)
  local dir=$1 name=$2; shift 2
  (cd "$dir" && "$kiln" compile "$@" -o "$name")
}
fails=0 n=0
check() { # check NAME ARGS...
  local name=$1; shift
  compile "$tmp/1" "$name" "$@"
  TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 MALLOC_PERTURB_=165 \
    compile "$tmp/a-much-longer-folder-name/2" "$name" "$@"
  if diff -r "$tmp/1/$name" "$tmp/a-much-longer-folder-name/2/$name" > "$tmp/diff"; then
    n=$((n + 1)); echo "ok: $name: $(ls "$tmp/1/$name" | wc -l) files identical"
  else
    fails=$((fails + 1)); echo "FAIL: $name differs between two compiles:"; head -20 "$tmp/diff"
  fi
}
check mlp-embed "$src/tests/models/mlp/model.onnx" --batch 4 --prefix mlp
check mlp-file "$src/tests/models/mlp/model.onnx" --batch 4 --prefix mlp --weights file
check mlp-kir "$tmp/mlp.kir" --batch 4 --prefix mlp
check mlp-generic "$src/tests/models/mlp/model.onnx" --batch 4 --prefix mlp --target generic
for c in test_conv_with_strides_padding test_lstm_defaults test_gemm_default_no_bias \
         test_maxpool_2d_pads test_reduce_mean_keepdims_example test_einsum_batch_matmul test_layer_normalization_2d_axis0; do
  [ -f "$node/$c/model.onnx" ] && check "$c" "$node/$c/model.onnx"
done
echo "$n passed, $fails failed"
[ $fails -eq 0 ]
