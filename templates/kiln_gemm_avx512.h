/* kiln_gemm_avx512.h — the AVX-512F single-precision GEMM micro-kernels
 * (target x86-64-v4): an 8x32 register-blocked kernel (16 accumulators of 16
 * lanes, two B vectors, a broadcast) on packed panels, a 1x32 kernel for
 * single rows (batch-1 layers), and the block routine that walks a packed
 * block in tiles. The generated code prints the cache-blocked loops around
 * kiln_sgemm_avx512_block. 8x32 beat 14x32, 6x64 and 4x64 on this Zen 5
 * (bench/RESULTS.md's machine) at 256x256x256 and 64x128x784: 16
 * accumulators already cover the FMA latency, and 8 rows divide the batch
 * sizes models use, where 14 left a mostly empty last tile. */
#ifndef KILN_GEMM_AVX512_H
#define KILN_GEMM_AVX512_H

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
        }
    }
}

#endif
