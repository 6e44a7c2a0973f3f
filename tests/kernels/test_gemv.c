/* test_gemv.c — the batch-1 GEMV kernels (templates/kiln_gemv.h) against a
 * naive double-precision loop: widths around the panel and strip sizes,
 * short and long K, every bias broadcast, alpha/beta and every epilogue
 * activation. B is packed
 * here with kiln_gemm.h's kiln_sgemm_pack_b in the layout kiln_gemv.h
 * documents (whole panels, then one narrower panel). Built with the plain
 * contract flags (no -march): the AVX2 kernel must enable itself.
 * Cross-compiled for aarch64 (kernels.cmake), the plain-C one under qemu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kiln_gemv.h"

typedef void (*GemvFn)(int n, int k, const float *x, const float *pb, float *y,
                       const kiln_sgemm_epi *ep);

typedef struct Isa {
    const char *name;
    int w, s; /* panel and strip widths */
    GemvFn gemv;
} Isa;

static unsigned rng = 777u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* The activations in double from their ONNX definitions; LeakyRelu's
 * alpha and Clip's bounds are ACT_ALPHA / ACT_BETA. */
#define ACT_ALPHA 0.125f
#define ACT_BETA 0.375f
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

/* Packs B [K,N] (element (k, j) at b[k * rs + j * cs]) as kiln_gemv.h says. */
static void pack(const Isa *isa, int K, int N, const float *b, ptrdiff_t rs, ptrdiff_t cs,
                 float *pb)
{
    int whole = N / isa->w * isa->w, rest = N - whole;
    if (whole)
        kiln_sgemm_pack_b(isa->w, K, whole, b, rs, cs, pb);
    if (rest)
        kiln_sgemm_pack_b((rest + isa->s - 1) / isa->s * isa->s, K, rest, b + whole * cs, rs, cs,
                          pb + (ptrdiff_t)whole * K);
}

/* One case: bias 0 none, 1 [N], 2 scalar; tb: B stored [N,K]. Returns 1 if
 * every element matches. */
static int run_case(const Isa *isa, int N, int K, int bias, int tb, float alpha, float beta,
                    int act)
{
    float *x = malloc(sizeof(float) * (size_t)K), *b = malloc(sizeof(float) * (size_t)(K * N));
    float *bv = malloc(sizeof(float) * (size_t)N), *got = malloc(sizeof(float) * (size_t)N + 4);
    float *pb = malloc(sizeof(float) * (size_t)((N + 64) * K));
    for (int i = 0; i < K; i++)
        x[i] = frand();
    for (int i = 0; i < K * N; i++)
        b[i] = frand();
    for (int j = 0; j < N; j++)
        bv[j] = frand(), got[j] = NAN;
    got[N] = 12345.0f; /* a guard: nothing past y[N-1] is written */
    ptrdiff_t rs = tb ? 1 : N, cs = tb ? K : 1;
    pack(isa, K, N, b, rs, cs, pb);
    kiln_sgemm_epi ep = {alpha, beta, bias ? bv : NULL, 0, bias == 1, act, ACT_ALPHA, ACT_BETA, NULL, 0};
    isa->gemv(N, K, x, pb, got, &ep);
    int ok = got[N] == 12345.0f;
    for (int j = 0; j < N && ok; j++) {
        double s = 0;
        for (int k = 0; k < K; k++)
            s += (double)x[k] * b[k * rs + j * cs];
        double want = alpha * s + (bias ? beta * (double)bv[bias == 1 ? j : 0] : 0.0);
        want = act_ref(act, want);
        if (!(fabs(got[j] - want) <= 1e-5 + 1e-4 * fabs(want))) {
            printf("FAIL %s N=%d K=%d bias=%d tb=%d act=%d: y[%d] = %g, want %g\n", isa->name, N,
                   K, bias, tb, act, j, got[j], want);
            ok = 0;
        }
    }
    if (got[N] != 12345.0f)
        printf("FAIL %s N=%d K=%d: wrote past the end\n", isa->name, N, K);
    free(x), free(b), free(bv), free(got), free(pb);
    return ok;
}

static int run_all(const Isa *isa)
{
    static const int ns[] = {1, 3, 4, 7, 8, 10, 15, 16, 17, 63, 64, 65, 100, 128, 130, 200};
    static const int ks[] = {1, 3, 4, 5, 17, 64, 784};
    int cases = 0, failed = 0;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
            int v = (int)(a * 7 + b);
            cases++;
            failed += !run_case(isa, ns[a], ks[b], v % 3, v % 2, v % 4 == 3 ? 0.5f : 1.0f,
                                v % 5 == 1 ? -2.0f : 1.0f, (int)((a + b) % 7));
        }
    printf("%s: %d GEMV cases, %d failed\n", isa->name, cases, failed);
    return failed;
}

int main(void)
{
    int failed = 0;
    const Isa generic = {"generic", KILN_SGEMV_GENERIC_W, KILN_SGEMV_GENERIC_S, kiln_sgemv_generic};
    failed += run_all(&generic);
#ifdef KILN_SIMD_HAS_AVX2
    if (kiln_cpu_has_avx2_fma()) {
        const Isa avx2 = {"avx2", KILN_SGEMV_AVX2_W, KILN_SGEMV_AVX2_S, kiln_sgemv_avx2};
        failed += run_all(&avx2);
    } else {
        printf("avx2: skipped (this CPU lacks AVX2+FMA)\n");
    }
#endif
    return failed != 0;
}
