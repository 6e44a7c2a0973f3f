#!/usr/bin/env bash
# make_models.sh [--kiln PATH] [--project DIR] [TRAIN OPTIONS...] — makes what
# this project's `make` builds, with kiln, once:
#   1. trains two models on Fashion-MNIST with examples/mnist_mlp: the 784-128-10
#      MLP and a 784-10 softmax regression, both exported from PyTorch
#      (TRAIN OPTIONS, e.g. --epochs 1 --limit 2000, go to its train program);
#   2. writes their trained parameters back into ONNX with `kiln export`;
#   3. compiles each for inference (batch 1) under its own prefix and copies
#      the generated files into DIR/gen (default: this folder);
#   4. writes a few test images as PGM files into DIR/samples.
# Then `make` in DIR needs only a C compiler.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kiln="" project="$here"
while [ $# -gt 0 ]; do
  case "$1" in
    --kiln) kiln="$2"; shift 2 ;;
    --project) project="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$kiln" ] || { [ -x "$root/build/kiln" ] && kiln="$root/build/kiln"; } || kiln=kiln
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
train="$root/examples/mnist_mlp/run.sh"

echo "== 1. training the MLP and the softmax regression"
/usr/bin/python3 "$root/examples/mnist_mlp/export_onnx.py" "$work/mlp.onnx" --hidden 128
/usr/bin/python3 "$root/examples/mnist_mlp/export_onnx.py" "$work/linear.onnx" --hidden 0
for m in mlp linear; do
  "$train" --kiln "$kiln" --model "$work/$m.onnx" --out "$work/train-$m" \
      --save "$work/$m.params" --png "" "$@" | grep -E "^(epoch|test accuracy)"
done

echo "== 2. kiln export, 3. kiln compile, then copy into $project/gen"
mkdir -p "$project/gen"
for m in mlp linear; do
  "$kiln" export "$work/$m.onnx" "$work/$m.params" -o "$work/fashion_$m.onnx"
  "$kiln" compile "$work/fashion_$m.onnx" -o "$work/gen-$m" --prefix "fashion_$m" --batch 1
  cp "$work/gen-$m"/* "$project/gen/"
done
ls "$project/gen"

echo "== 4. sample images in $project/samples"
mkdir -p "$project/samples"
/usr/bin/python3 - "$project/samples" <<'PY'
import gzip, sys
names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
         "bag", "ankle-boot"]
d = "/usr/share/datasets/fashion-mnist/"
images = gzip.open(d + "t10k-images-idx3-ubyte.gz").read()[16:]
labels = gzip.open(d + "t10k-labels-idx1-ubyte.gz").read()[8:]
for i in range(8):  # the first eight test images, named by their true class
    path = "%s/%d-%s.pgm" % (sys.argv[1], i, names[labels[i]])
    with open(path, "wb") as f:
        f.write(b"P5 28 28 255\n" + images[i * 784:(i + 1) * 784])
    print(path)
PY
