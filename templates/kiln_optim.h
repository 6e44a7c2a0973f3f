/* kiln_optim.h — the Adam / AdamW parameter update of compiler/emit/
 * k_train.c on kiln_simd.h's 4-lane vectors (SSE2, NEON or the scalar
 * fallback), so it needs no target attribute. Every element goes through
 * the same operations, in the same order, as the scalar loop k_train.c
 * prints for the other optimizers (IEEE division and square root are
 * correctly rounded in both), so the update is the same to the bit. */
#ifndef KILN_OPTIM_H
#define KILN_OPTIM_H

#include <math.h>

#include "kiln_simd.h"

/* One Adam step (torch.optim semantics) over n floats: p, g, m, v in; the
 * new p, m, v out (p1 may be p, m1 m, v1 v). c1 and c2 are 1 - b1 and
 * 1 - b2 as the scalar code rounds them (from double); p_scale is AdamW's
 * decay 1 - lr wd (1: none), g_wd Adam's weight decay (0: none);
 * step_size is lr / (1 - b1^t), bc2_sqrt sqrt(1 - b2^t). */
static inline void kiln_adam_f32(int n, const float *p, const float *g, const float *m, const float *v,
                                 float *p1, float *m1, float *v1, float b1, float c1, float b2,
                                 float c2, float eps, float step_size, float bc2_sqrt, float p_scale,
                                 float g_wd)
{
    const kiln_f32x4 vb1 = kiln_f32x4_set1(b1), vc1 = kiln_f32x4_set1(c1);
    const kiln_f32x4 vb2 = kiln_f32x4_set1(b2), vc2 = kiln_f32x4_set1(c2);
    const kiln_f32x4 veps = kiln_f32x4_set1(eps), vstep = kiln_f32x4_set1(-step_size);
    const kiln_f32x4 vbc2 = kiln_f32x4_set1(bc2_sqrt), vscale = kiln_f32x4_set1(p_scale);
    const kiln_f32x4 vwd = kiln_f32x4_set1(g_wd);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        kiln_f32x4 pp = kiln_f32x4_load(p + i), gg = kiln_f32x4_load(g + i);
        if (p_scale != 1.0f)
            pp = kiln_f32x4_mul(pp, vscale);
        if (g_wd != 0.0f)
            gg = kiln_f32x4_add(gg, kiln_f32x4_mul(vwd, pp));
        const kiln_f32x4 mm = kiln_f32x4_add(kiln_f32x4_mul(vb1, kiln_f32x4_load(m + i)),
                                             kiln_f32x4_mul(vc1, gg));
        const kiln_f32x4 vv = kiln_f32x4_add(kiln_f32x4_mul(vb2, kiln_f32x4_load(v + i)),
                                             kiln_f32x4_mul(kiln_f32x4_mul(vc2, gg), gg));
        const kiln_f32x4 den = kiln_f32x4_add(kiln_f32x4_div(kiln_f32x4_sqrt(vv), vbc2), veps);
        kiln_f32x4_store(m1 + i, mm);
        kiln_f32x4_store(v1 + i, vv);
        kiln_f32x4_store(p1 + i, kiln_f32x4_add(pp, kiln_f32x4_div(kiln_f32x4_mul(vstep, mm), den)));
    }
    for (; i < n; i++) {
        float pp = p[i], gg = g[i];
        if (p_scale != 1.0f)
            pp *= p_scale;
        if (g_wd != 0.0f)
            gg += g_wd * pp;
        const float mm = b1 * m[i] + c1 * gg, vv = b2 * v[i] + c2 * gg * gg;
        m1[i] = mm;
        v1[i] = vv;
        p1[i] = pp + -step_size * mm / (sqrtf(vv) / bc2_sqrt + eps);
    }
}

#ifdef KILN_SIMD_HAS_AVX512
/* kiln_adam_f32 on 16-lane AVX-512F vectors (target x86-64-v4), the tail
 * of fewer than 16 through kiln_adam_f32: the same operations in the same
 * order, so the same bits. The 4-lane loop is bound by its two divisions
 * and square root (kiln bench: 62 us for the MLP's 100352 weights). */
static inline KILN_TARGET_AVX512 void
kiln_adam_f32_avx512(int n, const float *p, const float *g, const float *m, const float *v,
                     float *p1, float *m1, float *v1, float b1, float c1, float b2, float c2,
                     float eps, float step_size, float bc2_sqrt, float p_scale, float g_wd)
{
    const kiln_f32x16 vb1 = kiln_f32x16_set1(b1), vc1 = kiln_f32x16_set1(c1);
    const kiln_f32x16 vb2 = kiln_f32x16_set1(b2), vc2 = kiln_f32x16_set1(c2);
    const kiln_f32x16 veps = kiln_f32x16_set1(eps), vstep = kiln_f32x16_set1(-step_size);
    const kiln_f32x16 vbc2 = kiln_f32x16_set1(bc2_sqrt), vscale = kiln_f32x16_set1(p_scale);
    const kiln_f32x16 vwd = kiln_f32x16_set1(g_wd);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        kiln_f32x16 pp = kiln_f32x16_load(p + i), gg = kiln_f32x16_load(g + i);
        if (p_scale != 1.0f)
            pp = kiln_f32x16_mul(pp, vscale);
        if (g_wd != 0.0f)
            gg = kiln_f32x16_add(gg, kiln_f32x16_mul(vwd, pp));
        const kiln_f32x16 mm = kiln_f32x16_add(kiln_f32x16_mul(vb1, kiln_f32x16_load(m + i)),
                                               kiln_f32x16_mul(vc1, gg));
        const kiln_f32x16 vv = kiln_f32x16_add(kiln_f32x16_mul(vb2, kiln_f32x16_load(v + i)),
                                               kiln_f32x16_mul(kiln_f32x16_mul(vc2, gg), gg));
        const kiln_f32x16 den = kiln_f32x16_add(kiln_f32x16_div(kiln_f32x16_sqrt(vv), vbc2), veps);
        kiln_f32x16_store(m1 + i, mm);
        kiln_f32x16_store(v1 + i, vv);
        kiln_f32x16_store(p1 + i, kiln_f32x16_add(pp, kiln_f32x16_div(kiln_f32x16_mul(vstep, mm), den)));
    }
    kiln_adam_f32(n - i, p + i, g + i, m + i, v + i, p1 + i, m1 + i, v1 + i, b1, c1, b2, c2, eps,
                  step_size, bc2_sqrt, p_scale, g_wd);
}
#endif

#endif
