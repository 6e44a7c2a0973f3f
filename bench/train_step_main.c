/* train_step_main.c — times one generated training step (prefix m) for
 * bench/fuse_grad_update.sh: fills every training input with a fixed
 * pattern (integer labels with classes 0..9), runs m_train_step_v ITERS
 * times after a warm-up, prints the mean nanoseconds per step. Built with
 * the plain contract flags; usage: ./a.out ITERS */
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
    long iters = argc > 1 ? atol(argv[1]) : 100;
    const void *in[16];
    for (int k = 0; k < m_train_info.num_inputs; k++) {
        const kiln_tensor_info *t = &m_train_info.inputs[k];
        size_t n = numel(t);
        if (t->dtype == KILN_INT64) {
            int64_t *y = malloc(n * sizeof *y);
            for (size_t i = 0; i < n; i++)
                y[i] = (int64_t)((i * 7u) % 10u);
            in[k] = y;
        } else {
            float *x = malloc(n * sizeof *x);
            for (size_t i = 0; i < n; i++)
                x[i] = (float)((i * 37u) % 101u) / 101.0f;
            in[k] = x;
        }
    }
    unsigned char *raw = malloc(m_WORKSPACE_SIZE + 64);
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    float loss;
    if (m_init(ws) != KILN_OK)
        return 1;
    for (long i = 0; i < iters / 10 + 1; i++)
        m_train_step_v(ws, in, &loss);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters; i++)
        m_train_step_v(ws, in, &loss);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
    printf("%.1f\n", ns / (double)iters);
    return loss == loss ? 0 : 2;
}
