/* fuse_grad_update.c — in a training step, a bias gradient (SumToShape of
 * dY, maybe reshaped to the bias) that only its parameter's Optimizer reads
 * becomes part of the update: a FusedOptimizer reads dY and sums each
 * gradient element just before updating it, so the gradient tensor is never
 * written to the workspace and read back (emit/k_train.c, emit_fused_update). */
#include "pass.h"

#include <string.h>

/* The SumToShape whose result is an update's gradient gv, directly or
 * through one Reshape (*reshape, else NULL), when nothing else reads that
 * result or the Reshape's; NULL otherwise. */
static Node *sum_for_update(const Graph *g, const int *uses, int gv, Node **reshape)
{
    Node *s = fuse_producer(g, gv);
    *reshape = NULL;
    if (s && s->op == OP_Reshape && uses[gv] == 1) {
        *reshape = s;
        gv = s->in[0];
        s = fuse_producer(g, gv);
    }
    return s && s->op == OP_SumToShape && uses[gv] == 1 ? s : NULL;
}

/* Whether the f32 update u may take over the sum s: the parameter, dY and
 * the sum f32, and the sum of a kind the kernel sums (shape_sum_split). */
static bool fusable(const Graph *g, const Node *u, const Node *s)
{
    const Value *p = ir_in(g, u, 0), *dy = ir_in(g, s, 0), *sum = ir_out(g, s, 0);
    int64_t outer, mid, inner;
    return p && dy && sum && p->dtype == DT_F32 && dy->dtype == DT_F32 && sum->dtype == DT_F32 &&
           shape_numel(&sum->shape) == shape_numel(&p->shape) &&
           shape_sum_split(&dy->shape, &sum->shape, &outer, &mid, &inner);
}

/* The sum s becomes the update u, reading dY where u read the gradient:
 * u's name, inputs, outputs and attributes plus the sum's "shape". It stays
 * where the sum was, so dY's lifetime doesn't grow (the new parameter and
 * state, the size of the parameter, live from there instead). */
static void fuse(Graph *g, Node *s, Node *u)
{
    const Attr *shape = ir_attr(s, "shape");
    int in[7];
    KILN_ASSERT(u->n_in <= 7 && shape && shape->type == ATTR_INTS);
    memcpy(in, u->in, sizeof(int) * (size_t)u->n_in);
    in[1] = s->in[0];
    int64_t *dims = arena_dup(g->arena, shape->ints, sizeof(int64_t) * (size_t)shape->n);
    int rank = (int)shape->n;
    s->attrs = arena_dup(g->arena, u->attrs, sizeof(Attr) * (size_t)u->n_attr);
    s->n_attr = u->n_attr;
    Attr *a = ir_node_set_attr(g, s, "shape", ATTR_INTS);
    a->ints = dims;
    a->n = rank;
    fuse_set_inputs(g, s, in, u->n_in);
    s->out = arena_dup(g->arena, u->out, sizeof(int) * (size_t)u->n_out);
    s->n_out = u->n_out;
    s->name = u->name;
    s->opset = u->opset;
    fuse_become(s, OP_FusedOptimizer);
    u->dead = true;
}

/* pass_fuse_grad_update
 * requires: shapes inferred, Value.producer current; a training graph
 *           (pass_build_training), else it finds nothing.
 * does:     an f32 Optimizer whose gradient is a SumToShape of dY (a Gemm's
 *           or Conv's bias gradient; a Conv's through a Reshape to [C])
 *           summed over leading and trailing dims only, read by nothing
 *           else, becomes a FusedOptimizer on dY. It doesn't fire with
 *           --clip-norm (the update reads ClipNorm's output: every
 *           gradient's norm comes first), when the gradient is also a graph
 *           output or read by another node, on a weight's gradient (a Gemm,
 *           ConvWeightGrad), on a BatchNormalization's scale and bias
 *           (BatchNormGrad computes them with dX), or on f64 parameters.
 *           --check-finite is unchanged: it checks the new parameters and
 *           state, which a non-finite gradient still reaches.
 * preserves: types, shapes, values to the bit (each gradient element is
 *           summed in SumToShape's order, then updated by the same code).
 * invalidates: nothing (the fused node stays where the sum was). */
bool pass_fuse_grad_update(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *u = g->nodes[k], *reshape;
        if (u->dead || u->op != OP_Optimizer || u->n_in < 4)
            continue;
        Node *s = sum_for_update(g, uses, u->in[1], &reshape);
        if (!s || !fusable(g, u, s))
            continue;
        fuse(g, s, u);
        if (reshape)
            reshape->dead = true;
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
