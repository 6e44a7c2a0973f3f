/* mem_plan.c — the memory plan: every tensor that lives in the caller's
 * workspace gets a byte offset. Lifetimes come from the execution order;
 * tensors are placed largest first at the lowest offset that no tensor with
 * an overlapping lifetime occupies (greedy by size, as TFLite's and ggml's
 * planners do). */
#include "sched.h"

#include <stdlib.h>

typedef struct Block {
    int value;
    int64_t size, first, last; /* lifetime in schedule steps, inclusive */
} Block;

static int by_size_desc(const void *pa, const void *pb)
{
    const Block *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size < b->size ? 1 : -1;
    return a->value - b->value; /* deterministic */
}

static int64_t align_up(int64_t x)
{
    return (x + SCHED_ALIGN - 1) / SCHED_ALIGN * SCHED_ALIGN;
}


/* Collects the blocks with their lifetimes; returns how many. */
static int collect(const Graph *g, const Schedule *s, const int *keep, int n_keep, Block *blocks,
                   int *block_of)
{
    int nb = 0;
    bool *mine = arena_alloc(g->arena, (size_t)g->n_values + 1);
    for (int step = 0; step < s->n; step++) {
        const Node *n = g->nodes[s->order[step]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0)
                mine[n->out[k]] = true;
    }
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        block_of[i] = -1;
        if (v->kind != VAL_ACT || v->is_output || !mine[i])
            continue;
        block_of[i] = nb;
        blocks[nb].value = i;
        blocks[nb].size = align_up((int64_t)dtype_size(v->dtype) * shape_numel(&v->shape));
        blocks[nb].first = INT64_MAX;
        blocks[nb].last = -1;
        nb++;
    }
    for (int step = 0; step < s->n; step++) {
        const Node *n = g->nodes[s->order[step]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && block_of[n->out[k]] >= 0) {
                Block *b = &blocks[block_of[n->out[k]]];
                if (step < b->first)
                    b->first = step;
                if (step > b->last)
                    b->last = step;
            }
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && block_of[n->in[k]] >= 0) {
                Block *b = &blocks[block_of[n->in[k]]];
                if (step > b->last)
                    b->last = step;
            }
    }
    for (int k = 0; k < n_keep; k++)
        if (keep[k] >= 0 && block_of[keep[k]] >= 0)
            blocks[block_of[keep[k]]].last = s->n;
    for (int i = 0; i < nb; i++) /* produced but never read: live at its step */
        if (blocks[i].first == INT64_MAX)
            blocks[i].first = blocks[i].last = 0;
    return nb;
}

bool sched_plan_memory(const Graph *g, const Schedule *s, const int *keep, int n_keep,
                       MemPlan *mp, Diag *d)
{
    (void)d;
    Block *blocks = arena_alloc(g->arena, sizeof(Block) * (size_t)(g->n_values + 1));
    int *block_of = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_values + 1));
    int nb = collect(g, s, keep, n_keep, blocks, block_of);

    mp->offset = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        mp->offset[i] = -1;

    /* The lower bound: the most bytes live at any one step. */
    mp->lower_bound = 0;
    for (int step = 0; step <= s->n; step++) {
        int64_t live = 0;
        for (int i = 0; i < nb; i++)
            if (blocks[i].first <= step && step <= blocks[i].last)
                live += blocks[i].size;
        if (live > mp->lower_bound)
            mp->lower_bound = live;
    }

    qsort(blocks, (size_t)nb, sizeof *blocks, by_size_desc);
    mp->size = 0;
    for (int i = 0; i < nb; i++) {
        /* Try offset 0, then the end of each placed block that overlaps in
         * time; keep the lowest offset that collides with nothing. */
        int64_t best = -1;
        for (int c = -1; c < i; c++) {
            int64_t off = c < 0 ? 0 : mp->offset[blocks[c].value] + blocks[c].size;
            if (c >= 0 && (blocks[c].last < blocks[i].first || blocks[i].last < blocks[c].first))
                continue;
            if (best >= 0 && off >= best)
                continue;
            bool fits = true;
            for (int o = 0; o < i && fits; o++) {
                const Block *p = &blocks[o];
                int64_t po = mp->offset[p->value];
                bool time = !(p->last < blocks[i].first || blocks[i].last < p->first);
                bool space = off < po + p->size && po < off + blocks[i].size;
                fits = !(time && space);
            }
            if (fits)
                best = off;
        }
        mp->offset[blocks[i].value] = best;
        if (best + blocks[i].size > mp->size)
            mp->size = best + blocks[i].size;
    }
    return true;
}
