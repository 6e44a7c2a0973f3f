/* kiln_gemm_avx512.h — the AVX-512F single-precision GEMM micro-kernels
 * (target x86-64-v4): an 8x32 register-blocked kernel (16 accumulators of 16
 * lanes, two B vectors, a broadcast) on packed panels, a 1x32 kernel for
 * single rows (batch-1 layers), and the block routine that walks a packed
 * block in tiles; then the same 8x32 kernel reading a runtime A in place
 * (kiln_sgemm_avx512_block_a: no A packing), reading the B of a stride-1
 * convolution on wide rows in place from the padded image
 * (kiln_sgemm_avx512_block_x: no B packing), a direct convolution kernel
 * with 16 output channels in the vector lanes (kiln_conv_avx512_oc16_2x5),
 * and a transposing pack for a B stored [N, K]. The generated code prints the cache-blocked loops around
 * the block routines. 8x32 beat 14x32, 6x64 and 4x64 on this Zen 5
 * (bench/RESULTS.md's machine) at 256x256x256 and 64x128x784: 16
 * accumulators already cover the FMA latency, and 8 rows divide the batch
 * sizes models use, where 14 left a mostly empty last tile. */
#ifndef KILN_GEMM_AVX512_H
#define KILN_GEMM_AVX512_H

#include <string.h>

#include "kiln_gemm.h"
#include "kiln_simd.h"

#ifndef KILN_SIMD_HAS_AVX512
#error "this code was generated for x86-64-v4 (AVX-512F); regenerate it with --target generic"
#endif

#define KILN_SGEMM_AVX512_MR 8
#define KILN_SGEMM_AVX512_NR 32

/* Sigmoid or Tanh (act) on c[0..32), a row just stored, on kiln_simd.h's
 * vector functions (within 2.3 ulp). Out of line: inlined into every row
 * of the micro-kernel, their code made the LSTM training step (whose GEMMs
 * have no activation) 30% slower. */
static __attribute__((noinline, unused)) KILN_TARGET_AVX512 void
kiln_sgemm_avx512_act_row(float *c, int act)
{
    for (int j = 0; j < 32; j += 16) {
        const kiln_f32x16 v = kiln_f32x16_load(c + j);
        kiln_f32x16_store(c + j, act == KILN_ACT_SIGMOID ? kiln_f32x16_sigmoid(v)
                                                          : kiln_f32x16_tanh(v));
    }
}

/* Row i of a tile 32 wide: c[0..32) = epilogue(v0, v1). */
static inline KILN_TARGET_AVX512 void kiln_sgemm_avx512_row(float *c, kiln_f32x16 v0,
                                                            kiln_f32x16 v1,
                                                            const kiln_sgemm_epi *ep,
                                                            const float *bias, int flags)
{
    if (ep->alpha != 1.0f) {
        const kiln_f32x16 alpha = kiln_f32x16_set1(ep->alpha);
        v0 = kiln_f32x16_mul(v0, alpha);
        v1 = kiln_f32x16_mul(v1, alpha);
    }
    if (!(flags & KILN_SGEMM_FIRST)) {
        v0 = kiln_f32x16_add(v0, kiln_f32x16_load(c));
        v1 = kiln_f32x16_add(v1, kiln_f32x16_load(c + 16));
    } else if (bias) {
        const kiln_f32x16 beta = kiln_f32x16_set1(ep->beta);
        kiln_f32x16 b0 = kiln_f32x16_bcast(bias), b1 = b0;
        if (ep->bias_cs) {
            b0 = kiln_f32x16_load(bias);
            b1 = kiln_f32x16_load(bias + 16);
        }
        v0 = kiln_f32x16_fma(beta, b0, v0);
        v1 = kiln_f32x16_fma(beta, b1, v1);
    }
    if ((flags & KILN_SGEMM_LAST) && ep->act == KILN_ACT_RELU) {
        v0 = kiln_f32x16_max(kiln_f32x16_zero(), v0);
        v1 = kiln_f32x16_max(kiln_f32x16_zero(), v1);
    }
    kiln_f32x16_store(c, v0);
    kiln_f32x16_store(c + 16, v1);
    if ((flags & KILN_SGEMM_LAST) && (ep->act == KILN_ACT_SIGMOID || ep->act == KILN_ACT_TANH))
        kiln_sgemm_avx512_act_row(c, ep->act);
    else if ((flags & KILN_SGEMM_LAST) && ep->act != KILN_ACT_NONE && ep->act != KILN_ACT_RELU)
        for (int j = 0; j < 32; j++) /* the other activations on the row just stored, in L1 */
            c[j] = kiln_sgemm_act(c[j], ep);
}

/* c[mr x nr] (row stride ldc) gets the epilogue of a[8 x kc] * b[kc x 32]
 * (packed panels); mr <= 8, nr <= 32, the rest of the tile is dropped.
 * Every accumulator is its own variable, the rows written out: gcc and
 * clang keep arrays of vectors in memory. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_8x32(int kc, const float *restrict a, const float *restrict b,
                       float *restrict c, ptrdiff_t ldc, int mr, int nr,
                       const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x16 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    kiln_f32x16 c61 = c00, c70 = c00, c71 = c00;
    for (int k = 0; k < kc; k++) {
        const kiln_f32x16 b0 = kiln_f32x16_load(b), b1 = kiln_f32x16_load(b + 16);
        kiln_f32x16 ai = kiln_f32x16_bcast(a);
        c00 = kiln_f32x16_fma(ai, b0, c00);
        c01 = kiln_f32x16_fma(ai, b1, c01);
        ai = kiln_f32x16_bcast(a + 1);
        c10 = kiln_f32x16_fma(ai, b0, c10);
        c11 = kiln_f32x16_fma(ai, b1, c11);
        ai = kiln_f32x16_bcast(a + 2);
        c20 = kiln_f32x16_fma(ai, b0, c20);
        c21 = kiln_f32x16_fma(ai, b1, c21);
        ai = kiln_f32x16_bcast(a + 3);
        c30 = kiln_f32x16_fma(ai, b0, c30);
        c31 = kiln_f32x16_fma(ai, b1, c31);
        ai = kiln_f32x16_bcast(a + 4);
        c40 = kiln_f32x16_fma(ai, b0, c40);
        c41 = kiln_f32x16_fma(ai, b1, c41);
        ai = kiln_f32x16_bcast(a + 5);
        c50 = kiln_f32x16_fma(ai, b0, c50);
        c51 = kiln_f32x16_fma(ai, b1, c51);
        ai = kiln_f32x16_bcast(a + 6);
        c60 = kiln_f32x16_fma(ai, b0, c60);
        c61 = kiln_f32x16_fma(ai, b1, c61);
        ai = kiln_f32x16_bcast(a + 7);
        c70 = kiln_f32x16_fma(ai, b0, c70);
        c71 = kiln_f32x16_fma(ai, b1, c71);
        a += 8;
        b += 32;
    }
    const kiln_f32x16 v[2 * 8] = {c00, c01, c10, c11, c20, c21, c30, c31,
                                  c40, c41, c50, c51, c60, c61, c70, c71};
    if (nr == 32) { /* whole rows, also on the last row tile */
        for (int i = 0; i < mr; i++)
            kiln_sgemm_avx512_row(c + i * ldc, v[2 * i], v[2 * i + 1], ep,
                                  bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    /* a tile cut by the last columns: the whole tile into t, then the part
     * that exists */
    float t[8 * 32];
    for (int i = 0; i < 8; i++) {
        kiln_f32x16_store(t + i * 32, v[2 * i]);
        kiln_f32x16_store(t + i * 32 + 16, v[2 * i + 1]);
    }
    kiln_sgemm_store_edge(t, 32, c, ldc, mr, nr, ep, bias, flags);
}

/* One row: c[1 x nr] from row 0 of a packed A panel (stride 8) and a B
 * panel. Four k steps in flight (8 accumulators) hide the FMA latency that
 * one row's two accumulators would expose. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_1x32(int kc, const float *restrict a, const float *restrict b,
                       float *restrict c, int nr, const kiln_sgemm_epi *ep, const float *bias,
                       int flags)
{
    kiln_f32x16 s00 = kiln_f32x16_zero(), s01 = s00, s10 = s00, s11 = s00;
    kiln_f32x16 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        kiln_f32x16 ak = kiln_f32x16_bcast(a);
        s00 = kiln_f32x16_fma(ak, kiln_f32x16_load(b), s00);
        s01 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 16), s01);
        ak = kiln_f32x16_bcast(a + 8);
        s10 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 32), s10);
        s11 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 48), s11);
        ak = kiln_f32x16_bcast(a + 16);
        s20 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 64), s20);
        s21 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 80), s21);
        ak = kiln_f32x16_bcast(a + 24);
        s30 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 96), s30);
        s31 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 112), s31);
        a += 32;
        b += 128;
    }
    for (; k < kc; k++) {
        const kiln_f32x16 ak = kiln_f32x16_bcast(a);
        s00 = kiln_f32x16_fma(ak, kiln_f32x16_load(b), s00);
        s01 = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 16), s01);
        a += 8;
        b += 32;
    }
    const kiln_f32x16 v0 = kiln_f32x16_add(kiln_f32x16_add(s00, s10), kiln_f32x16_add(s20, s30));
    const kiln_f32x16 v1 = kiln_f32x16_add(kiln_f32x16_add(s01, s11), kiln_f32x16_add(s21, s31));
    if (nr == 32) {
        kiln_sgemm_avx512_row(c, v0, v1, ep, bias, flags);
        return;
    }
    float t[32];
    kiln_f32x16_store(t, v0);
    kiln_f32x16_store(t + 16, v1);
    kiln_sgemm_store_edge(t, 32, c, 0, 1, nr, ep, bias, flags);
}

/* One cache block: c[mc x nc] (row stride ldc) from the packed A panels at
 * pa (panel stride pa_ps) and B panels at pb (panel stride pb_ps), over kc.
 * B's panel stays in L1 while the A panels stream past it. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_block(int mc, int nc, int kc, const float *pa, ptrdiff_t pa_ps,
                        const float *pb, ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                        const kiln_sgemm_epi *ep, int flags)
{
    const int MR = KILN_SGEMM_AVX512_MR, NR = KILN_SGEMM_AVX512_NR;
    for (int j = 0; j < nc; j += NR) {
        const int nr = nc - j < NR ? nc - j : NR;
        const float *b = pb + (j / NR) * pb_ps;
        for (int i = 0; i < mc; i += MR) {
            const int mr = mc - i < MR ? mc - i : MR;
            const float *a = pa + (i / MR) * pa_ps;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            if (mr == 1)
                kiln_sgemm_avx512_1x32(kc, a, b, c + i * ldc + j, nr, ep, bias, flags);
            else
                kiln_sgemm_avx512_8x32(kc, a, b, c + i * ldc + j, ldc, mr, nr, ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

/* c[mr x nr] (row stride ldc) gets the epilogue of A[mr x kc] * b[kc x 32]
 * with A read in place, unpacked: element (i, k) at a[i * ars + k * acs]
 * (row-major A: ars = lda, acs = 1; transposed: ars = 1, acs = lda), and b
 * a packed panel. Rows past mr repeat row mr - 1, so nothing outside A is
 * read; their results are dropped. Skipping A's packing pays where A is
 * used by few column panels (the MLP's 64x128x784: 4 of them). */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_8x32_a(int kc, const float *restrict a, ptrdiff_t ars, ptrdiff_t acs,
                         const float *restrict b, float *restrict c, ptrdiff_t ldc, int mr,
                         int nr, const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    const float *a0 = a, *a1 = a + (mr > 1 ? 1 : 0) * ars, *a2 = a + (mr > 2 ? 2 : mr - 1) * ars;
    const float *a3 = a + (mr > 3 ? 3 : mr - 1) * ars, *a4 = a + (mr > 4 ? 4 : mr - 1) * ars;
    const float *a5 = a + (mr > 5 ? 5 : mr - 1) * ars, *a6 = a + (mr > 6 ? 6 : mr - 1) * ars;
    const float *a7 = a + (mr > 7 ? 7 : mr - 1) * ars;
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x16 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    kiln_f32x16 c61 = c00, c70 = c00, c71 = c00;
    ptrdiff_t ka = 0;
    for (int k = 0; k < kc && nr <= 16; k++, ka += acs) {
        /* a tile at most 16 wide (the MLP's 10 logits): the left half
         * alone, 8 accumulators still cover the FMA latency */
        const kiln_f32x16 b0 = kiln_f32x16_load(b);
        c00 = kiln_f32x16_fma(kiln_f32x16_bcast(a0 + ka), b0, c00);
        c10 = kiln_f32x16_fma(kiln_f32x16_bcast(a1 + ka), b0, c10);
        c20 = kiln_f32x16_fma(kiln_f32x16_bcast(a2 + ka), b0, c20);
        c30 = kiln_f32x16_fma(kiln_f32x16_bcast(a3 + ka), b0, c30);
        c40 = kiln_f32x16_fma(kiln_f32x16_bcast(a4 + ka), b0, c40);
        c50 = kiln_f32x16_fma(kiln_f32x16_bcast(a5 + ka), b0, c50);
        c60 = kiln_f32x16_fma(kiln_f32x16_bcast(a6 + ka), b0, c60);
        c70 = kiln_f32x16_fma(kiln_f32x16_bcast(a7 + ka), b0, c70);
        b += 32;
    }
    for (int k = 0; k < kc && nr > 16; k++, ka += acs) {
        const kiln_f32x16 b0 = kiln_f32x16_load(b), b1 = kiln_f32x16_load(b + 16);
        kiln_f32x16 ai = kiln_f32x16_bcast(a0 + ka);
        c00 = kiln_f32x16_fma(ai, b0, c00);
        c01 = kiln_f32x16_fma(ai, b1, c01);
        ai = kiln_f32x16_bcast(a1 + ka);
        c10 = kiln_f32x16_fma(ai, b0, c10);
        c11 = kiln_f32x16_fma(ai, b1, c11);
        ai = kiln_f32x16_bcast(a2 + ka);
        c20 = kiln_f32x16_fma(ai, b0, c20);
        c21 = kiln_f32x16_fma(ai, b1, c21);
        ai = kiln_f32x16_bcast(a3 + ka);
        c30 = kiln_f32x16_fma(ai, b0, c30);
        c31 = kiln_f32x16_fma(ai, b1, c31);
        ai = kiln_f32x16_bcast(a4 + ka);
        c40 = kiln_f32x16_fma(ai, b0, c40);
        c41 = kiln_f32x16_fma(ai, b1, c41);
        ai = kiln_f32x16_bcast(a5 + ka);
        c50 = kiln_f32x16_fma(ai, b0, c50);
        c51 = kiln_f32x16_fma(ai, b1, c51);
        ai = kiln_f32x16_bcast(a6 + ka);
        c60 = kiln_f32x16_fma(ai, b0, c60);
        c61 = kiln_f32x16_fma(ai, b1, c61);
        ai = kiln_f32x16_bcast(a7 + ka);
        c70 = kiln_f32x16_fma(ai, b0, c70);
        c71 = kiln_f32x16_fma(ai, b1, c71);
        b += 32;
    }
    const kiln_f32x16 v[2 * 8] = {c00, c01, c10, c11, c20, c21, c30, c31,
                                  c40, c41, c50, c51, c60, c61, c70, c71};
    if (nr == 32) {
        for (int i = 0; i < mr; i++)
            kiln_sgemm_avx512_row(c + i * ldc, v[2 * i], v[2 * i + 1], ep,
                                  bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    float t[8 * 32];
    for (int i = 0; i < 8; i++) {
        kiln_f32x16_store(t + i * 32, v[2 * i]);
        kiln_f32x16_store(t + i * 32 + 16, v[2 * i + 1]);
    }
    kiln_sgemm_store_edge(t, 32, c, ldc, mr, nr, ep, bias, flags);
}

/* kiln_sgemm_avx512_block with A unpacked: c[mc x nc] from A's element
 * (i, k) at a[i * ars + k * acs] (one of ars, acs is 1) and the packed B
 * panels at pb (panel stride pb_ps), over kc. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_block_a(int mc, int nc, int kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                          const float *pb, ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                          const kiln_sgemm_epi *ep, int flags)
{
    const int MR = KILN_SGEMM_AVX512_MR, NR = KILN_SGEMM_AVX512_NR;
    for (int j = 0; j < nc; j += NR) {
        const int nr = nc - j < NR ? nc - j : NR;
        const float *b = pb + (j / NR) * pb_ps;
        for (int i = 0; i < mc; i += MR) {
            const int mr = mc - i < MR ? mc - i : MR;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            kiln_sgemm_avx512_8x32_a(kc, a + i * ars, ars, acs, b, c + i * ldc + j, ldc, mr, nr,
                                     ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

/* kiln_sgemm_avx512_8x32 with B read in place from a stride-1
 * convolution's padded image (no packing): B(k, j) = x[off[k] + j] for
 * the tile's 32 columns j (kiln_conv_wide_offsets), two unaligned vector
 * loads per k. All 32 columns are read (the caller keeps them allocated);
 * columns past nr are dropped. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_8x32_x(int kc, const float *restrict a, const float *restrict x,
                         const int *restrict off, float *restrict c, ptrdiff_t ldc, int mr,
                         int nr, const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x16 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    kiln_f32x16 c61 = c00, c70 = c00, c71 = c00;
    for (int k = 0; k < kc; k++) {
        const float *restrict b = x + off[k];
        const kiln_f32x16 b0 = kiln_f32x16_load(b), b1 = kiln_f32x16_load(b + 16);
        kiln_f32x16 ai = kiln_f32x16_bcast(a);
        c00 = kiln_f32x16_fma(ai, b0, c00);
        c01 = kiln_f32x16_fma(ai, b1, c01);
        ai = kiln_f32x16_bcast(a + 1);
        c10 = kiln_f32x16_fma(ai, b0, c10);
        c11 = kiln_f32x16_fma(ai, b1, c11);
        ai = kiln_f32x16_bcast(a + 2);
        c20 = kiln_f32x16_fma(ai, b0, c20);
        c21 = kiln_f32x16_fma(ai, b1, c21);
        ai = kiln_f32x16_bcast(a + 3);
        c30 = kiln_f32x16_fma(ai, b0, c30);
        c31 = kiln_f32x16_fma(ai, b1, c31);
        ai = kiln_f32x16_bcast(a + 4);
        c40 = kiln_f32x16_fma(ai, b0, c40);
        c41 = kiln_f32x16_fma(ai, b1, c41);
        ai = kiln_f32x16_bcast(a + 5);
        c50 = kiln_f32x16_fma(ai, b0, c50);
        c51 = kiln_f32x16_fma(ai, b1, c51);
        ai = kiln_f32x16_bcast(a + 6);
        c60 = kiln_f32x16_fma(ai, b0, c60);
        c61 = kiln_f32x16_fma(ai, b1, c61);
        ai = kiln_f32x16_bcast(a + 7);
        c70 = kiln_f32x16_fma(ai, b0, c70);
        c71 = kiln_f32x16_fma(ai, b1, c71);
        a += 8;
    }
    const kiln_f32x16 v[2 * 8] = {c00, c01, c10, c11, c20, c21, c30, c31,
                                  c40, c41, c50, c51, c60, c61, c70, c71};
    if (nr == 32) {
        for (int i = 0; i < mr; i++)
            kiln_sgemm_avx512_row(c + i * ldc, v[2 * i], v[2 * i + 1], ep,
                                  bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    float t[8 * 32];
    for (int i = 0; i < 8; i++) {
        kiln_f32x16_store(t + i * 32, v[2 * i]);
        kiln_f32x16_store(t + i * 32 + 16, v[2 * i + 1]);
    }
    kiln_sgemm_store_edge(t, 32, c, ldc, mr, nr, ep, bias, flags);
}

/* kiln_sgemm_avx512_block with B read in place: c[mc x nc] from the packed
 * A panels at pa (panel stride pa_ps) and B(k, j) = x[off[k] + j] (a
 * stride-1 convolution on wide rows, x at the block's first column), over
 * kc. The tile's slice of the image (kc rows of 32 floats, a few image rows
 * per channel) stays in L1 while the A panels stream past it. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_block_x(int mc, int nc, int kc, const float *pa, ptrdiff_t pa_ps,
                          const float *x, const int *off, float *c, ptrdiff_t ldc,
                          const kiln_sgemm_epi *ep, int flags)
{
    const int MR = KILN_SGEMM_AVX512_MR, NR = KILN_SGEMM_AVX512_NR;
    for (int j = 0; j < nc; j += NR) {
        const int nr = nc - j < NR ? nc - j : NR;
        for (int i = 0; i < mc; i += MR) {
            const int mr = mc - i < MR ? mc - i : MR;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            kiln_sgemm_avx512_8x32_x(kc, pa + (i / MR) * pa_ps, x + j, off, c + i * ldc + j, ldc,
                                     mr, nr, ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

/* A convolution with 16 output channels in the vector lanes (direct, for
 * small images whose wide rows would waste many columns: LeNet's conv2
 * computes 10 of every 14): a tile of 2 output rows x 5 columns of one
 * image, each accumulator one output position's 16 channels,
 *   acc(i, t)[oc] = sum over k of w16[k * 16 + oc] * x[i * rs + t + off[k]]
 * with x the padded image at the tile's first tap, rs the distance between
 * its two rows' taps, off[k] (kiln_conv_wide_offsets) the image offset of
 * row k = (ci, r, s) of the weight, w16 [K, 16] the 16 channels' weights
 * k-major. Then y[oc * ldoc + i * ldy + t] = acc(i, t)[oc] + bias[oc]
 * (bias NULL: 0) for the rows < rows and columns < cols that exist; the
 * others are computed from whatever follows in x (the caller keeps 4
 * floats past each row and a row past the last allocated) and dropped.
 * Per k one weight load, 10 broadcasts, 10 FMAs. */
static inline KILN_TARGET_AVX512 void
kiln_conv_avx512_oc16_2x5(int K, const float *restrict w16, const float *restrict x,
                          ptrdiff_t rs, const int *restrict off, int rows, int cols,
                          const float *bias, float *restrict y, ptrdiff_t ldoc, ptrdiff_t ldy)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c02 = c00, c03 = c00, c04 = c00;
    kiln_f32x16 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00;
    const float *restrict x1 = x + rs;
    for (int k = 0; k < K; k++) {
        const kiln_f32x16 w = kiln_f32x16_load(w16 + k * 16);
        const float *restrict a = x + off[k], *restrict b = x1 + off[k];
        c00 = kiln_f32x16_fma(kiln_f32x16_bcast(a), w, c00);
        c01 = kiln_f32x16_fma(kiln_f32x16_bcast(a + 1), w, c01);
        c02 = kiln_f32x16_fma(kiln_f32x16_bcast(a + 2), w, c02);
        c03 = kiln_f32x16_fma(kiln_f32x16_bcast(a + 3), w, c03);
        c04 = kiln_f32x16_fma(kiln_f32x16_bcast(a + 4), w, c04);
        c10 = kiln_f32x16_fma(kiln_f32x16_bcast(b), w, c10);
        c11 = kiln_f32x16_fma(kiln_f32x16_bcast(b + 1), w, c11);
        c12 = kiln_f32x16_fma(kiln_f32x16_bcast(b + 2), w, c12);
        c13 = kiln_f32x16_fma(kiln_f32x16_bcast(b + 3), w, c13);
        c14 = kiln_f32x16_fma(kiln_f32x16_bcast(b + 4), w, c14);
    }
    /* the tile transposed through t: t[i * 5 + j][oc], then per channel */
    float t[10 * 16];
    const kiln_f32x16 v[10] = {c00, c01, c02, c03, c04, c10, c11, c12, c13, c14};
    for (int q = 0; q < 10; q++)
        kiln_f32x16_store(t + q * 16, v[q]);
    for (int oc = 0; oc < 16; oc++) {
        const float b0 = bias ? bias[oc] : 0.0f;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                y[oc * ldoc + i * ldy + j] = t[(i * 5 + j) * 16 + oc] + b0;
    }
}

/* w16 [M/16, K, 16] from a weight w [M, K] (row-major; M a multiple of
 * 16): each block of 16 output channels k-major, for
 * kiln_conv_avx512_oc16_2x5. */
static inline void kiln_conv_pack_oc16(int m, int k, const float *restrict w,
                                       float *restrict w16)
{
    for (int oc = 0; oc < m; oc++)
        for (int kk = 0; kk < k; kk++)
            w16[((ptrdiff_t)(oc / 16) * k + kk) * 16 + oc % 16] = w[(ptrdiff_t)oc * k + kk];
}

/* kiln_sgemm_pack_b for a row-major B (element (k, j) at b[k * ldb + j])
 * into panels of 32 columns: two vector copies per row of a panel, the
 * last panel's missing columns masked off and stored as zeros. */
static inline KILN_TARGET_AVX512 void kiln_sgemm_avx512_pack_b(int kc, int nc,
                                                               const float *restrict b,
                                                               ptrdiff_t ldb,
                                                               float *restrict pb)
{
    for (int j0 = 0; j0 < nc; j0 += 32) {
        const int cols = nc - j0 < 32 ? nc - j0 : 32, hi = cols > 16 ? cols - 16 : 0;
        float *restrict p = pb + (ptrdiff_t)j0 * kc;
        const float *restrict row = b + j0;
        for (int k = 0; k < kc; k++, row += ldb, p += 32) {
            kiln_f32x16_store(p, kiln_f32x16_load_first(row, cols));
            kiln_f32x16_store(p + 16, kiln_f32x16_load_first(row + 16, hi));
        }
    }
}

/* Packs rows [0, kc) and columns [0, nc) of a B stored transposed, element
 * (k, j) at b[j * ldb + k] (a weight [N, K] as Gemm's transB reads it),
 * into panels of 32 columns (panel stride kc * 32), as kiln_sgemm_pack_b
 * does, but 8x8 blocks at a time: 8 contiguous loads along k, transposed
 * in registers, 8 stores along j. The scalar pack's strided loads made the
 * MLP's 64x128x784 training layer pay 45 us for it. AVX-512F implies AVX2
 * (gcc, clang), whose 8-lane shuffles are used. */
static inline KILN_TARGET_AVX512 void kiln_sgemm_avx512_pack_bt(int kc, int nc,
                                                                const float *restrict b,
                                                                ptrdiff_t ldb,
                                                                float *restrict pb)
{
    const int k8 = kc / 8 * 8;
    for (int j0 = 0; j0 < nc; j0 += 8) {
        float *restrict p = pb + (ptrdiff_t)(j0 / 32) * kc * 32 + j0 % 32;
        const float *restrict src = b + j0 * ldb;
        if (nc - j0 < 8) { /* the last columns, then zeros to the panel's end */
            const int cols = nc - j0, pad = 32 - j0 % 32 - cols;
            for (int k = 0; k < kc; k++) {
                for (int j = 0; j < cols; j++)
                    p[k * 32 + j] = src[j * ldb + k];
                memset(p + k * 32 + cols, 0, (size_t)pad * sizeof(float));
            }
            break;
        }
        for (int k = 0; k < k8; k += 8) {
            const __m256 r0 = _mm256_loadu_ps(src + k), r1 = _mm256_loadu_ps(src + ldb + k);
            const __m256 r2 = _mm256_loadu_ps(src + 2 * ldb + k);
            const __m256 r3 = _mm256_loadu_ps(src + 3 * ldb + k);
            const __m256 r4 = _mm256_loadu_ps(src + 4 * ldb + k);
            const __m256 r5 = _mm256_loadu_ps(src + 5 * ldb + k);
            const __m256 r6 = _mm256_loadu_ps(src + 6 * ldb + k);
            const __m256 r7 = _mm256_loadu_ps(src + 7 * ldb + k);
            /* pairs of rows interleaved, then quads, then the 128-bit halves */
            const __m256 u0 = _mm256_unpacklo_ps(r0, r1), u1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 u2 = _mm256_unpacklo_ps(r2, r3), u3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 u4 = _mm256_unpacklo_ps(r4, r5), u5 = _mm256_unpackhi_ps(r4, r5);
            const __m256 u6 = _mm256_unpacklo_ps(r6, r7), u7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 q0 = _mm256_shuffle_ps(u0, u2, 0x44), q1 = _mm256_shuffle_ps(u0, u2, 0xee);
            const __m256 q2 = _mm256_shuffle_ps(u1, u3, 0x44), q3 = _mm256_shuffle_ps(u1, u3, 0xee);
            const __m256 q4 = _mm256_shuffle_ps(u4, u6, 0x44), q5 = _mm256_shuffle_ps(u4, u6, 0xee);
            const __m256 q6 = _mm256_shuffle_ps(u5, u7, 0x44), q7 = _mm256_shuffle_ps(u5, u7, 0xee);
            float *restrict d = p + k * 32;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(q0, q4, 0x20));
            _mm256_storeu_ps(d + 32, _mm256_permute2f128_ps(q1, q5, 0x20));
            _mm256_storeu_ps(d + 64, _mm256_permute2f128_ps(q2, q6, 0x20));
            _mm256_storeu_ps(d + 96, _mm256_permute2f128_ps(q3, q7, 0x20));
            _mm256_storeu_ps(d + 128, _mm256_permute2f128_ps(q0, q4, 0x31));
            _mm256_storeu_ps(d + 160, _mm256_permute2f128_ps(q1, q5, 0x31));
            _mm256_storeu_ps(d + 192, _mm256_permute2f128_ps(q2, q6, 0x31));
            _mm256_storeu_ps(d + 224, _mm256_permute2f128_ps(q3, q7, 0x31));
        }
        for (int k = k8; k < kc; k++)
            for (int j = 0; j < 8; j++)
                p[k * 32 + j] = src[j * ldb + k];
        if (j0 + 8 >= nc && (j0 + 8) % 32 != 0) /* zeros to the last panel's end */
            for (int k = 0; k < kc; k++)
                memset(p + k * 32 + 8, 0, (size_t)(24 - j0 % 32) * sizeof(float));
    }
}

#endif
