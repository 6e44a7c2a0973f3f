/* two_models_main.c — links two kiln models (prefixes mlp and conv) into one
 * program and runs two instances of each from two pthreads at once: every
 * output must be bit-identical to the single-threaded run on the same input.
 * Used by two_models.sh (also under ThreadSanitizer, which sees any state the
 * instances share). usage: two_models ITERATIONS */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "mlp.h"

typedef struct Model {
    const char *name;
    size_t ws_size;
    const kiln_model_info *info;
    int (*init)(void *);
    int (*run_v)(void *, const void *const *, void *const *);
} Model;

static const Model models[2] = {
    {"mlp", mlp_WORKSPACE_SIZE, &mlp_info, mlp_init, mlp_run_v},
    {"conv", conv_WORKSPACE_SIZE, &conv_info, conv_init, conv_run_v},
};

#define SETS 4    /* input sets per model */
#define MAX_IO 8

static size_t tensor_bytes(const kiln_tensor_info *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    switch (t->dtype) {
    case KILN_DOUBLE: case KILN_INT64: case KILN_UINT64: return n * 8;
    case KILN_FLOAT: case KILN_INT32: case KILN_UINT32: return n * 4;
    case KILN_INT16: case KILN_UINT16: return n * 2;
    default: return n;
    }
}

/* One model's inputs (SETS of them) and the outputs a single thread gave. */
typedef struct Data {
    void *in[SETS][MAX_IO];
    void *want[SETS][MAX_IO];
} Data;
static Data data[2];

static void *xalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n + 63) / 64 * 64 + 64) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return memset(p, 0, (n + 63) / 64 * 64 + 64);
}

/* Runs model m on input set s with workspace ws into outs; 0 on success. */
static int run(const Model *m, void *ws, int s, void **outs)
{
    const Data *d = &data[m - models];
    return m->run_v(ws, (const void *const *)d->in[s], (void *const *)outs);
}

static void fill(unsigned char *p, size_t n, const kiln_tensor_info *t, unsigned seed)
{
    for (size_t i = 0; i < n / 4; i++) { /* floats in [-1, 1); other types just bytes */
        seed = seed * 1103515245u + 12345u;
        float f = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
        if (t->dtype == KILN_FLOAT)
            memcpy(p + 4 * i, &f, 4);
        else
            p[4 * i] = (unsigned char)(seed >> 16);
    }
}

typedef struct Worker {
    int id, iterations, failures;
} Worker;

static void *worker(void *arg)
{
    Worker *w = arg;
    void *ws[2], *outs[2][MAX_IO];
    for (int k = 0; k < 2; k++) { /* this thread's own instance of each model */
        ws[k] = xalloc(models[k].ws_size);
        if (models[k].init(ws[k]) != KILN_OK)
            w->failures++;
        for (int o = 0; o < models[k].info->num_outputs; o++)
            outs[k][o] = xalloc(tensor_bytes(&models[k].info->outputs[o]));
    }
    for (int it = 0; it < w->iterations; it++)
        for (int k = 0; k < 2; k++) {
            const Model *m = &models[(k + w->id) % 2]; /* the threads interleave models */
            int s = (it + w->id) % SETS, mk = (int)(m - models);
            if (run(m, ws[mk], s, outs[mk]) != KILN_OK) {
                w->failures++;
                continue;
            }
            for (int o = 0; o < m->info->num_outputs; o++)
                if (memcmp(outs[mk][o], data[mk].want[s][o],
                           tensor_bytes(&m->info->outputs[o])) != 0) {
                    if (w->failures++ < 5)
                        fprintf(stderr, "thread %d, iteration %d: %s output %d differs from "
                                "the single-threaded run\n", w->id, it, m->name, o);
                }
        }
    for (int k = 0; k < 2; k++) {
        free(ws[k]);
        for (int o = 0; o < models[k].info->num_outputs; o++)
            free(outs[k][o]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 100;
    for (int k = 0; k < 2; k++) { /* reference outputs, one thread, one instance */
        const Model *m = &models[k];
        if (m->info->num_inputs > MAX_IO || m->info->num_outputs > MAX_IO)
            return 2;
        void *ws = xalloc(m->ws_size);
        if (m->init(ws) != KILN_OK) {
            fprintf(stderr, "%s_init failed\n", m->name);
            return 1;
        }
        for (int s = 0; s < SETS; s++) {
            for (int i = 0; i < m->info->num_inputs; i++) {
                size_t n = tensor_bytes(&m->info->inputs[i]);
                data[k].in[s][i] = xalloc(n);
                fill(data[k].in[s][i], n, &m->info->inputs[i], (unsigned)(1000 * k + 10 * s + i));
            }
            for (int o = 0; o < m->info->num_outputs; o++)
                data[k].want[s][o] = xalloc(tensor_bytes(&m->info->outputs[o]));
            if (run(m, ws, s, data[k].want[s]) != KILN_OK) {
                fprintf(stderr, "%s_run_v failed\n", m->name);
                return 1;
            }
        }
        free(ws);
    }
    pthread_t t[2];
    Worker w[2] = {{0, iterations, 0}, {1, iterations, 0}};
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, &w[i]) != 0)
            return 2;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    int failures = w[0].failures + w[1].failures;
    printf("%s: 2 threads x %d iterations x 2 models (mlp, conv), 4 instances: %d mismatches\n",
           failures ? "FAIL" : "ok", iterations, failures);
    return failures ? 1 : 0;
}
