# bench/ab.sh — sourced by bench/fusion.sh and bench/fuse_grad_update.sh:
# times variants built as $TMP/<variant>/run side by side and compares each
# "<name>_<new>" with its "<name>_<old>". The caller sets $TMP, $REPS,
# $variants (the folder names) and a function `iters VARIANT` (calls per
# timed sample); each run program prints mean ns per call for N calls.

# REPS rounds, every variant once per round in the order of $variants.
ab_time() {
  for r in $(seq "$REPS"); do
    for v in $variants; do
      echo "$v $("$TMP/$v/run" "$(iters "$v")")" >> "$TMP/times"
    done
  done
}

# ab_summary NEW OLD: per name, the median (min-max) ns of both and the
# ratio old / new of the medians and of the minima.
ab_summary() {
  /usr/bin/python3 - "$TMP/times" "$1" "$2" <<'PY'
import statistics, sys
path, new, old = sys.argv[1:]
t = {}
for line in open(path):
    v, ns = line.split()
    t.setdefault(v, []).append(float(ns))
for v in sorted(t):
    if v.endswith("_" + new):
        name = v[:-len(new) - 1]
        a, b = t[v], t[name + "_" + old]
        ma, mb = statistics.median(a), statistics.median(b)
        print("%-16s %s %10.0f (%.0f-%.0f)  %s %10.0f (%.0f-%.0f)  %s/%s median %.3f, min %.3f"
              % (name, new, ma, min(a), max(a), old, mb, min(b), max(b), old, new, mb / ma,
                 min(b) / min(a)))
PY
}

# ab_callgrind FUNC NEW OLD: instructions per call of FUNC (callgrind, 12
# calls: the program's 10 timed ones and its warm-up and check), per name.
ab_callgrind() {
  for v in $variants; do
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$v.cg" --collect-atstart=no \
      --toggle-collect="$1" "$TMP/$v/run" 10 >/dev/null 2>"$TMP/$v.log"
    echo "$v $(sed -n 's/.*Collected : //p' "$TMP/$v.log")"
  done | awk -v new="$2" -v old="$3" '{ ir[$1] = $2 / 12 } END {
    for (v in ir) if (v ~ "_" new "$") { n = substr(v, 1, length(v) - length(new) - 1);
      printf "%-16s %s %12.0f  %s %12.0f  %s/%s %.4f\n", n, new, ir[v], old, ir[n "_" old], old, new, ir[n "_" old] / ir[v] } }' | sort
}
