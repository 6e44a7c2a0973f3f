/* kiln_vmath.h — exp, tanh and sigmoid over float arrays on kiln_simd.h's
 * vector functions (their method and measured error are described there),
 * for the generated kernels that loop over them: the recurrent cells
 * (compiler/emit/k_rnn.c, k_train_rnn.c), elementwise Exp/Tanh/Sigmoid,
 * softmax and the softmax losses. One loop per width; compiler/emit/
 * emitter.c (emit_vmath) names the one of the target:
 *   kiln_vmath_avx512  x86-64-v4 (after kiln_cpu_has_avx512f)
 *   kiln_vmath_avx2    x86-64-v3 (after kiln_cpu_has_avx2_fma)
 *   kiln_vmath_x4      SSE2, NEON, or libm lane by lane (the scalar fallback) */
#ifndef KILN_VMATH_H
#define KILN_VMATH_H

#include <string.h>

#include "kiln_simd.h"

/* The function, the first argument of every loop. */
enum { KILN_VMATH_EXP, KILN_VMATH_TANH, KILN_VMATH_SIGMOID };

static inline kiln_f32x4 kiln_vmath_f32x4(int fn, kiln_f32x4 v)
{
    return fn == KILN_VMATH_EXP    ? kiln_f32x4_exp(v)
           : fn == KILN_VMATH_TANH ? kiln_f32x4_tanh(v)
                                   : kiln_f32x4_sigmoid(v);
}

/* y[i] = fn(x[i]) for i < n; y may be x. The last n % 4 go through a
 * zero-padded copy, so no lane reads past x or writes past y. */
static inline void kiln_vmath_x4(int fn, int n, const float *x, float *y)
{
    int i = 0;
    for (; i + 4 <= n; i += 4)
        kiln_f32x4_store(y + i, kiln_vmath_f32x4(fn, kiln_f32x4_load(x + i)));
    if (i < n) {
        float t[4] = {0, 0, 0, 0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x4_store(t, kiln_vmath_f32x4(fn, kiln_f32x4_load(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}

#if defined(KILN_SIMD_HAS_AVX2)
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_vmath_f32x8(int fn, kiln_f32x8 v)
{
    return fn == KILN_VMATH_EXP    ? kiln_f32x8_exp(v)
           : fn == KILN_VMATH_TANH ? kiln_f32x8_tanh(v)
                                   : kiln_f32x8_sigmoid(v);
}

/* As kiln_vmath_x4, 8 lanes at a time. */
static inline KILN_TARGET_AVX2 void kiln_vmath_avx2(int fn, int n, const float *x, float *y)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        kiln_f32x8_store(y + i, kiln_vmath_f32x8(fn, kiln_f32x8_load(x + i)));
    if (i < n) {
        float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x8_store(t, kiln_vmath_f32x8(fn, kiln_f32x8_load(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}

static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_vmath_f32x16(int fn, kiln_f32x16 v)
{
    return fn == KILN_VMATH_EXP    ? kiln_f32x16_exp(v)
           : fn == KILN_VMATH_TANH ? kiln_f32x16_tanh(v)
                                   : kiln_f32x16_sigmoid(v);
}

/* As kiln_vmath_x4, 16 lanes at a time. */
static inline KILN_TARGET_AVX512 void kiln_vmath_avx512(int fn, int n, const float *x, float *y)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        kiln_f32x16_store(y + i, kiln_vmath_f32x16(fn, kiln_f32x16_load(x + i)));
    if (i < n) {
        float t[16] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x16_store(t, kiln_vmath_f32x16(fn, kiln_f32x16_load(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}
#endif

#endif
