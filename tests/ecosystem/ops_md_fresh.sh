#!/usr/bin/env bash
# ops_md_fresh.sh GEN_OPS_MD DOCS_OPS_MD — fails when docs/ops.md differs from
# what gen_ops_md prints from the op table (compiler/ir/ops.def).
set -uo pipefail
gen=$1 doc=$2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$gen" > "$tmp" || exit 1
if ! diff -u "$doc" "$tmp"; then
  echo "docs/ops.md is stale: regenerate it with 'cmake --build build --target ops_md'"
  exit 1
fi
echo "docs/ops.md matches the op table"
