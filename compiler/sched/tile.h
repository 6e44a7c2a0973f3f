/* tile.h — GEMM-shaped kernels' schedules: cache blocks for the BLIS-style
 * loop nest (tile.c) and weights pre-packed at compile time into the
 * micro-kernels' panel layout (pack.c). Used by emit/k_gemm.c and
 * emit/k_conv.c; the micro-kernels themselves live in templates/. */
#ifndef KILN_TILE_H
#define KILN_TILE_H

#include "ir.h"

/* Data cache sizes in bytes, per core (l3: the share one core may use). */
typedef struct CacheSizes {
    int64_t l1d, l2, l3;
} CacheSizes;

/* This machine's (and x86-64-v3's default): AMD Zen 3, 32 KiB L1d,
 * 512 KiB L2 per core, 32 MiB L3 shared by the cores. */
extern const CacheSizes sched_cache_default;

/* The loop nest around an mr x nr micro-kernel: jc over N by nc (B block
 * in L3), pc over K by kc (B micro-panel in L1), ic over M by mc (A block
 * in L2). mc and nc are multiples of mr and nr; blocks are balanced so the
 * last one is not a sliver. */
typedef struct GemmTiles {
    int mr, nr;
    int64_t mc, nc, kc;
} GemmTiles;

void sched_tile_gemm(const CacheSizes *c, int mr, int nr, int64_t M, int64_t N, int64_t K,
                     GemmTiles *t);

/* Floats of a whole packed operand: ceil(rows / r) panels of K x r. */
int64_t sched_packed_numel(int64_t rows, int64_t K, int r);

/* Packs a whole operand for the micro-kernels (layouts in
 * templates/kiln_gemm.h, keep in step):
 *   A [M,K], element (i,k) at src[i*rs + k*cs] → dst[(i/mr)*K*mr + k*mr + i%mr]
 *   B [K,N], element (k,j) at src[k*rs + j*cs] → dst[(j/nr)*K*nr + k*nr + j%nr]
 * zero-padded to whole panels; dst holds sched_packed_numel floats. */
void sched_pack_a(const float *src, int64_t rs, int64_t cs, int64_t M, int64_t K, int mr,
                  float *dst);
void sched_pack_b(const float *src, int64_t rs, int64_t cs, int64_t K, int64_t N, int nr,
                  float *dst);

/* B [K,N] for the batch-1 GEMV kernels (templates/kiln_gemv.h, keep in
 * step): the N / w whole panels of w columns as sched_pack_b lays them,
 * then the other N % w columns as one panel of that width rounded up to s,
 * zero-padded; dst holds sched_packed_gemv_numel floats. */
int64_t sched_packed_gemv_numel(int64_t K, int64_t N, int w, int s);
void sched_pack_b_gemv(const float *src, int64_t rs, int64_t cs, int64_t K, int64_t N, int w,
                       int s, float *dst);

#endif
