/* probes.h — the machine probes of bench/ (probes.c). */
#ifndef KILN_BENCH_PROBES_H
#define KILN_BENCH_PROBES_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this CPU runs the AVX2+FMA probes. */
int probe_available(void);
/* 10 chains x 8 lanes x iters FMAs (160 * iters flops); returns a sum to keep. */
float probe_fma(long iters, float seed);
/* 1 when this CPU has AVX-512F; then probe_fma512 does 10 chains x 16
 * lanes x iters FMAs (320 * iters flops). */
int probe_has_avx512(void);
float probe_fma512(long iters, float seed);
/* Sums n floats (a multiple of 32) with 8-lane loads. */
float probe_read(const float *buf, long n);

#ifdef __cplusplus
}
#endif

#endif
