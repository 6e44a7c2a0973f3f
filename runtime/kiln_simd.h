/* kiln_simd.h — the one SIMD abstraction of kiln's generated code and of the
 * micro-kernels in templates/: a float vector type with unaligned load/store,
 * broadcast, zero, add, mul, max and fused multiply-add, per ISA.
 *   kiln_f32x8_*  AVX2+FMA (x86 only). Every function carries KILN_TARGET_AVX2,
 *                 so the code builds without -march; call it only from functions
 *                 with the same attribute, after kiln_cpu_has_avx2_fma().
 *   kiln_f32x16_* AVX-512F (x86 only), likewise with KILN_TARGET_AVX512 after
 *                 kiln_cpu_has_avx512f().
 *   kiln_f32x4_*  SSE2 (x86-64 baseline), NEON (aarch64), or a scalar fallback.
 * KILN_SIMD_FORCE_SCALAR, defined before the include, selects the scalar
 * fallback (tests use it). Everything is static inline C99 (plus GNU
 * attributes): no symbol with external linkage, so models link together. */
#ifndef KILN_SIMD_H
#define KILN_SIMD_H

#if defined(KILN_SIMD_FORCE_SCALAR)
#elif defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define KILN_SIMD_X86 1
#include <immintrin.h>
#elif defined(__aarch64__) || defined(__ARM_NEON)
#define KILN_SIMD_NEON 1
#include <arm_neon.h>
#endif

/* ---- AVX2 + FMA: 8 lanes ---- */
#if defined(KILN_SIMD_X86) && (defined(__GNUC__) || defined(__clang__))
#define KILN_SIMD_HAS_AVX2 1
#define KILN_TARGET_AVX2 __attribute__((target("avx2,fma")))

/* Whether this CPU (and OS) runs AVX2 and FMA: the generated P_init checks
 * it and returns KILN_ERR_CPU instead of crashing later. */
static inline int kiln_cpu_has_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

typedef __m256 kiln_f32x8;

static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_load(const float *p)
{
    return _mm256_loadu_ps(p);
}
static inline KILN_TARGET_AVX2 void kiln_f32x8_store(float *p, kiln_f32x8 v)
{
    _mm256_storeu_ps(p, v);
}
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_set1(float x)
{
    return _mm256_set1_ps(x);
}
/* Broadcast from memory (one vbroadcastss). */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_bcast(const float *p)
{
    return _mm256_broadcast_ss(p);
}
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_zero(void)
{
    return _mm256_setzero_ps();
}
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_add(kiln_f32x8 a, kiln_f32x8 b)
{
    return _mm256_add_ps(a, b);
}
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_mul(kiln_f32x8 a, kiln_f32x8 b)
{
    return _mm256_mul_ps(a, b);
}
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_max(kiln_f32x8 a, kiln_f32x8 b)
{
    return _mm256_max_ps(a, b);
}
/* min and max return b when either is NaN (the x86 rule) */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_min(kiln_f32x8 a, kiln_f32x8 b)
{
    return _mm256_min_ps(a, b);
}
/* a * b + c, one rounding. */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_fma(kiln_f32x8 a, kiln_f32x8 b, kiln_f32x8 c)
{
    return _mm256_fmadd_ps(a, b, c);
}
/* The sum of the 8 lanes. */
static inline KILN_TARGET_AVX2 float kiln_f32x8_hsum(kiln_f32x8 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* ---- AVX-512F: 16 lanes (x86-64-v4) ---- */
#define KILN_SIMD_HAS_AVX512 1
#define KILN_TARGET_AVX512 __attribute__((target("avx512f")))

/* Whether this CPU runs AVX-512F and the OS saves the zmm registers:
 * __builtin_cpu_supports reads CPUID and XGETBV (XCR0's opmask and zmm
 * state bits) for it. The generated P_init of x86-64-v4 code checks it. */
static inline int kiln_cpu_has_avx512f(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

typedef __m512 kiln_f32x16;

static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_load(const float *p)
{
    return _mm512_loadu_ps(p);
}
/* Lanes [0, n) from p (0 <= n <= 16), zeros in the rest; nothing past
 * p + n is read (a masked load does not fault on the lanes it leaves out). */
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_load_first(const float *p, int n)
{
    return _mm512_maskz_loadu_ps((__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u), p);
}
static inline KILN_TARGET_AVX512 void kiln_f32x16_store(float *p, kiln_f32x16 v)
{
    _mm512_storeu_ps(p, v);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_set1(float x)
{
    return _mm512_set1_ps(x);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_bcast(const float *p)
{
    return _mm512_set1_ps(*p);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_zero(void)
{
    return _mm512_setzero_ps();
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_add(kiln_f32x16 a, kiln_f32x16 b)
{
    return _mm512_add_ps(a, b);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_mul(kiln_f32x16 a, kiln_f32x16 b)
{
    return _mm512_mul_ps(a, b);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_max(kiln_f32x16 a, kiln_f32x16 b)
{
    return _mm512_max_ps(a, b);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_fma(kiln_f32x16 a, kiln_f32x16 b,
                                                             kiln_f32x16 c)
{
    return _mm512_fmadd_ps(a, b, c);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_div(kiln_f32x16 a, kiln_f32x16 b)
{
    return _mm512_div_ps(a, b);
}
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_sqrt(kiln_f32x16 a)
{
    return _mm512_sqrt_ps(a);
}
static inline KILN_TARGET_AVX512 float kiln_f32x16_hsum(kiln_f32x16 v)
{
    return _mm512_reduce_add_ps(v);
}
#else
static inline int kiln_cpu_has_avx2_fma(void)
{
    return 0;
}
static inline int kiln_cpu_has_avx512f(void)
{
    return 0;
}
#endif

/* ---- 4 lanes: SSE2, NEON or scalar ---- */
#if defined(KILN_SIMD_X86)
#define KILN_SIMD_F32X4 "sse2"
typedef __m128 kiln_f32x4;
static inline kiln_f32x4 kiln_f32x4_load(const float *p) { return _mm_loadu_ps(p); }
static inline void kiln_f32x4_store(float *p, kiln_f32x4 v) { _mm_storeu_ps(p, v); }
static inline kiln_f32x4 kiln_f32x4_set1(float x) { return _mm_set1_ps(x); }
static inline kiln_f32x4 kiln_f32x4_bcast(const float *p) { return _mm_load1_ps(p); }
static inline kiln_f32x4 kiln_f32x4_zero(void) { return _mm_setzero_ps(); }
static inline kiln_f32x4 kiln_f32x4_add(kiln_f32x4 a, kiln_f32x4 b) { return _mm_add_ps(a, b); }
static inline kiln_f32x4 kiln_f32x4_mul(kiln_f32x4 a, kiln_f32x4 b) { return _mm_mul_ps(a, b); }
static inline kiln_f32x4 kiln_f32x4_max(kiln_f32x4 a, kiln_f32x4 b) { return _mm_max_ps(a, b); }
static inline kiln_f32x4 kiln_f32x4_div(kiln_f32x4 a, kiln_f32x4 b) { return _mm_div_ps(a, b); }
static inline kiln_f32x4 kiln_f32x4_sqrt(kiln_f32x4 a) { return _mm_sqrt_ps(a); }
/* SSE2 has no FMA: a * b + c with two roundings. */
static inline kiln_f32x4 kiln_f32x4_fma(kiln_f32x4 a, kiln_f32x4 b, kiln_f32x4 c)
{
    return _mm_add_ps(_mm_mul_ps(a, b), c);
}
static inline float kiln_f32x4_hsum(kiln_f32x4 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#elif defined(KILN_SIMD_NEON)
#define KILN_SIMD_F32X4 "neon"
typedef float32x4_t kiln_f32x4;
static inline kiln_f32x4 kiln_f32x4_load(const float *p) { return vld1q_f32(p); }
static inline void kiln_f32x4_store(float *p, kiln_f32x4 v) { vst1q_f32(p, v); }
static inline kiln_f32x4 kiln_f32x4_set1(float x) { return vdupq_n_f32(x); }
static inline kiln_f32x4 kiln_f32x4_bcast(const float *p) { return vld1q_dup_f32(p); }
static inline kiln_f32x4 kiln_f32x4_zero(void) { return vdupq_n_f32(0.0f); }
static inline kiln_f32x4 kiln_f32x4_add(kiln_f32x4 a, kiln_f32x4 b) { return vaddq_f32(a, b); }
static inline kiln_f32x4 kiln_f32x4_mul(kiln_f32x4 a, kiln_f32x4 b) { return vmulq_f32(a, b); }
static inline kiln_f32x4 kiln_f32x4_max(kiln_f32x4 a, kiln_f32x4 b) { return vmaxq_f32(a, b); }
static inline kiln_f32x4 kiln_f32x4_div(kiln_f32x4 a, kiln_f32x4 b) { return vdivq_f32(a, b); }
static inline kiln_f32x4 kiln_f32x4_sqrt(kiln_f32x4 a) { return vsqrtq_f32(a); }
/* a * b + c, one rounding (vfmaq_f32 takes the addend first). */
static inline kiln_f32x4 kiln_f32x4_fma(kiln_f32x4 a, kiln_f32x4 b, kiln_f32x4 c)
{
    return vfmaq_f32(c, a, b);
}
static inline float kiln_f32x4_hsum(kiln_f32x4 v) { return vaddvq_f32(v); }
#else
#define KILN_SIMD_F32X4 "scalar"
#include <math.h>
typedef struct kiln_f32x4 {
    float f[4];
} kiln_f32x4;
static inline kiln_f32x4 kiln_f32x4_load(const float *p)
{
    kiln_f32x4 v;
    for (int i = 0; i < 4; i++)
        v.f[i] = p[i];
    return v;
}
static inline void kiln_f32x4_store(float *p, kiln_f32x4 v)
{
    for (int i = 0; i < 4; i++)
        p[i] = v.f[i];
}
static inline kiln_f32x4 kiln_f32x4_set1(float x)
{
    kiln_f32x4 v;
    for (int i = 0; i < 4; i++)
        v.f[i] = x;
    return v;
}
static inline kiln_f32x4 kiln_f32x4_bcast(const float *p) { return kiln_f32x4_set1(*p); }
static inline kiln_f32x4 kiln_f32x4_zero(void) { return kiln_f32x4_set1(0.0f); }
static inline kiln_f32x4 kiln_f32x4_add(kiln_f32x4 a, kiln_f32x4 b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] += b.f[i];
    return a;
}
static inline kiln_f32x4 kiln_f32x4_mul(kiln_f32x4 a, kiln_f32x4 b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] *= b.f[i];
    return a;
}
/* max as the SSE/NEON instructions do it for ordinary numbers */
static inline kiln_f32x4 kiln_f32x4_max(kiln_f32x4 a, kiln_f32x4 b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] = a.f[i] > b.f[i] ? a.f[i] : b.f[i];
    return a;
}
static inline kiln_f32x4 kiln_f32x4_fma(kiln_f32x4 a, kiln_f32x4 b, kiln_f32x4 c)
{
    for (int i = 0; i < 4; i++)
        c.f[i] += a.f[i] * b.f[i];
    return c;
}
static inline kiln_f32x4 kiln_f32x4_div(kiln_f32x4 a, kiln_f32x4 b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] /= b.f[i];
    return a;
}
static inline kiln_f32x4 kiln_f32x4_sqrt(kiln_f32x4 a)
{
    for (int i = 0; i < 4; i++)
        a.f[i] = sqrtf(a.f[i]);
    return a;
}
static inline float kiln_f32x4_hsum(kiln_f32x4 v)
{
    return (v.f[0] + v.f[1]) + (v.f[2] + v.f[3]);
}
#endif

#endif
