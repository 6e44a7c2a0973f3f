/* kiln_vmath.h — exp, tanh and sigmoid over float arrays on kiln_simd.h's
 * vector functions (their method and measured error are described there),
 * for the generated kernels that loop over them: the recurrent cells
 * (compiler/emit/k_rnn.c, k_train_rnn.c), elementwise Exp/Tanh/Sigmoid,
 * softmax and the softmax losses. One loop per width; compiler/emit/
 * emitter.c (emit_vmath) names the one of the target:
 *   kiln_vmath_avx512  x86-64-v4 (after kiln_cpu_has_avx512f)
 *   kiln_vmath_avx2    x86-64-v3 (after kiln_cpu_has_avx2_fma)
 *   kiln_vmath_x4      SSE2, NEON, or libm lane by lane (the scalar fallback)
 * and likewise kiln_lstm_cell_avx512 / _avx2 / _x4, the LSTM cell of
 * k_rnn.c in one pass over the hidden units, and kiln_vexpsum_*, the sum
 * of exp(x[i] - shift) a softmax needs, storing the exps or not. */
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

/* One LSTM cell row (ONNX LSTM with f = Sigmoid, g = h = Tanh, no peepholes
 * or clip), unit j < n (the hidden size): with x the row's pre-activations
 * in gate order i o f c, x[0..4n),
 *   c[j] = sigmoid(x[2n+j]) c[j] + sigmoid(x[j]) tanh(x[3n+j])
 *   h[j] = sigmoid(x[n+j]) tanh(c[j]);  y[j] = h[j] too unless y is NULL.
 * The last n % 4 units go through zero-padded copies. */
static inline void kiln_lstm_cell_x4_(const float *x, int n, float *c, float *h, float *y)
{
    const kiln_f32x4 i = kiln_f32x4_sigmoid(kiln_f32x4_load(x));
    const kiln_f32x4 o = kiln_f32x4_sigmoid(kiln_f32x4_load(x + n));
    const kiln_f32x4 f = kiln_f32x4_sigmoid(kiln_f32x4_load(x + 2 * n));
    const kiln_f32x4 g = kiln_f32x4_tanh(kiln_f32x4_load(x + 3 * n));
    const kiln_f32x4 cj = kiln_f32x4_fma(f, kiln_f32x4_load(c), kiln_f32x4_mul(i, g));
    const kiln_f32x4 hj = kiln_f32x4_mul(o, kiln_f32x4_tanh(cj));
    kiln_f32x4_store(c, cj);
    kiln_f32x4_store(h, hj);
    if (y)
        kiln_f32x4_store(y, hj);
}
static inline void kiln_lstm_cell_x4(int n, const float *x, float *c, float *h, float *y)
{
    int j = 0;
    for (; j + 4 <= n; j += 4)
        kiln_lstm_cell_x4_(x + j, n, c + j, h + j, y ? y + j : NULL);
    if (j < n) {
        float t[16] = {0}, tc[4] = {0}, th[4];
        const int r = n - j;
        for (int q = 0; q < 4; q++)
            memcpy(t + 4 * q, x + q * n + j, (size_t)r * sizeof(float));
        memcpy(tc, c + j, (size_t)r * sizeof(float));
        kiln_lstm_cell_x4_(t, 4, tc, th, NULL);
        memcpy(c + j, tc, (size_t)r * sizeof(float));
        memcpy(h + j, th, (size_t)r * sizeof(float));
        if (y)
            memcpy(y + j, th, (size_t)r * sizeof(float));
    }
}

/* The sum of exp(x[i] - shift) for i < n, 4 lanes of partial sums; the
 * exps also into y[0..n) unless y is NULL (y may be x). */
static inline float kiln_vexpsum_x4(int n, const float *x, float shift,
                                      float *y)
{
    const kiln_f32x4 neg = kiln_f32x4_set1(-shift);
    kiln_f32x4 acc = kiln_f32x4_zero();
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const kiln_f32x4 v = kiln_f32x4_exp(kiln_f32x4_add(kiln_f32x4_load(x + i), neg));
        if (y)
            kiln_f32x4_store(y + i, v);
        acc = kiln_f32x4_add(acc, v);
    }
    float sum = kiln_f32x4_hsum(acc);
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x4_store(t, kiln_f32x4_exp(kiln_f32x4_add(kiln_f32x4_load(t), neg)));
        for (int j = 0; j < n - i; j++)
            sum += t[j];
        if (y)
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
    return sum;
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

static inline KILN_TARGET_AVX2 void kiln_lstm_cell_avx2_(const float *x, int n, float *c, float *h, float *y)
{
    const kiln_f32x8 i = kiln_f32x8_sigmoid(kiln_f32x8_load(x));
    const kiln_f32x8 o = kiln_f32x8_sigmoid(kiln_f32x8_load(x + n));
    const kiln_f32x8 f = kiln_f32x8_sigmoid(kiln_f32x8_load(x + 2 * n));
    const kiln_f32x8 g = kiln_f32x8_tanh(kiln_f32x8_load(x + 3 * n));
    const kiln_f32x8 cj = kiln_f32x8_fma(f, kiln_f32x8_load(c), kiln_f32x8_mul(i, g));
    const kiln_f32x8 hj = kiln_f32x8_mul(o, kiln_f32x8_tanh(cj));
    kiln_f32x8_store(c, cj);
    kiln_f32x8_store(h, hj);
    if (y)
        kiln_f32x8_store(y, hj);
}
/* As kiln_lstm_cell_x4, 8 units at a time. */
static inline KILN_TARGET_AVX2 void kiln_lstm_cell_avx2(int n, const float *x, float *c, float *h, float *y)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        kiln_lstm_cell_avx2_(x + j, n, c + j, h + j, y ? y + j : NULL);
    if (j < n) {
        float t[32] = {0}, tc[8] = {0}, th[8];
        const int r = n - j;
        for (int q = 0; q < 4; q++)
            memcpy(t + 8 * q, x + q * n + j, (size_t)r * sizeof(float));
        memcpy(tc, c + j, (size_t)r * sizeof(float));
        kiln_lstm_cell_avx2_(t, 8, tc, th, NULL);
        memcpy(c + j, tc, (size_t)r * sizeof(float));
        memcpy(h + j, th, (size_t)r * sizeof(float));
        if (y)
            memcpy(y + j, th, (size_t)r * sizeof(float));
    }
}

/* The sum of exp(x[i] - shift) for i < n, 8 lanes of partial sums. */
static inline KILN_TARGET_AVX2 float kiln_vexpsum_avx2(int n, const float *x, float shift, float *y)
{
    const kiln_f32x8 neg = kiln_f32x8_set1(-shift);
    kiln_f32x8 acc = kiln_f32x8_zero();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const kiln_f32x8 v = kiln_f32x8_exp(kiln_f32x8_add(kiln_f32x8_load(x + i), neg));
        if (y)
            kiln_f32x8_store(y + i, v);
        acc = kiln_f32x8_add(acc, v);
    }
    float sum = kiln_f32x8_hsum(acc);
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x8_store(t, kiln_f32x8_exp(kiln_f32x8_add(kiln_f32x8_load(t), neg)));
        for (int j = 0; j < n - i; j++)
            sum += t[j];
        if (y)
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
    return sum;
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

static inline KILN_TARGET_AVX512 void kiln_lstm_cell_avx512_(const float *x, int n, float *c, float *h, float *y)
{
    const kiln_f32x16 i = kiln_f32x16_sigmoid(kiln_f32x16_load(x));
    const kiln_f32x16 o = kiln_f32x16_sigmoid(kiln_f32x16_load(x + n));
    const kiln_f32x16 f = kiln_f32x16_sigmoid(kiln_f32x16_load(x + 2 * n));
    const kiln_f32x16 g = kiln_f32x16_tanh(kiln_f32x16_load(x + 3 * n));
    const kiln_f32x16 cj = kiln_f32x16_fma(f, kiln_f32x16_load(c), kiln_f32x16_mul(i, g));
    const kiln_f32x16 hj = kiln_f32x16_mul(o, kiln_f32x16_tanh(cj));
    kiln_f32x16_store(c, cj);
    kiln_f32x16_store(h, hj);
    if (y)
        kiln_f32x16_store(y, hj);
}
/* As kiln_lstm_cell_x4, 16 units at a time. */
static inline KILN_TARGET_AVX512 void kiln_lstm_cell_avx512(int n, const float *x, float *c, float *h, float *y)
{
    int j = 0;
    for (; j + 16 <= n; j += 16)
        kiln_lstm_cell_avx512_(x + j, n, c + j, h + j, y ? y + j : NULL);
    if (j < n) {
        float t[64] = {0}, tc[16] = {0}, th[16];
        const int r = n - j;
        for (int q = 0; q < 4; q++)
            memcpy(t + 16 * q, x + q * n + j, (size_t)r * sizeof(float));
        memcpy(tc, c + j, (size_t)r * sizeof(float));
        kiln_lstm_cell_avx512_(t, 16, tc, th, NULL);
        memcpy(c + j, tc, (size_t)r * sizeof(float));
        memcpy(h + j, th, (size_t)r * sizeof(float));
        if (y)
            memcpy(y + j, th, (size_t)r * sizeof(float));
    }
}

/* The sum of exp(x[i] - shift) for i < n, 16 lanes of partial sums. */
static inline KILN_TARGET_AVX512 float kiln_vexpsum_avx512(int n, const float *x, float shift, float *y)
{
    const kiln_f32x16 neg = kiln_f32x16_set1(-shift);
    kiln_f32x16 acc = kiln_f32x16_zero();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const kiln_f32x16 v = kiln_f32x16_exp(kiln_f32x16_add(kiln_f32x16_load(x + i), neg));
        if (y)
            kiln_f32x16_store(y + i, v);
        acc = kiln_f32x16_add(acc, v);
    }
    float sum = kiln_f32x16_hsum(acc);
    if (i < n) {
        float t[16] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        kiln_f32x16_store(t, kiln_f32x16_exp(kiln_f32x16_add(kiln_f32x16_load(t), neg)));
        for (int j = 0; j < n - i; j++)
            sum += t[j];
        if (y)
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
    return sum;
}
#endif

#endif
