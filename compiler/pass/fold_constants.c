/* fold_constants.c — constant folding: a node whose inputs are known at
 * compile time is evaluated by its op's fold rule (ops.def) and replaced by
 * constant outputs. Shape inference calls fold_node right after each node's
 * shape rule; this pass reruns it over a changed graph. */
#include "pass.h"

static bool (*const fold_rules[OP_COUNT])(Graph *, Node *, Diag *) = {
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) [OP_##name] = fold,
#include "ops.def"
#undef OP
};

bool fold_none(Graph *g, Node *n, Diag *d)
{
    (void)g, (void)n, (void)d;
    return false;
}

/* A fold may not turn a small model into a huge one: outputs of more than
 * FOLD_GROW_LIMIT elements are folded only when they are no larger than the
 * inputs and attribute data together (two 40000-element vectors broadcast by
 * Add, or indices gathering rows, would otherwise allocate and embed
 * gigabytes). */
#define FOLD_GROW_LIMIT 65536

static bool fold_grows(const Graph *g, const Node *n)
{
    int64_t in = 0, out = 0;
    for (int i = 0; i < n->n_in; i++)
        if (ir_in(g, n, i))
            in += shape_numel(&ir_in(g, n, i)->shape);
    for (int i = 0; i < n->n_attr; i++) /* Constant's value: data from the file */
        in += n->attrs[i].type == ATTR_TENSOR ? shape_numel(&n->attrs[i].t->shape)
                                              : n->attrs[i].n;
    for (int i = 0; i < n->n_out; i++)
        if (ir_out(g, n, i))
            out += shape_numel(&ir_out(g, n, i)->shape);
    return out > FOLD_GROW_LIMIT && out > in;
}

bool fold_node(Graph *g, Node *n, Diag *d)
{
    if (!fold_grows(g, n) && fold_rules[n->op](g, n, d)) {
        n->dead = true;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0)
                g->values[n->out[i]]->producer = -1;
    }
    return d->errors == 0;
}

/* pass_fold_constants
 * requires: a typed graph in topological order.
 * does:     runs every live node's fold rule; folded nodes become dead and
 *           their outputs VAL_CONST.
 * preserves: types, node order. */
bool pass_fold_constants(Graph *g, Diag *d)
{
    for (int k = 0; k < g->n_nodes; k++)
        if (!g->nodes[k]->dead && !fold_node(g, g->nodes[k], d))
            return false;
    return true;
}
