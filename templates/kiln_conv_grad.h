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

#endif
