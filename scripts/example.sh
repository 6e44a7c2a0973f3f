#!/usr/bin/env bash
# example.sh — the README's first command: set up, build kiln, then compile the
# example MLP (exported from PyTorch) to C, build that C with the plain contract
# command, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec examples/mlp/run.sh build
