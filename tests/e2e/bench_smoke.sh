#!/usr/bin/env bash
# bench_smoke.sh KILN SRCDIR — `kiln bench` on the MLP, inference at batch 64
# and the Adam training step: checks the table's shape (one row per layer in
# schedule order with the node names --stats lists, positive times with
# min <= median <= max, FLOPs and GFLOPS that agree with the time, a
# measured FMA peak and fractions of it), never the speed.
set -euo pipefail
kiln=$1 src=$2
mlp=$src/tests/models/mlp/model.onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check TABLE NROWS: the rows of a bench table, and its total line
check() {
  awk -v want="$2" '
    NR == 1 { if ($0 !~ /^kiln bench .*repetitions.*FMA peak [0-9.]+ GFLOPS/) bad("header: " $0)
              match($0, /FMA peak [0-9.]+/); peak = substr($0, RSTART + 9, RLENGTH - 9) + 0
              if (peak < 1 || peak > 10000) bad("peak " peak) }
    NR == 2 { if ($1 != "layer" || $NF != "peak") bad("columns: " $0) }
    NR > 2 && $1 ~ /^[0-9]+$/ {
      if ($1 != rows) bad("layer " $1 " out of order"); rows++
      med = $(NF-5) + 0; lo = $(NF-4) + 0; hi = $(NF-3) + 0
      if (!(lo > 0 && lo <= med && med <= hi)) bad("times of layer " $1 ": " $0)
      flops = $(NF-2) + 0
      if (flops > 0 && (($(NF-1) - flops / (med * 1e3)) ^ 2 > 1e-2 * ($(NF-1) ^ 2) + 1e-4))
        bad("GFLOPS of layer " $1 " disagree with its time: " $0)
      if (flops > 0 && ($NF < 0 || $NF > 2)) bad("fraction of peak of layer " $1 ": " $0)
      names = names " " $2 }
    $1 == "total" { total = 1 }
    END { if (rows != want) bad("rows: " rows ", expected " want)
          if (!total) bad("no total line")
          print names }
    function bad(m) { print "bench table: " m > "/dev/stderr"; exit 1 }' "$1"
}

"$kiln" bench "$mlp" --batch 64 --reps 3 > "$tmp/infer.txt"
cat "$tmp/infer.txt"
names=$(check "$tmp/infer.txt" 4) # the ReLU is fused into fc1's epilogue
[ "$names" = " /flatten/Flatten /fc1/Gemm /fc2/Gemm /Softmax" ] ||
  { echo "layer names: $names"; exit 1; }
# the same layers, in the same order, as kiln compile --stats
"$kiln" compile "$mlp" --batch 64 -o "$tmp/gen" --stats --quiet > "$tmp/stats.txt"
stats=$(awk '$1 ~ /^[0-9]+$/ { printf " %s", $2 }' "$tmp/stats.txt")
[ "$stats" = "$names" ] || { echo "--stats lists$stats, bench$names"; exit 1; }

"$kiln" bench "$mlp" --batch 64 --reps 2 --train --loss sparse_softmax_ce --loss-on logits \
  --optimizer adam > "$tmp/train.txt"
cat "$tmp/train.txt"
grep -q "training step (P_train_step_v)" "$tmp/train.txt"
check "$tmp/train.txt" "$(grep -c '^ *[0-9]' <(sed -n '3,$p' "$tmp/train.txt"))" > /dev/null
grep -q " update/fc1.weight " "$tmp/train.txt"

# bad input: one line, exit 1
if "$kiln" bench "$tmp/missing.onnx" 2> "$tmp/err.txt"; then echo "missing model accepted"; exit 1; fi
[ "$(wc -l < "$tmp/err.txt")" -eq 1 ] || { cat "$tmp/err.txt"; exit 1; }
echo "bench smoke: OK"
