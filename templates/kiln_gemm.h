/* kiln_gemm.h — what every single-precision GEMM micro-kernel template
 * shares: the epilogue description, the packed panel layouts and the packing
 * routines. Shipped beside generated code; the ISA templates
 * (kiln_gemm_avx2.h, kiln_gemm_generic.h) include it.
 *
 * Packed layouts (compiler/sched/pack.c writes the same at compile time;
 * keep the two in step):
 *   A panels of MR rows:    pa[(i / MR) * ps + k * MR + i % MR]
 *   B panels of NR columns: pb[(j / NR) * ps + k * NR + j % NR]
 * with ps the panel stride (kc * MR or kc * NR for a packed block, K * MR
 * or K * NR for a whole pre-packed operand) and zeros past the last row or
 * column, so micro-kernels always compute whole tiles. */
#ifndef KILN_GEMM_H
#define KILN_GEMM_H

#include <math.h>
#include <stddef.h>

#include "kiln_simd.h"

/* What a micro-kernel does with its tile t = A * B (over one k block):
 *   first k block:  c = alpha * t + beta * bias   (bias NULL: no term)
 *   later blocks:   c = alpha * t + c
 *   last k block:   then c = act(c), one of the ONNX activations below
 *                   with act_alpha / act_beta as their attributes; then,
 *                   when mask is set, c = mask > 0 ? c : 0 (a Relu's
 *                   gradient, mask its input; kiln_sgemm_mask_tile)
 * bias is at the block's origin; bias[i * bias_rs + j * bias_cs] is its
 * value for row i, column j (strides 0 broadcast; bias_cs is 0 or 1); the
 * same for mask, with mask[i * mask_rs + j]. */
typedef struct kiln_sgemm_epi {
    float alpha, beta;
    const float *bias;
    ptrdiff_t bias_rs, bias_cs;
    int act;                   /* KILN_ACT_* */
    float act_alpha, act_beta; /* LeakyRelu: alpha; Clip: min, max */
    const float *mask;         /* NULL: none */
    ptrdiff_t mask_rs;
} kiln_sgemm_epi;

/* The activations a GEMM's epilogue applies (the ONNX ops of those names;
 * the same formulas as kiln's elementwise kernels, emit/k_elementwise.c). */
#define KILN_ACT_NONE 0
#define KILN_ACT_RELU 1      /* x > 0 ? x : 0 */
#define KILN_ACT_LEAKY 2     /* x >= 0 ? x : alpha * x */
#define KILN_ACT_CLIP 3      /* x < min ? min : x, then > max ? max : x */
#define KILN_ACT_SIGMOID 4   /* 1 / (1 + exp(-x)), without overflow */
#define KILN_ACT_TANH 5
#define KILN_ACT_HARDSWISH 6 /* x * max(0, min(1, x / 6 + 1 / 2)) */

/* One element's activation (the scalar path and the edge tiles). */
static inline float kiln_sgemm_act(float x, const kiln_sgemm_epi *ep)
{
    switch (ep->act) {
    case KILN_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case KILN_ACT_LEAKY: return x >= 0.0f ? x : ep->act_alpha * x;
    case KILN_ACT_CLIP:
        x = x < ep->act_alpha ? ep->act_alpha : x;
        return x > ep->act_beta ? ep->act_beta : x;
    case KILN_ACT_SIGMOID: return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case KILN_ACT_TANH: return tanhf(x);
    case KILN_ACT_HARDSWISH:
        return x * fmaxf(0.0f, fminf(1.0f, x * 0.166666672f + 0.5f));
    default: return x;
    }
}

#define KILN_SGEMM_FIRST 1 /* the first k block: start from the bias */
#define KILN_SGEMM_LAST 2  /* the last k block: apply the activation */

/* Packs rows [0, mc) and columns [0, kc) of A, whose element (i, k) is
 * a[i * rs + k * cs], into panels of mr rows (panel stride kc * mr). */
static inline void kiln_sgemm_pack_a(int mr, int mc, int kc, const float *restrict a,
                                     ptrdiff_t rs, ptrdiff_t cs, float *restrict pa)
{
    for (int i0 = 0; i0 < mc; i0 += mr) {
        const int rows = mc - i0 < mr ? mc - i0 : mr;
        float *restrict p = pa + (ptrdiff_t)i0 * kc;
        for (int k = 0; k < kc; k++) {
            for (int i = 0; i < rows; i++)
                p[k * mr + i] = a[(i0 + i) * rs + k * cs];
            for (int i = rows; i < mr; i++)
                p[k * mr + i] = 0.0f;
        }
    }
}

/* Packs rows [0, kc) and columns [0, nc) of B, whose element (k, j) is
 * b[k * rs + j * cs], into panels of nr columns (panel stride kc * nr). */
static inline void kiln_sgemm_pack_b(int nr, int kc, int nc, const float *restrict b,
                                     ptrdiff_t rs, ptrdiff_t cs, float *restrict pb)
{
    for (int j0 = 0; j0 < nc; j0 += nr) {
        const int cols = nc - j0 < nr ? nc - j0 : nr;
        float *restrict p = pb + (ptrdiff_t)j0 * kc;
        for (int k = 0; k < kc; k++) {
            const float *restrict row = b + k * rs + j0 * cs;
            if (cols == nr && cs == 1) {
                for (int j = 0; j < nr; j++)
                    p[k * nr + j] = row[j];
                continue;
            }
            for (int j = 0; j < cols; j++)
                p[k * nr + j] = row[j * cs];
            for (int j = cols; j < nr; j++)
                p[k * nr + j] = 0.0f;
        }
    }
}

/* The epilogue of one edge tile, computed into t (row stride ldt) and now
 * written to the mr x nr part of c that exists. Scalar, but at most one
 * tile per row or column of tiles. */
static inline void kiln_sgemm_store_edge(const float *t, int ldt, float *c, ptrdiff_t ldc, int mr,
                                         int nr, const kiln_sgemm_epi *ep, const float *bias,
                                         int flags)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float v = ep->alpha * t[i * ldt + j];
            if (!(flags & KILN_SGEMM_FIRST))
                v += c[i * ldc + j];
            else if (bias)
                v += ep->beta * bias[i * ep->bias_rs + j * ep->bias_cs];
            if (flags & KILN_SGEMM_LAST)
                v = kiln_sgemm_act(v, ep);
            c[i * ldc + j] = v;
        }
}

/* The mask of the mr x nr tile at row i, column j of the block, on c just
 * stored (still in L1): c = mask > 0 ? c : 0, as Relu's gradient (PyTorch's
 * convention: 0 at 0; NaN in the mask gives 0). */
static inline void kiln_sgemm_mask_tile(float *c, ptrdiff_t ldc, int mr, int nr,
                                        const kiln_sgemm_epi *ep, int i, int j)
{
    const float *m = ep->mask + i * ep->mask_rs + j;
    for (int r = 0; r < mr; r++) {
        float *restrict cr = c + r * ldc;
        const float *restrict mr_ = m + r * ep->mask_rs;
        int q = 0;
        for (; q + 16 <= nr; q += 16) /* groups gcc -O2 vectorizes (compare, and) at the */
            for (int l = 0; l < 16; l++) { /* width of the kernel's instruction set */
                const float v = cr[q + l];
                cr[q + l] = mr_[q + l] > 0.0f ? v : 0.0f;
            }
        for (; q + 4 <= nr; q += 4)
            for (int l = 0; l < 4; l++) {
                const float v = cr[q + l];
                cr[q + l] = mr_[q + l] > 0.0f ? v : 0.0f;
            }
        for (; q < nr; q++) {
            const float v = cr[q];
            cr[q] = mr_[q] > 0.0f ? v : 0.0f;
        }
    }
}

/* A 2-D convolution's geometry (1-D: h = kh = 1): input [c, h, w], kernel
 * [kh, kw], strides, dilations, top/left padding, output [oh, ow]. */
typedef struct kiln_conv_geom {
    int c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
} kiln_conv_geom;

/* Implicit GEMM: packs rows [k0, k0 + kc) and columns [j0, j0 + nc) of the
 * convolution's im2col matrix B [c*kh*kw, oh*ow] of image x straight from
 * the image (B is never built whole): B(k, j) with k = (ci, r, s) and
 * j = (oy, ox) is x[ci, oy*sh - ph + r*dh, ox*sw - pw + s*dw], 0 outside.
 * Each panel row is filled by runs along one output row: zeros, a strided
 * (for sw = 1 contiguous) copy, zeros. */
static inline void kiln_sgemm_pack_b_conv(int nr, int kc, int nc, int k0, int j0,
                                          const float *restrict x, const kiln_conv_geom *g,
                                          float *restrict pb)
{
    const int ksz = g->kh * g->kw;
    for (int p0 = 0; p0 < nc; p0 += nr) {
        const int cols = nc - p0 < nr ? nc - p0 : nr;
        for (int kk = 0; kk < kc; kk++) {
            const int k = k0 + kk, r = (k / g->kw) % g->kh, s = k % g->kw;
            const float *restrict xc = x + (ptrdiff_t)(k / ksz) * g->h * g->w;
            float *restrict d = pb + (ptrdiff_t)p0 * kc + (ptrdiff_t)kk * nr;
            int j = 0;
            while (j < cols) {
                const int pix = j0 + p0 + j, oy = pix / g->ow, ox = pix % g->ow;
                const int run = g->ow - ox < cols - j ? g->ow - ox : cols - j;
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
                for (int t = 0; t < lo; t++)
                    d[j + t] = 0.0f;
                if (g->sw == 1)
                    for (int t = lo; t < hi; t++)
                        d[j + t] = row[ix + t];
                else
                    for (int t = lo; t < hi; t++)
                        d[j + t] = row[ix + t * g->sw];
                for (int t = hi; t < run; t++)
                    d[j + t] = 0.0f;
                j += run;
            }
            for (; j < nr; j++)
                d[j] = 0.0f;
        }
    }
}

/* Implicit GEMM of a stride-1 convolution on a padded image ("wide"
 * output rows): xp is the image with its padding made explicit, [c, h, w]
 * with g->h, g->w the padded sizes, and the output is computed at every
 * j = oy * w + ox for ox < w, of which the ox < w - (kw - 1) * dw are the
 * convolution's and the rest are discarded by the caller. Then row k =
 * (ci, r, s) of B is contiguous in xp:
 *   B(k, j) = xp[ci*h*w + r*dh*w + s*dw + j]
 * so each panel row is one copy of nr floats. Packs rows [k0, k0 + kc)
 * and columns [j0, j0 + nc) into panels of nr columns, zeros past column
 * nc. Reads up to (kw - 1) * dw floats past the image, more when the
 * caller asks for columns past oh * w (only into discarded outputs): the
 * caller keeps them allocated. */
static inline void kiln_sgemm_pack_b_conv_wide(int nr, int kc, int nc, int k0, int j0,
                                               const float *restrict xp, const kiln_conv_geom *g,
                                               float *restrict pb)
{
    const int ksz = g->kh * g->kw;
    for (int kk = 0; kk < kc; kk++) {
        const int k = k0 + kk, r = (k / g->kw) % g->kh, s = k % g->kw;
        const float *restrict row =
            xp + (ptrdiff_t)(k / ksz) * g->h * g->w + r * g->dh * g->w + s * g->dw + j0;
        float *restrict d = pb + (ptrdiff_t)kk * nr;
        int p0 = 0;
        for (; p0 + nr <= nc; p0 += nr) /* whole panels: one contiguous copy each */
            for (int j = 0; j < nr; j++)
                d[(ptrdiff_t)p0 * kc + j] = row[p0 + j];
        if (p0 < nc) {
            float *restrict dl = d + (ptrdiff_t)p0 * kc;
            for (int j = 0; j < nc - p0; j++)
                dl[j] = row[p0 + j];
            for (int j = nc - p0; j < nr; j++)
                dl[j] = 0.0f;
        }
    }
}

/* The offsets in xp of rows [k0, k0 + kc) of the wide-row B above:
 * off[kk] = ci*h*w + r*dh*w + s*dw for k = k0 + kk = (ci, r, s), so that
 * B(k, j) = xp[off[k - k0] + j]. For micro-kernels that read B straight
 * from the padded image instead of packing it (AVX-512). */
static inline void kiln_conv_wide_offsets(int kc, int k0, const kiln_conv_geom *g,
                                          int *restrict off)
{
    const int ksz = g->kh * g->kw;
    for (int kk = 0; kk < kc; kk++) {
        const int k = k0 + kk, r = (k / g->kw) % g->kh, s = k % g->kw;
        off[kk] = (k / ksz) * g->h * g->w + r * g->dh * g->w + s * g->dw;
    }
}

/* d[0..n) += s[0..n) on 4-lane vectors (ConvTranspose's col2im adds each
 * tap's products into the output this way; compiler/emit/k_conv.c). */
static inline void kiln_add_run(int n, float *restrict d, const float *restrict s)
{
    int i = 0;
    for (; i + 4 <= n; i += 4)
        kiln_f32x4_store(d + i, kiln_f32x4_add(kiln_f32x4_load(d + i), kiln_f32x4_load(s + i)));
    for (; i < n; i++)
        d[i] += s[i];
}

/* Sigmoid or Tanh (act) on c[0..4 nv), a row just stored, on kiln_simd.h's
 * 4-lane functions (within 2.3 ulp); out of line so that the micro-kernels
 * inlining kiln_sgemm_f32x4_row per row stay small. */
static __attribute__((noinline, unused)) void kiln_sgemm_f32x4_act_row(float *c, int nv, int act)
{
    for (int j = 0; j < 4 * nv; j += 4) {
        const kiln_f32x4 v = kiln_f32x4_load(c + j);
        kiln_f32x4_store(c + j, act == KILN_ACT_SIGMOID ? kiln_f32x4_sigmoid(v) : kiln_f32x4_tanh(v));
    }
}

/* Row i of a tile nv * 4 wide on 4-lane vectors (the SSE2 and NEON
 * kernels): c[0..4 nv) = epilogue(v[0..nv)), ReLU in registers, Sigmoid
 * and Tanh (vectors) and the other activations (scalar) on the row just
 * stored. */
static inline void kiln_sgemm_f32x4_row(float *c, kiln_f32x4 *v, int nv, const kiln_sgemm_epi *ep,
                                        const float *bias, int flags)
{
    const kiln_f32x4 alpha = kiln_f32x4_set1(ep->alpha), beta = kiln_f32x4_set1(ep->beta);
    for (int j = 0; j < nv; j++) {
        if (ep->alpha != 1.0f)
            v[j] = kiln_f32x4_mul(v[j], alpha);
        if (!(flags & KILN_SGEMM_FIRST))
            v[j] = kiln_f32x4_add(v[j], kiln_f32x4_load(c + 4 * j));
        else if (bias)
            v[j] = kiln_f32x4_fma(beta, ep->bias_cs ? kiln_f32x4_load(bias + 4 * j)
                                                    : kiln_f32x4_bcast(bias), v[j]);
        if ((flags & KILN_SGEMM_LAST) && ep->act == KILN_ACT_RELU)
            v[j] = kiln_f32x4_max(kiln_f32x4_zero(), v[j]);
        kiln_f32x4_store(c + 4 * j, v[j]);
    }
    if ((flags & KILN_SGEMM_LAST) && (ep->act == KILN_ACT_SIGMOID || ep->act == KILN_ACT_TANH))
        kiln_sgemm_f32x4_act_row(c, nv, ep->act);
    else if ((flags & KILN_SGEMM_LAST) && ep->act != KILN_ACT_NONE && ep->act != KILN_ACT_RELU)
        for (int j = 0; j < 4 * nv; j++)
            c[j] = kiln_sgemm_act(c[j], ep);
}

#endif
