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

/* A parallel region of `parts` parts: fn(ctx, part, parts, thread) runs once
 * for every part in [0, parts), on whichever thread claims it first: the
 * caller (thread 0) claims too, so a region never waits for a worker the
 * system has not scheduled yet, and a busy core gets fewer parts. thread
 * (0 to threads - 1) selects per-thread memory such as packing scratch. Each
 * part must write memory no other part touches, and compute the same
 * whatever thread runs it. */
typedef void (*kiln_pool_fn)(void *ctx, int part, int parts, int thread);

typedef struct kiln_pool kiln_pool;

/* What a worker thread needs: its pool and its thread number (1, 2, ...). */
typedef struct kiln_pool_worker {
    kiln_pool *pool;
    int thread;
} kiln_pool_worker;

struct kiln_pool {
    pthread_mutex_t lock;
    pthread_cond_t go;        /* a new region (or stop) for the workers */
    pthread_cond_t done;      /* the region's last part finished */
    kiln_pool_fn fn;
    void *ctx;
    unsigned long generation; /* counts regions, to wake the workers */
    int parts;                /* parts of the current region */
    int next;                 /* the next part to claim */
    int finished;             /* parts done */
    int threads;              /* the caller and the workers */
    int started;              /* workers running */
    int stop;
    pthread_t ids[KILN_THREADS_MAX];
    kiln_pool_worker workers[KILN_THREADS_MAX];
};

/* With p->lock held: runs the parts of the current region nobody claimed
 * yet, one at a time, unlocking while each runs. */
static inline void kiln_pool_claim(kiln_pool *p, int thread)
{
    while (p->next < p->parts) {
        const int part = p->next++, parts = p->parts;
        kiln_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->lock);
        fn(ctx, part, parts, thread);
        pthread_mutex_lock(&p->lock);
        if (++p->finished == parts)
            pthread_cond_signal(&p->done);
    }
}

/* With p->lock held: waits up to KILN_POOL_SPIN unlock-relock rounds for
 * done() to hold before the caller sleeps on a condition. A model's regions
 * follow each other within microseconds, and waking a sleeping thread takes
 * tens of them, so a short wait awake is what lets two threads share a
 * region at all. */
#define KILN_POOL_SPIN 4000
static inline void kiln_pool_spin(kiln_pool *p, unsigned long seen, int waiting_for_done)
{
    for (int i = 0; i < KILN_POOL_SPIN; i++) {
        if (p->stop || (waiting_for_done ? p->finished >= p->parts : p->generation != seen))
            return;
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_lock(&p->lock);
    }
}

/* A worker: waits for each region and helps run its parts. */
static inline void *kiln_pool_main(void *arg)
{
    const kiln_pool_worker *w = (const kiln_pool_worker *)arg;
    kiln_pool *p = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        kiln_pool_spin(p, seen, 0);
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->go, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        kiln_pool_claim(p, w->thread);
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
        pthread_join(p->ids[i], NULL);
    p->started = 0;
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->lock);
}

/* Starts threads - 1 workers (threads in [1, KILN_THREADS_MAX]) on the
 * memory at p, whatever it held. KILN_OK, or KILN_ERR_THREADS with nothing
 * left running when the system refuses a thread. */
static inline int kiln_pool_start(kiln_pool *p, int threads)
{
    if (!p || threads < 1 || threads > KILN_THREADS_MAX)
        return KILN_ERR_ARGUMENT;
    p->fn = NULL;
    p->ctx = NULL;
    p->generation = 0;
    p->parts = p->next = p->finished = 0;
    p->threads = threads;
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
    for (int i = 0; i + 1 < threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].thread = i + 1;
        if (pthread_create(&p->ids[i], NULL, kiln_pool_main, &p->workers[i]) != 0) {
            kiln_pool_shutdown(p);
            return KILN_ERR_THREADS;
        }
        p->started++;
    }
    return KILN_OK;
}

/* Runs fn(ctx, part, parts, thread) for every part in [0, parts) and
 * returns when all are done. One region at a time per pool: a pool (like
 * its workspace) serves one calling thread. */
static inline void kiln_pool_run(kiln_pool *p, kiln_pool_fn fn, void *ctx, int parts)
{
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->parts = parts;
    p->next = 0;
    p->finished = 0;
    p->generation++;
    if (p->threads > 1 && parts > 1)
        pthread_cond_broadcast(&p->go);
    kiln_pool_claim(p, 0);
    kiln_pool_spin(p, 0, 1);
    while (p->finished < parts)
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
