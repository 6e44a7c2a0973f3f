/* kiln_threads.h — the optional thread pool of code compiled with
 * `kiln compile --threads N` (N > 1); single-threaded code never includes it.
 * POSIX threads, one mutex and two condition variables; no allocation, no
 * globals: the whole pool lives in a caller-owned kiln_pool (generated code
 * keeps it at the end of the workspace, so P_init starts it and P_shutdown
 * joins it). Build such code with -pthread. */
#ifndef KILN_THREADS_H
#define KILN_THREADS_H

#include <pthread.h>

#include "kiln_runtime.h"

#define KILN_THREADS_MAX 64

/* A parallel region: fn(ctx, part, parts) runs once for every part in
 * [0, parts), on whichever thread claims it first (the caller claims too, so
 * a region never waits for a worker the system has not scheduled yet).
 * Each part must write memory no other part touches, and compute the same
 * whatever thread runs it. */
typedef void (*kiln_pool_fn)(void *ctx, int part, int parts);

typedef struct kiln_pool kiln_pool;

struct kiln_pool {
    pthread_mutex_t lock;
    pthread_cond_t go;        /* a new region (or stop) for the workers */
    pthread_cond_t done;      /* the last worker finished its part */
    kiln_pool_fn fn;
    void *ctx;
    unsigned long generation; /* counts regions, to wake the workers */
    int next;                 /* the next part of the region to claim */
    int finished;             /* parts of the region done */
    int parts;                /* parts per region = threads, the caller included */
    int started;              /* workers running */
    int stop;
    pthread_t threads[KILN_THREADS_MAX];
};

/* With p->lock held: runs the parts of the current region nobody claimed
 * yet, one at a time, unlocking while each runs. */
static inline void kiln_pool_claim(kiln_pool *p)
{
    while (p->next < p->parts) {
        const int part = p->next++;
        kiln_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->lock);
        fn(ctx, part, p->parts);
        pthread_mutex_lock(&p->lock);
        if (++p->finished == p->parts)
            pthread_cond_signal(&p->done);
    }
}

/* A worker: waits for each region and helps run its parts. */
static inline void *kiln_pool_main(void *arg)
{
    kiln_pool *p = (kiln_pool *)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->go, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        kiln_pool_claim(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Joins the workers and releases the pool's mutex and conditions. Safe on
 * a pool whose start failed half way (it joins those that started). */
static inline void kiln_pool_shutdown(kiln_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    p->started = 0;
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->lock);
}

/* Starts parts - 1 workers (parts in [1, KILN_THREADS_MAX]) on the memory at
 * p, whatever it held. KILN_OK, or KILN_ERR_THREADS with nothing left running
 * when the system refuses a thread. */
static inline int kiln_pool_start(kiln_pool *p, int parts)
{
    if (!p || parts < 1 || parts > KILN_THREADS_MAX)
        return KILN_ERR_ARGUMENT;
    p->fn = NULL;
    p->ctx = NULL;
    p->generation = 0;
    p->next = parts;
    p->finished = parts;
    p->parts = parts;
    p->started = 0;
    p->stop = 0;
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return KILN_ERR_THREADS;
    if (pthread_cond_init(&p->go, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        return KILN_ERR_THREADS;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->lock);
        return KILN_ERR_THREADS;
    }
    for (int i = 0; i + 1 < parts; i++) {
        if (pthread_create(&p->threads[i], NULL, kiln_pool_main, p) != 0) {
            kiln_pool_shutdown(p);
            return KILN_ERR_THREADS;
        }
        p->started++;
    }
    return KILN_OK;
}

/* Runs fn(ctx, part, parts) for every part and returns when all are done.
 * One region at a time per pool: a pool (like its workspace) serves one
 * calling thread. */
static inline void kiln_pool_run(kiln_pool *p, kiln_pool_fn fn, void *ctx)
{
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->next = 0;
    p->finished = 0;
    p->generation++;
    if (p->parts > 1)
        pthread_cond_broadcast(&p->go);
    kiln_pool_claim(p);
    while (p->finished < p->parts)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* The part of [0, n) that part `part` of `parts` takes, in whole units of
 * `unit` (the last part also takes the remainder): [*lo, *hi). */
static inline void kiln_pool_range(int n, int unit, int part, int parts, int *lo, int *hi)
{
    const long long units = (n + unit - 1) / unit;
    const int a = (int)(units * part / parts) * unit, b = (int)(units * (part + 1) / parts) * unit;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

#endif
