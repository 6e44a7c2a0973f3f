#!/bin/sh
# bench/run.sh — measures kiln's generated GEMM layers against OpenBLAS and
# BLIS, single-threaded, and writes bench/RESULTS.md. Two passes of the same
# benchmark binary, each with interleaved repetitions (medians reported):
#   best:  each library picks its own kernels for this CPU (AVX-512 where the
#          CPU has it); this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#          pins are dropped for this command only, and BLIS, whose Debian
#          build doesn't recognise every CPU, is given its best x86 kernels
#   avx2:  OpenBLAS pinned to Haswell and BLIS to zen3, the AVX2 kernels that
#          kiln's x86-64-v3 target is comparable with.
# kiln's rows come in every x86 target (kiln = x86-64-v3, kiln_v4 = x86-64-v4,
# kiln_sse2 = x86-64, kiln_generic); kiln_v4 compares with pass 1.
# Needs libbenchmark-dev, libopenblas-dev, libblis-dev. Usage:
#   bench/run.sh   (REPS=15 MIN_TIME=0.1 BUILD=build/bench-release by default)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-release}
REPS=${REPS:-15}
MIN_TIME=${MIN_TIME:-0.1}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target kiln_bench -j2
BENCH="$BUILD/bench/kiln_bench"
OUT="$BUILD/bench"
FLAGS="--benchmark_repetitions=$REPS --benchmark_enable_random_interleaving=true \
 --benchmark_min_time=$MIN_TIME --benchmark_out_format=json"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# BLIS_ARCH_TYPE takes BLIS's arch id: 0 skx (AVX-512), 6 zen3 (AVX2)
BEST_BLIS=6
grep -q avx512f /proc/cpuinfo && BEST_BLIS=0
echo "bench: pass 1/2 (libraries' own kernels)"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE BLIS_ARCH_TYPE=$BEST_BLIS \
  "$BENCH" $FLAGS --benchmark_out="$OUT/best.json" >/dev/null
echo "bench: pass 2/2 (AVX2 kernels)"
OPENBLAS_CORETYPE=Haswell BLIS_ARCH_TYPE=6 \
  "$BENCH" $FLAGS --benchmark_out="$OUT/avx2.json" >/dev/null
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$ROOT/bench/report.py" --best "$OUT/best.json" --avx2 "$OUT/avx2.json" \
  --load "$LOAD_BEFORE" "$LOAD_AFTER" --cc "$(cc --version | head -1)" \
  --reps "$REPS" > "$ROOT/bench/RESULTS.md"
echo "bench: wrote bench/RESULTS.md"
