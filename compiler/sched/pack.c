/* pack.c — constant GEMM operands (Gemm/MatMul weights, Conv filters)
 * re-laid at compile time into the micro-kernels' panels, so the generated
 * code never packs them at run time. The layouts are those of
 * templates/kiln_gemm.h (kiln_sgemm_pack_a / _b): keep the two in step. */
#include "tile.h"

void sched_pack_a(const float *src, int64_t rs, int64_t cs, int64_t M, int64_t K, int mr,
                  float *dst)
{
    for (int64_t i0 = 0; i0 < M; i0 += mr)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < mr; i++)
                dst[i0 * K + k * mr + i] = i0 + i < M ? src[(i0 + i) * rs + k * cs] : 0.0f;
}

void sched_pack_b(const float *src, int64_t rs, int64_t cs, int64_t K, int64_t N, int nr,
                  float *dst)
{
    for (int64_t j0 = 0; j0 < N; j0 += nr)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < nr; j++)
                dst[j0 * K + k * nr + j] = j0 + j < N ? src[k * rs + (j0 + j) * cs] : 0.0f;
}

int64_t sched_packed_gemv_numel(int64_t K, int64_t N, int w, int s)
{
    int64_t whole = N / w * w, rest = N - whole;
    return (whole + (rest + s - 1) / s * s) * K;
}

void sched_pack_b_gemv(const float *src, int64_t rs, int64_t cs, int64_t K, int64_t N, int w,
                       int s, float *dst)
{
    int64_t whole = N / w * w, rest = N - whole;
    if (whole)
        sched_pack_b(src, rs, cs, K, whole, w, dst);
    if (rest)
        sched_pack_b(src + whole * cs, rs, cs, K, rest, (int)((rest + s - 1) / s * s),
                     dst + whole * K);
}
