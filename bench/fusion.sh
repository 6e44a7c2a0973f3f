#!/bin/sh
# bench/fusion.sh — what the fusion passes buy: the MLP (examples/mnist_mlp)
# and LeNet-5 (examples/lenet_cnn) inference at batch 1 and 64, compiled with
# and without --no-fuse for the default target, built with the plain contract
# command, timed side by side: REPS rounds, each running every variant once
# in alternating order (bench/fusion_main.c, mean ns per call over ITERS
# calls); prints the median, min and max per variant and the ratio
# unfused / fused of the medians and of the minima. With CALLGRIND=1 it also
# counts instructions per call under valgrind --tool=callgrind (repeatable
# where the times on a shared machine are not). Usage: bench/fusion.sh [KILN]
#   (REPS=11, ITERS scaled per model; KEEP=1 keeps the generated folders)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${1:-$ROOT/build/kiln}
REPS=${REPS:-11}
TMP=$(mktemp -d)
[ -z "$KEEP" ] || echo "kept in $TMP"
[ -n "$KEEP" ] || trap 'rm -rf "$TMP"' EXIT
variants=""
for model in mnist_mlp lenet_cnn; do
  for batch in 1 64; do
    for mode in fused unfused; do
      v=${model}_b${batch}_$mode
      flag=""; [ $mode = unfused ] && flag=--no-fuse
      "$KILN" compile "$ROOT/examples/$model/model.kir" -o "$TMP/$v" --prefix m --batch $batch \
        $flag --quiet
      cc -O2 -std=c99 -I "$TMP/$v" "$TMP/$v"/*.c "$ROOT/bench/fusion_main.c" -o "$TMP/$v/run" -lm
      variants="$variants $v"
    done
  done
done
iters() { case $1 in mnist_mlp_b1*) echo 20000;; mnist_mlp_b64*) echo 400;;
                      lenet_cnn_b1*) echo 2000;; *) echo 40;; esac; }
for r in $(seq "$REPS"); do
  for v in $variants; do
    echo "$v $("$TMP/$v/run" "$(iters $v)")" >> "$TMP/times"
  done
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$REPS rounds, variants alternating; ns per inference: median (min-max)"
/usr/bin/python3 - "$TMP/times" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    v, ns = line.split()
    t.setdefault(v, []).append(float(ns))
for v in sorted(t):
    if v.endswith("_fused"):
        f, u = t[v], t[v[:-len("_fused")] + "_unfused"]
        mf, mu = statistics.median(f), statistics.median(u)
        print("%-16s fused %10.0f (%.0f-%.0f)  unfused %10.0f (%.0f-%.0f)  unfused/fused "
              "median %.3f, min %.3f" % (v[:-len("_fused")], mf, min(f), max(f), mu, min(u),
                                         max(u), mu / mf, min(u) / min(f)))
PY
[ "${CALLGRIND:-0}" = 1 ] || exit 0
echo "instructions per call (callgrind, 12 calls of m_run_v):"
for v in $variants; do
  valgrind --tool=callgrind --callgrind-out-file="$TMP/$v.cg" --collect-atstart=no \
    --toggle-collect=m_run_v "$TMP/$v/run" 10 >/dev/null 2>"$TMP/$v.log"
  echo "$v $(sed -n 's/.*Collected : //p' "$TMP/$v.log")"
done | awk '{ ir[$1] = $2 / 12 } END {
  for (v in ir) if (v ~ /_fused$/) { u = v; sub(/_fused$/, "_unfused", u);
    printf "%-16s fused %12.0f  unfused %12.0f  unfused/fused %.4f\n", substr(v, 1, length(v) - 6), ir[v], ir[u], ir[u] / ir[v] } }' | sort
