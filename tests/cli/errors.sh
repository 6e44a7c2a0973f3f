#!/usr/bin/env bash
# errors.sh KILN SRCDIR — the CLI's error messages, checked exactly: one line
# on stderr naming the file, the node and the problem, exit status 1, and no
# output folder left behind. Then each command's --help (exit 0, with its
# example) and what --quiet and --verbose print.
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
expect "kiln: unknown option '--bogus' (see kiln compile --help)" compile mlp.onnx -o out5 --bogus
expect "kiln: --target 'arm': expected generic, x86-64, x86-64-v3, x86-64-v4, aarch64 or host" compile mlp.onnx -o out6 --target arm
if [ "$(uname -m)" != aarch64 ]; then # code of another architecture needs an emulator to run
  expect "kiln: --target aarch64: this machine cannot run that code; give --emulator CMD and --cc CC, e.g. --emulator \"qemu-aarch64-static -L /usr/aarch64-linux-gnu\" --cc aarch64-linux-gnu-gcc" verify "$src/tests/models/mlp" --target aarch64
fi
expect "mlp.onnx: --input-shape: the model has no input named 'x'" compile mlp.onnx -o out7 --input-shape x=1x784
expect "mlp.onnx: --input-shape: input 'image' has rank 4, the flag gives 2 dims" compile mlp.onnx -o out8 --input-shape image=1x784
expect "kiln: compile needs -o DIR" compile mlp.onnx
expect "kiln: unknown command 'compil'; did you mean 'compile'? (see kiln --help)" compil mlp.onnx
expect "kiln: unknown command 'frobnicate' (expected compile, ir, run, verify, export, tune or bench; see kiln --help)" frobnicate mlp.onnx
expect "kiln: --threads '0': expected a number of threads from 1 to 64" compile mlp.onnx -o out9 --threads 0
expect "kiln: tune needs -o FILE (the tuning file to write)" tune mlp.onnx --batch 2
expect "kiln: unknown option '--prefx'; did you mean '--prefix'? (see kiln compile --help)" compile mlp.onnx -o out9 --prefx m
expect "kiln: unknown option '--prefx' (see kiln export --help)" export mlp.onnx p.bin -o x.onnx --prefx m
expect "kiln: 'export' doesn't take --train (see kiln export --help)" export mlp.onnx p.bin -o x.onnx --train
expect "kiln: 'verify' doesn't take --batch (see kiln verify --help)" verify --batch 2 "$node/test_relu"
expect "kiln: 'compile' doesn't take --rtol (see kiln compile --help)" compile mlp.onnx -o out10 --rtol=0.1
expect "kiln: option '--keep' takes no value" run mlp.onnx -o out11 --keep=1
expect "kiln: --quiet and --verbose contradict each other" compile mlp.onnx -o out12 --quiet --verbose
expect "kiln: --dump-after 'infer_shape': did you mean 'infer_shapes'? (expected import, init_params, infer_shapes, dce or a fuse_ pass)" ir mlp.onnx --dump-after infer_shape
# a gradient kiln doesn't compute: a scatter's max reduction, and mul w.r.t. its updates
cat > scatter.kir <<'EOF'
graph "scatter" opset 18
param %d : f32[2, 3] = [1, 2, 3, 4, 5, 6]
param %u : f32[2, 1] = [0.5, 0.25]
const %i : i64[2, 1] = [2, 0]
%y = ScatterElements(%d, %i, %u) {axis = 1, reduction = "max"}
output %y
EOF
sed 's/"max"/"mul"/' scatter.kir > scatter_mul.kir
expect "scatter.kir: node 'train/ScatterElements_0' (ScatterElements, opset 18): training through a scatter with reduction 'max' is not supported" compile scatter.kir -o out13 --train --loss mse --loss-on y --optimizer sgd
expect "scatter_mul.kir: node 'train/ScatterElements_0' (ScatterElements, opset 18): training through a scatter with reduction 'mul' w.r.t. its updates is not supported" compile scatter_mul.kir -o out14 --train --loss mse --loss-on y --optimizer sgd
for d in out1 out2 out3 out4 out5 out6 out7 out8 out9 out10 out11 out12 out13 out14; do
  [ -e $d ] && { echo "FAIL: $d was created by a failing compile"; fails=$((fails + 1)); }
done

check() { # check DESCRIPTION COMMAND...: one more ok/FAIL line
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

# kiln CMD --help: exit 0, the command's usage and one complete example.
help_example() { # help_example CMD "EXAMPLE LINE"
  "$kiln" "$1" --help > out.txt 2> err.txt
  check "kiln $1 --help exits 0" test $? -eq 0 -a ! -s err.txt
  check "kiln $1 --help: usage line" grep -q "^usage: kiln $1 " out.txt
  check "kiln $1 --help: example '$2'" grep -qxF "  $2" out.txt
}
help_example compile "kiln compile mlp.onnx -o gen --prefix mlp --batch 2"
help_example ir "kiln ir mlp.onnx --batch 2 --dump-after infer_shapes > mlp.kir"
help_example run "kiln run mlp.onnx --input image=image.pb -o outputs"
help_example verify "kiln verify /usr/share/libonnx-testdata/data/node/test_relu"
help_example export "kiln export mlp.onnx trained.bin -o mlp-trained.onnx"
"$kiln" export --help > out.txt
check "kiln export --help lists only export's options" \
  test -z "$(grep -E -- '^  --(train|prefix|batch|cc|rtol)' out.txt)"

# A parameter file (format in runtime/kiln_params.h) setting fc2.bias to 0.
/usr/bin/python3 - <<'EOF'
import struct
table = b"fc2.bias 1 10 0\n"
payload = bytes(40)
h = 14695981039346656037
for b in table + payload:
    h = ((h ^ b) * 1099511628211) & (2**64 - 1)
head = b"KILNPRM1" + struct.pack("<QQQQ", 0, len(table), len(payload), h)
open("p.bin", "wb").write(head + table + payload)
EOF
"$kiln" export mlp.onnx p.bin -o t1.onnx > out.txt 2> err.txt
check "kiln export prints its summary" test "$(cat out.txt)" = "t1.onnx: 1 initializers from p.bin"
"$kiln" export mlp.onnx p.bin -o t2.onnx --quiet > out.txt 2> err.txt
check "kiln export --quiet prints nothing" test $? -eq 0 -a ! -s out.txt -a ! -s err.txt -a -s t2.onnx
"$kiln" export mlp.onnx p.bin -o t3.onnx --verbose > out.txt 2> err.txt
check "kiln export --verbose says what it wrote" grep -q "^kiln: wrote t3.onnx (" err.txt

"$kiln" verify --quiet "$node/test_relu" > out.txt 2> err.txt
check "kiln verify --quiet: no PASS line, only the count" \
  test $? -eq 0 -a "$(cat out.txt)" = "1 passed, 0 failed"
"$kiln" verify --quiet "$node/test_relu" "$node/test_bernoulli" > out.txt 2> err.txt
check "kiln verify --quiet keeps the REJECT line and the count" \
  test $? -eq 1 -a "$(grep -c '^PASS' out.txt)" = 0 -a "$(grep -c '^REJECT ' out.txt)" = 1 \
  -a "$(tail -n 1 out.txt)" = "1 passed, 1 failed"

"$kiln" compile mlp.onnx -o outv --batch 2 --verbose > out.txt 2> err.txt
check "kiln compile --verbose: exit 0, nothing on stdout" test $? -eq 0 -a ! -s out.txt
check "kiln compile --verbose: the import line" \
  grep -qxF "kiln: import: mlp.onnx: 5 nodes, 1 input, 2 outputs, opset 13" err.txt
check "kiln compile --verbose: the infer_shapes line" grep -qxF "kiln: infer_shapes: 5 nodes" err.txt
check "kiln compile --verbose: the file written" grep -q "^kiln: wrote outv/mlp.c ([0-9.]* MB)$" err.txt

echo "$fails failed"
[ $fails -eq 0 ]
