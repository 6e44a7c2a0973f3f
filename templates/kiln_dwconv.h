/* kiln_dwconv.h — the depthwise convolution kernel (compiler/emit/
 * k_conv.c): one output plane from one input plane and one kh x kw filter,
 * register-blocked along the output row on kiln_simd.h's 4-lane vectors
 * (SSE2, NEON or the scalar fallback: no target attribute, every target).
 * Windows cut by the padding take a scalar loop with bounds; the interior
 * of a stride-1 row runs 8 outputs at a time with no bounds
 * (kiln_dwconv2d_plane_avx2: 16, in 8-lane AVX2 vectors). */
#ifndef KILN_DWCONV_H
#define KILN_DWCONV_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

/* y[oy, ox] at one position with every tap bounds-checked. */
static inline float kiln_dwconv_at(const float *x, const float *w, float bias,
                                   const kiln_conv_geom *g, int oy, int ox)
{
    float acc = bias;
    for (int r = 0; r < g->kh; r++) {
        const int iy = oy * g->sh - g->ph + r * g->dh;
        if (iy < 0 || iy >= g->h)
            continue;
        for (int s = 0; s < g->kw; s++) {
            const int ix = ox * g->sw - g->pw + s * g->dw;
            if (ix >= 0 && ix < g->w)
                acc += x[iy * g->w + ix] * w[r * g->kw + s];
        }
    }
    return acc;
}

/* Outputs [ox, ox + 8) of row oy, every tap inside the row (stride
 * 1), taps of rows [r0, r1) only (the others fall outside x). */
static inline void kiln_dwconv_run8(const float *x, const float *w, float bias,
                                    const kiln_conv_geom *g, int oy, int ox, int r0, int r1,
                                    float *y)
{
    kiln_f32x4 a0 = kiln_f32x4_set1(bias), a1 = a0;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (oy * g->sh - g->ph + r * g->dh) * g->w + ox - g->pw;
        const float *wr = w + r * g->kw;
        for (int s = 0; s < g->kw; s++) {
            const kiln_f32x4 ws = kiln_f32x4_set1(wr[s]);
            a0 = kiln_f32x4_fma(ws, kiln_f32x4_load(xr + s * g->dw), a0);
            a1 = kiln_f32x4_fma(ws, kiln_f32x4_load(xr + s * g->dw + 4), a1);
        }
    }
    kiln_f32x4_store(y, a0);
    kiln_f32x4_store(y + 4, a1);
}

/* y [oh, ow] = bias + the depthwise correlation of x [h, w] with the
 * filter w [kh, kw] (geometry g; g->c unused): taps outside x are zero. */
static inline void kiln_dwconv2d_plane(const float *restrict x, const float *restrict w,
                                       float bias, float *restrict y, const kiln_conv_geom *g)
{
    /* [lo, hi): the output columns whose whole window lies inside the row */
    int lo = (g->pw + g->sw - 1) / g->sw, hi = (g->w - 1 - (g->kw - 1) * g->dw + g->pw);
    hi = hi < 0 ? 0 : hi / g->sw + 1;
    hi = hi < g->ow ? hi : g->ow;
    lo = lo < hi ? lo : hi;
    for (int oy = 0; oy < g->oh; oy++) {
        float *yr = y + oy * g->ow;
        int r0 = 0, r1 = g->kh; /* the filter rows landing inside x */
        while (r0 < r1 && oy * g->sh - g->ph + r0 * g->dh < 0)
            r0++;
        while (r1 > r0 && oy * g->sh - g->ph + (r1 - 1) * g->dh >= g->h)
            r1--;
        int ox = 0;
        for (; ox < lo; ox++)
            yr[ox] = kiln_dwconv_at(x, w, bias, g, oy, ox);
        if (g->sw == 1)
            for (; ox + 8 <= hi; ox += 8)
                kiln_dwconv_run8(x, w, bias, g, oy, ox, r0, r1, yr + ox);
        for (; ox < hi; ox++) {
            float acc = bias;
            for (int r = r0; r < r1; r++) {
                const float *xr = x + (oy * g->sh - g->ph + r * g->dh) * g->w + ox * g->sw - g->pw;
                for (int s = 0; s < g->kw; s++)
                    acc += xr[s * g->dw] * w[r * g->kw + s];
            }
            yr[ox] = acc;
        }
        for (; ox < g->ow; ox++)
            yr[ox] = kiln_dwconv_at(x, w, bias, g, oy, ox);
    }
}

/* ---- AVX2 + FMA: 16 outputs per block ---- */
#ifdef KILN_SIMD_HAS_AVX2

/* Outputs [ox, ox + 16) of row oy, as kiln_dwconv_run8 (stride 1). */
static inline KILN_TARGET_AVX2 void kiln_dwconv_run16_avx2(const float *x, const float *w,
                                                           float bias, const kiln_conv_geom *g,
                                                           int oy, int ox, int r0, int r1,
                                                           float *y)
{
    kiln_f32x8 a0 = kiln_f32x8_set1(bias), a1 = a0;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (oy * g->sh - g->ph + r * g->dh) * g->w + ox - g->pw;
        const float *wr = w + r * g->kw;
        for (int s = 0; s < g->kw; s++) {
            const kiln_f32x8 ws = kiln_f32x8_bcast(wr + s);
            a0 = kiln_f32x8_fma(ws, kiln_f32x8_load(xr + s * g->dw), a0);
            a1 = kiln_f32x8_fma(ws, kiln_f32x8_load(xr + s * g->dw + 8), a1);
        }
    }
    kiln_f32x8_store(y, a0);
    kiln_f32x8_store(y + 8, a1);
}

/* kiln_dwconv2d_plane with the stride-1 interior 16 outputs at a time in
 * 8-lane vectors (target x86-64-v3). */
static inline KILN_TARGET_AVX2 void kiln_dwconv2d_plane_avx2(const float *restrict x,
                                                             const float *restrict w, float bias,
                                                             float *restrict y,
                                                             const kiln_conv_geom *g)
{
    int lo = (g->pw + g->sw - 1) / g->sw, hi = (g->w - 1 - (g->kw - 1) * g->dw + g->pw);
    hi = hi < 0 ? 0 : hi / g->sw + 1;
    hi = hi < g->ow ? hi : g->ow;
    lo = lo < hi ? lo : hi;
    if (g->sw != 1 || hi - lo < 16) {
        kiln_dwconv2d_plane(x, w, bias, y, g);
        return;
    }
    for (int oy = 0; oy < g->oh; oy++) {
        float *yr = y + oy * g->ow;
        int r0 = 0, r1 = g->kh;
        while (r0 < r1 && oy * g->sh - g->ph + r0 * g->dh < 0)
            r0++;
        while (r1 > r0 && oy * g->sh - g->ph + (r1 - 1) * g->dh >= g->h)
            r1--;
        int ox = 0;
        for (; ox < lo; ox++)
            yr[ox] = kiln_dwconv_at(x, w, bias, g, oy, ox);
        for (; ox + 16 <= hi; ox += 16)
            kiln_dwconv_run16_avx2(x, w, bias, g, oy, ox, r0, r1, yr + ox);
        if (ox < hi) /* the last whole block, overlapping the one before */
            kiln_dwconv_run16_avx2(x, w, bias, g, oy, hi - 16, r0, r1, yr + hi - 16);
        for (ox = hi; ox < g->ow; ox++)
            yr[ox] = kiln_dwconv_at(x, w, bias, g, oy, ox);
    }
}
#endif

#endif
