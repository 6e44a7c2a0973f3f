/* kiln_gemm_neon.h — the NEON single-precision GEMM micro-kernel (target
 * aarch64): an 8x12 register-blocked kernel (24 accumulators of 4 lanes,
 * three B vectors and a broadcast: 28 of the 32 vector registers) on packed
 * panels, through kiln_simd.h's kiln_f32x4 (vfmaq_f32, one rounding), a
 * 1x12 kernel for single rows (batch-1 layers), and the block routine that
 * walks a packed block in tiles. No CPU check: NEON is part of the aarch64
 * baseline. */
#ifndef KILN_GEMM_NEON_H
#define KILN_GEMM_NEON_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

#ifndef KILN_SIMD_NEON
#error "this code was generated for aarch64 (NEON); regenerate it with --target generic"
#endif

#define KILN_SGEMM_NEON_MR 8
#define KILN_SGEMM_NEON_NR 12

/* Row i of a tile 12 wide: c[0..12) = epilogue(v0..v2). */
static inline void kiln_sgemm_neon_row(float *c, kiln_f32x4 v0, kiln_f32x4 v1, kiln_f32x4 v2,
                                       const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x4 v[3] = {v0, v1, v2};
    kiln_sgemm_f32x4_row(c, v, 3, ep, bias, flags);
}

/* c[mr x nr] (row stride ldc) gets the epilogue of a[8 x kc] * b[kc x 12]
 * (packed panels); mr <= 8, nr <= 12, the rest of the tile is dropped.
 * Every accumulator is its own variable, the rows written out: compilers
 * keep arrays of vectors in memory. */
static inline void kiln_sgemm_neon_8x12(int kc, const float *restrict a, const float *restrict b,
                                        float *restrict c, ptrdiff_t ldc, int mr, int nr,
                                        const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x4 c00 = kiln_f32x4_zero(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    kiln_f32x4 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00;
    kiln_f32x4 c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00, c60 = c00, c61 = c00;
    kiln_f32x4 c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (int k = 0; k < kc; k++) {
        const kiln_f32x4 b0 = kiln_f32x4_load(b), b1 = kiln_f32x4_load(b + 4);
        const kiln_f32x4 b2 = kiln_f32x4_load(b + 8);
        kiln_f32x4 ai = kiln_f32x4_bcast(a);
        c00 = kiln_f32x4_fma(ai, b0, c00);
        c01 = kiln_f32x4_fma(ai, b1, c01);
        c02 = kiln_f32x4_fma(ai, b2, c02);
        ai = kiln_f32x4_bcast(a + 1);
        c10 = kiln_f32x4_fma(ai, b0, c10);
        c11 = kiln_f32x4_fma(ai, b1, c11);
        c12 = kiln_f32x4_fma(ai, b2, c12);
        ai = kiln_f32x4_bcast(a + 2);
        c20 = kiln_f32x4_fma(ai, b0, c20);
        c21 = kiln_f32x4_fma(ai, b1, c21);
        c22 = kiln_f32x4_fma(ai, b2, c22);
        ai = kiln_f32x4_bcast(a + 3);
        c30 = kiln_f32x4_fma(ai, b0, c30);
        c31 = kiln_f32x4_fma(ai, b1, c31);
        c32 = kiln_f32x4_fma(ai, b2, c32);
        ai = kiln_f32x4_bcast(a + 4);
        c40 = kiln_f32x4_fma(ai, b0, c40);
        c41 = kiln_f32x4_fma(ai, b1, c41);
        c42 = kiln_f32x4_fma(ai, b2, c42);
        ai = kiln_f32x4_bcast(a + 5);
        c50 = kiln_f32x4_fma(ai, b0, c50);
        c51 = kiln_f32x4_fma(ai, b1, c51);
        c52 = kiln_f32x4_fma(ai, b2, c52);
        ai = kiln_f32x4_bcast(a + 6);
        c60 = kiln_f32x4_fma(ai, b0, c60);
        c61 = kiln_f32x4_fma(ai, b1, c61);
        c62 = kiln_f32x4_fma(ai, b2, c62);
        ai = kiln_f32x4_bcast(a + 7);
        c70 = kiln_f32x4_fma(ai, b0, c70);
        c71 = kiln_f32x4_fma(ai, b1, c71);
        c72 = kiln_f32x4_fma(ai, b2, c72);
        a += 8;
        b += 12;
    }
    const kiln_f32x4 v[8 * 3] = {c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32, c40,
                                 c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72};
    if (nr == 12) { /* whole rows, also on the last row tile */
        for (int i = 0; i < mr; i++)
            kiln_sgemm_neon_row(c + i * ldc, v[3 * i], v[3 * i + 1], v[3 * i + 2], ep,
                                bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    /* a tile cut by the last columns: the whole tile into t, then the part
     * that exists */
    float t[8 * 12];
    for (int i = 0; i < 8 * 3; i++)
        kiln_f32x4_store(t + 4 * i, v[i]);
    kiln_sgemm_store_edge(t, 12, c, ldc, mr, nr, ep, bias, flags);
}

/* One row: c[1 x nr] from row 0 of a packed A panel (stride 8) and a B
 * panel, for batch-1 layers, where the 8x12 kernel would compute 7 rows
 * of padding. Four k steps in flight (12 accumulators) hide the latency
 * that one row's 3 accumulators would expose. */
static inline void kiln_sgemm_neon_1x12(int kc, const float *restrict a, const float *restrict b,
                                        float *restrict c, int nr, const kiln_sgemm_epi *ep,
                                        const float *bias, int flags)
{
    kiln_f32x4 s00 = kiln_f32x4_zero(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
    kiln_f32x4 s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        kiln_f32x4 ak = kiln_f32x4_bcast(a);
        s00 = kiln_f32x4_fma(ak, kiln_f32x4_load(b), s00);
        s01 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 4), s01);
        s02 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 8), s02);
        ak = kiln_f32x4_bcast(a + 8);
        s10 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 12), s10);
        s11 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 16), s11);
        s12 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 20), s12);
        ak = kiln_f32x4_bcast(a + 16);
        s20 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 24), s20);
        s21 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 28), s21);
        s22 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 32), s22);
        ak = kiln_f32x4_bcast(a + 24);
        s30 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 36), s30);
        s31 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 40), s31);
        s32 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 44), s32);
        a += 32;
        b += 48;
    }
    for (; k < kc; k++) {
        const kiln_f32x4 ak = kiln_f32x4_bcast(a);
        s00 = kiln_f32x4_fma(ak, kiln_f32x4_load(b), s00);
        s01 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 4), s01);
        s02 = kiln_f32x4_fma(ak, kiln_f32x4_load(b + 8), s02);
        a += 8;
        b += 12;
    }
    const kiln_f32x4 v0 = kiln_f32x4_add(kiln_f32x4_add(s00, s10),
                                          kiln_f32x4_add(s20, s30));
    const kiln_f32x4 v1 = kiln_f32x4_add(kiln_f32x4_add(s01, s11),
                                          kiln_f32x4_add(s21, s31));
    const kiln_f32x4 v2 = kiln_f32x4_add(kiln_f32x4_add(s02, s12),
                                          kiln_f32x4_add(s22, s32));
    if (nr == 12) {
        kiln_sgemm_neon_row(c, v0, v1, v2, ep, bias, flags);
        return;
    }
    float t[12];
    kiln_f32x4_store(t, v0);
    kiln_f32x4_store(t + 4, v1);
    kiln_f32x4_store(t + 8, v2);
    kiln_sgemm_store_edge(t, 12, c, 0, 1, nr, ep, bias, flags);
}

/* One cache block: c[mc x nc] (row stride ldc) from the packed A panels at
 * pa (panel stride pa_ps) and B panels at pb (panel stride pb_ps), over kc.
 * B's panel stays in L1 while the A panels stream past it. */
static inline void kiln_sgemm_neon_block(int mc, int nc, int kc, const float *pa, ptrdiff_t pa_ps,
                                         const float *pb, ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                                         const kiln_sgemm_epi *ep, int flags)
{
    for (int j = 0; j < nc; j += 12) {
        const int nr = nc - j < 12 ? nc - j : 12;
        const float *b = pb + (j / 12) * pb_ps;
        for (int i = 0; i < mc; i += 8) {
            const int mr = mc - i < 8 ? mc - i : 8;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            const float *a = pa + (i / 8) * pa_ps;
            if (mr == 1)
                kiln_sgemm_neon_1x12(kc, a, b, c + i * ldc + j, nr, ep, bias, flags);
            else
                kiln_sgemm_neon_8x12(kc, a, b, c + i * ldc + j, ldc, mr, nr, ep, bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

#endif
