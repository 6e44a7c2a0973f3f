/* test_simd.c — every operation of runtime/kiln_simd.h on known lanes: the
 * 8-lane AVX2 and 16-lane AVX-512 types (when this CPU has them) and the
 * 4-lane type, SSE2 here, or the scalar fallback when built with
 * KILN_SIMD_FORCE_SCALAR (CTest builds both). Linked with simd_other.c, a second translation unit
 * including the header, to prove it defines no external symbol. */
#include <stdio.h>

#include "kiln_simd.h"

int kiln_simd_test_other(void); /* simd_other.c */

static int failures;

static void check(const char *what, const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %s lane %d: %g, want %g\n", what, i, got[i], want[i]);
            failures++;
            return;
        }
}

static void test_f32x4(void)
{
    const float x[4] = {1, -2, 3.5f, -0.25f}, y[4] = {2, 2, -1, 8}, z[4] = {0.5f, 1, 1, -1};
    float r[4], want[4];
    kiln_f32x4 a = kiln_f32x4_load(x), b = kiln_f32x4_load(y), c = kiln_f32x4_load(z);
    kiln_f32x4_store(r, kiln_f32x4_add(a, b));
    for (int i = 0; i < 4; i++)
        want[i] = x[i] + y[i];
    check("f32x4 add", r, want, 4);
    kiln_f32x4_store(r, kiln_f32x4_mul(a, b));
    for (int i = 0; i < 4; i++)
        want[i] = x[i] * y[i];
    check("f32x4 mul", r, want, 4);
    kiln_f32x4_store(r, kiln_f32x4_max(a, b));
    for (int i = 0; i < 4; i++)
        want[i] = x[i] > y[i] ? x[i] : y[i];
    check("f32x4 max", r, want, 4);
    kiln_f32x4_store(r, kiln_f32x4_fma(a, b, c)); /* exact in these values */
    for (int i = 0; i < 4; i++)
        want[i] = x[i] * y[i] + z[i];
    check("f32x4 fma", r, want, 4);
    kiln_f32x4_store(r, kiln_f32x4_add(kiln_f32x4_set1(3), kiln_f32x4_bcast(&x[2])));
    for (int i = 0; i < 4; i++)
        want[i] = 6.5f;
    check("f32x4 set1/bcast", r, want, 4);
    kiln_f32x4_store(r, kiln_f32x4_zero());
    for (int i = 0; i < 4; i++)
        want[i] = 0;
    check("f32x4 zero", r, want, 4);
    want[0] = kiln_f32x4_hsum(a);
    r[0] = x[0] + x[1] + x[2] + x[3];
    check("f32x4 hsum", r, want, 1);
}

#ifdef KILN_SIMD_HAS_AVX2
static KILN_TARGET_AVX2 void test_f32x8(void)
{
    float x[8], y[8], z[8], r[8], want[8];
    for (int i = 0; i < 8; i++)
        x[i] = (float)i - 3.5f, y[i] = (float)(i % 3) - 1, z[i] = 0.25f * (float)i;
    kiln_f32x8 a = kiln_f32x8_load(x), b = kiln_f32x8_load(y), c = kiln_f32x8_load(z);
    kiln_f32x8_store(r, kiln_f32x8_add(a, b));
    for (int i = 0; i < 8; i++)
        want[i] = x[i] + y[i];
    check("f32x8 add", r, want, 8);
    kiln_f32x8_store(r, kiln_f32x8_mul(a, b));
    for (int i = 0; i < 8; i++)
        want[i] = x[i] * y[i];
    check("f32x8 mul", r, want, 8);
    kiln_f32x8_store(r, kiln_f32x8_max(a, b));
    for (int i = 0; i < 8; i++)
        want[i] = x[i] > y[i] ? x[i] : y[i];
    check("f32x8 max", r, want, 8);
    kiln_f32x8_store(r, kiln_f32x8_fma(a, b, c));
    for (int i = 0; i < 8; i++)
        want[i] = x[i] * y[i] + z[i];
    check("f32x8 fma", r, want, 8);
    kiln_f32x8_store(r, kiln_f32x8_add(kiln_f32x8_set1(2), kiln_f32x8_bcast(&x[7])));
    for (int i = 0; i < 8; i++)
        want[i] = 5.5f;
    check("f32x8 set1/bcast", r, want, 8);
    kiln_f32x8_store(r, kiln_f32x8_zero());
    for (int i = 0; i < 8; i++)
        want[i] = 0;
    check("f32x8 zero", r, want, 8);
    want[0] = kiln_f32x8_hsum(a);
    r[0] = 0;
    for (int i = 0; i < 8; i++)
        r[0] += x[i];
    check("f32x8 hsum", r, want, 1);
    /* one rounding: (1 + 2^-12)^2 - 1 keeps the 2^-24 term that mul + add drops */
    const float e = 1.0f + 1.0f / 4096.0f;
    float one[8], prod[8];
    for (int i = 0; i < 8; i++)
        one[i] = -1.0f, want[i] = 2.0f / 4096.0f + 1.0f / (4096.0f * 4096.0f);
    kiln_f32x8_store(prod, kiln_f32x8_fma(kiln_f32x8_set1(e), kiln_f32x8_set1(e),
                                          kiln_f32x8_load(one)));
    check("f32x8 fma rounds once", prod, want, 8);
}
#endif

#ifdef KILN_SIMD_HAS_AVX512
static KILN_TARGET_AVX512 void test_f32x16(void)
{
    float x[16], y[16], z[16], r[16], want[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i - 7.5f, y[i] = (float)(i % 5) - 2, z[i] = 0.5f * (float)i;
    kiln_f32x16 a = kiln_f32x16_load(x), b = kiln_f32x16_load(y), c = kiln_f32x16_load(z);
    kiln_f32x16_store(r, kiln_f32x16_fma(a, b, c));
    for (int i = 0; i < 16; i++)
        want[i] = x[i] * y[i] + z[i];
    check("f32x16 fma", r, want, 16);
    kiln_f32x16_store(r, kiln_f32x16_max(kiln_f32x16_mul(a, b), kiln_f32x16_add(a, b)));
    for (int i = 0; i < 16; i++)
        want[i] = x[i] * y[i] > x[i] + y[i] ? x[i] * y[i] : x[i] + y[i];
    check("f32x16 mul/add/max", r, want, 16);
    kiln_f32x16_store(r, kiln_f32x16_add(kiln_f32x16_set1(1), kiln_f32x16_bcast(&x[3])));
    for (int i = 0; i < 16; i++)
        want[i] = -3.5f;
    check("f32x16 set1/bcast", r, want, 16);
    kiln_f32x16_store(r, kiln_f32x16_zero());
    for (int i = 0; i < 16; i++)
        want[i] = 0;
    check("f32x16 zero", r, want, 16);
    want[0] = kiln_f32x16_hsum(a);
    r[0] = 0;
    for (int i = 0; i < 16; i++)
        r[0] += x[i];
    check("f32x16 hsum", r, want, 1);
}
#endif

int main(void)
{
    test_f32x4();
    printf("f32x4 (%s): checked\n", KILN_SIMD_F32X4);
#ifdef KILN_SIMD_HAS_AVX2
    if (kiln_cpu_has_avx2_fma()) {
        test_f32x8();
        printf("f32x8 (avx2+fma): checked\n");
    } else {
        printf("f32x8: skipped, this CPU lacks AVX2+FMA\n");
    }
#endif
#ifdef KILN_SIMD_HAS_AVX512
    if (kiln_cpu_has_avx512f()) {
        test_f32x16();
        printf("f32x16 (avx512f): checked\n");
    } else {
        printf("f32x16: skipped, this CPU lacks AVX-512F\n");
    }
#endif
    failures += kiln_simd_test_other();
    printf("%d failures\n", failures);
    return failures != 0;
}
