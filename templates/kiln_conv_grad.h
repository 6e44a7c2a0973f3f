/* kiln_conv_grad.h — packing for the convolution weight gradient as a GEMM
 * (compiler/emit/k_train_conv.c): dW [M, C*kh*kw] += dY [M, oh*ow] x
 * im2col(X)^T, whose B operand, the transposed im2col matrix, is gathered
 * here straight from the image into the micro-kernels' B panels (layout in
 * kiln_gemm.h). Shipped beside generated code; works for every target. */
#ifndef KILN_CONV_GRAD_H
#define KILN_CONV_GRAD_H

#include "kiln_gemm.h"

/* Packs rows [k0, k0 + kc) and columns [j0, j0 + nc) of B = im2col(x)^T
 * [oh*ow, c*kh*kw] into panels of nr columns (panel stride kc * nr), zeros
 * past column nc: B(k, j) with k = (oy, ox) and j = (ci, r, s) is
 * x[ci, oy*sh - ph + r*dh, ox*sw - pw + s*dw], 0 outside the image. Each
 * column is filled by runs along one output row: zeros, a strided copy,
 * zeros (as kiln_sgemm_pack_b_conv fills rows). */
static inline void kiln_sgemm_pack_b_conv_t(int nr, int kc, int nc, int k0, int j0,
                                            const float *restrict x, const kiln_conv_geom *g,
                                            float *restrict pb)
{
    const int ksz = g->kh * g->kw, cols = (nc + nr - 1) / nr * nr;
    for (int jj = 0; jj < cols; jj++) {
        float *restrict d = pb + (ptrdiff_t)(jj / nr) * kc * nr + jj % nr;
        if (jj >= nc) {
            for (int kk = 0; kk < kc; kk++)
                d[(ptrdiff_t)kk * nr] = 0.0f;
            continue;
        }
        const int j = j0 + jj, r = (j / g->kw) % g->kh, s = j % g->kw;
        const float *restrict xc = x + (ptrdiff_t)(j / ksz) * g->h * g->w;
        int kk = 0;
        while (kk < kc) {
            const int pix = k0 + kk, oy = pix / g->ow, ox = pix % g->ow;
            const int run = g->ow - ox < kc - kk ? g->ow - ox : kc - kk;
            const int iy = oy * g->sh - g->ph + r * g->dh, ix = ox * g->sw - g->pw + s * g->dw;
            int lo = 0, hi = 0; /* taps t in [lo, hi) land inside the row */
            const float *restrict row = xc;
            if (iy >= 0 && iy < g->h && ix < g->w) {
                lo = ix >= 0 ? 0 : (-ix + g->sw - 1) / g->sw;
                hi = (g->w - 1 - ix) / g->sw + 1;
                hi = hi < run ? hi : run;
                lo = lo < hi ? lo : hi;
                row = xc + (ptrdiff_t)iy * g->w;
            }
            float *restrict dk = d + (ptrdiff_t)kk * nr;
            for (int t = 0; t < lo; t++)
                dk[(ptrdiff_t)t * nr] = 0.0f;
            for (int t = lo; t < hi; t++)
                dk[(ptrdiff_t)t * nr] = row[ix + t * g->sw];
            for (int t = hi; t < run; t++)
                dk[(ptrdiff_t)t * nr] = 0.0f;
            kk += run;
        }
    }
}

/* ---- the weight gradient of a stride-1 convolution on wide rows ----
 * With the image padded into xp [c, h, w] (g->h, g->w the padded sizes, as
 * for kiln_sgemm_pack_b_conv_wide) and dY laid out on the same wide rows,
 * dy [na, p] with p = oh * w and zeros in the columns past the real ones,
 * tap t = (ci, r, s) of the kernel reads xp at off(t) + j for output j:
 *   dw[a, t] += sum over j < p of dy[a * p + j] * xp[off(t) + j]
 * (off(t) = ci*h*w + r*dh*w + s*dw): a dot product of two contiguous runs
 * per (a, t), computed in blocks of 2 outputs x 4 taps so that each load
 * feeds two or four multiply-adds. The xp reads run up to (kw - 1) * dw
 * floats past the image, as the forward packer's. */

/* The offset in xp of tap t = (ci, r, s). */
static inline int kiln_wgrad_off(const kiln_conv_geom *g, int t)
{
    const int ksz = g->kh * g->kw, r = (t / g->kw) % g->kh, s = t % g->kw;
    return (t / ksz) * g->h * g->w + r * g->dh * g->w + s * g->dw;
}

/* dw[a, t] += dot(dy row a, xp + off(t)) over p, one pair: the blocks'
 * remainders. */
static inline float kiln_wgrad_dot(int p, const float *restrict d, const float *restrict x)
{
    kiln_f32x4 acc = kiln_f32x4_zero();
    int j = 0;
    for (; j + 4 <= p; j += 4)
        acc = kiln_f32x4_fma(kiln_f32x4_load(d + j), kiln_f32x4_load(x + j), acc);
    float sum = kiln_f32x4_hsum(acc);
    for (; j < p; j++)
        sum += d[j] * x[j];
    return sum;
}

/* Outputs a, a + 1 (rows d0, d1 of dy) and the four taps at x0..x3 on
 * 4-lane vectors: w0[0..4) and w1[0..4) += the eight dot products. The
 * accumulators are spelled out so that they stay in registers. */
static inline void kiln_wgrad_block2x4(int p, const float *restrict d0, const float *restrict d1,
                                       const float *x0, const float *x1, const float *x2,
                                       const float *x3, float *restrict w0, float *restrict w1)
{
    kiln_f32x4 c00 = kiln_f32x4_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x4 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int j = 0;
    for (; j + 4 <= p; j += 4) {
        const kiln_f32x4 a0 = kiln_f32x4_load(d0 + j), a1 = kiln_f32x4_load(d1 + j);
        kiln_f32x4 v = kiln_f32x4_load(x0 + j);
        c00 = kiln_f32x4_fma(a0, v, c00);
        c10 = kiln_f32x4_fma(a1, v, c10);
        v = kiln_f32x4_load(x1 + j);
        c01 = kiln_f32x4_fma(a0, v, c01);
        c11 = kiln_f32x4_fma(a1, v, c11);
        v = kiln_f32x4_load(x2 + j);
        c02 = kiln_f32x4_fma(a0, v, c02);
        c12 = kiln_f32x4_fma(a1, v, c12);
        v = kiln_f32x4_load(x3 + j);
        c03 = kiln_f32x4_fma(a0, v, c03);
        c13 = kiln_f32x4_fma(a1, v, c13);
    }
    w0[0] += kiln_f32x4_hsum(c00) + kiln_wgrad_dot(p - j, d0 + j, x0 + j);
    w0[1] += kiln_f32x4_hsum(c01) + kiln_wgrad_dot(p - j, d0 + j, x1 + j);
    w0[2] += kiln_f32x4_hsum(c02) + kiln_wgrad_dot(p - j, d0 + j, x2 + j);
    w0[3] += kiln_f32x4_hsum(c03) + kiln_wgrad_dot(p - j, d0 + j, x3 + j);
    w1[0] += kiln_f32x4_hsum(c10) + kiln_wgrad_dot(p - j, d1 + j, x0 + j);
    w1[1] += kiln_f32x4_hsum(c11) + kiln_wgrad_dot(p - j, d1 + j, x1 + j);
    w1[2] += kiln_f32x4_hsum(c12) + kiln_wgrad_dot(p - j, d1 + j, x2 + j);
    w1[3] += kiln_f32x4_hsum(c13) + kiln_wgrad_dot(p - j, d1 + j, x3 + j);
}

/* dw [na, nt] += dy [na, p] x (the taps' runs of xp)^T, nt = c*kh*kw. */
static inline void kiln_conv_wgrad_wide(int na, int p, const float *restrict dy,
                                        const float *restrict xp, const kiln_conv_geom *g,
                                        float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4(p, dy + (ptrdiff_t)a * p, dy + (ptrdiff_t)(a + 1) * p, x[0], x[1],
                                x[2], x[3], dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] += kiln_wgrad_dot(p, dy + (ptrdiff_t)a * p, x[q]);
    }
}

#ifdef KILN_SIMD_HAS_AVX2
/* kiln_wgrad_block2x4 on 8-lane vectors. */
static inline KILN_TARGET_AVX2 void kiln_wgrad_block2x4_avx2(int p, const float *restrict d0,
                                                             const float *restrict d1,
                                                             const float *x0, const float *x1,
                                                             const float *x2, const float *x3,
                                                             float *restrict w0,
                                                             float *restrict w1)
{
    kiln_f32x8 c00 = kiln_f32x8_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x8 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int j = 0;
    for (; j + 8 <= p; j += 8) {
        const kiln_f32x8 a0 = kiln_f32x8_load(d0 + j), a1 = kiln_f32x8_load(d1 + j);
        kiln_f32x8 v = kiln_f32x8_load(x0 + j);
        c00 = kiln_f32x8_fma(a0, v, c00);
        c10 = kiln_f32x8_fma(a1, v, c10);
        v = kiln_f32x8_load(x1 + j);
        c01 = kiln_f32x8_fma(a0, v, c01);
        c11 = kiln_f32x8_fma(a1, v, c11);
        v = kiln_f32x8_load(x2 + j);
        c02 = kiln_f32x8_fma(a0, v, c02);
        c12 = kiln_f32x8_fma(a1, v, c12);
        v = kiln_f32x8_load(x3 + j);
        c03 = kiln_f32x8_fma(a0, v, c03);
        c13 = kiln_f32x8_fma(a1, v, c13);
    }
    w0[0] += kiln_f32x8_hsum(c00) + kiln_wgrad_dot(p - j, d0 + j, x0 + j);
    w0[1] += kiln_f32x8_hsum(c01) + kiln_wgrad_dot(p - j, d0 + j, x1 + j);
    w0[2] += kiln_f32x8_hsum(c02) + kiln_wgrad_dot(p - j, d0 + j, x2 + j);
    w0[3] += kiln_f32x8_hsum(c03) + kiln_wgrad_dot(p - j, d0 + j, x3 + j);
    w1[0] += kiln_f32x8_hsum(c10) + kiln_wgrad_dot(p - j, d1 + j, x0 + j);
    w1[1] += kiln_f32x8_hsum(c11) + kiln_wgrad_dot(p - j, d1 + j, x1 + j);
    w1[2] += kiln_f32x8_hsum(c12) + kiln_wgrad_dot(p - j, d1 + j, x2 + j);
    w1[3] += kiln_f32x8_hsum(c13) + kiln_wgrad_dot(p - j, d1 + j, x3 + j);
}

/* kiln_conv_wgrad_wide with the 2x4 blocks on 8-lane vectors (target
 * x86-64-v3). */
static inline KILN_TARGET_AVX2 void kiln_conv_wgrad_wide_avx2(int na, int p,
                                                              const float *restrict dy,
                                                              const float *restrict xp,
                                                              const kiln_conv_geom *g,
                                                              float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4_avx2(p, dy + (ptrdiff_t)a * p, dy + (ptrdiff_t)(a + 1) * p,
                                     x[0], x[1], x[2], x[3], dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] += kiln_wgrad_dot(p, dy + (ptrdiff_t)a * p, x[q]);
    }
}
#endif

#ifdef KILN_SIMD_HAS_AVX512
/* kiln_wgrad_block2x4 on 16-lane vectors. */
static inline KILN_TARGET_AVX512 void kiln_wgrad_block2x4_avx512(int p, const float *restrict d0,
                                                             const float *restrict d1,
                                                             const float *x0, const float *x1,
                                                             const float *x2, const float *x3,
                                                             float *restrict w0,
                                                             float *restrict w1)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x16 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int j = 0;
    for (; j + 16 <= p; j += 16) {
        const kiln_f32x16 a0 = kiln_f32x16_load(d0 + j), a1 = kiln_f32x16_load(d1 + j);
        kiln_f32x16 v = kiln_f32x16_load(x0 + j);
        c00 = kiln_f32x16_fma(a0, v, c00);
        c10 = kiln_f32x16_fma(a1, v, c10);
        v = kiln_f32x16_load(x1 + j);
        c01 = kiln_f32x16_fma(a0, v, c01);
        c11 = kiln_f32x16_fma(a1, v, c11);
        v = kiln_f32x16_load(x2 + j);
        c02 = kiln_f32x16_fma(a0, v, c02);
        c12 = kiln_f32x16_fma(a1, v, c12);
        v = kiln_f32x16_load(x3 + j);
        c03 = kiln_f32x16_fma(a0, v, c03);
        c13 = kiln_f32x16_fma(a1, v, c13);
    }
    w0[0] += kiln_f32x16_hsum(c00) + kiln_wgrad_dot(p - j, d0 + j, x0 + j);
    w0[1] += kiln_f32x16_hsum(c01) + kiln_wgrad_dot(p - j, d0 + j, x1 + j);
    w0[2] += kiln_f32x16_hsum(c02) + kiln_wgrad_dot(p - j, d0 + j, x2 + j);
    w0[3] += kiln_f32x16_hsum(c03) + kiln_wgrad_dot(p - j, d0 + j, x3 + j);
    w1[0] += kiln_f32x16_hsum(c10) + kiln_wgrad_dot(p - j, d1 + j, x0 + j);
    w1[1] += kiln_f32x16_hsum(c11) + kiln_wgrad_dot(p - j, d1 + j, x1 + j);
    w1[2] += kiln_f32x16_hsum(c12) + kiln_wgrad_dot(p - j, d1 + j, x2 + j);
    w1[3] += kiln_f32x16_hsum(c13) + kiln_wgrad_dot(p - j, d1 + j, x3 + j);
}

/* kiln_conv_wgrad_wide with the 2x4 blocks on 16-lane vectors (target
 * x86-64-v4). */
static inline KILN_TARGET_AVX512 void kiln_conv_wgrad_wide_avx512(int na, int p,
                                                              const float *restrict dy,
                                                              const float *restrict xp,
                                                              const kiln_conv_geom *g,
                                                              float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4_avx512(p, dy + (ptrdiff_t)a * p, dy + (ptrdiff_t)(a + 1) * p,
                                     x[0], x[1], x[2], x[3], dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] += kiln_wgrad_dot(p, dy + (ptrdiff_t)a * p, x[q]);
    }
}
#endif

#endif
