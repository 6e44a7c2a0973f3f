#!/usr/bin/env bash
# dot_render.sh ECO_TOOL KILN SRC — Graphviz's dot renders the graphs kiln
# draws (ir_print_dot) for the MLP and some CNN and RNN cases of the ONNX
# backend data; and, when the CLI has them, `kiln ir --dot` and `--svg`,
# including the one-line message when dot is missing. Exit 77 (SKIPPED)
# without graphviz.
set -uo pipefail
eco=$1 kiln=$2 src=$3
if ! command -v dot > /dev/null; then
  echo "SKIP: Graphviz's dot is not installed (Debian: apt-get install graphviz)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
render() { # render NAME: $tmp/NAME.dot -> $tmp/NAME.svg
  if dot -Tsvg "$tmp/$1.dot" -o "$tmp/$1.svg" 2> "$tmp/$1.err" && [ ! -s "$tmp/$1.err" ] &&
     grep -q '<svg' "$tmp/$1.svg"; then
    echo "ok: $1 renders ($(grep -c 'class="node"' "$tmp/$1.svg") boxes)"
  else
    echo "FAIL: $1 does not render cleanly:"; cat "$tmp/$1.err"; fails=$((fails + 1))
  fi
}

"$eco" dot "$src/tests/models/mlp/model.onnx" 2 > "$tmp/mlp.dot" && render mlp
grep -q 'f32\[2x128\]' "$tmp/mlp.dot" || { echo "FAIL: mlp.dot lacks the shapes"; fails=$((fails + 1)); }
node=/usr/share/libonnx-testdata/data
for c in pytorch-converted/test_Conv2d pytorch-converted/test_MaxPool2d node/test_lstm_defaults \
         node/test_gru_defaults node/test_batchnorm_example pytorch-operator/test_operator_add_broadcast; do
  [ -f "$node/$c/model.onnx" ] || continue
  name=$(basename "$c")
  if "$eco" dot "$node/$c/model.onnx" > "$tmp/$name.dot" 2> "$tmp/$name.load"; then
    render "$name"
  else
    echo "note: $c not drawn: $(cat "$tmp/$name.load")"
  fi
done

if grep -q -- "--dot" <<< "$("$kiln" --help)"; then
  mlp=$src/tests/models/mlp/model.onnx
  "$kiln" ir "$mlp" --dot --batch 2 > "$tmp/cli.dot" && render cli
  if "$kiln" ir "$mlp" --svg "$tmp/cli2.svg" --batch 2 && grep -q '<svg' "$tmp/cli2.svg"; then
    echo "ok: kiln ir --svg"
  else
    echo "FAIL: kiln ir --svg"; fails=$((fails + 1))
  fi
  msg=$(PATH=/nonexistent "$kiln" ir "$mlp" --png "$tmp/x.png" --batch 2 2>&1)
  if [ $? -eq 1 ] && [[ $msg == *"--png needs Graphviz's 'dot' program, which is not installed (Debian: apt-get install graphviz)"* ]] &&
     [ ! -e "$tmp/x.png" ]; then
    echo "ok: kiln ir --png without dot says so"
  else
    echo "FAIL: kiln ir --png without dot: $msg"; fails=$((fails + 1))
  fi
else
  echo "note: kiln ir has no --dot yet; checked ir_print_dot through eco_tool only"
fi
exit $((fails > 0))
