#!/usr/bin/env bash
# two_models.sh KILN SRCDIR — two different models (the MLP, prefix mlp, and a
# convolution from the ONNX node tests, prefix conv) linked into one program
# with two_models_main.c, each run as two instances from two pthreads at
# once; outputs must match the single-threaded run bit for bit. Built with gcc
# and clang, and once under ThreadSanitizer (clang), which reports any state
# the instances share.
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conv=/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx
"$kiln" compile "$src/tests/models/mlp/model.onnx" -o "$tmp/a" --prefix mlp --batch 3
"$kiln" compile "$conv" -o "$tmp/b" --prefix conv
# both folders ship the runtime headers; the program sees one copy of each
cp "$tmp/b/conv.h" "$tmp/a/"
for cc in gcc clang; do
  "$cc" -O2 -std=c99 -Wall -Wextra -Wpedantic -Werror -pthread -I "$tmp/a" \
    "$tmp/a/mlp.c" "$tmp/b/conv.c" "$src/tests/e2e/two_models_main.c" -o "$tmp/prog-$cc" -lm
  "$tmp/prog-$cc" 300
done
clang -O1 -g -std=c99 -fsanitize=thread -pthread -I "$tmp/a" \
  "$tmp/a/mlp.c" "$tmp/b/conv.c" "$src/tests/e2e/two_models_main.c" -o "$tmp/prog-tsan" -lm
TSAN_OPTIONS=halt_on_error=1 "$tmp/prog-tsan" 50
