/* kiln_gemm_avx2.h — the AVX2+FMA single-precision GEMM micro-kernels
 * (target x86-64-v3): a 6x16 register-blocked kernel (12 accumulators of 8
 * lanes) on packed panels, a 1x16 kernel for single rows (batch-1 layers),
 * and the block routine that walks a packed block in tiles. The generated
 * code prints the cache-blocked loops around kiln_sgemm_avx2_block. */
#ifndef KILN_GEMM_AVX2_H
#define KILN_GEMM_AVX2_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

#ifndef KILN_SIMD_HAS_AVX2
#error "this code was generated for x86-64-v3 (AVX2+FMA); regenerate it with --target generic"
#endif

#define KILN_SGEMM_AVX2_MR 6
#define KILN_SGEMM_AVX2_NR 16

/* Sigmoid or Tanh (act) on c[0..16), a row just stored, on kiln_simd.h's
 * vector functions (within 2.3 ulp); out of line so that the micro-kernel,
 * which inlines a row epilogue per row, stays small. */
static __attribute__((noinline, unused)) KILN_TARGET_AVX2 void kiln_sgemm_avx2_act_row(float *c,
                                                                                       int act)
{
    for (int j = 0; j < 16; j += 8) {
        const kiln_f32x8 v = kiln_f32x8_load(c + j);
        kiln_f32x8_store(c + j, act == KILN_ACT_SIGMOID ? kiln_f32x8_sigmoid(v) : kiln_f32x8_tanh(v));
    }
}

/* Row i of a whole tile: c[0..16) = epilogue(v0, v1). */
static inline KILN_TARGET_AVX2 void kiln_sgemm_avx2_row(float *c, kiln_f32x8 v0, kiln_f32x8 v1,
                                                        const kiln_sgemm_epi *ep,
                                                        const float *bias, int flags)
{
    if (ep->alpha != 1.0f) {
        const kiln_f32x8 alpha = kiln_f32x8_set1(ep->alpha);
        v0 = kiln_f32x8_mul(v0, alpha);
        v1 = kiln_f32x8_mul(v1, alpha);
    }
    if (!(flags & KILN_SGEMM_FIRST)) {
        v0 = kiln_f32x8_add(v0, kiln_f32x8_load(c));
        v1 = kiln_f32x8_add(v1, kiln_f32x8_load(c + 8));
    } else if (bias) {
        const kiln_f32x8 beta = kiln_f32x8_set1(ep->beta);
        kiln_f32x8 b0 = kiln_f32x8_bcast(bias), b1 = b0;
        if (ep->bias_cs) {
            b0 = kiln_f32x8_load(bias);
            b1 = kiln_f32x8_load(bias + 8);
        }
        v0 = kiln_f32x8_fma(beta, b0, v0);
        v1 = kiln_f32x8_fma(beta, b1, v1);
    }
    if ((flags & KILN_SGEMM_LAST) && ep->act == KILN_ACT_RELU) {
        v0 = kiln_f32x8_max(kiln_f32x8_zero(), v0);
        v1 = kiln_f32x8_max(kiln_f32x8_zero(), v1);
    } else if ((flags & KILN_SGEMM_LAST) && ep->act == KILN_ACT_CLIP) {
        const kiln_f32x8 lo = kiln_f32x8_set1(ep->act_alpha), hi = kiln_f32x8_set1(ep->act_beta);
        v0 = kiln_f32x8_min(hi, kiln_f32x8_max(lo, v0)); /* NaN passes, as in Clip */
        v1 = kiln_f32x8_min(hi, kiln_f32x8_max(lo, v1));
    }
    kiln_f32x8_store(c, v0);
    kiln_f32x8_store(c + 8, v1);
    if ((flags & KILN_SGEMM_LAST) && (ep->act == KILN_ACT_SIGMOID || ep->act == KILN_ACT_TANH))
        kiln_sgemm_avx2_act_row(c, ep->act);
    else if ((flags & KILN_SGEMM_LAST) && ep->act != KILN_ACT_NONE && ep->act != KILN_ACT_RELU &&
             ep->act != KILN_ACT_CLIP) /* the others on the row just stored, still in L1 */
        for (int j = 0; j < 16; j++)
            c[j] = kiln_sgemm_act(c[j], ep);
}

/* c[mr x nr] (row stride ldc) gets the epilogue of a[6 x kc] * b[kc x 16]
 * (packed panels); mr <= 6, nr <= 16, the rest of the tile is dropped. */
static inline KILN_TARGET_AVX2 void
kiln_sgemm_avx2_6x16(int kc, const float *restrict a, const float *restrict b, float *restrict c,
                     ptrdiff_t ldc, int mr, int nr, const kiln_sgemm_epi *ep, const float *bias,
                     int flags)
{
    kiln_f32x8 c00 = kiln_f32x8_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x8 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++) {
        const kiln_f32x8 b0 = kiln_f32x8_load(b), b1 = kiln_f32x8_load(b + 8);
        kiln_f32x8 ai = kiln_f32x8_bcast(a);
        c00 = kiln_f32x8_fma(ai, b0, c00);
        c01 = kiln_f32x8_fma(ai, b1, c01);
        ai = kiln_f32x8_bcast(a + 1);
        c10 = kiln_f32x8_fma(ai, b0, c10);
        c11 = kiln_f32x8_fma(ai, b1, c11);
        ai = kiln_f32x8_bcast(a + 2);
        c20 = kiln_f32x8_fma(ai, b0, c20);
        c21 = kiln_f32x8_fma(ai, b1, c21);
        ai = kiln_f32x8_bcast(a + 3);
        c30 = kiln_f32x8_fma(ai, b0, c30);
        c31 = kiln_f32x8_fma(ai, b1, c31);
        ai = kiln_f32x8_bcast(a + 4);
        c40 = kiln_f32x8_fma(ai, b0, c40);
        c41 = kiln_f32x8_fma(ai, b1, c41);
        ai = kiln_f32x8_bcast(a + 5);
        c50 = kiln_f32x8_fma(ai, b0, c50);
        c51 = kiln_f32x8_fma(ai, b1, c51);
        a += 6;
        b += 16;
    }
    if (mr == 6 && nr == 16) {
        const ptrdiff_t rs = bias ? ep->bias_rs : 0;
        kiln_sgemm_avx2_row(c, c00, c01, ep, bias, flags);
        kiln_sgemm_avx2_row(c + ldc, c10, c11, ep, bias ? bias + rs : bias, flags);
        kiln_sgemm_avx2_row(c + 2 * ldc, c20, c21, ep, bias ? bias + 2 * rs : bias, flags);
        kiln_sgemm_avx2_row(c + 3 * ldc, c30, c31, ep, bias ? bias + 3 * rs : bias, flags);
        kiln_sgemm_avx2_row(c + 4 * ldc, c40, c41, ep, bias ? bias + 4 * rs : bias, flags);
        kiln_sgemm_avx2_row(c + 5 * ldc, c50, c51, ep, bias ? bias + 5 * rs : bias, flags);
        return;
    }
    /* an edge tile: the whole tile into t, then the part that exists */
    float t[6 * 16];
    kiln_f32x8_store(t, c00), kiln_f32x8_store(t + 8, c01);
    kiln_f32x8_store(t + 16, c10), kiln_f32x8_store(t + 24, c11);
    kiln_f32x8_store(t + 32, c20), kiln_f32x8_store(t + 40, c21);
    kiln_f32x8_store(t + 48, c30), kiln_f32x8_store(t + 56, c31);
    kiln_f32x8_store(t + 64, c40), kiln_f32x8_store(t + 72, c41);
    kiln_f32x8_store(t + 80, c50), kiln_f32x8_store(t + 88, c51);
    kiln_sgemm_store_edge(t, 16, c, ldc, mr, nr, ep, bias, flags);
}

/* One row: c[1 x nr] from row 0 of a packed A panel (stride 6) and a B
 * panel. Four k steps in flight (8 accumulators) hide the FMA latency that
 * one row's two accumulators would expose. */
static inline KILN_TARGET_AVX2 void
kiln_sgemm_avx2_1x16(int kc, const float *restrict a, const float *restrict b, float *restrict c,
                     int nr, const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x8 s00 = kiln_f32x8_zero(), s01 = s00, s10 = s00, s11 = s00;
    kiln_f32x8 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        kiln_f32x8 ak = kiln_f32x8_bcast(a);
        s00 = kiln_f32x8_fma(ak, kiln_f32x8_load(b), s00);
        s01 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 8), s01);
        ak = kiln_f32x8_bcast(a + 6);
        s10 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 16), s10);
        s11 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 24), s11);
        ak = kiln_f32x8_bcast(a + 12);
        s20 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 32), s20);
        s21 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 40), s21);
        ak = kiln_f32x8_bcast(a + 18);
        s30 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 48), s30);
        s31 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 56), s31);
        a += 24;
        b += 64;
    }
    for (; k < kc; k++) {
        const kiln_f32x8 ak = kiln_f32x8_bcast(a);
        s00 = kiln_f32x8_fma(ak, kiln_f32x8_load(b), s00);
        s01 = kiln_f32x8_fma(ak, kiln_f32x8_load(b + 8), s01);
        a += 6;
        b += 16;
    }
    s00 = kiln_f32x8_add(kiln_f32x8_add(s00, s10), kiln_f32x8_add(s20, s30));
    s01 = kiln_f32x8_add(kiln_f32x8_add(s01, s11), kiln_f32x8_add(s21, s31));
    if (nr == 16) {
        kiln_sgemm_avx2_row(c, s00, s01, ep, bias, flags);
        return;
    }
    float t[16];
    kiln_f32x8_store(t, s00);
    kiln_f32x8_store(t + 8, s01);
    kiln_sgemm_store_edge(t, 16, c, 0, 1, nr, ep, bias, flags);
}

/* One cache block: c[mc x nc] (row stride ldc) from the packed A panels at
 * pa (panel stride pa_ps) and B panels at pb (panel stride pb_ps), over kc.
 * B's panel stays in L1 while the A panels stream past it. */
static inline KILN_TARGET_AVX2 void kiln_sgemm_avx2_block(int mc, int nc, int kc, const float *pa,
                                                   ptrdiff_t pa_ps, const float *pb,
                                                   ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                                                   const kiln_sgemm_epi *ep, int flags)
{
    for (int j = 0; j < nc; j += 16) {
        const int nr = nc - j < 16 ? nc - j : 16;
        const float *b = pb + (j / 16) * pb_ps;
        for (int i = 0; i < mc; i += 6) {
            const int mr = mc - i < 6 ? mc - i : 6;
            const float *a = pa + (i / 6) * pa_ps;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            if (mr == 1)
                kiln_sgemm_avx2_1x16(kc, a, b, c + i * ldc + j, nr, ep, bias, flags);
            else
                kiln_sgemm_avx2_6x16(kc, a, b, c + i * ldc + j, ldc, mr, nr, ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

#endif
