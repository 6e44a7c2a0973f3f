/* kiln_gemm_avx512.h — the AVX-512F single-precision GEMM micro-kernels
 * (target x86-64-v4): a 14x32 register-blocked kernel (28 accumulators of 16
 * lanes, two B vectors, A broadcast straight from memory: 30 of the 32 zmm
 * registers) on packed panels, a 1x32 kernel for single rows (batch-1
 * layers), and the block routine that walks a packed block in tiles. The
 * generated code prints the cache-blocked loops around kiln_sgemm_avx512_block. */
#ifndef KILN_GEMM_AVX512_H
#define KILN_GEMM_AVX512_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

#ifndef KILN_SIMD_HAS_AVX512
#error "this code was generated for x86-64-v4 (AVX-512F); regenerate it with --target generic"
#endif

#define KILN_SGEMM_AVX512_MR 14
#define KILN_SGEMM_AVX512_NR 32

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
    if ((flags & KILN_SGEMM_LAST) && ep->relu) {
        v0 = kiln_f32x16_max(kiln_f32x16_zero(), v0);
        v1 = kiln_f32x16_max(kiln_f32x16_zero(), v1);
    }
    kiln_f32x16_store(c, v0);
    kiln_f32x16_store(c + 16, v1);
}

/* c[mr x nr] (row stride ldc) gets the epilogue of a[14 x kc] * b[kc x 32]
 * (packed panels); mr <= 14, nr <= 32, the rest of the tile is dropped.
 * Every accumulator is its own variable, the rows written out: gcc and
 * clang keep arrays of vectors in memory. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_14x32(int kc, const float *restrict a, const float *restrict b,
                        float *restrict c, ptrdiff_t ldc, int mr, int nr,
                        const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    kiln_f32x16 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    kiln_f32x16 c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00, c90 = c00, c91 = c00;
    kiln_f32x16 ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00, cc0 = c00, cc1 = c00, cd0 = c00;
    kiln_f32x16 cd1 = c00;
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
        ai = kiln_f32x16_bcast(a + 8);
        c80 = kiln_f32x16_fma(ai, b0, c80);
        c81 = kiln_f32x16_fma(ai, b1, c81);
        ai = kiln_f32x16_bcast(a + 9);
        c90 = kiln_f32x16_fma(ai, b0, c90);
        c91 = kiln_f32x16_fma(ai, b1, c91);
        ai = kiln_f32x16_bcast(a + 10);
        ca0 = kiln_f32x16_fma(ai, b0, ca0);
        ca1 = kiln_f32x16_fma(ai, b1, ca1);
        ai = kiln_f32x16_bcast(a + 11);
        cb0 = kiln_f32x16_fma(ai, b0, cb0);
        cb1 = kiln_f32x16_fma(ai, b1, cb1);
        ai = kiln_f32x16_bcast(a + 12);
        cc0 = kiln_f32x16_fma(ai, b0, cc0);
        cc1 = kiln_f32x16_fma(ai, b1, cc1);
        ai = kiln_f32x16_bcast(a + 13);
        cd0 = kiln_f32x16_fma(ai, b0, cd0);
        cd1 = kiln_f32x16_fma(ai, b1, cd1);
        a += 14;
        b += 32;
    }
    const kiln_f32x16 v[2 * 14] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41,
                                   c50, c51, c60, c61, c70, c71, c80, c81, c90, c91,
                                   ca0, ca1, cb0, cb1, cc0, cc1, cd0, cd1};
    if (nr == 32) { /* whole rows, also on the last row tile */
        for (int i = 0; i < mr; i++)
            kiln_sgemm_avx512_row(c + i * ldc, v[2 * i], v[2 * i + 1], ep,
                                  bias ? bias + i * ep->bias_rs : bias, flags);
        return;
    }
    /* a tile cut by the last columns: the whole tile into t, then the part
     * that exists */
    float t[14 * 32];
    for (int i = 0; i < 14; i++) {
        kiln_f32x16_store(t + i * 32, v[2 * i]);
        kiln_f32x16_store(t + i * 32 + 16, v[2 * i + 1]);
    }
    kiln_sgemm_store_edge(t, 32, c, ldc, mr, nr, ep, bias, flags);
}

/* One row: c[1 x nr] from row 0 of a packed A panel (stride 14) and a B
 * panel. Four k steps in flight (8 accumulators) hide the FMA latency that
 * one row's two accumulators would expose. */
static inline KILN_TARGET_AVX512 void
kiln_sgemm_avx512_1x32(int kc, const float *restrict a, const float *restrict b,
                       float *restrict c, int nr, const kiln_sgemm_epi *ep, const float *bias,
                       int flags)
{
    const int s = KILN_SGEMM_AVX512_MR;
    kiln_f32x16 s0[4], s1[4];
    for (int u = 0; u < 4; u++)
        s0[u] = s1[u] = kiln_f32x16_zero();
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        for (int u = 0; u < 4; u++) {
            const kiln_f32x16 ak = kiln_f32x16_bcast(a + u * s);
            s0[u] = kiln_f32x16_fma(ak, kiln_f32x16_load(b + u * 32), s0[u]);
            s1[u] = kiln_f32x16_fma(ak, kiln_f32x16_load(b + u * 32 + 16), s1[u]);
        }
        a += 4 * s;
        b += 4 * 32;
    }
    for (; k < kc; k++) {
        const kiln_f32x16 ak = kiln_f32x16_bcast(a);
        s0[0] = kiln_f32x16_fma(ak, kiln_f32x16_load(b), s0[0]);
        s1[0] = kiln_f32x16_fma(ak, kiln_f32x16_load(b + 16), s1[0]);
        a += s;
        b += 32;
    }
    kiln_f32x16 v0 = kiln_f32x16_add(kiln_f32x16_add(s0[0], s0[1]), kiln_f32x16_add(s0[2], s0[3]));
    kiln_f32x16 v1 = kiln_f32x16_add(kiln_f32x16_add(s1[0], s1[1]), kiln_f32x16_add(s1[2], s1[3]));
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
                kiln_sgemm_avx512_14x32(kc, a, b, c + i * ldc + j, ldc, mr, nr, ep, bias, flags);
        }
    }
}

#endif
