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
 * dy [na, p] with p >= oh * w a multiple of the vector lanes (4, 8 or 16)
 * and zeros past the real columns, tap t = (ci, r, s) of the kernel reads
 * xp at off(t) + j for output j:
 *   dw[a, t] += sum over j < p of dy[a * p + j] * xp[off(t) + j]
 * (off(t) = ci*h*w + r*dh*w + s*dw): a dot product of two contiguous runs
 * per (a, t), computed in blocks of 2 outputs x 4 taps so that each load
 * feeds two or four multiply-adds, over `images` images at once (image i's
 * dy and xp at i * ds and i * xs) so that one reduction of the vector
 * accumulators serves them all. The xp reads run up to (kw - 1) * dw + p -
 * oh * w floats past each image, as the forward packer's. */

/* The offset in xp of tap t = (ci, r, s). */
static inline int kiln_wgrad_off(const kiln_conv_geom *g, int t)
{
    const int ksz = g->kh * g->kw, r = (t / g->kw) % g->kh, s = t % g->kw;
    return (t / ksz) * g->h * g->w + r * g->dh * g->w + s * g->dw;
}

/* One pair's dot product over the images (the blocks' remainders). */
static inline float kiln_wgrad_dot(int p, int images, ptrdiff_t ds, ptrdiff_t xs,
                                   const float *d, const float *x)
{
    kiln_f32x4 acc = kiln_f32x4_zero();
    for (int i = 0; i < images; i++, d += ds, x += xs)
        for (int j = 0; j < p; j += 4)
            acc = kiln_f32x4_fma(kiln_f32x4_load(d + j), kiln_f32x4_load(x + j), acc);
    return kiln_f32x4_hsum(acc);
}

/* Outputs a, a + 1 (rows d0, d1 of dy) and the four taps at x0..x3 on
 * 4-lane vectors, over the images: w0[0..4) and w1[0..4) += the eight
 * dot products. The accumulators are spelled out so that they stay in
 * registers. */
static inline void kiln_wgrad_block2x4(int p, int images, ptrdiff_t ds, ptrdiff_t xs,
                                       const float *d0, const float *d1, const float *x0,
                                       const float *x1, const float *x2, const float *x3,
                                       float *restrict w0, float *restrict w1)
{
    kiln_f32x4 c00 = kiln_f32x4_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x4 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    for (int i = 0; i < images; i++) {
        const ptrdiff_t od = i * ds, ox = i * xs;
        for (int j = 0; j < p; j += 4) {
            const kiln_f32x4 a0 = kiln_f32x4_load(d0 + od + j), a1 = kiln_f32x4_load(d1 + od + j);
            kiln_f32x4 v = kiln_f32x4_load(x0 + ox + j);
            c00 = kiln_f32x4_fma(a0, v, c00);
            c10 = kiln_f32x4_fma(a1, v, c10);
            v = kiln_f32x4_load(x1 + ox + j);
            c01 = kiln_f32x4_fma(a0, v, c01);
            c11 = kiln_f32x4_fma(a1, v, c11);
            v = kiln_f32x4_load(x2 + ox + j);
            c02 = kiln_f32x4_fma(a0, v, c02);
            c12 = kiln_f32x4_fma(a1, v, c12);
            v = kiln_f32x4_load(x3 + ox + j);
            c03 = kiln_f32x4_fma(a0, v, c03);
            c13 = kiln_f32x4_fma(a1, v, c13);
        }
    }
    w0[0] += kiln_f32x4_hsum(c00);
    w0[1] += kiln_f32x4_hsum(c01);
    w0[2] += kiln_f32x4_hsum(c02);
    w0[3] += kiln_f32x4_hsum(c03);
    w1[0] += kiln_f32x4_hsum(c10);
    w1[1] += kiln_f32x4_hsum(c11);
    w1[2] += kiln_f32x4_hsum(c12);
    w1[3] += kiln_f32x4_hsum(c13);
}

/* dw [na, nt] += the images' dy [na, p] x (the taps' runs of xp)^T, nt =
 * c*kh*kw, p a multiple of 4 (kiln_simd's 4-lane vectors: every target). */
static inline void kiln_conv_wgrad_wide(int na, int p, int images, ptrdiff_t ds,
                                        ptrdiff_t xs, const float *dy, const float *xp,
                                        const kiln_conv_geom *g, float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4(p, images, ds, xs, dy + (ptrdiff_t)a * p,
                                   dy + (ptrdiff_t)(a + 1) * p, x[0], x[1], x[2], x[3],
                                   dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] +=
                    kiln_wgrad_dot(p, images, ds, xs, dy + (ptrdiff_t)a * p, x[q]);
    }
}

#ifdef KILN_SIMD_HAS_AVX2
/* Outputs a, a + 1 (rows d0, d1 of dy) and the four taps at x0..x3 on
 * 8-lane vectors, over the images: w0[0..4) and w1[0..4) += the eight
 * dot products. The accumulators are spelled out so that they stay in
 * registers. */
static inline KILN_TARGET_AVX2 void kiln_wgrad_block2x4_avx2(int p, int images, ptrdiff_t ds, ptrdiff_t xs,
                                       const float *d0, const float *d1, const float *x0,
                                       const float *x1, const float *x2, const float *x3,
                                       float *restrict w0, float *restrict w1)
{
    kiln_f32x8 c00 = kiln_f32x8_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x8 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    for (int i = 0; i < images; i++) {
        const ptrdiff_t od = i * ds, ox = i * xs;
        for (int j = 0; j < p; j += 8) {
            const kiln_f32x8 a0 = kiln_f32x8_load(d0 + od + j), a1 = kiln_f32x8_load(d1 + od + j);
            kiln_f32x8 v = kiln_f32x8_load(x0 + ox + j);
            c00 = kiln_f32x8_fma(a0, v, c00);
            c10 = kiln_f32x8_fma(a1, v, c10);
            v = kiln_f32x8_load(x1 + ox + j);
            c01 = kiln_f32x8_fma(a0, v, c01);
            c11 = kiln_f32x8_fma(a1, v, c11);
            v = kiln_f32x8_load(x2 + ox + j);
            c02 = kiln_f32x8_fma(a0, v, c02);
            c12 = kiln_f32x8_fma(a1, v, c12);
            v = kiln_f32x8_load(x3 + ox + j);
            c03 = kiln_f32x8_fma(a0, v, c03);
            c13 = kiln_f32x8_fma(a1, v, c13);
        }
    }
    w0[0] += kiln_f32x8_hsum(c00);
    w0[1] += kiln_f32x8_hsum(c01);
    w0[2] += kiln_f32x8_hsum(c02);
    w0[3] += kiln_f32x8_hsum(c03);
    w1[0] += kiln_f32x8_hsum(c10);
    w1[1] += kiln_f32x8_hsum(c11);
    w1[2] += kiln_f32x8_hsum(c12);
    w1[3] += kiln_f32x8_hsum(c13);
}

/* kiln_conv_wgrad_wide on 8-lane vectors, p a multiple of 8 (target
 * x86-64-v3). */
static inline KILN_TARGET_AVX2 void kiln_conv_wgrad_wide_avx2(int na, int p, int images, ptrdiff_t ds,
                                        ptrdiff_t xs, const float *dy, const float *xp,
                                        const kiln_conv_geom *g, float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4_avx2(p, images, ds, xs, dy + (ptrdiff_t)a * p,
                                   dy + (ptrdiff_t)(a + 1) * p, x[0], x[1], x[2], x[3],
                                   dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] +=
                    kiln_wgrad_dot(p, images, ds, xs, dy + (ptrdiff_t)a * p, x[q]);
    }
}
#endif

#ifdef KILN_SIMD_HAS_AVX512
/* Outputs a, a + 1 (rows d0, d1 of dy) and the four taps at x0..x3 on
 * 16-lane vectors, over the images: w0[0..4) and w1[0..4) += the eight
 * dot products. The accumulators are spelled out so that they stay in
 * registers. */
static inline KILN_TARGET_AVX512 void kiln_wgrad_block2x4_avx512(int p, int images, ptrdiff_t ds, ptrdiff_t xs,
                                       const float *d0, const float *d1, const float *x0,
                                       const float *x1, const float *x2, const float *x3,
                                       float *restrict w0, float *restrict w1)
{
    kiln_f32x16 c00 = kiln_f32x16_zero(), c01 = c00, c02 = c00, c03 = c00;
    kiln_f32x16 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    for (int i = 0; i < images; i++) {
        const ptrdiff_t od = i * ds, ox = i * xs;
        for (int j = 0; j < p; j += 16) {
            const kiln_f32x16 a0 = kiln_f32x16_load(d0 + od + j), a1 = kiln_f32x16_load(d1 + od + j);
            kiln_f32x16 v = kiln_f32x16_load(x0 + ox + j);
            c00 = kiln_f32x16_fma(a0, v, c00);
            c10 = kiln_f32x16_fma(a1, v, c10);
            v = kiln_f32x16_load(x1 + ox + j);
            c01 = kiln_f32x16_fma(a0, v, c01);
            c11 = kiln_f32x16_fma(a1, v, c11);
            v = kiln_f32x16_load(x2 + ox + j);
            c02 = kiln_f32x16_fma(a0, v, c02);
            c12 = kiln_f32x16_fma(a1, v, c12);
            v = kiln_f32x16_load(x3 + ox + j);
            c03 = kiln_f32x16_fma(a0, v, c03);
            c13 = kiln_f32x16_fma(a1, v, c13);
        }
    }
    w0[0] += kiln_f32x16_hsum(c00);
    w0[1] += kiln_f32x16_hsum(c01);
    w0[2] += kiln_f32x16_hsum(c02);
    w0[3] += kiln_f32x16_hsum(c03);
    w1[0] += kiln_f32x16_hsum(c10);
    w1[1] += kiln_f32x16_hsum(c11);
    w1[2] += kiln_f32x16_hsum(c12);
    w1[3] += kiln_f32x16_hsum(c13);
}

/* kiln_conv_wgrad_wide on 16-lane vectors, p a multiple of 16 (target
 * x86-64-v4). */
static inline KILN_TARGET_AVX512 void kiln_conv_wgrad_wide_avx512(int na, int p, int images, ptrdiff_t ds,
                                        ptrdiff_t xs, const float *dy, const float *xp,
                                        const kiln_conv_geom *g, float *restrict dw)
{
    const int nt = g->c * g->kh * g->kw;
    for (int t = 0; t < nt; t += 4) {
        const float *x[4];
        const int tn = nt - t < 4 ? nt - t : 4;
        for (int q = 0; q < tn; q++)
            x[q] = xp + kiln_wgrad_off(g, t + q);
        int a = 0;
        for (; tn == 4 && a + 2 <= na; a += 2)
            kiln_wgrad_block2x4_avx512(p, images, ds, xs, dy + (ptrdiff_t)a * p,
                                   dy + (ptrdiff_t)(a + 1) * p, x[0], x[1], x[2], x[3],
                                   dw + (ptrdiff_t)a * nt + t, dw + (ptrdiff_t)(a + 1) * nt + t);
        for (; a < na; a++)
            for (int q = 0; q < tn; q++)
                dw[(ptrdiff_t)a * nt + t + q] +=
                    kiln_wgrad_dot(p, images, ds, xs, dy + (ptrdiff_t)a * p, x[q]);
    }
}
#endif

#endif
