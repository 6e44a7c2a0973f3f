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

bool fold_node(Graph *g, Node *n, Diag *d)
{
    if (fold_rules[n->op](g, n, d)) {
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
