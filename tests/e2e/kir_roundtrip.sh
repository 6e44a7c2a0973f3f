#!/usr/bin/env bash
# kir_roundtrip.sh KILN CASEDIR — `kiln ir model.onnx > model.kir` must compile
# to the same C as model.onnx (front matter aside) and pass the same test data.
set -euo pipefail
kiln=$1 case=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/case"
"$kiln" ir "$case/model.onnx" > "$tmp/case/model.kir"
for d in "$case"/test_data_set_*; do ln -s "$d" "$tmp/case/"; done
"$kiln" verify "$tmp/case"
"$kiln" compile "$case/model.onnx" -o "$tmp/from-onnx" --prefix m --batch 2
"$kiln" compile "$tmp/case/model.kir" -o "$tmp/from-kir" --prefix m --batch 2
# the front matter names the source file and command line; everything after it must match
strip() { sed '1,/^ \*\/$/d' "$1"; }
for f in m.c m.h; do
  if ! diff <(strip "$tmp/from-onnx/$f") <(strip "$tmp/from-kir/$f") > "$tmp/diff"; then
    echo "FAIL: $f differs between the .onnx and the .kir compile:"; head -20 "$tmp/diff"; exit 1
  fi
done
echo "ok: .kir round trip of $case compiles to identical C and passes its test data"
