/* sched.h — from a shaped graph to what the emitter needs: the execution
 * order and the memory plan (every intermediate tensor's offset in the one
 * caller-provided workspace). */
#ifndef KILN_SCHED_H
#define KILN_SCHED_H

#include "ir.h"

#define SCHED_ALIGN 64 /* every workspace offset is a multiple of this */

typedef struct MemPlan {
    int64_t *offset;      /* per value id: byte offset in the workspace, -1 if
                             the value does not live there (inputs, outputs,
                             embedded constants) */
    int64_t size;         /* total workspace bytes */
    int64_t lower_bound;  /* most bytes simultaneously live (a bound on size) */
} MemPlan;

typedef struct Schedule {
    int n;
    int *order;           /* node ids in execution order */
} Schedule;

/* The live nodes that the values roots depend on, in topological order
 * (schedule.c). */
bool sched_entry(const Graph *g, const int *roots, int n_roots, Schedule *s, Diag *d);

/* Places every VAL_ACT value produced by s's nodes that is not a graph
 * output (those live in the caller's output buffers) in the workspace, by
 * liveness over s->order; the keep values live to the end (they are read
 * after the last node). */
bool sched_plan_memory(const Graph *g, const Schedule *s, const int *keep, int n_keep,
                       MemPlan *mp, Diag *d);

#endif
