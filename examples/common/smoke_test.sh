#!/usr/bin/env bash
# smoke_test.sh KILN FLOOR RUN.SH [RUN.SH OPTIONS...] — CTest's check of a
# training example: runs it on a small slice (the first 2,000 training images,
# one epoch, the whole test set) and reads the CSV it writes. Passes when the
# test loss fell below the untrained model's, the training loss is below
# chance level (ln 10 = 2.30 for ten classes), and the test accuracy is at
# least FLOOR. The full runs are the examples' own commands (their READMEs).
set -euo pipefail
kiln=$1 floor=$2 run=$3
shift 3
data=/usr/share/datasets/fashion-mnist
if [ ! -e "$data/train-images-idx3-ubyte.gz" ]; then
  echo "FAIL: $data is missing (apt-get install dataset-fashion-mnist; scripts/setup.sh installs it)"
  exit 1
fi
# mnist_mlp's run.sh --onnx also checks the exported model in onnxruntime:
# required here, from build/ort next to kiln (scripts/setup.sh installs it)
export KILN_ORT_DIR="${KILN_ORT_DIR:-$(cd "$(dirname "$kiln")" && pwd)/ort}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$run" --kiln "$kiln" --out "$tmp" "$@" --limit 2000 --epochs 1 --csv "$tmp/check.csv" --png ""
# CSV: epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds (row 0: untrained)
awk -F, -v floor="$floor" '
  NR == 2 { loss0 = $4 }
  NR > 2  { train = $2; loss = $4; acc = $5 }
  END {
    ok = NR >= 3 && loss < loss0 && train < 2.30 && acc >= floor
    printf "%s: test loss %.4f -> %.4f, training loss %.4f, test accuracy %.4f (floor %.2f)\n",
           ok ? "PASS" : "FAIL", loss0, loss, train, acc, floor
    exit !ok
  }' "$tmp/check.csv"
