/* kiln_gemm_sse2.h — the SSE2 single-precision GEMM micro-kernel (target
 * x86-64, the baseline every x86-64 CPU runs): a 6x8 register-blocked kernel
 * (12 accumulators of 4 lanes, two B vectors and a broadcast: 15 of the 16
 * xmm registers) on packed panels, through kiln_simd.h's kiln_f32x4 (SSE2
 * has no FMA: multiply and add round twice), a 1x8 kernel for single rows
 * (batch-1 layers), and the block routine that walks a packed block in
 * tiles. No CPU check: SSE2 is part of x86-64. */
#ifndef KILN_GEMM_SSE2_H
#define KILN_GEMM_SSE2_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

#ifndef KILN_SIMD_X86
#error "this code was generated for x86-64 (SSE2); regenerate it with --target generic"
#endif

#define KILN_SGEMM_SSE2_MR 6
#define KILN_SGEMM_SSE2_NR 8

/* Row i of a tile 8 wide: c[0..8) = epilogue(v0..v1). */
static inline void kiln_sgemm_sse2_row(float *c, kiln_f32x4 v0, kiln_f32x4 v1,
                                       const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x4 v[2] = {v0, v1};
    kiln_sgemm_f32x4_row(c, v, 2, ep, bias, flags);
}

/* c[mr x nr] (row stride ldc) gets the epilogue of a[6 x kc] * b[kc x 8]
 * (packed panels); mr <= 6, nr <= 8, the rest of the tile is dropped.
 * Every accumulator is its own variable, the rows written out: compilers
 * keep arrays of vectors in memory. */
static inline void kiln_sgemm_sse2_6x8(int kc, const float *restrict a, const float *restrict b,
                                       float *restrict c, ptrdiff_t ldc, int mr, int nr,
                                       const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x4 c00 = kiln_f32x4_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x4 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++) {
        const kiln_f32x4 b0 = kiln_f32x4_load(b), b1 = kiln_f32x4_load(b + 4);
        kiln_f32x4 ai = kiln_f32x4_bcast(a);
        c00 = kiln_f32x4_fma(ai, b0, c00);
        c01 = kiln_f32x4_fma(ai, b1, c01);
        ai = kiln_f32x4_bcast(a + 1);
        c10 = kiln_f32x4_fma(ai, b0, c10);
        c11 = kiln_f32x4_fma(ai, b1, c11);
        ai = kiln_f32x4_bcast(a + 2);
        c20 = kiln_f32x4_fma(ai, b0, c20);
        c21 = kiln_f32x4_fma(ai, b1, c21);
        ai = kiln_f32x4_bcast(a + 3);
        c30 = kiln_f32x4_fma(ai, b0, c30);
        c31 = kiln_f32x4_fma(ai, b1, c31);
        ai = kiln_f32x4_bcast(a + 4);
        c40 = kiln_f32x4_fma(ai, b0, c40);
        c41 = kiln_f32x4_fma(ai, b1, c41);
        ai = kiln_f32x4_bcast(a + 5);
        c50 = kiln_f32x4_fma(ai, b0, c50);
        c51 = kiln_f32x4_fma(ai, b1, c51);
        a += 6;
        b += 8;
    }
    const kiln_f32x4 v[6 * 2] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (nr == 8) { /* whole rows, also on the last row tile */
        for (int i = 0; i < mr; i++)
            kiln_sgemm_sse2_row(c + i * ldc, v[2 * i], v[2 * i + 1], ep,
                                bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    /* a tile cut by the last columns: the whole tile into t, then the part
     * that exists */
    float t[6 * 8];
    for (int i = 0; i < 6 * 2; i++)
        kiln_f32x4_store(t + 4 * i, v[i]);
    kiln_sgemm_store_edge(t, 8, c, ldc, mr, nr, ep, bias, flags);
}

/* One row: c[1 x nr] from row 0 of a packed A panel (stride 6) and a B
 * panel, for batch-1 layers, where the 6x8 kernel would compute 5 rows
 * of padding. Four k steps in flight (8 accumulators) hide the latency
 * that one row's 2 accumulators would expose. */
static inline void kiln_sgemm_sse2_1x8(int kc, const float *restrict a, const float *restrict b,
                                       float *restrict c, int nr, const kiln_sgemm_epi *ep,
                                       const float *bias, int flags)
{
    kiln_f32x4 s00 = kiln_f32x4_zero(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00;
    kiln_f32x4 s30 = s00, s31 = s00;
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        kiln_f32x4 ak = kiln_f32x4_bcast(a);
        s00 = kiln_f32x4_fma(ak, kiln_f32x4_load(b), s00);
        s01 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 4), s01);
        ak = kiln_f32x4_bcast(a + 6);
        s10 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 8), s10);
        s11 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 12), s11);
        ak = kiln_f32x4_bcast(a + 12);
        s20 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 16), s20);
        s21 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 20), s21);
        ak = kiln_f32x4_bcast(a + 18);
        s30 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 24), s30);
        s31 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 28), s31);
        a += 24;
        b += 32;
    }
    for (; k < kc; k++) {
        const kiln_f32x4 ak = kiln_f32x4_bcast(a);
        s00 = kiln_f32x4_fma(ak, kiln_f32x4_load(b), s00);
        s01 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 4), s01);
        a += 6;
        b += 8;
    }
    const kiln_f32x4 v0 = kiln_f32x4_add(kiln_f32x4_add(s00, s10),
                                          kiln_f32x4_add(s20, s30));
    const kiln_f32x4 v1 = kiln_f32x4_add(kiln_f32x4_add(s01, s11),
                                          kiln_f32x4_add(s21, s31));
    if (nr == 8) {
        kiln_sgemm_sse2_row(c, v0, v1, ep, bias, flags);
        return;
    }
    float t[8];
    kiln_f32x4_store(t, v0);
    kiln_f32x4_store(t + 4, v1);
    kiln_sgemm_store_edge(t, 8, c, 0, 1, nr, ep, bias, flags);
}

/* One cache block: c[mc x nc] (row stride ldc) from the packed A panels at
 * pa (panel stride pa_ps) and B panels at pb (panel stride pb_ps), over kc.
 * B's panel stays in L1 while the A panels stream past it. */
static inline void kiln_sgemm_sse2_block(int mc, int nc, int kc, const float *pa, ptrdiff_t pa_ps,
                                         const float *pb, ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                                         const kiln_sgemm_epi *ep, int flags)
{
    for (int j = 0; j < nc; j += 8) {
        const int nr = nc - j < 8 ? nc - j : 8;
        const float *b = pb + (j / 8) * pb_ps;
        for (int i = 0; i < mc; i += 6) {
            const int mr = mc - i < 6 ? mc - i : 6;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            const float *a = pa + (i / 6) * pa_ps;
            if (mr == 1)
                kiln_sgemm_sse2_1x8(kc, a, b, c + i * ldc + j, nr, ep, bias, flags);
            else
                kiln_sgemm_sse2_6x8(kc, a, b, c + i * ldc + j, ldc, mr, nr, ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

#endif
