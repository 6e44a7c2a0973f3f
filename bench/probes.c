/* probes.c — what the machine can do at best, measured in the same run as
 * the kernels: the single-core FP32 FMA peak (10 independent chains of
 * 8-lane AVX2 FMAs, enough to fill both FMA pipes, and of 16-lane AVX-512
 * FMAs where the CPU has them) and the L2 read bandwidth
 * (AVX2 loads over a buffer that fits in L2). Built like generated code:
 * C99, no -march, AVX2 enabled per function (runtime/kiln_simd.h). */
#include "probes.h"

#include "kiln_simd.h"

#ifdef KILN_SIMD_HAS_AVX2
static KILN_TARGET_AVX2 float fma_chains(long iters, float seed)
{
    const kiln_f32x8 m = kiln_f32x8_set1(0.9999999f), c = kiln_f32x8_set1(seed * 1e-7f);
    kiln_f32x8 a0 = kiln_f32x8_set1(seed), a1 = kiln_f32x8_set1(seed + 1);
    kiln_f32x8 a2 = kiln_f32x8_set1(seed + 2), a3 = kiln_f32x8_set1(seed + 3);
    kiln_f32x8 a4 = kiln_f32x8_set1(seed + 4), a5 = kiln_f32x8_set1(seed + 5);
    kiln_f32x8 a6 = kiln_f32x8_set1(seed + 6), a7 = kiln_f32x8_set1(seed + 7);
    kiln_f32x8 a8 = kiln_f32x8_set1(seed + 8), a9 = kiln_f32x8_set1(seed + 9);
    for (long i = 0; i < iters; i++) {
        a0 = kiln_f32x8_fma(a0, m, c);
        a1 = kiln_f32x8_fma(a1, m, c);
        a2 = kiln_f32x8_fma(a2, m, c);
        a3 = kiln_f32x8_fma(a3, m, c);
        a4 = kiln_f32x8_fma(a4, m, c);
        a5 = kiln_f32x8_fma(a5, m, c);
        a6 = kiln_f32x8_fma(a6, m, c);
        a7 = kiln_f32x8_fma(a7, m, c);
        a8 = kiln_f32x8_fma(a8, m, c);
        a9 = kiln_f32x8_fma(a9, m, c);
    }
    a0 = kiln_f32x8_add(kiln_f32x8_add(a0, a1), kiln_f32x8_add(a2, a3));
    a4 = kiln_f32x8_add(kiln_f32x8_add(a4, a5), kiln_f32x8_add(a6, a7));
    return kiln_f32x8_hsum(kiln_f32x8_add(kiln_f32x8_add(a0, a4), kiln_f32x8_add(a8, a9)));
}

static KILN_TARGET_AVX2 float read_sum(const float *buf, long n)
{
    kiln_f32x8 s0 = kiln_f32x8_zero(), s1 = s0, s2 = s0, s3 = s0;
    for (long i = 0; i + 32 <= n; i += 32) {
        s0 = kiln_f32x8_add(s0, kiln_f32x8_load(buf + i));
        s1 = kiln_f32x8_add(s1, kiln_f32x8_load(buf + i + 8));
        s2 = kiln_f32x8_add(s2, kiln_f32x8_load(buf + i + 16));
        s3 = kiln_f32x8_add(s3, kiln_f32x8_load(buf + i + 24));
    }
    return kiln_f32x8_hsum(kiln_f32x8_add(kiln_f32x8_add(s0, s1), kiln_f32x8_add(s2, s3)));
}
#endif

int probe_available(void)
{
    return kiln_cpu_has_avx2_fma();
}

float probe_fma(long iters, float seed)
{
#ifdef KILN_SIMD_HAS_AVX2
    return fma_chains(iters, seed);
#else
    (void)iters;
    return seed;
#endif
}

float probe_read(const float *buf, long n)
{
#ifdef KILN_SIMD_HAS_AVX2
    return read_sum(buf, n);
#else
    (void)n;
    return buf[0];
#endif
}

#ifdef KILN_SIMD_HAS_AVX512
static KILN_TARGET_AVX512 float fma_chains512(long iters, float seed)
{
    const kiln_f32x16 m = kiln_f32x16_set1(0.9999999f), c = kiln_f32x16_set1(seed * 1e-7f);
    kiln_f32x16 a0 = kiln_f32x16_set1(seed), a1 = kiln_f32x16_set1(seed + 1);
    kiln_f32x16 a2 = kiln_f32x16_set1(seed + 2), a3 = kiln_f32x16_set1(seed + 3);
    kiln_f32x16 a4 = kiln_f32x16_set1(seed + 4), a5 = kiln_f32x16_set1(seed + 5);
    kiln_f32x16 a6 = kiln_f32x16_set1(seed + 6), a7 = kiln_f32x16_set1(seed + 7);
    kiln_f32x16 a8 = kiln_f32x16_set1(seed + 8), a9 = kiln_f32x16_set1(seed + 9);
    for (long i = 0; i < iters; i++) {
        a0 = kiln_f32x16_fma(a0, m, c);
        a1 = kiln_f32x16_fma(a1, m, c);
        a2 = kiln_f32x16_fma(a2, m, c);
        a3 = kiln_f32x16_fma(a3, m, c);
        a4 = kiln_f32x16_fma(a4, m, c);
        a5 = kiln_f32x16_fma(a5, m, c);
        a6 = kiln_f32x16_fma(a6, m, c);
        a7 = kiln_f32x16_fma(a7, m, c);
        a8 = kiln_f32x16_fma(a8, m, c);
        a9 = kiln_f32x16_fma(a9, m, c);
    }
    a0 = kiln_f32x16_add(kiln_f32x16_add(a0, a1), kiln_f32x16_add(a2, a3));
    a4 = kiln_f32x16_add(kiln_f32x16_add(a4, a5), kiln_f32x16_add(a6, a7));
    return kiln_f32x16_hsum(kiln_f32x16_add(kiln_f32x16_add(a0, a4), kiln_f32x16_add(a8, a9)));
}
#endif

int probe_has_avx512(void)
{
    return kiln_cpu_has_avx512f();
}

float probe_fma512(long iters, float seed)
{
#ifdef KILN_SIMD_HAS_AVX512
    return fma_chains512(iters, seed);
#else
    (void)iters;
    return seed;
#endif
}
