/* test_gemm.c — the GEMM micro-kernel templates (templates/kiln_gemm_*.h)
 * against a naive triple loop: every edge-tile shape, transposed operands,
 * every bias broadcast, alpha/beta, every epilogue activation, the Relu-gradient
 * mask (ep.mask, kiln_sgemm_mask_tile) and several k
 * blocks, driven by the
 * same cache-blocked loops and packing k_gemm.c prints; and convolutions as
 * implicit GEMM (kiln_sgemm_pack_b_conv, on wide rows, AVX-512's B read in
 * place and its 16-channel direct kernel) against the direct loops. Built with the plain
 * contract flags (no -march): the AVX2 and AVX-512 kernels must enable
 * themselves. On x86 it checks generic, SSE2, AVX2 and AVX-512 (each SIMD
 * one where the CPU has it); cross-compiled for aarch64, generic and NEON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_gemm_generic.h"
#include "kiln_simd.h"
#ifdef KILN_SIMD_HAS_AVX2
#include "kiln_gemm_avx2.h"
#endif
#ifdef KILN_SIMD_HAS_AVX512
#include "kiln_gemm_avx512.h"
#endif
#ifdef KILN_SIMD_X86
#include "kiln_gemm_sse2.h"
#endif
#ifdef KILN_SIMD_NEON
#include "kiln_gemm_neon.h"
#endif

typedef void (*BlockFn)(int mc, int nc, int kc, const float *pa, ptrdiff_t pa_ps,
                        const float *pb, ptrdiff_t pb_ps, float *c, ptrdiff_t ldc,
                        const kiln_sgemm_epi *ep, int flags);

typedef struct Isa {
    const char *name;
    int mr, nr;
    BlockFn block;
    int direct; /* AVX-512's in-place A (block_a), its B packs (pack_b, pack_bt), a conv's B
                   read in place (block_x) and the 16-channel direct conv (oc16_2x5) */
} Isa;

/* One problem: c[M,N] = act(alpha * op(A) * op(B) + beta * bias). */
typedef struct Case {
    int M, N, K;
    int ta, tb;   /* A stored [K,M], B stored [N,K] */
    int bias;     /* 0 none, 1 [N], 2 [M,1], 3 scalar, 4 [M,N] */
    float alpha, beta;
    int act;      /* KILN_ACT_*, or ACT_MASK: none, then the mask */
    int mc, nc, kc; /* cache blocks */
} Case;

static unsigned rng = 12345u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* The activations in double from their ONNX definitions; LeakyRelu's
 * alpha and Clip's bounds are ACT_ALPHA / ACT_BETA. */
#define ACT_ALPHA 0.125f
#define ACT_BETA 0.375f
/* Not an activation: c = mask > 0 ? c : 0 with a random mask [M,N] (a
 * Relu's gradient, pass/fuse_grad_mask.c). */
#define ACT_MASK 7
static double act_ref(int act, double v)
{
    switch (act) {
    case KILN_ACT_RELU: return v > 0 ? v : 0;
    case KILN_ACT_LEAKY: return v >= 0 ? v : ACT_ALPHA * v;
    case KILN_ACT_CLIP: return v < ACT_ALPHA ? ACT_ALPHA : v > ACT_BETA ? ACT_BETA : v;
    case KILN_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case KILN_ACT_TANH: return tanh(v);
    case KILN_ACT_HARDSWISH: return v * fmax(0, fmin(1, v / 6 + 0.5));
    default: return v;
    }
}

static void bias_strides(const Case *t, ptrdiff_t *rs, ptrdiff_t *cs)
{
    static const ptrdiff_t r[] = {0, 0, 1, 0, 0}, s[] = {0, 1, 0, 0, 1};
    *rs = t->bias == 4 ? t->N : r[t->bias];
    *cs = s[t->bias];
}

static void naive(const Case *t, const float *a, const float *b, const float *bias,
                  const float *mask, float *c)
{
    ptrdiff_t brs, bcs;
    bias_strides(t, &brs, &bcs);
    for (int i = 0; i < t->M; i++)
        for (int j = 0; j < t->N; j++) {
            double s = 0;
            for (int k = 0; k < t->K; k++)
                s += (double)(t->ta ? a[k * t->M + i] : a[i * t->K + k]) *
                     (double)(t->tb ? b[j * t->K + k] : b[k * t->N + j]);
            double v = t->alpha * s + (t->bias ? t->beta * (double)bias[i * brs + j * bcs] : 0.0);
            c[i * t->N + j] = t->act != ACT_MASK ? (float)act_ref(t->act, v)
                              : mask[i * t->N + j] > 0 ? (float)v : 0.0f;
        }
}

/* The loop nest k_gemm.c prints: jc, pc (pack B), ic (pack A), block. */
static void blocked(const Isa *isa, const Case *t, const float *a, const float *b,
                    const float *bias, const float *mask, float *c, float *pa, float *pb)
{
    kiln_sgemm_epi ep = {t->alpha, t->beta, NULL, 0, 0, t->act, ACT_ALPHA, ACT_BETA, NULL, t->N};
    if (t->act == ACT_MASK)
        ep.act = KILN_ACT_NONE;
    bias_strides(t, &ep.bias_rs, &ep.bias_cs);
    ptrdiff_t a_rs = t->ta ? 1 : t->K, a_cs = t->ta ? t->M : 1;
    ptrdiff_t b_rs = t->tb ? 1 : t->N, b_cs = t->tb ? t->K : 1;
    for (int jc = 0; jc < t->N; jc += t->nc) {
        int nc = t->N - jc < t->nc ? t->N - jc : t->nc;
        for (int pc = 0; pc < t->K; pc += t->kc) {
            int kc = t->K - pc < t->kc ? t->K - pc : t->kc;
            int flags = (pc == 0 ? KILN_SGEMM_FIRST : 0) | (pc + kc == t->K ? KILN_SGEMM_LAST : 0);
#ifdef KILN_SIMD_HAS_AVX512
            if (isa->direct && t->tb)
                kiln_sgemm_avx512_pack_bt(kc, nc, b + pc * b_rs + jc * b_cs, b_cs, pb);
            else if (isa->direct)
                kiln_sgemm_avx512_pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, pb);
            else
#endif
                kiln_sgemm_pack_b(isa->nr, kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, pb);
            for (int ic = 0; ic < t->M; ic += t->mc) {
                int mc = t->M - ic < t->mc ? t->M - ic : t->mc;
                ep.bias = t->bias ? bias + ic * ep.bias_rs + jc * ep.bias_cs : NULL;
                ep.mask = t->act == ACT_MASK ? mask + ic * t->N + jc : NULL;
#ifdef KILN_SIMD_HAS_AVX512
                if (isa->direct) {
                    kiln_sgemm_avx512_block_a(mc, nc, kc, a + ic * a_rs + pc * a_cs, a_rs, a_cs,
                                              pb, (ptrdiff_t)kc * isa->nr, c + ic * t->N + jc,
                                              t->N, &ep, flags);
                    continue;
                }
#endif
                kiln_sgemm_pack_a(isa->mr, mc, kc, a + ic * a_rs + pc * a_cs, a_rs, a_cs, pa);
                isa->block(mc, nc, kc, pa, (ptrdiff_t)kc * isa->mr, pb, (ptrdiff_t)kc * isa->nr,
                           c + ic * t->N + jc, t->N, &ep, flags);
            }
        }
    }
}

/* Runs one case; returns 1 if every element matches. */
static int run_case(const Isa *isa, const Case *t)
{
    size_t M = (size_t)t->M, N = (size_t)t->N, K = (size_t)t->K;
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *bias = malloc(M * N * sizeof *bias), *want = malloc(M * N * sizeof *want);
    float *got = malloc(M * N * sizeof *got), *mask = malloc(M * N * sizeof *mask);
    float *pa = malloc((M + 16) * K * sizeof *pa), *pb = malloc((N + 32) * K * sizeof *pb);
    for (size_t i = 0; i < M * K; i++)
        a[i] = frand();
    for (size_t i = 0; i < K * N; i++)
        b[i] = frand();
    for (size_t i = 0; i < M * N; i++)
        bias[i] = frand(), mask[i] = frand(), got[i] = NAN;
    naive(t, a, b, bias, mask, want);
    blocked(isa, t, a, b, bias, mask, got, pa, pb);
    int ok = 1;
    for (size_t i = 0; i < M * N && ok; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-5f + 1e-4f * fabsf(want[i]))) {
            printf("FAIL %s M=%d N=%d K=%d ta=%d tb=%d bias=%d act=%d blocks %d/%d/%d: "
                   "c[%zu] = %g, want %g\n",
                   isa->name, t->M, t->N, t->K, t->ta, t->tb, t->bias, t->act, t->mc, t->nc,
                   t->kc, i, got[i], want[i]);
            ok = 0;
        }
    free(a), free(b), free(bias), free(want), free(got), free(mask), free(pa), free(pb);
    return ok;
}

/* x of geometry g copied into a padded image [c, hp, wp] for a stride-1
 * convolution (hp, wp: the taps' extent), zeros around it and slack
 * floats past it (calloc'd: the caller frees it). */
static float *pad_image(const kiln_conv_geom *g, const float *x, int hp, int wp, int slack)
{
    float *xp = calloc((size_t)(g->c * hp * wp + slack), sizeof(float));
    for (int c = 0; c < g->c; c++)
        for (int iy = 0; iy < g->h && iy + g->ph < hp; iy++)
            for (int ix = 0; ix < g->w && ix + g->pw < wp; ix++)
                xp[(c * hp + iy + g->ph) * wp + ix + g->pw] = x[(c * g->h + iy) * g->w + ix];
    return xp;
}

/* The stride-1 convolution of geometry g on wide rows: x copied into a
 * padded image xp (with the packer's slack past it), B packed by
 * kiln_sgemm_pack_b_conv_wide block by block (AVX-512 with isa->direct:
 * read in place by kiln_sgemm_avx512_block_x) into a wide output, whose
 * first ow columns of each row go to got [M, oh*ow]. */
static void conv_wide(const Isa *isa, int M, const kiln_conv_geom *g, const float *x,
                      const float *pa, const kiln_sgemm_epi *ep, int kc_block, int nc_block,
                      float *pb, float *got)
{
    const int K = g->c * g->kh * g->kw;
    const int hp = g->oh + g->dh * (g->kh - 1), wp = g->ow + g->dw * (g->kw - 1), N = g->oh * wp;
    const kiln_conv_geom gw = {g->c, hp, wp, g->kh, g->kw, 1, 1, g->dh, g->dw, 0, 0, g->oh, wp};
    float *xp = pad_image(g, x, hp, wp, wp + 32); /* block_x reads whole tiles */
    float *yw = malloc(sizeof(float) * (size_t)(M * N));
    for (int jc = 0; jc < N; jc += nc_block) {
        int nc = N - jc < nc_block ? N - jc : nc_block;
        for (int pc = 0; pc < K; pc += kc_block) {
            int kc = K - pc < kc_block ? K - pc : kc_block;
            int flags = (pc == 0 ? KILN_SGEMM_FIRST : 0) | (pc + kc == K ? KILN_SGEMM_LAST : 0);
#ifdef KILN_SIMD_HAS_AVX512
            if (isa->direct) {
                int *off = (int *)pb;
                kiln_conv_wide_offsets(kc, pc, &gw, off);
                kiln_sgemm_avx512_block_x(M, nc, kc, pa + pc * isa->mr, (ptrdiff_t)K * isa->mr,
                                          xp + jc, off, yw + jc, N, ep, flags);
                continue;
            }
#endif
            kiln_sgemm_pack_b_conv_wide(isa->nr, kc, nc, pc, jc, xp, &gw, pb);
            isa->block(M, nc, kc, pa + pc * isa->mr, (ptrdiff_t)K * isa->mr, pb,
                       (ptrdiff_t)kc * isa->nr, yw + jc, N, ep, flags);
        }
    }
    for (int r = 0; r < M * g->oh; r++)
        memcpy(got + r * g->ow, yw + r * wp, sizeof(float) * (size_t)g->ow);
    free(xp), free(yw);
}

#ifdef KILN_SIMD_HAS_AVX512
/* The stride-1 convolution of geometry g with 16 output channels a vector
 * (M a multiple of 16): kiln_conv_avx512_oc16_2x5 on tiles of 2 x 5
 * positions of the padded image, as k_conv.c prints it, into got
 * [M, oh*ow]. */
static void conv_oc16(int M, const kiln_conv_geom *g, const float *x, const float *w,
                      const float *bias, float *got)
{
    const int K = g->c * g->kh * g->kw;
    const int hp = g->oh + g->dh * (g->kh - 1), wp = g->ow + g->dw * (g->kw - 1);
    const kiln_conv_geom gw = {g->c, hp, wp, g->kh, g->kw, 1, 1, g->dh, g->dw, 0, 0, g->oh, wp};
    float *xp = pad_image(g, x, hp, wp, wp + 4), *w16 = malloc(sizeof(float) * (size_t)(M * K));
    int *off = malloc(sizeof(int) * (size_t)K);
    kiln_conv_pack_oc16(M, K, w, w16);
    kiln_conv_wide_offsets(K, 0, &gw, off);
    for (int ob = 0; ob < M / 16; ob++)
        for (int oy = 0; oy < g->oh; oy += 2)
            for (int ox = 0; ox < g->ow; ox += 5)
                kiln_conv_avx512_oc16_2x5(K, w16 + ob * K * 16, xp + oy * wp + ox, wp, off,
                                          g->oh - oy < 2 ? g->oh - oy : 2,
                                          g->ow - ox < 5 ? g->ow - ox : 5, bias + ob * 16,
                                          got + (ob * 16 * g->oh + oy) * g->ow + ox,
                                          g->oh * g->ow, g->ow);
    free(xp), free(w16), free(off);
}
#endif

/* A convolution as implicit GEMM: W [M, c*kh*kw] x im2col(x), packed by
 * kiln_sgemm_pack_b_conv (or, wide 1, on wide rows: conv_wide; wide 2,
 * AVX-512's direct 16-channel kernel: conv_oc16) block by block, bias per
 * output channel, against the direct loops. Returns 1 if every element
 * matches. */
static int run_conv_case(const Isa *isa, int M, kiln_conv_geom g, int kc_block, int nc_block,
                         int wide)
{
    const int K = g.c * g.kh * g.kw, N = g.oh * g.ow;
    const size_t f = sizeof(float);
    float *x = malloc(f * (size_t)(g.c * g.h * g.w)), *w = malloc(f * (size_t)(M * K));
    float *bias = malloc(f * (size_t)M), *want = malloc(f * (size_t)(M * N));
    float *got = malloc(f * (size_t)(M * N)), *pa = malloc(f * (size_t)((M + 16) * K));
    float *pb = malloc(f * (size_t)((nc_block + 32) * kc_block));
    for (int i = 0; i < g.c * g.h * g.w; i++)
        x[i] = frand();
    for (int i = 0; i < M * K; i++)
        w[i] = frand();
    for (int i = 0; i < M; i++)
        bias[i] = frand();
    for (int m = 0; m < M; m++)
        for (int oy = 0; oy < g.oh; oy++)
            for (int ox = 0; ox < g.ow; ox++) {
                double acc = bias[m];
                for (int c = 0; c < g.c; c++)
                    for (int r = 0; r < g.kh; r++)
                        for (int q = 0; q < g.kw; q++) {
                            int iy = oy * g.sh - g.ph + r * g.dh, ix = ox * g.sw - g.pw + q * g.dw;
                            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                                acc += (double)x[(c * g.h + iy) * g.w + ix] *
                                       w[((m * g.c + c) * g.kh + r) * g.kw + q];
                        }
                want[(m * g.oh + oy) * g.ow + ox] = (float)acc;
            }
    kiln_sgemm_pack_a(isa->mr, M, K, w, K, 1, pa); /* whole W, panel stride K * mr */
    kiln_sgemm_epi ep = {1.0f, 1.0f, bias, 1, 0, KILN_ACT_NONE, 0.0f, 0.0f, NULL, 0};
#ifdef KILN_SIMD_HAS_AVX512
    if (wide == 2)
        conv_oc16(M, &g, x, w, bias, got);
#endif
    if (wide == 1)
        conv_wide(isa, M, &g, x, pa, &ep, kc_block, nc_block, pb, got);
    for (int jc = 0; jc < N && !wide; jc += nc_block) {
        int nc = N - jc < nc_block ? N - jc : nc_block;
        for (int pc = 0; pc < K; pc += kc_block) {
            int kc = K - pc < kc_block ? K - pc : kc_block;
            int flags = (pc == 0 ? KILN_SGEMM_FIRST : 0) | (pc + kc == K ? KILN_SGEMM_LAST : 0);
            kiln_sgemm_pack_b_conv(isa->nr, kc, nc, pc, jc, x, &g, pb);
            isa->block(M, nc, kc, pa + pc * isa->mr, (ptrdiff_t)K * isa->mr, pb,
                       (ptrdiff_t)kc * isa->nr, got + jc, N, &ep, flags);
        }
    }
    int ok = 1;
    for (int i = 0; i < M * N && ok; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-5f + 1e-4f * fabsf(want[i]))) {
            printf("FAIL %s conv%s M=%d c=%d %dx%d k %dx%d s %d,%d d %d,%d p %d,%d: "
                   "y[%d] = %g, want %g\n",
                   isa->name, wide == 2 ? " (oc16)" : wide ? " (wide)" : "", M, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, i,
                   got[i], want[i]);
            ok = 0;
        }
    free(x), free(w), free(bias), free(want), free(got), free(pa), free(pb);
    return ok;
}

/* Output size of one spatial dim with end padding pe. */
static int conv_out(int in, int k, int s, int d, int pb, int pe)
{
    return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

static int run_conv_cases(const Isa *isa)
{
    int cases = 0, failed = 0;
    for (int kh = 1; kh <= 3; kh += 2)
        for (int s = 1; s <= 2; s++)
            for (int d = 1; d <= 2; d++)
                for (int p = 0; p <= 2; p++)
                    for (int w = 5; w <= 19; w += 7) {
                        kiln_conv_geom g = {3, 7, w, kh, kh + (w % 2), s, 3 - s,
                                            d, 1, p, p / 2, 0, 0};
                        g.oh = conv_out(g.h, g.kh, g.sh, g.dh, g.ph, p);
                        g.ow = conv_out(g.w, g.kw, g.sw, g.dw, g.pw, 1);
                        if (g.oh <= 0 || g.ow <= 0)
                            continue;
                        cases++;
                        failed += !run_conv_case(isa, 5 + w % 4, g, 7, 2 * isa->nr, 0);
                        if (s == 1 && g.sw == 1) { /* also on wide rows */
                            cases++;
                            failed += !run_conv_case(isa, 5 + w % 4, g, 7, 2 * isa->nr, 1);
                        }
                    }
    kiln_conv_geom big = {16, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 20, 20}; /* a 3x3 "same" layer */
    cases++;
    failed += !run_conv_case(isa, 32, big, 64, 256, 0);
    cases++;
    failed += !run_conv_case(isa, 32, big, 64, 256, 1);
    kiln_conv_geom lenet2 = {6, 14, 14, 5, 5, 1, 1, 1, 1, 0, 0, 10, 10}; /* LeNet's conv2 */
    cases++;
    failed += !run_conv_case(isa, 16, lenet2, 150, 4 * isa->nr, 1);
    kiln_conv_geom line = {4, 1, 50, 1, 5, 1, 2, 1, 1, 0, 2, 1, 25}; /* 1-D, stride 2 */
    cases++;
    failed += !run_conv_case(isa, 8, line, 20, 32, 0);
#ifdef KILN_SIMD_HAS_AVX512
    if (isa->direct) { /* the direct 16-channel kernel: edge tiles, two channel blocks, dilation */
        kiln_conv_geom odd = {6, 13, 12, 5, 5, 1, 1, 1, 1, 1, 0, 11, 9};
        kiln_conv_geom dil = {4, 12, 11, 3, 3, 1, 1, 2, 2, 0, 0, 8, 7};
        cases += 3;
        failed += !run_conv_case(isa, 16, lenet2, 150, 4 * isa->nr, 2);
        failed += !run_conv_case(isa, 32, odd, 150, 4 * isa->nr, 2);
        failed += !run_conv_case(isa, 16, dil, 36, 4 * isa->nr, 2);
    }
#endif
    printf("%s conv: %d cases, %d failed\n", isa->name, cases, failed);
    return failed;
}

static int run_isa(const Isa *isa)
{
    int cases = 0, failed = 0;
    /* every edge-tile combination of small shapes, blocks smaller than the
     * problem so every loop runs more than once */
    for (int M = 1; M <= 2 * isa->mr + 1; M++)
        for (int N = 1; N <= 2 * isa->nr + 1; N += (N < isa->nr - 1 ? 3 : 1))
            for (int K = 1; K <= 9; K += 4) {
                Case t = {M, N, K, (M + K) % 2, (N + K) % 3 == 0, (M + N + K) % 5,
                          (M % 3) ? 1.0f : 0.5f, (N % 2) ? 1.0f : -2.0f, (M + N + K) % 8,
                          isa->mr, isa->nr, 4};
                cases++;
                failed += !run_case(isa, &t);
            }
    /* shapes of the benchmarks and the models, with real cache blocks */
    static const Case big[] = {
        {64, 128, 784, 0, 0, 1, 1.0f, 1.0f, 1, 126, 128, 196},
        {1, 128, 784, 0, 0, 1, 1.0f, 1.0f, 1, 126, 128, 196},
        {256, 256, 256, 0, 0, 0, 1.0f, 1.0f, 0, 126, 256, 256},
        {100, 10, 128, 0, 1, 4, 0.25f, 3.0f, 6, 48, 16, 64},
        {37, 75, 301, 1, 1, 2, 1.0f, 1.0f, 1, 12, 32, 100},
        {64, 128, 784, 0, 0, 1, 1.0f, 1.0f, KILN_ACT_CLIP, 126, 128, 196},
        {37, 75, 301, 1, 1, 2, 1.0f, 1.0f, KILN_ACT_SIGMOID, 12, 32, 100},
        {13, 40, 64, 0, 1, 1, 1.0f, 1.0f, KILN_ACT_TANH, 12, 32, 32},
        {13, 40, 64, 0, 1, 1, 1.0f, 1.0f, KILN_ACT_LEAKY, 12, 32, 32},
        {64, 128, 784, 0, 1, 0, 1.0f, 1.0f, ACT_MASK, 126, 128, 196},
        {37, 75, 301, 1, 1, 2, 1.0f, 1.0f, ACT_MASK, 12, 32, 100},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        Case t = big[i];
        t.mc = t.mc < isa->mr ? isa->mr : (t.mc / isa->mr) * isa->mr;
        t.nc = t.nc < isa->nr ? isa->nr : (t.nc / isa->nr) * isa->nr;
        cases++;
        failed += !run_case(isa, &t);
    }
    printf("%s: %d cases, %d failed\n", isa->name, cases, failed);
    return failed + run_conv_cases(isa);
}

int main(void)
{
    int failed = 0;
    const Isa generic = {"generic 6x4", KILN_SGEMM_GENERIC_MR, KILN_SGEMM_GENERIC_NR,
                         kiln_sgemm_generic_block, 0};
    failed += run_isa(&generic);
#ifdef KILN_SIMD_X86
    const Isa sse2 = {"sse2 6x8", KILN_SGEMM_SSE2_MR, KILN_SGEMM_SSE2_NR, kiln_sgemm_sse2_block, 0};
    failed += run_isa(&sse2);
#endif
#ifdef KILN_SIMD_NEON
    const Isa neon = {"neon 8x12", KILN_SGEMM_NEON_MR, KILN_SGEMM_NEON_NR, kiln_sgemm_neon_block, 0};
    failed += run_isa(&neon);
#endif
#ifdef KILN_SIMD_HAS_AVX2
    if (kiln_cpu_has_avx2_fma()) {
        const Isa avx2 = {"avx2 6x16", KILN_SGEMM_AVX2_MR, KILN_SGEMM_AVX2_NR,
                          kiln_sgemm_avx2_block, 0};
        failed += run_isa(&avx2);
    } else {
        printf("avx2 6x16: skipped, this CPU lacks AVX2+FMA\n");
    }
#endif
#ifdef KILN_SIMD_HAS_AVX512
    if (kiln_cpu_has_avx512f()) {
        const Isa avx512 = {"avx512 8x32", KILN_SGEMM_AVX512_MR, KILN_SGEMM_AVX512_NR,
                            kiln_sgemm_avx512_block, 0};
        failed += run_isa(&avx512);
        const Isa avx512_direct = {"avx512 8x32 A and conv B in place, AVX-512 B packs", KILN_SGEMM_AVX512_MR,
                                   KILN_SGEMM_AVX512_NR, kiln_sgemm_avx512_block, 1};
        failed += run_isa(&avx512_direct);
    } else {
        printf("avx512 8x32: skipped, this CPU lacks AVX-512F\n");
    }
#endif
    return failed != 0;
}
