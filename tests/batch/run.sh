#!/usr/bin/env bash
# run.sh KILN SRCDIR CASE [fixed] — the run-time batch against torch: ref.py
# exports CASE with a symbolic batch and torch's outputs on 8 rows; kiln
# compiles it with --batch 8; batch_harness.c runs batches of 3, 5, 1 and 8
# and compares. With "fixed", kiln must fall back to the fixed batch and say
# why in one note line.
set -euo pipefail
kiln=$1 src=$2 case=$3 mode=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/tests/batch/ref.py" "$case" "$tmp" > "$tmp/torch.log" 2>&1 ||
  { cat "$tmp/torch.log"; exit 1; }
"$kiln" compile "$tmp/model.onnx" -o "$tmp/gen" --prefix model --batch 8 2> "$tmp/note.txt"
cat "$tmp/note.txt"
if [ "$mode" = fixed ]; then
  grep -q '^kiln: note: --batch 8: .*, so the generated code takes only batch 8$' "$tmp/note.txt" ||
    { echo "FAIL: no fallback note"; exit 1; }
elif [ -s "$tmp/note.txt" ]; then
  echo "FAIL: unexpected output from kiln compile"; exit 1
fi
cc -O2 -std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror -I "$tmp/gen" "$tmp"/gen/*.c \
   "$src/tests/batch/batch_harness.c" -lm -o "$tmp/run"
"$tmp/run" "$tmp" $mode
