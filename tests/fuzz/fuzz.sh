#!/usr/bin/env bash
# fuzz.sh SRCDIR BUILDDIR [SECONDS] — builds kiln's libFuzzer targets with clang
# (-DKILN_FUZZ=ON, ASan + UBSan) in BUILDDIR, replays every crash ever found
# (tests/fuzz/corpus/<target>/, committed), then fuzzes each target for
# SECONDS (default 20) from seeds made of the test models. A new crash is
# saved under BUILDDIR/artifacts/; once fixed, copy it into
# tests/fuzz/corpus/<target>/ so it is replayed for ever.
# Environment: FUZZ_TARGETS (default "fuzz_onnx fuzz_kir fuzz_tensor fuzz_params"),
# FUZZ_JOBS (parallel fuzzing processes per target, default 1).
set -euo pipefail
src=$(cd "$1" && pwd) build=$2 seconds=${3:-20}
targets=${FUZZ_TARGETS:-fuzz_onnx fuzz_kir fuzz_tensor fuzz_params}
command -v clang >/dev/null || { echo "FAIL: clang is not installed (scripts/setup.sh)"; exit 1; }
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "FAIL: libFuzzer is not installed (Debian package libclang-rt-14-dev)"; exit 1
fi
mkdir -p "$build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_targets kiln >"$build/build.log" 2>&1 || {
  tail -30 "$build/build.log"; echo "FAIL: the fuzz build failed"; exit 1; }

# Seeds: small, valid inputs of each kind (regenerated each run, not committed).
work=$build/work
rm -rf "$work"
mkdir -p "$work"/{fuzz_onnx,fuzz_kir,fuzz_tensor,fuzz_params} "$build/artifacts"
testdata=/usr/share/libonnx-testdata/data
n=0
for m in "$src"/tests/unit/data/onnx/*.onnx "$src"/tests/robustness/cases/*.onnx \
         "$testdata"/node/*/model.onnx; do
  [ -f "$m" ] && [ "$(stat -c %s "$m")" -le 16384 ] || continue
  cp "$m" "$work/fuzz_onnx/seed$((n++)).onnx"
  [ $n -lt 400 ] || break
done
n=0
for t in "$src"/tests/models/mlp/test_data_set_0/*.pb "$src"/tests/unit/data/onnx/*.pb \
         "$src"/tests/robustness/cases/pb/*.pb "$testdata"/node/test_*/test_data_set_0/*.pb; do
  [ -f "$t" ] && [ "$(stat -c %s "$t")" -le 16384 ] || continue
  cp "$t" "$work/fuzz_tensor/seed$((n++)).pb"
  [ $n -lt 200 ] || break
done
n=0
for k in "$src"/tests/unit/data/kir/*.kir "$src"/tests/robustness/cases/kir/*.kir; do
  [ -f "$k" ] && [ "$(stat -c %s "$k")" -le 16384 ] && cp "$k" "$work/fuzz_kir/seed$((n++)).kir"
done
for m in "$work"/fuzz_onnx/seed*.onnx; do # the ONNX seeds as .kir text too
  "$build/kiln" ir "$m" > "$work/fuzz_kir/ir$((n++)).kir" 2>/dev/null || rm -f "$work/fuzz_kir/ir$((n - 1)).kir"
  [ $n -lt 300 ] || break
done

# Parameter files: well-formed ones for basic.onnx's W and B (the table
# fuzz_params.c expects), with and without a matching fingerprint.
/usr/bin/python3 - "$work/fuzz_params" <<'PY'
import struct, sys
table = b"W 1 3x2 0\nB 1 2 24\n"
payload = struct.pack("<8f", 0, 1, 2, 3, 4, 5, 0.5, -1.5)
def fnv(b, h=14695981039346656037):
    for c in b:
        h = ((h ^ c) * 1099511628211) & (2**64 - 1)
    return h
for i, fp in enumerate((0x6b696c6e66757a7a, 1)):
    body = table + payload
    head = b"KILNPRM1" + struct.pack("<4Q", fp, len(table), len(payload), fnv(body))
    open("%s/seed%d.kprm" % (sys.argv[1], i), "wb").write(head + body)
PY

fails=0
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in $targets; do
  bin=$build/$t
  crashes=("$src"/tests/fuzz/corpus/$t/*)
  if [ -e "${crashes[0]}" ]; then # every input that ever crashed a target must stay fixed
    if "$bin" -rss_limit_mb=2048 -timeout=30 "${crashes[@]}" >"$build/$t.replay.log" 2>&1; then
      echo "ok: $t replays ${#crashes[@]} past crash inputs"
    else
      grep -m5 -E "ERROR|runtime error|Running:|Test unit" "$build/$t.replay.log" || tail -5 "$build/$t.replay.log"
      echo "FAIL: $t crashes again on a past crash input ($build/$t.replay.log)"; fails=$((fails + 1))
    fi
  fi
  dict=()
  [ -f "$src/tests/fuzz/$t.dict" ] && dict=(-dict="$src/tests/fuzz/$t.dict")
  jobs=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  if (cd "$build" && "$bin" "$work/$t" ${dict[@]+"${dict[@]}"} ${jobs[@]+"${jobs[@]}"} \
       -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 >"$build/$t.log" 2>&1); then
    echo "ok: $t ran ${seconds}s: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" | grep -o '[0-9]*$') inputs, no crash"
  else
    grep -m5 -E "ERROR|runtime error|SUMMARY|Test unit written" "$build/$t.log" || tail -5 "$build/$t.log"
    echo "FAIL: $t found a crash ($build/$t.log; the input is in $build/artifacts/)"
    fails=$((fails + 1))
  fi
done
echo "$fails failed"
[ $fails -eq 0 ]
