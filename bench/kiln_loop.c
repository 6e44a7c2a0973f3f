/* kiln_loop.c — built with a kiln-generated model (prefix "model") into a
 * shared library for bench/whole.py: the loop of calls runs here, in C, so
 * kiln's per-call time carries no Python overhead. With -DKILN_LOOP_TRAIN
 * each call is a training step (outputs[0] receives the loss). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <time.h>

#include "model.h"

size_t bench_workspace_size(void)
{
    return model_WORKSPACE_SIZE;
}

int bench_init(void *workspace)
{
    return model_init(workspace);
}

/* n calls of the model; returns the CPU time of this thread they took, in
 * ns (negative on an error): the machine is shared, and wall time would
 * also count the time other processes held the core. */
double bench_loop(void *workspace, const void *const *inputs, void *const *outputs, int n)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (int i = 0; i < n; i++) {
#ifdef KILN_LOOP_TRAIN
        if (model_train_step_v(workspace, inputs, (float *)outputs[0]) != KILN_OK)
            return -1;
#else
        if (model_run_v(workspace, inputs, outputs) != KILN_OK)
            return -1;
#endif
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
}
