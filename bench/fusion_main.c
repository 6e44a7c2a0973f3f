/* fusion_main.c — times one generated model (prefix m) for bench/fusion.sh:
 * fills every input with a fixed pattern, runs m_run_v ITERS times after a
 * warm-up, prints the mean nanoseconds per call. Built with the plain
 * contract flags; usage: ./a.out ITERS */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "m.h"

static size_t numel(const kiln_tensor_info *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000;
    const void *in[16];
    void *out[16];
    for (int k = 0; k < m_info.num_inputs; k++) {
        size_t n = numel(&m_info.inputs[k]);
        float *x = malloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)((i * 37u) % 101u) / 101.0f;
        in[k] = x;
    }
    for (int k = 0; k < m_info.num_outputs; k++)
        out[k] = malloc(numel(&m_info.outputs[k]) * sizeof(float));
    unsigned char *raw = malloc(m_WORKSPACE_SIZE + 64);
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    if (m_init(ws) != KILN_OK)
        return 1;
    for (long i = 0; i < iters / 10 + 1; i++)
        m_run_v(ws, in, out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters; i++)
        m_run_v(ws, in, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
    printf("%.1f\n", ns / (double)iters);
    return 0;
}
