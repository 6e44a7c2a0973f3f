#!/usr/bin/env bash
# example.sh — the README's first command: set up and build kiln
# (scripts/setup.sh), then run examples/mnist_mlp end to end: compile the
# MLP's training step to C, build it with plain cc, train 5 epochs on
# Fashion-MNIST and evaluate on the test set. Options go to
# examples/mnist_mlp/run.sh (e.g. --onnx, --epochs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

exec examples/mnist_mlp/run.sh "$@"
