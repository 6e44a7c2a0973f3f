#!/usr/bin/env bash
# check.sh KILN — CTest's check of examples/embed: copies main.c and the
# Makefile into an empty folder, fills it with make_models.sh (models trained
# on a small slice: 2,000 images, one epoch), builds it with make and -Werror,
# checks that each model's object defines only symbols under its own prefix,
# and that the program classifies most of the sample images right.
set -euo pipefail
kiln=$1
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/main.c" "$here/Makefile" "$tmp/"
"$here/make_models.sh" --kiln "$kiln" --project "$tmp" --epochs 1 --limit 2000 >"$tmp/models.log" 2>&1 ||
  { cat "$tmp/models.log"; exit 1; }
make -C "$tmp" CFLAGS="-O2 -std=c99 -Wall -Wextra -Wpedantic -Werror"
for m in fashion_mlp fashion_linear; do
  bad=$(nm -g --defined-only "$tmp/gen/$m.o" | awk 'NF == 3 {print $3}' | grep -v "^${m}_" || true)
  [ -z "$bad" ] || { echo "FAIL: $m.o defines symbols outside its prefix: $bad"; exit 1; }
done
right=0 total=0
for f in "$tmp"/samples/*.pgm; do
  truth=$(basename "$f" .pgm | cut -d- -f2- | tr -d -- '-' | tr '[:upper:]' '[:lower:]')
  said=$("$tmp/classify" "$f" | sed -n 's/^mlp: //p' | tr -d -- '-/ ' | tr '[:upper:]' '[:lower:]')
  total=$((total + 1))
  case "$said" in "$truth"*) right=$((right + 1)) ;; esac
done
if "$tmp/classify" "$tmp/Makefile" 2>/dev/null; then
  echo "FAIL: classify accepted a file that is not a 28x28 PGM"; exit 1
fi
echo "mlp: $right of $total sample images right"
[ "$right" -ge 5 ] && echo PASS || { echo FAIL; exit 1; }
