/* test_conv_grad.c — the convolution weight gradient as blocked GEMMs
 * (kiln_sgemm_pack_b_conv_t of templates/kiln_conv_grad.h feeding the
 * micro-kernels, accumulated over a batch of images as k_train_conv.c
 * prints it) against the direct loops in double, over strides, dilations,
 * paddings, 1-D and 2-D windows and several cache blocks. Built with the
 * plain contract flags (no -march): the AVX2 and AVX-512 kernels must
 * enable themselves. On x86 every micro-kernel k_gemm.c may pick (generic,
 * SSE2, AVX2, AVX-512 where the CPU has them); cross-compiled for aarch64,
 * generic and NEON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_conv_grad.h"
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
} Isa;

static unsigned rng = 4242u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* dW [M, c*kh*kw] = the sum over images of dY_n [M, oh*ow] x the taps'
 * runs of x_n on wide rows (stride 1), by kiln_conv_wgrad_wide on lanes
 * 4, 8 (its AVX2 variant) or 16 (AVX-512), each image padded into xp and
 * dY_n into ap with the rows' length rounded up to whole vectors, as
 * k_train_conv.c prints it. */
static void wgrad_wide(int lanes, int images, int M, const kiln_conv_geom *g, const float *x,
                       const float *dy, float *got)
{
    const int hp = g->oh + g->dh * (g->kh - 1), wp = g->ow + g->dw * (g->kw - 1);
    const int p = (g->oh * wp + lanes - 1) / lanes * lanes;
    const int xs = g->c * hp * wp + wp + p, ds = M * p; /* one image's xp and ap */
    const kiln_conv_geom gw = {g->c, hp, wp, g->kh, g->kw, 1, 1, g->dh, g->dw, 0, 0, g->oh, wp};
    float *xp = calloc((size_t)(images * xs), sizeof(float));
    float *ap = calloc((size_t)(images * ds), sizeof(float));
    for (int i = 0; i < M * g->c * g->kh * g->kw; i++)
        got[i] = 0.0f;
    for (int n = 0; n < images; n++) {
        for (int c = 0; c < g->c; c++)
            for (int iy = 0; iy < g->h && iy + g->ph < hp; iy++)
                for (int ix = 0; ix < g->w && ix + g->pw < wp; ix++)
                    xp[n * xs + (c * hp + iy + g->ph) * wp + ix + g->pw] =
                        x[((n * g->c + c) * g->h + iy) * g->w + ix];
        for (int m = 0; m < M; m++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++)
                    ap[n * ds + m * p + oy * wp + ox] = dy[((n * M + m) * g->oh + oy) * g->ow + ox];
    }
    /* the first image alone, then the rest in one call */
    for (int n0 = 0; n0 < images; n0 = n0 ? images : 1) {
        const int count = n0 ? images - n0 : 1;
        const float *a = ap + n0 * ds, *b = xp + n0 * xs;
#ifdef KILN_SIMD_HAS_AVX512
        if (lanes == 16) {
            kiln_conv_wgrad_wide_avx512(M, p, count, ds, xs, a, b, &gw, got);
            continue;
        }
#endif
#ifdef KILN_SIMD_HAS_AVX2
        if (lanes == 8) {
            kiln_conv_wgrad_wide_avx2(M, p, count, ds, xs, a, b, &gw, got);
            continue;
        }
#endif
        kiln_conv_wgrad_wide(M, p, count, ds, xs, a, b, &gw, got);
    }
    free(xp), free(ap);
}

/* dW [M, c*kh*kw] = sum over images of dY_n [M, oh*ow] x im2col(x_n)^T, by
 * the blocked loops with blocks mcb / ncb / kcb (wide: by wgrad_wide
 * instead, the variant of the isa's target); against the direct sum. */
static int run_case(const Isa *isa, int images, int M, kiln_conv_geom g, int mcb, int ncb, int kcb,
                    int wide)
{
    const int K = g.oh * g.ow, N = g.c * g.kh * g.kw, xsz = g.c * g.h * g.w;
    const size_t f = sizeof(float);
    float *x = malloc(f * (size_t)(images * xsz)), *dy = malloc(f * (size_t)(images * M * K));
    float *got = malloc(f * (size_t)(M * N)), *pa = malloc(f * (size_t)((mcb + 16) * kcb));
    float *pb = malloc(f * (size_t)((ncb + 32) * kcb));
    for (int i = 0; i < images * xsz; i++)
        x[i] = frand();
    for (int i = 0; i < images * M * K; i++)
        dy[i] = frand();
    kiln_sgemm_epi ep = {1.0f, 1.0f, NULL, 0, 0, KILN_ACT_NONE, 0.0f, 0.0f, NULL, 0};
    if (wide) /* the variant the emitter picks for the isa's target */
        wgrad_wide(strcmp(isa->name, "avx512") == 0 ? 16 : strcmp(isa->name, "avx2") == 0 ? 8 : 4,
                   images, M, &g, x, dy, got);
    for (int n = 0; n < images && !wide; n++)
        for (int jc = 0; jc < N; jc += ncb) {
            int nc = N - jc < ncb ? N - jc : ncb;
            for (int pc = 0; pc < K; pc += kcb) {
                int kc = K - pc < kcb ? K - pc : kcb;
                int flags = (pc == 0 && n == 0 ? KILN_SGEMM_FIRST : 0) |
                            (pc + kc == K ? KILN_SGEMM_LAST : 0);
                kiln_sgemm_pack_b_conv_t(isa->nr, kc, nc, pc, jc, x + n * xsz, &g, pb);
                for (int ic = 0; ic < M; ic += mcb) {
                    int mc = M - ic < mcb ? M - ic : mcb;
                    kiln_sgemm_pack_a(isa->mr, mc, kc, dy + (n * M + ic) * K + pc, K, 1, pa);
                    isa->block(mc, nc, kc, pa, (ptrdiff_t)kc * isa->mr, pb,
                               (ptrdiff_t)kc * isa->nr, got + ic * N + jc, N, &ep, flags);
                }
            }
        }
    int ok = 1;
    for (int m = 0; m < M && ok; m++)
        for (int j = 0; j < N && ok; j++) {
            const int ci = j / (g.kh * g.kw), r = j / g.kw % g.kh, q = j % g.kw;
            double want = 0;
            for (int n = 0; n < images; n++)
                for (int oy = 0; oy < g.oh; oy++)
                    for (int ox = 0; ox < g.ow; ox++) {
                        int iy = oy * g.sh - g.ph + r * g.dh, ix = ox * g.sw - g.pw + q * g.dw;
                        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                            want += (double)dy[(n * M + m) * K + oy * g.ow + ox] *
                                    x[n * xsz + (ci * g.h + iy) * g.w + ix];
                    }
            if (!(fabs(got[m * N + j] - want) <= 1e-4 + 1e-4 * fabs(want))) {
                printf("FAIL %s%s dW M=%d c=%d %dx%d k %dx%d s %d,%d d %d,%d p %d,%d blocks "
                       "%d/%d/%d: dw[%d][%d] = %g, want %g\n",
                       isa->name, wide ? " (wide)" : "", M, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph,
                       g.pw, mcb, ncb, kcb, m, j, got[m * N + j], want);
                ok = 0;
            }
        }
    free(x), free(dy), free(got), free(pa), free(pb);
    return ok;
}

static int conv_out(int in, int k, int s, int d, int pb, int pe)
{
    return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

static int run_all(const Isa *isa)
{
    int cases = 0, failed = 0;
    for (int kh = 1; kh <= 5; kh += 2)
        for (int s = 1; s <= 2; s++)
            for (int d = 1; d <= 2; d++)
                for (int p = 0; p <= 2; p++)
                    for (int w = 6; w <= 20; w += 7) {
                        kiln_conv_geom g = {1 + w % 3, w % 5 == 1 ? 1 : 9, w, w % 5 == 1 ? 1 : kh,
                                            kh, s, 3 - s, d, 1, w % 5 == 1 ? 0 : p, p / 2, 0, 0};
                        g.oh = conv_out(g.h, g.kh, g.sh, g.dh, g.ph, g.ph);
                        g.ow = conv_out(g.w, g.kw, g.sw, g.dw, g.pw, 1);
                        if (g.oh <= 0 || g.ow <= 0)
                            continue;
                        cases++;
                        failed += !run_case(isa, 1 + p, 3 + w % 7, g, isa->mr * (1 + s % 2),
                                            isa->nr, 5 + 11 * (kh - 1), 0);

                    }
    /* stride 1 on wide rows: dilations in both dims, 1-D, padding cut at the end */
    for (int kh = 1; kh <= 5; kh += 2)
        for (int d = 1; d <= 2; d++)
            for (int p = 0; p <= 2; p++)
                for (int w = 6; w <= 20; w += 7) {
                    const int one_d = w % 5 == 1;
                    kiln_conv_geom g = {1 + w % 3, one_d ? 1 : 9, w, one_d ? 1 : kh, kh, 1, 1,
                                        one_d ? 1 : d, 3 - d, one_d ? 0 : p, p / 2, 0, 0};
                    g.oh = conv_out(g.h, g.kh, 1, g.dh, g.ph, g.ph);
                    g.ow = conv_out(g.w, g.kw, 1, g.dw, g.pw, p % 2);
                    if (g.oh <= 0 || g.ow <= 0)
                        continue;
                    cases++;
                    failed += !run_case(isa, 1 + p, 3 + w % 7, g, 0, 0, 0, 1);
                }
    kiln_conv_geom lenet1 = {1, 28, 28, 5, 5, 1, 1, 1, 1, 2, 2, 28, 28}; /* LeNet's conv1 */
    cases++;
    failed += !run_case(isa, 3, 6, lenet1, 0, 0, 0, 1);
    printf("%s: %d weight-gradient cases, %d failed\n", isa->name, cases, failed);
    return failed;
}

int main(void)
{
    int failed = 0;
    const Isa generic = {"generic", KILN_SGEMM_GENERIC_MR, KILN_SGEMM_GENERIC_NR,
                         kiln_sgemm_generic_block};
    failed += run_all(&generic);
#ifdef KILN_SIMD_X86
    const Isa sse2 = {"sse2", KILN_SGEMM_SSE2_MR, KILN_SGEMM_SSE2_NR, kiln_sgemm_sse2_block};
    failed += run_all(&sse2);
#endif
#ifdef KILN_SIMD_NEON
    const Isa neon = {"neon", KILN_SGEMM_NEON_MR, KILN_SGEMM_NEON_NR, kiln_sgemm_neon_block};
    failed += run_all(&neon);
#endif
#ifdef KILN_SIMD_HAS_AVX2
    if (kiln_cpu_has_avx2_fma()) {
        const Isa avx2 = {"avx2", KILN_SGEMM_AVX2_MR, KILN_SGEMM_AVX2_NR, kiln_sgemm_avx2_block};
        failed += run_all(&avx2);
    } else {
        printf("avx2: skipped (this CPU lacks AVX2+FMA)\n");
    }
#endif
#ifdef KILN_SIMD_HAS_AVX512
    if (kiln_cpu_has_avx512f()) {
        const Isa avx512 = {"avx512", KILN_SGEMM_AVX512_MR, KILN_SGEMM_AVX512_NR,
                            kiln_sgemm_avx512_block};
        failed += run_all(&avx512);
    } else {
        printf("avx512: skipped (this CPU lacks AVX-512F)\n");
    }
#endif
    return failed != 0;
}
