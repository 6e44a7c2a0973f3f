/* kiln_norm_grad.h — the vector loops of BatchNormGrad (compiler/emit/
 * k_train_conv.c): sums over one contiguous slab of a channel and the
 * final affine map, written on kiln_simd.h's 4-lane vectors (SSE2, NEON or
 * the scalar fallback), so they need no target attribute and serve every
 * target. Four accumulators cover the add latency; the caller adds the
 * slab totals in double. */
#ifndef KILN_NORM_GRAD_H
#define KILN_NORM_GRAD_H

#include "kiln_simd.h"

/* The sum of the lanes of four accumulators. */
static inline float kiln_norm_hsum4(kiln_f32x4 a, kiln_f32x4 b, kiln_f32x4 c, kiln_f32x4 d)
{
    return kiln_f32x4_hsum(kiln_f32x4_add(kiln_f32x4_add(a, b), kiln_f32x4_add(c, d)));
}

/* The sum of x[i] over i < n. */
static inline float kiln_norm_sum(const float *x, int n)
{
    kiln_f32x4 s0 = kiln_f32x4_zero(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = kiln_f32x4_add(s0, kiln_f32x4_load(x + i));
        s1 = kiln_f32x4_add(s1, kiln_f32x4_load(x + i + 4));
        s2 = kiln_f32x4_add(s2, kiln_f32x4_load(x + i + 8));
        s3 = kiln_f32x4_add(s3, kiln_f32x4_load(x + i + 12));
    }
    float s = kiln_norm_hsum4(s0, s1, s2, s3);
    for (; i < n; i++)
        s += x[i];
    return s;
}

/* The sum of (x[i] - mean)^2 over i < n, given neg_mean = -mean (the
 * abstraction has add, not subtract). */
static inline float kiln_norm_sum_sq(const float *x, int n, float neg_mean)
{
    const kiln_f32x4 m = kiln_f32x4_set1(neg_mean);
    kiln_f32x4 s0 = kiln_f32x4_zero(), s1 = s0, s2 = s0, s3 = s0, v;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v = kiln_f32x4_add(kiln_f32x4_load(x + i), m);
        s0 = kiln_f32x4_fma(v, v, s0);
        v = kiln_f32x4_add(kiln_f32x4_load(x + i + 4), m);
        s1 = kiln_f32x4_fma(v, v, s1);
        v = kiln_f32x4_add(kiln_f32x4_load(x + i + 8), m);
        s2 = kiln_f32x4_fma(v, v, s2);
        v = kiln_f32x4_add(kiln_f32x4_load(x + i + 12), m);
        s3 = kiln_f32x4_fma(v, v, s3);
    }
    float s = kiln_norm_hsum4(s0, s1, s2, s3);
    for (; i < n; i++)
        s += (x[i] + neg_mean) * (x[i] + neg_mean);
    return s;
}

/* *sum_dy = the sum of dy[i]; returns the sum of dy[i] (x[i] - mean) over
 * i < n, given neg_mean = -mean. */
static inline float kiln_norm_sum_dy_dev(const float *dy, const float *x, int n, float neg_mean,
                                         float *sum_dy)
{
    const kiln_f32x4 m = kiln_f32x4_set1(neg_mean);
    kiln_f32x4 g0 = kiln_f32x4_zero(), g1 = g0, s0 = g0, s1 = g0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const kiln_f32x4 d0 = kiln_f32x4_load(dy + i), d1 = kiln_f32x4_load(dy + i + 4);
        g0 = kiln_f32x4_add(g0, d0);
        g1 = kiln_f32x4_add(g1, d1);
        s0 = kiln_f32x4_fma(d0, kiln_f32x4_add(kiln_f32x4_load(x + i), m), s0);
        s1 = kiln_f32x4_fma(d1, kiln_f32x4_add(kiln_f32x4_load(x + i + 4), m), s1);
    }
    float g = kiln_f32x4_hsum(kiln_f32x4_add(g0, g1)), s = kiln_f32x4_hsum(kiln_f32x4_add(s0, s1));
    for (; i < n; i++) {
        g += dy[i];
        s += dy[i] * (x[i] + neg_mean);
    }
    *sum_dy = g;
    return s;
}

/* y[i] = a dy[i] + b x[i] + c over i < n. */
static inline void kiln_norm_affine2(float *y, const float *dy, const float *x, int n, float a,
                                     float b, float c)
{
    const kiln_f32x4 va = kiln_f32x4_set1(a), vb = kiln_f32x4_set1(b), vc = kiln_f32x4_set1(c);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        kiln_f32x4_store(y + i, kiln_f32x4_fma(va, kiln_f32x4_load(dy + i),
                                               kiln_f32x4_fma(vb, kiln_f32x4_load(x + i), vc)));
    for (; i < n; i++)
        y[i] = a * dy[i] + (b * x[i] + c);
}

#endif
