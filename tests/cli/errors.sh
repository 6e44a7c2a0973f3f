#!/usr/bin/env bash
# errors.sh KILN SRCDIR — the CLI's error messages, checked exactly: one line
# on stderr naming the file, the node and the problem, exit status 1, and no
# output folder left behind.
set -uo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'garbage' > bad.onnx
cp "$src/tests/models/mlp/model.onnx" mlp.onnx
node=/usr/share/libonnx-testdata/data/node
fails=0

expect() { # expect "MESSAGE" kiln ARGS...
  local want=$1; shift
  "$kiln" "$@" > out.txt 2> err.txt
  local rc=$?
  local got; got=$(cat err.txt)
  if [ $rc -ne 1 ] || [ "$got" != "$want" ] || [ -s out.txt ]; then
    echo "FAIL: kiln $*"; echo "  want (exit 1): $want"; echo "  got  (exit $rc): $got"
    fails=$((fails + 1))
  else
    echo "ok: kiln $*"
  fi
}

expect "bad.onnx: not a valid ONNX model (protobuf parse failed)" compile bad.onnx -o out1
expect "missing.onnx: cannot read: No such file or directory" compile missing.onnx -o out2
expect "mlp.onnx: input 'image' has a symbolic dimension 'batch' (dim 0); fix it with --input-shape image=... or --batch N" compile mlp.onnx -o out3
expect "$node/test_bernoulli/model.onnx: node 'Bernoulli_0' (Bernoulli, opset 15): unsupported op" compile "$node/test_bernoulli/model.onnx" -o out4
expect "$node/test_nonzero_example/model.onnx: node 'NonZero_0' (NonZero, opset 13): the output's shape depends on the values of input 'condition', known only at run time; kiln compiles static shapes" compile "$node/test_nonzero_example/model.onnx" -o out4
expect "kiln: unknown option '--bogus' (see kiln --help)" compile mlp.onnx -o out5 --bogus
expect "kiln: --target 'arm': expected generic, x86-64-v3 or host" compile mlp.onnx -o out6 --target arm
expect "mlp.onnx: --input-shape: the model has no input named 'x'" compile mlp.onnx -o out7 --input-shape x=1x784
expect "mlp.onnx: --input-shape: input 'image' has rank 4, the flag gives 2 dims" compile mlp.onnx -o out8 --input-shape image=1x784
expect "kiln: compile needs -o DIR" compile mlp.onnx
expect "kiln: unknown command 'compil'; did you mean 'compile'? (see kiln --help)" compil mlp.onnx
expect "kiln: unknown command 'frobnicate' (expected compile, ir, run, verify or export; see kiln --help)" frobnicate mlp.onnx
expect "kiln: unknown option '--prefx'; did you mean '--prefix'? (see kiln --help)" compile mlp.onnx -o out9 --prefx m
expect "kiln: --dump-after 'infer_shape': did you mean 'infer_shapes'? (expected import, init_params, infer_shapes or dce)" ir mlp.onnx --dump-after infer_shape
for d in out1 out2 out3 out4 out5 out6 out7 out8 out9; do
  [ -e $d ] && { echo "FAIL: $d was created by a failing compile"; fails=$((fails + 1)); }
done
echo "$fails failed"
[ $fails -eq 0 ]
