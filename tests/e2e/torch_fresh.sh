#!/usr/bin/env bash
# torch_fresh.sh KILN SRCDIR — re-exports the MLP from PyTorch with fresh
# reference outputs (tests/models/make_mlp.py) and checks kiln against them,
# so the committed data can't drift from what torch computes.
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/tests/models/make_mlp.py" "$tmp/mlp" >/dev/null 2>&1 || {
  echo "FAIL: make_mlp.py did not run (is python3-torch installed? scripts/setup.sh installs it)"; exit 1; }
"$kiln" verify "$tmp/mlp" --rtol 1e-4 --atol 1e-5
