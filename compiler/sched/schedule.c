/* schedule.c — which nodes an entry point runs, in what order: the live
 * nodes its result values depend on, in the graph's topological order. */
#include "sched.h"

bool sched_entry(const Graph *g, const int *roots, int n_roots, Schedule *s, Diag *d)
{
    int *order, n;
    if (!ir_graph_topo(g, &order, &n)) {
        diag_error(d, "the graph has a cycle");
        return false;
    }
    bool *needed = arena_alloc(g->arena, (size_t)g->n_values + 1);
    bool *take = arena_alloc(g->arena, (size_t)n + 1);
    int *pos = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_nodes + 1));
    for (int i = 0; i < g->n_nodes; i++)
        pos[g->nodes[i]->id] = i;
    for (int k = 0; k < n_roots; k++)
        if (roots[k] >= 0)
            needed[roots[k]] = true;
    int count = 0;
    for (int k = n - 1; k >= 0; k--) {
        const Node *nd = g->nodes[pos[order[k]]];
        for (int i = 0; i < nd->n_out && !take[k]; i++)
            take[k] = nd->out[i] >= 0 && needed[nd->out[i]];
        if (!take[k])
            continue;
        count++;
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0)
                needed[nd->in[i]] = true;
    }
    s->order = arena_alloc(g->arena, sizeof(int) * (size_t)(count + 1));
    s->n = 0;
    for (int k = 0; k < n; k++)
        if (take[k])
            s->order[s->n++] = order[k];
    return true;
}
