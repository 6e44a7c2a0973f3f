/* kiln_gemv.h — the batch-1 path of Gemm/MatMul: y[1,N] = epilogue(x[1,K] *
 * B[K,N]) with B a constant pre-packed at compile time (compiler/sched/
 * pack.c, sched_pack_b_gemv) so the whole weight streams once, front to
 * back, in unit-stride vector loads; bias and activation as kiln_gemm.h's
 * epilogue. Two kernels (compiler/emit/k_gemm.c picks one per target):
 *   kiln_sgemv_avx2     panels of 64 columns (8 accumulators of 8 lanes);
 *                       x86-64-v3 and x86-64-v4
 *   kiln_sgemv_generic  panels of 16 columns, plain C99 (the generic target;
 *                       SSE2 and NEON keep their single-row micro-kernels)
 * Layout for panel width W and strip width S (W a multiple of S): the
 * N / W whole panels as kiln_gemm.h's B panels (b[p * K * W + k * W + j]),
 * then the rest, w = N % W columns rounded up to S, as one panel of that
 * width (b[(N / W) * K * W + k * w' + j]), zero-padded. */
#ifndef KILN_GEMV_H
#define KILN_GEMV_H

#include "kiln_gemm.h"
#include "kiln_simd.h"

#define KILN_SGEMV_AVX2_W 64
#define KILN_SGEMV_AVX2_S 8
#define KILN_SGEMV_GENERIC_W 16
#define KILN_SGEMV_GENERIC_S 4

/* y[j] = act(alpha * t[j] + beta * bias[j * bias_cs]) for j < cols, the
 * epilogue of kiln_gemm.h with FIRST and LAST (no k blocks here). */
static inline void kiln_sgemv_store(float *y, const float *t, int cols,
                                    const kiln_sgemm_epi *ep, const float *bias)
{
    for (int j = 0; j < cols; j++) {
        float v = ep->alpha * t[j];
        if (bias)
            v += ep->beta * bias[j * ep->bias_cs];
        y[j] = kiln_sgemm_act(v, ep);
    }
}

/* ---- AVX2 + FMA ---- */
#ifdef KILN_SIMD_HAS_AVX2

/* Sigmoid or Tanh (act) on y[0..8), a strip just stored, on kiln_simd.h's
 * vector functions (within 2.3 ulp); out of line so that the panel loops
 * inlining kiln_sgemv_avx2_store8 stay small. */
static __attribute__((noinline, unused)) KILN_TARGET_AVX2 void kiln_sgemv_avx2_act8(float *y, int act)
{
    const kiln_f32x8 v = kiln_f32x8_load(y);
    kiln_f32x8_store(y, act == KILN_ACT_SIGMOID ? kiln_f32x8_sigmoid(v) : kiln_f32x8_tanh(v));
}

/* y[0..8) = epilogue(v), bias at the strip's first column: ReLU and Clip
 * in registers (as kiln_gemm_avx2.h), Sigmoid and Tanh on vectors and the
 * other activations scalar on the stored strip. */
static inline KILN_TARGET_AVX2 void kiln_sgemv_avx2_store8(float *y, kiln_f32x8 v,
                                                           const kiln_sgemm_epi *ep,
                                                           const float *bias)
{
    if (ep->alpha != 1.0f)
        v = kiln_f32x8_mul(v, kiln_f32x8_set1(ep->alpha));
    if (bias)
        v = kiln_f32x8_fma(kiln_f32x8_set1(ep->beta),
                           ep->bias_cs ? kiln_f32x8_load(bias) : kiln_f32x8_bcast(bias), v);
    if (ep->act == KILN_ACT_RELU) {
        v = kiln_f32x8_max(kiln_f32x8_zero(), v);
    } else if (ep->act == KILN_ACT_CLIP) { /* NaN passes, as in Clip */
        v = kiln_f32x8_min(kiln_f32x8_set1(ep->act_beta),
                           kiln_f32x8_max(kiln_f32x8_set1(ep->act_alpha), v));
    }
    kiln_f32x8_store(y, v);
    if (ep->act == KILN_ACT_SIGMOID || ep->act == KILN_ACT_TANH)
        kiln_sgemv_avx2_act8(y, ep->act);
    else if (ep->act != KILN_ACT_NONE && ep->act != KILN_ACT_RELU && ep->act != KILN_ACT_CLIP)
        for (int j = 0; j < 8; j++)
            y[j] = kiln_sgemm_act(y[j], ep);
}

/* One whole panel of 64 columns: x[K] times b[K][64]. Each k step is one
 * broadcast and eight loads of one 256-byte row, into eight accumulators
 * (enough independent FMAs to cover their latency on two pipes). */
static inline KILN_TARGET_AVX2 void kiln_sgemv_avx2_64(int k, const float *restrict x,
                                                       const float *restrict b,
                                                       float *restrict y,
                                                       const kiln_sgemm_epi *ep,
                                                       const float *bias)
{
    kiln_f32x8 s0 = kiln_f32x8_zero(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
               s7 = s0;
    for (int i = 0; i < k; i++) {
        const kiln_f32x8 xi = kiln_f32x8_bcast(x + i);
        s0 = kiln_f32x8_fma(xi, kiln_f32x8_load(b), s0);
        s1 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 8), s1);
        s2 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 16), s2);
        s3 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 24), s3);
        s4 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 32), s4);
        s5 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 40), s5);
        s6 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 48), s6);
        s7 = kiln_f32x8_fma(xi, kiln_f32x8_load(b + 56), s7);
        b += 64;
    }
    const kiln_f32x8 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    for (int v = 0; v < 8; v++)
        kiln_sgemv_avx2_store8(y + 8 * v, s[v], ep,
                               bias ? bias + 8 * v * ep->bias_cs : NULL);
}

/* The last, narrower panel (width w, a multiple of 8) in strips of 8
 * columns, four k steps in flight per strip; cols of its columns exist. */
static inline KILN_TARGET_AVX2 void kiln_sgemv_avx2_tail(int k, int w, int cols,
                                                         const float *restrict x,
                                                         const float *restrict b,
                                                         float *restrict y,
                                                         const kiln_sgemm_epi *ep,
                                                         const float *bias)
{
    for (int j = 0; j < cols; j += 8) {
        const float *restrict bj = b + j;
        kiln_f32x8 s0 = kiln_f32x8_zero(), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 4 <= k; i += 4) {
            s0 = kiln_f32x8_fma(kiln_f32x8_bcast(x + i), kiln_f32x8_load(bj), s0);
            s1 = kiln_f32x8_fma(kiln_f32x8_bcast(x + i + 1), kiln_f32x8_load(bj + w), s1);
            s2 = kiln_f32x8_fma(kiln_f32x8_bcast(x + i + 2), kiln_f32x8_load(bj + 2 * w), s2);
            s3 = kiln_f32x8_fma(kiln_f32x8_bcast(x + i + 3), kiln_f32x8_load(bj + 3 * w), s3);
            bj += 4 * w;
        }
        for (; i < k; i++) {
            s0 = kiln_f32x8_fma(kiln_f32x8_bcast(x + i), kiln_f32x8_load(bj), s0);
            bj += w;
        }
        s0 = kiln_f32x8_add(kiln_f32x8_add(s0, s1), kiln_f32x8_add(s2, s3));
        const float *bias_j = bias ? bias + j * ep->bias_cs : NULL;
        if (cols - j >= 8) {
            kiln_sgemv_avx2_store8(y + j, s0, ep, bias_j);
        } else {
            float t[8];
            kiln_f32x8_store(t, s0);
            kiln_sgemv_store(y + j, t, cols - j, ep, bias_j);
        }
    }
}

/* y[n] = epilogue(x[k] * B) with B packed for W = 64, S = 8 (see above). */
static inline KILN_TARGET_AVX2 void kiln_sgemv_avx2(int n, int k, const float *restrict x,
                                                    const float *restrict pb, float *restrict y,
                                                    const kiln_sgemm_epi *ep)
{
    int j = 0;
    for (; j + 64 <= n; j += 64)
        kiln_sgemv_avx2_64(k, x, pb + (ptrdiff_t)j * k, y + j, ep,
                           ep->bias ? ep->bias + j * ep->bias_cs : NULL);
    if (j < n)
        kiln_sgemv_avx2_tail(k, (n - j + 7) / 8 * 8, n - j, x, pb + (ptrdiff_t)j * k, y + j, ep,
                             ep->bias ? ep->bias + j * ep->bias_cs : NULL);
}
#endif

/* ---- plain C ---- */

/* y[n] = epilogue(x[k] * B) with B packed for W = 16, S = 4: per panel a
 * 16-float accumulator row that -O2 keeps in four SSE2 / NEON registers. */
static inline void kiln_sgemv_generic(int n, int k, const float *restrict x,
                                      const float *restrict pb, float *restrict y,
                                      const kiln_sgemm_epi *ep)
{
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int cols = n - j0 < 16 ? n - j0 : 16, w = (cols + 3) / 4 * 4;
        const float *restrict b = pb + (ptrdiff_t)j0 * k;
        float t[16] = {0};
        if (w == 16) {
            for (int i = 0; i < k; i++) {
                const float xi = x[i];
                for (int j = 0; j < 16; j++)
                    t[j] += xi * b[j];
                b += 16;
            }
        } else {
            for (int i = 0; i < k; i++) {
                const float xi = x[i];
                for (int j = 0; j < w; j++)
                    t[j] += xi * b[j];
                b += w;
            }
        }
        kiln_sgemv_store(y + j0, t, cols, ep, ep->bias ? ep->bias + j0 * ep->bias_cs : NULL);
    }
}

#endif
