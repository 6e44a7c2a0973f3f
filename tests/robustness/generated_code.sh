#!/usr/bin/env bash
# generated_code.sh KILN SRCDIR — the code kiln generates for the test models
# (the MLP and a conformance case of each kernel family) run on their test
# data with `kiln verify`, built three ways through a stand-in C compiler:
# with AddressSanitizer + UBSan (gcc, any report is fatal), with clang's
# sanitizers, and plainly but run under `valgrind --error-exitcode=1`. A
# memory error, undefined behaviour or uninitialized read in generated code
# makes the case BROKEN.
set -uo pipefail
kiln=$1 src=$2
node=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cases=("$src/tests/models/mlp")
for c in test_gemm_default_no_bias test_conv_with_strides_padding test_maxpool_2d_pads \
         test_averagepool_2d_pads test_batchnorm_example test_softmax_axis_1 \
         test_layer_normalization_3d_axis1_epsilon test_lstm_defaults test_gru_with_initial_bias \
         test_gather_1 test_reduce_sum_keepdims_example test_transpose_all_permutations_2 \
         test_concat_3d_axis_1 test_einsum_batch_matmul test_matmul_4d test_where_long_example \
         test_cumsum_2d_axis_1 test_slice_neg_steps test_tile test_convtranspose_pads; do
  [ -d "$node/$c" ] && cases+=("$node/$c")
done
for cc in gcc clang; do
  cat > "$tmp/$cc-sanitize" <<EOS
#!/bin/sh
exec $cc -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer "\$@"
EOS
done
# valgrind: build plainly (-O1 -g), then put a script at the -o path that runs
# the real program under valgrind
cat > "$tmp/valgrind-cc" <<'EOS'
#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
cc -g "$@" -o "$out.real" || exit 1
printf '#!/bin/sh\nexec valgrind -q --error-exitcode=1 --track-origins=yes "%s.real" "$@"\n' "$out" > "$out"
chmod +x "$out"
EOS
chmod +x "$tmp"/*-sanitize "$tmp/valgrind-cc"
# the generated code never allocates; the test harness kiln writes leaks its
# buffers at exit, which is not what this checks
export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
fails=0
for how in gcc-sanitize clang-sanitize valgrind-cc; do
  # valgrind runs no AVX-512 (its CPUID hides it, so x86-64-v4 code, the host
  # default on an AVX-512 machine, rightly stops at P_init): AVX2 under it
  target=()
  [ $how = valgrind-cc ] && [ "$(uname -m)" = x86_64 ] && target=(--target x86-64-v3)
  if TMPDIR=$tmp "$kiln" verify --cc "$tmp/$how" ${target[@]+"${target[@]}"} "${cases[@]}" \
       > "$tmp/$how.log" 2>&1; then
    echo "ok: ${#cases[@]} models, generated code built with $how: $(tail -1 "$tmp/$how.log")"
  else
    fails=$((fails + 1))
    echo "FAIL: generated code built with $how:"
    grep -v '^PASS' "$tmp/$how.log" | head -20
  fi
done
echo "$((3 - fails)) passed, $fails failed"
[ $fails -eq 0 ]
