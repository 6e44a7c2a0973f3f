#!/usr/bin/env bash
# run.sh — compiles the MLP's training step with kiln, builds it and train.c
# with nothing but cc, and trains 5 epochs on Fashion-MNIST, then evaluates.
#   examples/mnist_mlp/run.sh [--onnx | --model FILE] [--ort | --no-ort] [--kiln PATH]
#                             [--out DIR] [TRAIN OPTIONS...]
# --onnx       compile the PyTorch export (export_onnx.py) instead of model.kir;
#              then also check it in onnxruntime (--ort) when onnxruntime-node is found
# --ort        after training, kiln export the trained model back to ONNX and
#              evaluate it in onnxruntime (ort_eval.js), comparing every test
#              prediction with kiln's; needs an .onnx model (implies --onnx
#              unless --model FILE.onnx) and onnxruntime-node: $KILN_ORT_DIR,
#              else ort/ next to the kiln binary, else build/ort (scripts/setup.sh)
# --no-ort     skip that check
# --model FILE compile another model (.onnx or .kir) that maps image[N,1,28,28]
#              to logits[N,10] (examples/embed trains its second model so)
# --kiln PATH  the kiln to use (default: build/kiln of this checkout, else kiln on PATH)
# --out DIR    where the generated C, the program, the CSV and the PNG go
#              (default: build/examples/mnist_mlp)
# Every other option goes to the program: --epochs N, --limit N, --data DIR,
# --save FILE, --resume FILE, ... (`train --help`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
common="$(cd "$here/../common" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$here/model.kir" onnx=0 kiln="" out="$root/build/examples/mnist_mlp" ort=""
while [ $# -gt 0 ]; do
  case "$1" in
    --onnx) onnx=1; shift ;;
    --model) src="$2"; shift 2 ;;
    --ort) ort=1; shift ;;
    --no-ort) ort=0; shift ;;
    --kiln) kiln="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$kiln" ] || { [ -x "$root/build/kiln" ] && kiln="$root/build/kiln"; } || kiln=kiln
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ "$ort" != 1 ] || [ "$src" != "$here/model.kir" ] || onnx=1
[ "$onnx" = 0 ] || src="$out/model.onnx"

# The onnxruntime check: on with --ort (onnxruntime-node must be there, as it
# must when KILN_ORT_DIR is set), by default with --onnx when it is found.
ort_dir="${KILN_ORT_DIR:-}"
if [ -z "$ort_dir" ]; then
  for d in "$(dirname "$(command -v "$kiln" || echo .)")/ort" "$root/build/ort"; do
    [ -d "$d/node_modules/onnxruntime-node" ] && { ort_dir="$d"; break; }
  done
  [ -n "$ort_dir" ] || [ "$ort" != 1 ] || ort_dir="$root/build/ort"
  [ -n "$ort_dir" ] || [ "$onnx" != 1 ] || [ "$ort" = 0 ] ||
    echo "note: onnxruntime-node not found (scripts/setup.sh installs it into build/ort): no onnxruntime check"
fi
[ -n "$ort" ] || { [ "$onnx" = 1 ] && [ -n "$ort_dir" ] && ort=1; } || ort=0
if [ "$ort" = 1 ]; then
  case "$src" in
    *.onnx) ;;
    *) echo "error: --ort needs an ONNX model: kiln export writes the trained values into the" \
            "ONNX file they came from, and $src is kiln's .kir text (use --onnx)" >&2; exit 2 ;;
  esac
  [ -d "$ort_dir/node_modules/onnxruntime-node" ] || {
    echo "error: onnxruntime-node is not in $ort_dir/node_modules (scripts/setup.sh installs it" \
         "into build/ort; KILN_ORT_DIR names another folder)" >&2; exit 2; }
fi
# The check needs the trained parameters and the test data: the program's
# own --save and --data when given, else it saves to $out/model.params.
params="" data=/usr/share/datasets/fashion-mnist
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i += 2)); do
  case "${args[i]}" in
    --save) params="${args[i+1]}" ;;
    --data) data="${args[i+1]}" ;;
  esac
done
if [ "$ort" = 1 ] && [ -z "$params" ]; then
  params="$out/model.params"
  set -- "$@" --save "$params"
fi

if [ "$onnx" = 1 ]; then
  (set -x; /usr/bin/python3 "$here/export_onnx.py" "$src")
fi
rm -rf "$out/gen"
set -x
# The training step: forward, backward (sparse softmax cross-entropy on the
# logits) and an Adam update, for batches of 32; the inference entry point
# model_run_v comes with it.
"$kiln" compile "$src" -o "$out/gen" --prefix model --batch 32 \
    --train --loss sparse_softmax_ce --loss-on logits --optimizer adam --lr 1e-3
cc -O2 -std=c99 -I "$out/gen" -I "$common" "$out"/gen/*.c \
    "$common/idx.c" "$common/report.c" "$here/train.c" -lz -lm -o "$out/train"
"$out/train" --csv "$out/mnist_mlp.csv" --png "$out/mnist_mlp.png" "$@"
[ "$ort" = 1 ] || exit 0

# kiln export: the trained parameters back into the ONNX model; onnxruntime
# evaluates it on the test set, and every prediction is compared with kiln's
# (predict.c: the same parameters through the generated model_run_v).
"$kiln" export "$src" "$params" -o "$out/trained.onnx"
cc -O2 -std=c99 -I "$out/gen" -I "$common" "$out"/gen/*.c "$common/idx.c" "$here/predict.c" \
    -lz -lm -o "$out/predict"
"$out/predict" "$params" "$out/kiln_logits.f32" "$data"
KILN_ORT_DIR="$ort_dir" node "$here/ort_eval.js" "$out/trained.onnx" "$out/kiln_logits.f32" "$data"
