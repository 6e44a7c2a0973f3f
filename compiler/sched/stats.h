/* stats.h — what an embedded developer checks before flashing
 * (`kiln compile --stats`): per layer the op, output shapes, FLOPs,
 * parameters and workspace bytes, and the totals, from a shaped Graph, its
 * Schedule and MemPlan. */
#ifndef KILN_SCHED_STATS_H
#define KILN_SCHED_STATS_H

#include "sched.h"

typedef struct LayerStats {
    int node;             /* node id */
    int64_t flops;        /* estimated operations (a multiply-add is 2); -1 unknown */
    int64_t params;       /* elements of the parameters this layer is the first to read */
    int64_t param_bytes;
    int64_t workspace;    /* bytes of its outputs that live in the workspace */
    int64_t scratch;      /* bytes of kernel scratch it uses (set by the caller
                             after emission; 0 if not known) */
} LayerStats;

typedef struct ModelStats {
    const char *entry;        /* printed as the table's title when set, e.g.
                                 "P_train_step_v" */
    int n_layers;
    LayerStats *layers;       /* in schedule order */
    int64_t flops;            /* sum of the known layer counts */
    bool flops_partial;       /* some layer's count is unknown (printed "?") */
    int64_t params, param_bytes; /* weights: parameters, trained or not */
    int64_t const_bytes;      /* the data the binary carries for what the layers
                                 read: constants, and the first values of state
                                 (rodata with --weights embed, P.bin with
                                 --weights file) */
    int64_t state_bytes;      /* state the layers read (VAL_STATE: parameters being
                                 trained, optimizer moments, running statistics),
                                 which lives at the start of the workspace */
    int64_t workspace;        /* the planned tensors (MemPlan.size) */
    int64_t lower_bound;      /* most bytes simultaneously live */
    int64_t workspace_total;  /* P_WORKSPACE_SIZE (with kernel scratch and, for
                                 --weights file, the weights) when the caller
                                 knows it after emission; 0 if not */
    bool plus_pool;           /* --threads: P_WORKSPACE_SIZE is workspace_total plus
                                 sizeof(kiln_pool), which only the C compiler knows */
} ModelStats;

/* Fills st (layers allocated in a). mp may be NULL (workspace columns 0). */
void sched_stats(const Graph *g, const Schedule *s, const MemPlan *mp, Arena *a, ModelStats *st);

/* Estimated operations of one node: 2 per multiply-add for Gemm, MatMul,
 * Conv, ConvTranspose, ConvWeightGrad and the recurrent cells; one per window element for
 * pooling; one per element for elementwise ops, reductions and the like, a
 * few for normalizations; 0 for data movement; -1 when unknown (Einsum). */
int64_t sched_node_flops(const Graph *g, const Node *n);

/* Appends the table and the totals as text. */
void sched_stats_print(const Graph *g, const ModelStats *st, StrBuf *out);

#endif
