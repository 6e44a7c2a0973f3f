#!/usr/bin/env bash
# warnings.sh KILN CC MODEL... — compiles each model with kiln and the
# generated C with CC under -std=c99 -Wall -Wextra -Wpedantic -Werror.
set -euo pipefail
kiln=$1 cc=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for model in "$@"; do
  for weights in embed file; do
    out="$tmp/$(basename "$(dirname "$model")")-$weights"
    "$kiln" compile "$model" -o "$out" --batch 3 --weights $weights
    for c in "$out"/*.c; do
      "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -c "$c" -I "$out" -o "$c.o"
    done
    echo "ok: $model ($weights weights) compiles warning-free with $cc"
  done
done
