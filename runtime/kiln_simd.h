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
 * fallback (tests use it).
 * Each width also has exp, tanh and sigmoid (the logistic function), written
 * here: exp reduces x = n ln2 + r (|r| <= ln2/2, ln2 split in two so n ln2
 * is exact) and evaluates e^r = 1 + r + r^2 P(r), P of degree 4 fitted
 * (minimax, relative error 3e-9) on that interval, then scales by 2^n in two
 * halves so overflow gives inf and underflow rounds into the subnormals like
 * libm; tanh is x + x^3 Q(x^2) (degree 11, fitted) for |x| < 0.625, where
 * 1 - 2/(e^2|x| + 1) would cancel, and that formula above; sigmoid is
 * 1/(1 + e^-|x|) or e^-|x|/(1 + e^-|x|) by sign, so it neither overflows nor
 * loses the tiny values of very negative x. NaN propagates; exp(+-inf) is
 * inf/0, tanh and sigmoid saturate. Measured against libm in double over a
 * dense sweep (tests/kernels/test_vmath.c, which enforces 1, 1.5, 2.5): at
 * most 0.98 ulp for exp, 1.24 for tanh and 2.26 for sigmoid, the same on
 * AVX-512, AVX2, SSE2 and NEON. The scalar fallback keeps libm. Everything is static inline C99 (plus GNU
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

/* The constants of exp, tanh and sigmoid (see the top of the file). */
#define KILN_EXP_LO (-105.0f)       /* e^x rounds to 0 below */
#define KILN_EXP_HI 89.0f           /* e^x overflows above */
#define KILN_EXP_SHIFT 12582912.0f  /* 1.5 * 2^23: x + it rounds x to an integer */
#define KILN_LOG2E 1.44269504f
#define KILN_LN2_HI 0.693359375f    /* 9 significant bits: n * it is exact */
#define KILN_LN2_LO (-2.12194440e-4f)
#define KILN_EXP_C2 4.999999305e-01f
#define KILN_EXP_C3 1.666651479e-01f
#define KILN_EXP_C4 4.166845680e-02f
#define KILN_EXP_C5 8.369418968e-03f
#define KILN_EXP_C6 1.381314450e-03f
#define KILN_TANH_SMALL 0.625f
#define KILN_TANH_C3 (-3.333328194e-01f)
#define KILN_TANH_C5 1.333144219e-01f
#define KILN_TANH_C7 (-5.373971430e-02f)
#define KILN_TANH_C9 2.063908471e-02f
#define KILN_TANH_C11 (-5.704984161e-03f)

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

/* e^x per lane (see the top of the file for the method and its error). */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_exp(kiln_f32x8 x)
{
    const __m256 shift = _mm256_set1_ps(KILN_EXP_SHIFT);
    /* max/min return their second operand on NaN: x goes second */
    x = _mm256_min_ps(_mm256_set1_ps(KILN_EXP_HI), _mm256_max_ps(_mm256_set1_ps(KILN_EXP_LO), x));
    const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(KILN_LOG2E), shift);
    const __m256 n = _mm256_sub_ps(t, shift);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KILN_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KILN_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(KILN_EXP_C6), r, _mm256_set1_ps(KILN_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(KILN_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(KILN_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(KILN_EXP_C2));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    /* 2^n as 2^(n/2) 2^(n - n/2): both halves are normal numbers */
    const __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(shift));
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
/* tanh x per lane. */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_tanh(kiln_f32x8 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 a = _mm256_andnot_ps(sign, x);
    const __m256 x2 = _mm256_mul_ps(x, x);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(KILN_TANH_C11), x2, _mm256_set1_ps(KILN_TANH_C9));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(KILN_TANH_C7));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(KILN_TANH_C5));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(KILN_TANH_C3));
    const __m256 small = _mm256_fmadd_ps(q, _mm256_mul_ps(x2, x), x);
    const __m256 e = kiln_f32x8_exp(_mm256_add_ps(a, a));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    const __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(KILN_TANH_SMALL), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, is_small);
}
/* The logistic function 1 / (1 + e^-x) per lane. */
static inline KILN_TARGET_AVX2 kiln_f32x8 kiln_f32x8_sigmoid(kiln_f32x8 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 s = kiln_f32x8_exp(_mm256_or_ps(x, sign)); /* e^-|x| */
    const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_div_ps(_mm256_blendv_ps(s, one, pos), _mm256_add_ps(one, s));
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
/* e^x per lane; vscalefps multiplies by 2^n with the overflow and the
 * subnormal rounding of the product. */
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_exp(kiln_f32x16 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(KILN_EXP_HI), _mm512_max_ps(_mm512_set1_ps(KILN_EXP_LO), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(KILN_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KILN_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KILN_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(KILN_EXP_C6), r, _mm512_set1_ps(KILN_EXP_C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(KILN_EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(KILN_EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(KILN_EXP_C2));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
/* tanh x per lane. */
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_tanh(kiln_f32x16 x)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(KILN_TANH_C11), x2, _mm512_set1_ps(KILN_TANH_C9));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(KILN_TANH_C7));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(KILN_TANH_C5));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(KILN_TANH_C3));
    const __m512 small = _mm512_fmadd_ps(q, _mm512_mul_ps(x2, x), x);
    const __m512 e = kiln_f32x16_exp(_mm512_add_ps(a, a));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big),
                                              _mm512_and_si512(_mm512_castps_si512(x), sign)));
    const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(KILN_TANH_SMALL), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, big, small);
}
/* The logistic function 1 / (1 + e^-x) per lane. */
static inline KILN_TARGET_AVX512 kiln_f32x16 kiln_f32x16_sigmoid(kiln_f32x16 x)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 s = kiln_f32x16_exp(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), sign)));
    const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_div_ps(_mm512_mask_blend_ps(pos, s, one), _mm512_add_ps(one, s));
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
/* e^x per lane, as kiln_f32x8_exp with two roundings where that has one
 * fma (SSE2 has none). */
static inline kiln_f32x4 kiln_f32x4_exp(kiln_f32x4 x)
{
    const __m128 shift = _mm_set1_ps(KILN_EXP_SHIFT);
    x = _mm_min_ps(_mm_set1_ps(KILN_EXP_HI), _mm_max_ps(_mm_set1_ps(KILN_EXP_LO), x));
    const __m128 t = _mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(KILN_LOG2E)), shift);
    const __m128 n = _mm_sub_ps(t, shift);
    __m128 r = _mm_sub_ps(x, _mm_mul_ps(n, _mm_set1_ps(KILN_LN2_HI))); /* exact */
    r = _mm_sub_ps(r, _mm_mul_ps(n, _mm_set1_ps(KILN_LN2_LO)));
    __m128 p = kiln_f32x4_fma(_mm_set1_ps(KILN_EXP_C6), r, _mm_set1_ps(KILN_EXP_C5));
    p = kiln_f32x4_fma(p, r, _mm_set1_ps(KILN_EXP_C4));
    p = kiln_f32x4_fma(p, r, _mm_set1_ps(KILN_EXP_C3));
    p = kiln_f32x4_fma(p, r, _mm_set1_ps(KILN_EXP_C2));
    p = _mm_add_ps(kiln_f32x4_fma(p, _mm_mul_ps(r, r), r), _mm_set1_ps(1.0f));
    const __m128i ni = _mm_sub_epi32(_mm_castps_si128(t), _mm_castps_si128(shift));
    const __m128i n1 = _mm_srai_epi32(ni, 1), n2 = _mm_sub_epi32(ni, n1);
    const __m128i bias = _mm_set1_epi32(127);
    const __m128 s1 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n1, bias), 23));
    const __m128 s2 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n2, bias), 23));
    return _mm_mul_ps(_mm_mul_ps(p, s1), s2);
}
/* mask ? a : b, lane by lane (SSE2 has no blendv). */
static inline __m128 kiln_f32x4_select_(__m128 mask, __m128 a, __m128 b)
{
    return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b));
}
static inline kiln_f32x4 kiln_f32x4_tanh(kiln_f32x4 x)
{
    const __m128 sign = _mm_set1_ps(-0.0f), one = _mm_set1_ps(1.0f);
    const __m128 a = _mm_andnot_ps(sign, x), x2 = _mm_mul_ps(x, x);
    __m128 q = kiln_f32x4_fma(_mm_set1_ps(KILN_TANH_C11), x2, _mm_set1_ps(KILN_TANH_C9));
    q = kiln_f32x4_fma(q, x2, _mm_set1_ps(KILN_TANH_C7));
    q = kiln_f32x4_fma(q, x2, _mm_set1_ps(KILN_TANH_C5));
    q = kiln_f32x4_fma(q, x2, _mm_set1_ps(KILN_TANH_C3));
    const __m128 small = kiln_f32x4_fma(q, _mm_mul_ps(x2, x), x);
    const __m128 e = kiln_f32x4_exp(_mm_add_ps(a, a));
    __m128 big = _mm_sub_ps(one, _mm_div_ps(_mm_set1_ps(2.0f), _mm_add_ps(e, one)));
    big = _mm_or_ps(big, _mm_and_ps(x, sign));
    return kiln_f32x4_select_(_mm_cmplt_ps(a, _mm_set1_ps(KILN_TANH_SMALL)), small, big);
}
static inline kiln_f32x4 kiln_f32x4_sigmoid(kiln_f32x4 x)
{
    const __m128 one = _mm_set1_ps(1.0f);
    const __m128 s = kiln_f32x4_exp(_mm_or_ps(x, _mm_set1_ps(-0.0f))); /* e^-|x| */
    const __m128 num = kiln_f32x4_select_(_mm_cmpge_ps(x, _mm_setzero_ps()), one, s);
    return _mm_div_ps(num, _mm_add_ps(one, s));
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
/* e^x per lane, as kiln_f32x8_exp (vmaxq/vminq propagate NaN). */
static inline kiln_f32x4 kiln_f32x4_exp(kiln_f32x4 x)
{
    const float32x4_t shift = vdupq_n_f32(KILN_EXP_SHIFT);
    x = vminq_f32(vdupq_n_f32(KILN_EXP_HI), vmaxq_f32(vdupq_n_f32(KILN_EXP_LO), x));
    const float32x4_t t = vfmaq_f32(shift, x, vdupq_n_f32(KILN_LOG2E));
    const float32x4_t n = vsubq_f32(t, shift);
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(KILN_LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(KILN_LN2_LO));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(KILN_EXP_C5), vdupq_n_f32(KILN_EXP_C6), r);
    p = vfmaq_f32(vdupq_n_f32(KILN_EXP_C4), p, r);
    p = vfmaq_f32(vdupq_n_f32(KILN_EXP_C3), p, r);
    p = vfmaq_f32(vdupq_n_f32(KILN_EXP_C2), p, r);
    p = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    const int32x4_t ni = vsubq_s32(vreinterpretq_s32_f32(t), vreinterpretq_s32_f32(shift));
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}
static inline kiln_f32x4 kiln_f32x4_tanh(kiln_f32x4 x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t a = vabsq_f32(x), x2 = vmulq_f32(x, x);
    float32x4_t q = vfmaq_f32(vdupq_n_f32(KILN_TANH_C9), vdupq_n_f32(KILN_TANH_C11), x2);
    q = vfmaq_f32(vdupq_n_f32(KILN_TANH_C7), q, x2);
    q = vfmaq_f32(vdupq_n_f32(KILN_TANH_C5), q, x2);
    q = vfmaq_f32(vdupq_n_f32(KILN_TANH_C3), q, x2);
    const float32x4_t small = vfmaq_f32(x, q, vmulq_f32(x2, x));
    const float32x4_t e = kiln_f32x4_exp(vaddq_f32(a, a));
    float32x4_t big = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
    big = vbslq_f32(vdupq_n_u32(0x80000000u), x, big); /* x's sign */
    return vbslq_f32(vcltq_f32(a, vdupq_n_f32(KILN_TANH_SMALL)), small, big);
}
static inline kiln_f32x4 kiln_f32x4_sigmoid(kiln_f32x4 x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t s = kiln_f32x4_exp(vnegq_f32(vabsq_f32(x))); /* e^-|x| */
    return vdivq_f32(vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), one, s), vaddq_f32(one, s));
}
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

/* exp, tanh and sigmoid of the scalar fallback: libm's, lane by lane */
static inline kiln_f32x4 kiln_f32x4_exp(kiln_f32x4 a)
{
    for (int i = 0; i < 4; i++)
        a.f[i] = expf(a.f[i]);
    return a;
}
static inline kiln_f32x4 kiln_f32x4_tanh(kiln_f32x4 a)
{
    for (int i = 0; i < 4; i++)
        a.f[i] = tanhf(a.f[i]);
    return a;
}
static inline kiln_f32x4 kiln_f32x4_sigmoid(kiln_f32x4 a)
{
    for (int i = 0; i < 4; i++) {
        const float s = expf(-fabsf(a.f[i]));
        a.f[i] = (a.f[i] >= 0.0f ? 1.0f : s) / (1.0f + s);
    }
    return a;
}
#endif

#endif
