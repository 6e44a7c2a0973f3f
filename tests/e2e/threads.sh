#!/usr/bin/env bash
# threads.sh KILN SRCDIR — `kiln compile --threads N`: models whose GEMMs and
# convolutions split over the pool in each way the emitter knows (a Gemm by
# rows and by columns, a conv's image by columns, a batch of images by
# image), compiled with 1, 2 and 3 threads, give bit-identical outputs (the
# parts split output blocks, never a sum); built warning-free with gcc and
# clang, once under ThreadSanitizer; single-threaded code never mentions
# pthreads; and the MLP with 2 threads still matches PyTorch's outputs.
# fused_acts.kir: FusedConv / FusedGemm whose epilogues apply HardSwish, Clip,
# LeakyRelu, Sigmoid and Tanh, split in the same ways (batch 1: a conv's image
# by columns; batch 64: by image, a GEMM by columns and by rows).
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
warn=(-std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror)
cases=(
  "mlp64|$src/tests/models/mlp/model.onnx --batch 64"
  "gemm256|$src/bench/models/gemm_256.kir"
  "conv3x3|$src/bench/models/conv3x3_64.kir"
  "lenet64|$src/examples/lenet_cnn/model.kir --batch 64"
  "lenet64_generic|$src/examples/lenet_cnn/model.kir --batch 64 --target generic"
  "lenet64_file|$src/examples/lenet_cnn/model.kir --batch 64 --weights file"
  "fused1|$src/tests/e2e/fused_acts.kir --batch 1"
  "fused64|$src/tests/e2e/fused_acts.kir --batch 64"
  "fused64_generic_file|$src/tests/e2e/fused_acts.kir --batch 64 --target generic --weights file"
)
for c in "${cases[@]}"; do
  name=${c%%|*}
  read -r -a args <<<"${c#*|}"
  for t in 1 2 3; do
    d=$tmp/$name-$t
    "$kiln" compile "${args[@]}" -o "$d" --prefix m --threads $t >/dev/null
    if [ $t = 1 ] && grep -l -e pthread -e kiln_threads -e kiln_pool "$d"/m.c "$d"/m.h; then
      echo "FAIL: $name: single-threaded code mentions the thread pool"
      exit 1
    fi
    if [ $t != 1 ] && ! grep -q kiln_pool_run "$d/m.c"; then
      echo "FAIL: $name: nothing runs on the pool with --threads $t"
      exit 1
    fi
    if [[ $name == fused* ]]; then # every epilogue activation, and on the pool
      for act in HARDSWISH CLIP LEAKY SIGMOID TANH; do
        grep -q "KILN_ACT_$act" "$d/m.c" || { echo "FAIL: $name: no fused $act epilogue"; exit 1; }
      done
      want=$([ "${args[2]}" = 1 ] && echo 3 || echo 5) # kernels split (fc2, fc3 too small at batch 1)
      got=$(grep -c 'kiln_pool_range' "$d/m.c" || true)
      if [ $t != 1 ] && [ "$got" != "$want" ]; then
        echo "FAIL: $name: $got kernels split over the pool with --threads $t, expected $want"
        exit 1
      fi
    fi
    for cc in gcc clang; do
      "$cc" -O2 "${warn[@]}" -pthread -I "$d" "$d/m.c" "$src/tests/e2e/threads_main.c" \
        -o "$d/prog-$cc" -lm
    done
    (cd "$d" && ./prog-gcc "$d/out-gcc" && ./prog-clang "$d/out-clang")
    for cc in gcc clang; do
      if ! cmp -s "$tmp/$name-1/out-$cc" "$d/out-$cc"; then
        echo "FAIL: $name ($cc): --threads $t differs from --threads 1"
        exit 1
      fi
    done
  done
  echo "ok: $name: --threads 2 and 3 bit-identical to 1 (gcc, clang)"
done
d=$tmp/lenet64-2
clang -O1 -g "${warn[@]}" -fsanitize=thread -pthread -I "$d" "$d/m.c" \
  "$src/tests/e2e/threads_main.c" -o "$d/prog-tsan" -lm
(cd "$d" && TSAN_OPTIONS=halt_on_error=1 ./prog-tsan "$d/out-tsan")
echo "ok: lenet64 --threads 2 under ThreadSanitizer"
"$kiln" verify "$src/tests/models/mlp" --threads 2 --rtol 1e-4 --atol 1e-5
