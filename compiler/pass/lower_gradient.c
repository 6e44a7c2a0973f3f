/* lower_gradient.c — the Gradient op of ai.onnx.preview.training as
 * ordinary IR: after shape inference, each Gradient node is replaced by the
 * backward nodes autodiff (autodiff.c) builds for its y and xs, so only
 * ops with kernels reach scheduling and emission. */
#include "pass.h"

/* Output value o of Gradient node grad computed as Identity(src). */
static bool feed_output(Graph *g, const Node *grad, int src, int o, Diag *d)
{
    const Value *s = g->values[src], *v = g->values[o];
    KILN_ASSERT(s->dtype == v->dtype && shape_equal(&s->shape, &v->shape));
    const char *name = arena_printf(g->arena, "%s/%s", grad->name, v->name);
    Node *n = ir_graph_add_node(g, OP_Identity, name, &src, 1, &o, 1);
    return infer_node(g, n, d);
}

/* A constant of zeros like value v: the gradient where y doesn't depend on
 * an x. */
static int zeros_like(Graph *g, const Value *v)
{
    int64_t numel = shape_numel(&v->shape);
    void *data = arena_alloc(g->arena, (size_t)numel * dtype_size(v->dtype) + 1);
    Value *z = ir_graph_add_temp(g, "grad/zeros");
    ir_value_set_const(g, z, v->dtype, &v->shape, data);
    return z->id;
}

/* Gradient (ai.onnx.preview.training opset 1) node n: y differentiated
 * w.r.t. its first |xs| inputs, which shape_gradient checked are the tensors
 * xs names; output i becomes that gradient. */
static bool lower_one(Graph *g, Node *n, Diag *d)
{
    const Value *y = ir_graph_find_value(g, ir_attr_str(n, "y", ""));
    if (!y || !y->has_type || (y->dtype != DT_F32 && y->dtype != DT_F64)) {
        ir_node_error(d, n, "attribute 'y' must name a float tensor the graph computes");
        return false;
    }
    int n_xs = ir_attr(n, "xs")->n;
    int *grads = arena_alloc(g->arena, sizeof(int) * ((size_t)n_xs + 1));
    n->dead = true;
    if (!ad_differentiate(g, y->id, n->in, n_xs, grads, d))
        return false;
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] < 0)
            continue;
        int src = grads[i] >= 0 ? grads[i] : zeros_like(g, g->values[n->out[i]]);
        if (!feed_output(g, n, src, n->out[i], d))
            return false;
    }
    return true;
}

/* pass_lower_gradient
 * requires: a typed graph in topological order (pass_infer_shapes).
 * does:     replaces each Gradient node by autodiff's nodes (ad_differentiate
 *           of y w.r.t. the xs) and an Identity per output (zeros where y
 *           doesn't depend on that x); one node at a time, re-sorting after
 *           each, so a Gradient of a Gradient's output differentiates the
 *           first one's nodes.
 * preserves: value ids and the other nodes. invalidates: node order and ids
 *           (re-sorted; the Gradient nodes are dropped). */
bool pass_lower_gradient(Graph *g, Diag *d)
{
    for (;;) {
        Node *n = NULL;
        for (int k = 0; k < g->n_nodes && !n; k++)
            if (!g->nodes[k]->dead && g->nodes[k]->op == OP_Gradient)
                n = g->nodes[k];
        if (!n)
            return true;
        if (!lower_one(g, n, d))
            return false;
        if (!ir_graph_sort(g)) {
            diag_error(d, "the graph has a cycle through the Gradient node '%s'", n->name);
            return false;
        }
    }
}
