/* tile.c — cache blocking for the GEMM loop nests (BLIS's analytical model:
 * the B micro-panel kc x nr stays in L1 while A micro-panels stream from
 * L2, the mc x kc A block stays in L2, the kc x nc B block in L3). */
#include "tile.h"

const CacheSizes sched_cache_default = {32 * 1024, 512 * 1024, 32 * 1024 * 1024};

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The block size for extent n at most max (a multiple of step): the fewest
 * blocks of max, evened out and rounded up to step. */
static int64_t balance(int64_t n, int64_t max, int64_t step)
{
    if (max < step)
        max = step;
    int64_t blocks = ceil_div(n, max);
    int64_t b = ceil_div(ceil_div(n, blocks), step) * step;
    return b < max ? b : max;
}

void sched_tile_gemm(const CacheSizes *c, int mr, int nr, int64_t M, int64_t N, int64_t K,
                     GemmTiles *t)
{
    const int64_t f = (int64_t)sizeof(float);
    /* kc: an A and a B micro-panel in three quarters of L1, a multiple of 16 */
    int64_t kc_max = c->l1d * 3 / 4 / ((mr + nr) * f) / 16 * 16;
    if (kc_max > 512)
        kc_max = 512;
    t->mr = mr;
    t->nr = nr;
    t->kc = balance(K, kc_max, 1);
    /* mc: the A block in 30% of L2 (B panels and C tiles pass through too) */
    t->mc = balance(M, c->l2 * 3 / 10 / (t->kc * f) / mr * mr, mr);
    /* nc: the B block in an eighth of L3 */
    t->nc = balance(N, c->l3 / 8 / (t->kc * f) / nr * nr, nr);
}

int64_t sched_packed_numel(int64_t rows, int64_t K, int r)
{
    return ceil_div(rows, r) * r * K;
}
