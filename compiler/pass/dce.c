/* dce.c — dead-code elimination: drops nodes no graph output depends on. */
#include "pass.h"

/* pass_dce
 * requires: nodes in topological order, Value.producer current.
 * does:     marks dead every node whose outputs reach no graph output, no
 *           training loss and no state update, then compacts the node list.
 * preserves: types, values (unreferenced values stay, unused). */
bool pass_dce(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    bool *needed = arena_alloc(g->arena, (size_t)g->n_values + 1);
    for (int k = 0; k < g->n_outputs; k++)
        needed[g->outputs[k]] = true;
    if (g->train_loss >= 0)
        needed[g->train_loss] = true;
    for (int k = 0; k < g->n_assigns; k++)
        needed[g->assigns[k].value] = true;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        Node *n = g->nodes[k];
        if (n->dead)
            continue;
        bool live = false;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0 && needed[n->out[i]])
                live = true;
        if (!live) {
            n->dead = true;
            continue;
        }
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0)
                needed[n->in[i]] = true;
    }
    return ir_graph_sort(g);
}
