/* layer_bench.c — the program `kiln bench` builds beside a model compiled
 * with per-layer timing ticks (prefix "model"): it measures the FMA peak
 * with bench/probes.c, then runs the model (model_run_v, or with
 * -DKILN_BENCH_TRAIN model_train_step_v) REPS times on fixed pseudo-random
 * inputs and prints, per layer, the median, min and max time in ns.
 * Built with -DKILN_BENCH_LAYERS=N (the entry's layer count); kiln parses
 * the output (driver.c) and prints the table. Not shipped with models. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "probes.h"

#ifndef KILN_BENCH_LAYERS
#error "build with -DKILN_BENCH_LAYERS=N"
#endif
#define MAX_REPS 100000

/* The tick times of the call being timed: tick[0] at the start, tick[k+1]
 * when layer k has returned. No model state: the harness owns these. */
static double tick[KILN_BENCH_LAYERS + 2];
static volatile float sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Called by the generated entry after each layer (kiln bench builds only). */
void model_bench_tick(int layer)
{
    if (layer >= 0 && layer < KILN_BENCH_LAYERS)
        tick[layer + 1] = now_ns();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of v[0..n) (sorts v). */
static void summary(double *v, int n, double out[3])
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    out[1] = v[0];
    out[2] = v[n - 1];
}

/* GFLOPS of the AVX2 FMA probe: the median of 7 runs of 160 * 200000 flops. */
static double fma_peak(void)
{
    double g[7], s[3];
    float keep = 0;
    if (!probe_available())
        return 0;
    for (int r = 0; r < 7; r++) {
        double t0 = now_ns();
        keep += probe_fma(200000, 1.0f + keep * 0.0f);
        g[r] = 160.0 * 200000 / (now_ns() - t0);
    }
    summary(g, 7, s);
    sink = keep; /* the probe's result is used: it can't be optimized away */
    return s[0];
}

static size_t elem_size(int32_t dtype)
{
    switch (dtype) {
    case KILN_DOUBLE: case KILN_INT64: case KILN_UINT64: return 8;
    case KILN_FLOAT: case KILN_INT32: case KILN_UINT32: return 4;
    case KILN_INT16: case KILN_UINT16: case 10: case 16: return 2;
    default: return 1;
    }
}

/* A buffer for tensor t: floats uniform in [0, 1) from a fixed LCG, every
 * other dtype zeros (a valid class index for labels). */
static void *make_tensor(const kiln_tensor_info *t, unsigned *seed)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    unsigned char *p = calloc(n * elem_size(t->dtype) + 64, 1);
    if (!p)
        return NULL;
    for (size_t i = 0; t->dtype == KILN_FLOAT && i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        ((float *)(void *)p)[i] = (float)(*seed >> 8) / 16777216.0f;
    }
    return p;
}

static int run_once(void *ws, const void *const *in, void *const *out)
{
#ifdef KILN_BENCH_TRAIN
    float loss;
    (void)out;
    return model_train_step_v(ws, in, &loss);
#else
    return model_run_v(ws, in, out);
#endif
}

int main(int argc, char **argv)
{
#ifdef KILN_BENCH_TRAIN
    const kiln_model_info *info = &model_train_info;
#else
    const kiln_model_info *info = &model_info;
#endif
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s [REPS in 1..%d]\n", argv[0], MAX_REPS);
        return 2;
    }
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 64);
    const void *in[64];
    void *out[64];
    unsigned seed = 12345;
    if (!raw || info->num_inputs > 64 || info->num_outputs > 64)
        return 2;
    void *ws = raw + (64 - (size_t)((size_t)raw % 64));
    int status = model_init(ws);
    if (status) {
        fprintf(stderr, "model_init failed: %d\n", status);
        return 3;
    }
    for (int k = 0; k < info->num_inputs; k++)
        if (!(in[k] = make_tensor(&info->inputs[k], &seed)))
            return 2;
    for (int k = 0; k < info->num_outputs; k++)
        if (!(out[k] = make_tensor(&model_info.outputs[k], &seed)))
            return 2;
    printf("peak_gflops %.3f\n", fma_peak());
    double *t = malloc(sizeof(double) * (size_t)reps * (KILN_BENCH_LAYERS + 1));
    if (!t)
        return 2;
    for (int r = -3; r < reps; r++) { /* 3 warm-up calls */
        tick[0] = now_ns();
        if ((status = run_once(ws, in, out)) != 0) {
            fprintf(stderr, "the model failed: %d\n", status);
            return 3;
        }
        double end = now_ns();
        for (int k = 0; r >= 0 && k < KILN_BENCH_LAYERS; k++)
            t[(size_t)k * (size_t)reps + (size_t)r] = tick[k + 1] - tick[k];
        if (r >= 0)
            t[(size_t)KILN_BENCH_LAYERS * (size_t)reps + (size_t)r] = end - tick[0];
    }
    for (int k = 0; k <= KILN_BENCH_LAYERS; k++) {
        double s[3];
        summary(t + (size_t)k * (size_t)reps, reps, s);
        if (k < KILN_BENCH_LAYERS)
            printf("layer %d %.1f %.1f %.1f\n", k, s[0], s[1], s[2]);
        else
            printf("total %.1f %.1f %.1f\n", s[0], s[1], s[2]);
    }
#ifdef model_THREADS /* --threads: join the pool model_init started */
    model_shutdown(ws);
#endif
    return 0;
}
