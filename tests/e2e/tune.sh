#!/usr/bin/env bash
# tune.sh KILN SRCDIR — `kiln tune` on the MLP (batch 4, the shape of its
# first reference data set) with a tiny budget writes a tuning file with one
# well-formed line per Gemm; `kiln verify --tuning FILE` then still matches
# PyTorch's reference outputs, and compile with the file says where its blocks
# came from. Malformed or mismatched tuning files give exact one-line errors
# naming FILE:LINE, exit 1, and leave no output folder.
set -uo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
cp "$src/tests/models/mlp/model.onnx" mlp.onnx
mkdir -p case && cp -r "$src/tests/models/mlp/model.onnx" "$src/tests/models/mlp/test_data_set_0" case/
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# The checks below name the 6x16 AVX2 micro-kernel and which layers run
# blocked with it: pin that target rather than the host's best.
t=(--target x86-64-v3)

"$kiln" tune mlp.onnx "${t[@]}" --batch 4 -o mlp.tune --budget 0.3 --rounds 2 > table.txt 2> err.txt ||
  fail "kiln tune: $(cat err.txt)"
cat table.txt
lines=$(grep -v '^#' mlp.tune | grep -cE '^/fc[12]/Gemm 4x(128x784|10x128) mc=[0-9]+ kc=[0-9]+ nc=[0-9]+ [0-9.]+us$')
[ "$lines" = 2 ] || fail "the tuning file has $lines well-formed lines, expected 2: $(cat mlp.tune)"
"$kiln" verify case "${t[@]}" --tuning mlp.tune --rtol 1e-4 --atol 1e-5 || fail "verify --tuning"
"$kiln" compile mlp.onnx "${t[@]}" --batch 4 --tuning mlp.tune -o gen || fail "compile --tuning"
grep -q "measured by kiln tune" gen/mlp.c || fail "the generated code does not use the tuning file"

expect() { # expect "MESSAGE" kiln ARGS...
  local want=$1; shift
  "$kiln" "$@" > out.txt 2> err.txt
  local rc=$?
  if [ $rc -ne 1 ] || [ "$(cat err.txt)" != "$want" ] || [ -s out.txt ] || [ -e bad ]; then
    fail "kiln $*"; echo "  want (exit 1): $want"; echo "  got  (exit $rc): $(cat err.txt)"
  else
    echo "ok: kiln $*"
  fi
}
printf '# tuned by hand\n\n/fc1/Gemm 4x128x784 mc=6 kc=262\n' > t1.tune
expect "t1.tune:3: expected 'NODE MxNxK mc=N kc=N nc=N TIMEus'" compile mlp.onnx "${t[@]}" --batch 4 --tuning t1.tune -o bad
printf '/fc1/Gemm 4x128x784 mc=6 kc=262 nc=128 9.0us\n/fc3/Gemm 4x10x128 mc=6 kc=128 nc=16 1.0us\n' > t2.tune
expect "t2.tune:2: no GEMM or convolution node '/fc3/Gemm' runs blocked in mlp.onnx" compile mlp.onnx "${t[@]}" --batch 4 --tuning t2.tune -o bad
printf '/fc1/Gemm 4x128x784 mc=6 kc=262 nc=128 9.0us\n' > t3.tune
expect "t3.tune:1: node '/fc1/Gemm' is 8x128x784 (M x N x K) in this model, not 4x128x784" compile mlp.onnx "${t[@]}" --batch 8 --tuning t3.tune -o bad
printf '/fc1/Gemm 4x128x784 mc=7 kc=262 nc=128 9.0us\n' > t4.tune
expect "t4.tune:1: node '/fc1/Gemm': mc=7 and nc=128 must be multiples of the 6x16 micro-kernel's 6 and 16" compile mlp.onnx "${t[@]}" --batch 4 --tuning t4.tune -o bad
printf '/fc1/Gemm 4x128x784 mc=6 kc=262 nc=128 9.0us\n/fc1/Gemm 4x128x784 mc=6 kc=262 nc=128 9.0us\n' > t5.tune
expect "t5.tune:2: node '/fc1/Gemm' is listed twice (first on line 1)" compile mlp.onnx "${t[@]}" --batch 4 --tuning t5.tune -o bad
expect "missing.tune: cannot read the tuning file: No such file or directory" compile mlp.onnx "${t[@]}" --batch 4 --tuning missing.tune -o bad
echo "$fails failed"
[ $fails -eq 0 ]
