/* kiln_gemm_generic.h — the portable single-precision GEMM micro-kernel
 * (target generic): plain C99 on the same packed panels as the SIMD
 * kernels, written so that a compiler at -O2 keeps the 6x4 tile in vector
 * registers (SSE2 on x86-64, NEON on aarch64) without intrinsics. */
#ifndef KILN_GEMM_GENERIC_H
#define KILN_GEMM_GENERIC_H

#include "kiln_gemm.h"

#define KILN_SGEMM_GENERIC_MR 6
#define KILN_SGEMM_GENERIC_NR 4

/* c[mr x nr] (row stride ldc) gets the epilogue of a[6 x kc] * b[kc x 4]
 * (packed panels); mr <= 6, nr <= 4. One 4-float row per accumulator and
 * the rows written out: at -O2 without -march, gcc and clang keep each row
 * in one SSE2 / NEON register (a loop over rows would stay in memory). */
static inline void kiln_sgemm_generic_6x4(int kc, const float *restrict a,
                                          const float *restrict b, float *restrict c,
                                          ptrdiff_t ldc, int mr, int nr,
                                          const kiln_sgemm_epi *ep, const float *bias, int flags)
{
    float t0[4] = {0}, t1[4] = {0}, t2[4] = {0}, t3[4] = {0}, t4[4] = {0}, t5[4] = {0};
    for (int k = 0; k < kc; k++) {
        const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
        for (int j = 0; j < 4; j++) {
            const float bj = b[j];
            t0[j] += a0 * bj;
            t1[j] += a1 * bj;
            t2[j] += a2 * bj;
            t3[j] += a3 * bj;
            t4[j] += a4 * bj;
            t5[j] += a5 * bj;
        }
        a += 6;
        b += 4;
    }
    float t[6 * 4];
    for (int j = 0; j < 4; j++) {
        t[j] = t0[j];
        t[4 + j] = t1[j];
        t[8 + j] = t2[j];
        t[12 + j] = t3[j];
        t[16 + j] = t4[j];
        t[20 + j] = t5[j];
    }
    kiln_sgemm_store_edge(t, 4, c, ldc, mr, nr, ep, bias, flags);
}

/* One cache block: c[mc x nc] (row stride ldc) from the packed A panels at
 * pa (panel stride pa_ps) and B panels at pb (panel stride pb_ps), over kc. */
static inline void kiln_sgemm_generic_block(int mc, int nc, int kc, const float *pa,
                                            ptrdiff_t pa_ps, const float *pb, ptrdiff_t pb_ps,
                                            float *c, ptrdiff_t ldc, const kiln_sgemm_epi *ep,
                                            int flags)
{
    for (int j = 0; j < nc; j += 4) {
        const int nr = nc - j < 4 ? nc - j : 4;
        const float *b = pb + (j / 4) * pb_ps;
        for (int i = 0; i < mc; i += 6) {
            const int mr = mc - i < 6 ? mc - i : 6;
            const float *bias = ep->bias ? ep->bias + i * ep->bias_rs + j * ep->bias_cs : NULL;
            kiln_sgemm_generic_6x4(kc, pa + (i / 6) * pa_ps, b, c + i * ldc + j, ldc, mr, nr, ep,
                                   bias, flags);
            if ((flags & KILN_SGEMM_LAST) && ep->mask) /* a fused Relu gradient */
                kiln_sgemm_mask_tile(c + i * ldc + j, ldc, mr, nr, ep, i, j);
        }
    }
}

#endif
