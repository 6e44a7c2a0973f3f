/* test_optim.c — kiln_adam_f32 and, where the CPU has AVX-512F,
 * kiln_adam_f32_avx512 (templates/kiln_optim.h) against the scalar
 * loop k_train.c prints for Adam / AdamW, element by element: the update
 * must be the same to the bit (same operations in the same order), for every
 * length around the vector width, with and without weight decay, in place
 * and not. Built for SSE2, the scalar fallback and (under qemu) NEON. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kiln_optim.h"

enum { MAXN = 67 };

static unsigned rng = 12345u;
static float rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f - 0.5f;
}

/* The scalar reference, as k_train.c's emit_opt_body writes it. */
static void adam_ref(int n, const float *p, const float *g, const float *m, const float *v, float *p1,
                     float *m1, float *v1, float b1, float c1, float b2, float c2, float eps,
                     float step_size, float bc2_sqrt, float p_scale, float g_wd)
{
    for (int i = 0; i < n; i++) {
        float pp = p[i], gg = g[i];
        if (p_scale != 1.0f)
            pp *= p_scale;
        if (g_wd != 0.0f)
            gg += g_wd * pp;
        const float mm = b1 * m[i] + c1 * gg;
        const float vv = b2 * v[i] + c2 * gg * gg;
        m1[i] = mm;
        v1[i] = vv;
        p1[i] = pp - step_size * mm / (sqrtf(vv) / bc2_sqrt + eps);
    }
}

int main(void)
{
    float p[MAXN], g[MAXN], m[MAXN], v[MAXN], rp[MAXN], rm[MAXN], rv[MAXN], kp[MAXN], km[MAXN], kv[MAXN];
    int cases = 0, failed = 0;
    const float decay[3][2] = {{1.0f, 0.0f}, {1.0f - 0.01f * 0.05f, 0.0f}, {1.0f, 0.01f}};
    for (int n = 0; n <= MAXN; n++)
        for (int d = 0; d < 3; d++)
            for (int inplace = 0; inplace < 2; inplace++) {
                for (int i = 0; i < n; i++) {
                    p[i] = rnd(), g[i] = rnd(), m[i] = rnd() * 0.1f;
                    v[i] = fabsf(rnd()) * 0.01f;
                }
                adam_ref(n, p, g, m, v, rp, rm, rv, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.0123f, 0.0447f,
                         decay[d][0], decay[d][1]);
                memcpy(kp, p, sizeof p), memcpy(km, m, sizeof m), memcpy(kv, v, sizeof v);
                if (inplace)
                    kiln_adam_f32(n, kp, g, km, kv, kp, km, kv, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f,
                                  0.0123f, 0.0447f, decay[d][0], decay[d][1]);
                else
                    kiln_adam_f32(n, p, g, m, v, kp, km, kv, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f,
                                  0.0123f, 0.0447f, decay[d][0], decay[d][1]);
                cases++;
                if (n && (memcmp(kp, rp, (size_t)n * sizeof *kp) || memcmp(km, rm, (size_t)n * sizeof *km) ||
                          memcmp(kv, rv, (size_t)n * sizeof *kv))) {
                    failed++;
                    printf("FAIL: n %d, decay %d, in place %d\n", n, d, inplace);
                }
#ifdef KILN_SIMD_HAS_AVX512
                if (!kiln_cpu_has_avx512f())
                    continue;
                memcpy(kp, p, sizeof p), memcpy(km, m, sizeof m), memcpy(kv, v, sizeof v);
                if (inplace)
                    kiln_adam_f32_avx512(n, kp, g, km, kv, kp, km, kv, 0.9f, 0.1f, 0.999f, 0.001f,
                                         1e-8f, 0.0123f, 0.0447f, decay[d][0], decay[d][1]);
                else
                    kiln_adam_f32_avx512(n, p, g, m, v, kp, km, kv, 0.9f, 0.1f, 0.999f, 0.001f,
                                         1e-8f, 0.0123f, 0.0447f, decay[d][0], decay[d][1]);
                cases++;
                if (n && (memcmp(kp, rp, (size_t)n * sizeof *kp) || memcmp(km, rm, (size_t)n * sizeof *km) ||
                          memcmp(kv, rv, (size_t)n * sizeof *kv))) {
                    failed++;
                    printf("FAIL (avx512): n %d, decay %d, in place %d\n", n, d, inplace);
                }
#endif
            }
    printf("adam (%s): %d cases, %d failed\n", KILN_SIMD_F32X4, cases, failed);
    return failed != 0;
}
