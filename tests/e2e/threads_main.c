/* threads_main.c — drives one model compiled with prefix m (any --threads),
 * for tests/e2e/threads.sh and bench/threads.sh: fills every float input
 * with the same pseudo-random numbers, runs the model and writes all outputs
 * to a file (for a bit-for-bit comparison between thread counts), or, with
 * `time REPS`, prints the median and minimum milliseconds of REPS runs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "m.h"

static size_t tensor_elems(const kiln_tensor_info *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static void *alloc64(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const kiln_model_info *info = &m_info;
    const void *inputs[16];
    void *outputs[16];
    if (argc < 2 || info->num_inputs > 16 || info->num_outputs > 16) {
        fprintf(stderr, "usage: %s OUTFILE | time REPS\n", argv[0]);
        return 2;
    }
    void *ws = alloc64(m_WORKSPACE_SIZE);
    memset(ws, 0xA5, m_WORKSPACE_SIZE);
    int status = m_init(ws);
    if (status) {
        fprintf(stderr, "m_init failed: %d\n", status);
        return 3;
    }
    unsigned state = 12345u;
    for (int k = 0; k < info->num_inputs; k++) {
        size_t n = tensor_elems(&info->inputs[k]);
        float *x = alloc64(n * sizeof(float));
        if (info->inputs[k].dtype != KILN_FLOAT) {
            fprintf(stderr, "input %d is not float\n", k);
            return 2;
        }
        for (size_t i = 0; i < n; i++) {
            state = state * 1664525u + 1013904223u;
            x[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
        }
        inputs[k] = x;
    }
    for (int k = 0; k < info->num_outputs; k++)
        outputs[k] = alloc64(tensor_elems(&info->outputs[k]) * 8);
    if (strcmp(argv[1], "time") == 0 && argc == 3) {
        int reps = atoi(argv[2]);
        double t[1000];
        reps = reps < 1 ? 1 : reps > 1000 ? 1000 : reps;
        m_run_v(ws, inputs, outputs); /* warm the caches and the threads */
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            m_run_v(ws, inputs, outputs);
            t[r] = now_ms() - t0;
        }
        qsort(t, (size_t)reps, sizeof t[0], cmp_double);
        printf("%.4f %.4f\n", t[reps / 2], t[0]);
    } else {
        if ((status = m_run_v(ws, inputs, outputs))) {
            fprintf(stderr, "m_run_v failed: %d\n", status);
            return 3;
        }
        FILE *f = fopen(argv[1], "wb");
        for (int k = 0; f && k < info->num_outputs; k++) {
            size_t bytes = tensor_elems(&info->outputs[k]) * (info->outputs[k].dtype == KILN_FLOAT ? 4 : 8);
            fwrite(outputs[k], 1, bytes, f);
        }
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "can't write %s\n", argv[1]);
            return 2;
        }
    }
#ifdef m_THREADS
    m_shutdown(ws);
#endif
    free(ws);
    return 0;
}
