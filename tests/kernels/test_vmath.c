/* test_vmath.c — exp, tanh and sigmoid of runtime/kiln_simd.h against libm
 * in double precision, correctly rounded to float: the largest error in ulp
 * over a dense sweep of every float (each 509th bit pattern, both signs) and
 * the edge cases (0, subnormals, the overflow and underflow thresholds,
 * tanh's switch point, inf, NaN), for each width this CPU runs: AVX-512,
 * AVX2, and the 4 lanes (SSE2, NEON, or libm itself under
 * KILN_SIMD_FORCE_SCALAR). The bounds enforced are those measured, rounded up.
 * Then templates/kiln_vmath.h's array loops, LSTM cell and exp sums, whole vectors and
 * tails, against the same formulas on libm in double. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kiln_simd.h"
#include "kiln_vmath.h"

enum { FN_EXP, FN_TANH, FN_SIGMOID, N_FN };
static const char *const fn_name[N_FN] = {"exp", "tanh", "sigmoid"};
/* Largest error allowed, in ulp of the correctly rounded result. Measured
 * here (Debian 12's gcc 12, glibc 2.36): AVX-512, AVX2 and SSE2 exp 0.98,
 * tanh 1.24, sigmoid 2.26 ulp (the quotient's own rounding adds to exp's);
 * NEON under qemu likewise; the scalar fallback (glibc) exp 0.50,
 * tanh 2.15, sigmoid 2.26. */
static const double max_ulp[N_FN] = {1.0, 1.5, 2.5};
static const double max_ulp_libm[N_FN] = {1.0, 2.5, 2.5};

static int failures;

static double reference(int fn, float x)
{
    const double d = x;
    switch (fn) {
    case FN_EXP: return exp(d);
    case FN_TANH: return tanh(d);
    default: return 1.0 / (1.0 + exp(-d));
    }
}

/* |got - want| in units of the float spacing at want (2^-149 among the
 * subnormals); infinite when one is inf or NaN and the other isn't the same. */
static double ulp_error(float got, double want)
{
    const float wf = (float)want;
    if (isnan(wf) || isnan(got))
        return isnan(wf) && isnan(got) ? 0.0 : INFINITY;
    if (isinf(wf) || isinf(got))
        return got == wf ? 0.0 : INFINITY;
    int e;
    frexp(fabs(want) > 0x1p-126 ? want : 0x1p-126, &e);
    const double ulp = ldexp(1.0, e - 24);
    return fabs((double)got - want) / ulp;
}

typedef void (*ApplyFn)(int fn, int n, const float *x, float *y);

static void apply_x4(int fn, int n, const float *x, float *y)
{
    for (int i = 0; i + 4 <= n; i += 4) {
        const kiln_f32x4 v = kiln_f32x4_load(x + i);
        kiln_f32x4_store(y + i, fn == FN_EXP    ? kiln_f32x4_exp(v)
                                : fn == FN_TANH ? kiln_f32x4_tanh(v)
                                                : kiln_f32x4_sigmoid(v));
    }
}

#if defined(KILN_SIMD_HAS_AVX2)
static KILN_TARGET_AVX2 void apply_x8(int fn, int n, const float *x, float *y)
{
    for (int i = 0; i + 8 <= n; i += 8) {
        const kiln_f32x8 v = kiln_f32x8_load(x + i);
        kiln_f32x8_store(y + i, fn == FN_EXP    ? kiln_f32x8_exp(v)
                                : fn == FN_TANH ? kiln_f32x8_tanh(v)
                                                : kiln_f32x8_sigmoid(v));
    }
}
static KILN_TARGET_AVX512 void apply_x16(int fn, int n, const float *x, float *y)
{
    for (int i = 0; i + 16 <= n; i += 16) {
        const kiln_f32x16 v = kiln_f32x16_load(x + i);
        kiln_f32x16_store(y + i, fn == FN_EXP    ? kiln_f32x16_exp(v)
                                 : fn == FN_TANH ? kiln_f32x16_tanh(v)
                                                 : kiln_f32x16_sigmoid(v));
    }
}
#endif

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define BATCH 4096 /* a multiple of every width */

/* Runs `apply` on xs[0..n) (n a multiple of BATCH) and returns the largest
 * error; prints the first few failures. */
static double sweep(const char *isa, int fn, ApplyFn apply, const float *xs, int n)
{
    static float y[BATCH];
    double worst = 0;
    float worst_x = 0;
    for (int at = 0; at < n; at += BATCH) {
        apply(fn, BATCH, xs + at, y);
        for (int i = 0; i < BATCH; i++) {
            const double err = ulp_error(y[i], reference(fn, xs[at + i]));
            if (err > worst)
                worst = err, worst_x = xs[at + i];
        }
    }
    printf("%-8s %-8s max error %.3f ulp at x = %.9g\n", isa, fn_name[fn], worst, (double)worst_x);
    const double bound = strcmp(isa, "scalar") ? max_ulp[fn] : max_ulp_libm[fn];
    if (!(worst <= bound)) {
        printf("FAIL %s %s: %.3f ulp, bound %.1f\n", isa, fn_name[fn], worst, bound);
        failures++;
    }
    return worst;
}

/* The inputs: the edge cases, then every 509th bit pattern of each sign
 * (NaN patterns included), padded to a multiple of BATCH with zeros. */
static int inputs(float *xs, int cap)
{
    static const float edges[] = {
        0.0f, -0.0f, 0x1p-149f, -0x1p-149f, 0x1p-126f, 1e-20f, -1e-20f, 1e-7f, -1e-7f, 0.5f, -0.5f,
        0.62499994f, 0.625f, 0.62500006f, -0.625f, 1.0f, -1.0f, 9.0f, 9.1f, -9.1f, 20.0f,
        88.7228f, 88.72283f, 88.72284f, 89.0f, 100.0f, -87.33654f, -87.5f, -100.0f, -103.97f,
        -103.98f, -104.0f, -105.0f, -200.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, -NAN};
    int n = 0;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        xs[n++] = edges[i];
    for (uint64_t u = 0; u <= 0xffffffffu && n < cap; u += 509)
        xs[n++] = from_bits((uint32_t)u);
    while (n % BATCH)
        xs[n++] = 0.0f;
    return n;
}

static float xs[8500000];

typedef void (*ArrayFn)(int fn, int n, const float *x, float *y);
typedef void (*CellFn)(int n, const float *x, float *c, float *h, float *y);
typedef float (*ExpSumFn)(int n, const float *x, float shift, float *y);

static double sigmoid_d(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* The array loop and the LSTM cell of one width on n = 1..40 units (every
 * tail), against double: within 3 ulp-sized relative steps of 2^-23 of the
 * magnitudes involved (the cell sums two products of rounded factors). */
static void test_arrays(const char *isa, ArrayFn vm, CellFn cell, ExpSumFn expsum)
{
    float x[160], y[160], c[40], h[40], yy[40];
    for (int n = 1; n <= 40; n++) {
        for (int i = 0; i < 4 * n; i++)
            x[i] = (float)((i * 37 % 29) - 14) * 0.37f;
        /* kiln_vexpsum: the exps as kiln_vmath's, their sum within 2^-20 relative */
        double want = 0;
        for (int i = 0; i < 4 * n; i++)
            want += exp((double)x[i] - 1.5);
        float ys[160];
        for (int i = 0; i < 4 * n; i++)
            ys[i] = x[i] - 1.5f;
        vm(FN_EXP, 4 * n, ys, ys);
        const float got = expsum(4 * n, x, 1.5f, y), got2 = expsum(4 * n, x, 1.5f, NULL);
        if (!(fabs(got - want) <= 0x1p-20 * want) || got2 != got ||
            memcmp(y, ys, (size_t)(4 * n) * sizeof(float)) != 0) {
            printf("FAIL %s kiln_vexpsum n %d: %.9g (want %.9g), without y %.9g\n", isa, 4 * n,
                   (double)got, want, (double)got2);
            failures++;
            return;
        }
        for (int fn = 0; fn < N_FN; fn++) {
            vm(fn, 4 * n, x, y);
            for (int i = 0; i < 4 * n; i++)
                if (!(ulp_error(y[i], reference(fn, x[i])) <= max_ulp_libm[fn])) {
                    printf("FAIL %s kiln_vmath %s n %d at %d: %g\n", isa, fn_name[fn], 4 * n, i,
                           (double)y[i]);
                    failures++;
                    return;
                }
        }
        for (int j = 0; j < n; j++)
            c[j] = (float)(j % 7 - 3) * 0.5f;
        float c0[40];
        memcpy(c0, c, sizeof c);
        cell(n, x, c, h, n % 2 ? yy : NULL);
        for (int j = 0; j < n; j++) {
            const double cd = sigmoid_d(x[2 * n + j]) * c0[j] + sigmoid_d(x[j]) * tanh(x[3 * n + j]);
            const double hd = sigmoid_d(x[n + j]) * tanh(cd);
            if (fabs(c[j] - cd) > 3 * 0x1p-23 * (fabs(c0[j]) + 1) ||
                fabs(h[j] - hd) > 3 * 0x1p-23 * (fabs(cd) + 1) || (n % 2 && yy[j] != h[j])) {
                printf("FAIL %s kiln_lstm_cell n %d unit %d: c %g (want %g), h %g (want %g)\n", isa,
                       n, j, (double)c[j], cd, (double)h[j], hd);
                failures++;
                return;
            }
        }
    }
    printf("%-8s kiln_vmath, kiln_lstm_cell, kiln_vexpsum: ok\n", isa);
}

#if defined(KILN_SIMD_HAS_AVX2)
static void vm_avx2(int fn, int n, const float *x, float *y) { kiln_vmath_avx2(fn, n, x, y); }
static void cell_avx2(int n, const float *x, float *c, float *h, float *y)
{
    kiln_lstm_cell_avx2(n, x, c, h, y);
}
static float expsum_avx2(int n, const float *x, float shift, float *y)
{
    return kiln_vexpsum_avx2(n, x, shift, y);
}
static void vm_avx512(int fn, int n, const float *x, float *y) { kiln_vmath_avx512(fn, n, x, y); }
static float expsum_avx512(int n, const float *x, float shift, float *y)
{
    return kiln_vexpsum_avx512(n, x, shift, y);
}
static void cell_avx512(int n, const float *x, float *c, float *h, float *y)
{
    kiln_lstm_cell_avx512(n, x, c, h, y);
}
#endif

int main(void)
{
    const int n = inputs(xs, (int)(sizeof xs / sizeof xs[0]) - BATCH);
    for (int fn = 0; fn < N_FN; fn++) {
        sweep(KILN_SIMD_F32X4, fn, apply_x4, xs, n);
#if defined(KILN_SIMD_HAS_AVX2)
        if (kiln_cpu_has_avx2_fma())
            sweep("avx2", fn, apply_x8, xs, n);
        if (kiln_cpu_has_avx512f())
            sweep("avx512", fn, apply_x16, xs, n);
#endif
    }
    test_arrays(KILN_SIMD_F32X4, kiln_vmath_x4, kiln_lstm_cell_x4, kiln_vexpsum_x4);
#if defined(KILN_SIMD_HAS_AVX2)
    if (kiln_cpu_has_avx2_fma())
        test_arrays("avx2", vm_avx2, cell_avx2, expsum_avx2);
    if (kiln_cpu_has_avx512f())
        test_arrays("avx512", vm_avx512, cell_avx512, expsum_avx512);
#endif
    if (failures)
        return 1;
    printf("ok\n");
    return 0;
}
