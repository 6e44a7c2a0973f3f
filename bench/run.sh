#!/bin/sh
# bench/run.sh — measures kiln single-threaded, in one run, and writes
# bench/RESULTS.md and bench/ratios.png: generated GEMM layers against
# OpenBLAS and BLIS, convolutions against oneDNN and XNNPACK (kiln_bench,
# two passes of the same binary, each with interleaved repetitions, medians
# reported), then whole models and training steps against PyTorch and
# onnxruntime (bench/whole.py), then the profiles behind the missed targets:
# `kiln bench` per-layer times of those models, and the instructions of the
# benchmarked layers split by where they go (bench/profile_layers.py,
# callgrind); bench/limits.md says, by hand, what limits each missed target.
# The kiln_bench passes:
#   best:  each library picks its own kernels for this CPU (AVX-512 where the
#          CPU has it); this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#          pins are dropped for this command only, and BLIS, whose Debian
#          build doesn't recognise every CPU, is given its best x86 kernels
#   avx2:  OpenBLAS pinned to Haswell, BLIS to zen3 and oneDNN to AVX2
#          (ONEDNN_MAX_CPU_ISA), the kernels that kiln's x86-64-v3 target is
#          comparable with; XNNPACK has no such switch.
# kiln's rows come in every x86 target (kiln = x86-64-v3, kiln_v4 = x86-64-v4,
# kiln_sse2 = x86-64, kiln_generic); kiln_v4 compares with pass 1.
# Needs libbenchmark-dev, libopenblas-dev, libblis-dev, libdnnl-dev,
# libxnnpack-dev, libpthreadpool-dev, python3-torch, python3-onnx,
# gnuplot-nox, valgrind, and onnxruntime-node in build/ort (scripts/setup.sh installs
# them all). Usage:
#   bench/run.sh   (REPS=15 MIN_TIME=0.1 BUILD=build/bench-release
#                   RESULTS=bench by default; a quick smoke run that leaves
#                   the committed results alone:
#                   REPS=2 MIN_TIME=0.02 RESULTS=build/bench-smoke bench/run.sh)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-release}
REPS=${REPS:-15}
MIN_TIME=${MIN_TIME:-0.1}
RESULTS=${RESULTS:-$ROOT/bench}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target kiln_bench kiln -j2
BENCH="$BUILD/bench/kiln_bench"
OUT="$BUILD/bench"
FLAGS="--benchmark_repetitions=$REPS --benchmark_enable_random_interleaving=true \
 --benchmark_min_time=$MIN_TIME --benchmark_out_format=json"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# BLIS_ARCH_TYPE takes BLIS's arch id: 0 skx (AVX-512), 6 zen3 (AVX2)
BEST_BLIS=6
grep -q avx512f /proc/cpuinfo && BEST_BLIS=0
echo "bench: pass 1/4 (libraries' own kernels)"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE BLIS_ARCH_TYPE=$BEST_BLIS \
  "$BENCH" $FLAGS --benchmark_out="$OUT/best.json" >/dev/null
echo "bench: pass 2/4 (AVX2 kernels)"
OPENBLAS_CORETYPE=Haswell BLIS_ARCH_TYPE=6 ONEDNN_MAX_CPU_ISA=AVX2 \
  "$BENCH" $FLAGS --benchmark_out="$OUT/avx2.json" >/dev/null
echo "bench: pass 3/4 (whole models and training steps vs PyTorch and onnxruntime)"
# the models are exported from torch into the build folder, never committed
/usr/bin/python3 "$ROOT/bench/whole.py" --kiln "$BUILD/kiln" --out "$OUT/whole" \
  --ort "$ROOT/build/ort" --reps "$REPS" --min-time "$(echo "$MIN_TIME" | awk '{print $1 / 4}')"
echo "bench: pass 4/4 (kiln bench: per-layer profiles of the same models)"
mkdir -p "$OUT/profile"
for m in mlp_b1 mlp_b64 lenet5_b1 lenet5_b64 lstm_b1 lstm_b64; do
  "$BUILD/kiln" bench "$OUT/whole/$m.onnx" --reps "$((REPS * 2))" --quiet > "$OUT/profile/$m.txt"
done
for m in mlp lenet5; do
  "$BUILD/kiln" bench "$OUT/whole/${m}_train_b64.onnx" --train --loss sparse_softmax_ce \
    --loss-on logits --optimizer adam --reps "$((REPS * 2))" --quiet > "$OUT/profile/${m}_train_b64.txt"
done
/usr/bin/python3 "$ROOT/bench/profile_layers.py" --kiln "$BUILD/kiln" --out "$OUT/profile/layers.json" \
  --work "$OUT/profile/layers" >/dev/null
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 "$ROOT/bench/report.py" --best "$OUT/best.json" --avx2 "$OUT/avx2.json" \
  --whole "$OUT/whole/whole.json" --profiles "$OUT/profile" --limits "$ROOT/bench/limits.md" \
  --chart-data "$OUT/ratios.dat" \
  --load "$LOAD_BEFORE" "$LOAD_AFTER" --cc "$(cc --version | head -1)" \
  --reps "$REPS" > "$OUT/RESULTS.md"
gnuplot -e "data='$OUT/ratios.dat'; out='$OUT/ratios.png'" "$ROOT/bench/ratios.gp"
mkdir -p "$RESULTS"
cp "$OUT/RESULTS.md" "$OUT/ratios.png" "$RESULTS/"
echo "bench: wrote $RESULTS/RESULTS.md and $RESULTS/ratios.png"
