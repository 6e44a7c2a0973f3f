/* fuse_util.c — what the fusion passes (fuse_*.c) share: counting the
 * readers of each value, finding a value's sole reader, and turning a node
 * into another op in place. Fusion runs after shape inference and autodiff,
 * on the whole graph (inference and training step alike). */
#include "pass.h"

#include <string.h>

int *fuse_use_counts(const Graph *g)
{
    int *uses = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_values + 1));
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = g->nodes[k];
        for (int i = 0; !n->dead && i < n->n_in; i++)
            if (n->in[i] >= 0)
                uses[n->in[i]]++;
    }
    for (int k = 0; k < g->n_outputs; k++)
        uses[g->outputs[k]]++;
    if (g->train_loss >= 0)
        uses[g->train_loss]++;
    for (int k = 0; k < g->n_assigns; k++)
        uses[g->assigns[k].value]++;
    return uses;
}

Node *fuse_sole_reader(const Graph *g, const int *uses, int value)
{
    if (value < 0 || uses[value] != 1)
        return NULL;
    for (int k = 0; k < g->n_nodes; k++) {
        Node *n = g->nodes[k];
        for (int i = 0; !n->dead && i < n->n_in; i++)
            if (n->in[i] == value)
                return n;
    }
    return NULL; /* read by a graph output or the training step */
}

Node *fuse_producer(const Graph *g, int value)
{
    if (value < 0 || g->values[value]->producer < 0)
        return NULL;
    Node *n = g->nodes[g->values[value]->producer];
    return n->dead ? NULL : n;
}

void fuse_set_inputs(Graph *g, Node *n, const int *in, int n_in)
{
    n->in = arena_dup(g->arena, in, sizeof(int) * (size_t)n_in);
    n->n_in = n_in;
}

void fuse_become(Node *n, OpKind op)
{
    n->op = op;
    n->op_name = op_info[op].name;
    n->domain = op_info[op].domain;
}

void fuse_absorb(Node *n, Node *reader)
{
    n->out[0] = reader->out[0];
    reader->dead = true;
}
