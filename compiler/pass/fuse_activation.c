/* fuse_activation.c — an activation (Relu, LeakyRelu, Clip, Sigmoid, Tanh,
 * HardSwish) after a Conv, Gemm or MatMul becomes part of that node (a kiln
 * Fused* op, ir/ops_fused.def): the kernel applies it to each tile of the
 * product, with the bias, before storing it (emit/k_gemm.c, k_conv.c). */
#include "pass.h"

/* The fused op a producer becomes, or OP_UNKNOWN. */
static OpKind fused_op(const Graph *g, const Node *p)
{
    const Value *y = ir_out(g, p, 0);
    if (!y || (y->dtype != DT_F32 && y->dtype != DT_F64))
        return OP_UNKNOWN;
    switch (p->op) {
    case OP_Conv: return OP_FusedConv;
    case OP_Gemm: return OP_FusedGemm;
    case OP_MatMul: return OP_FusedMatMul;
    default: return OP_UNKNOWN;
    }
}

/* Clip's bound i (1 min, 2 max) into *v when present: an attribute before
 * opset 11, a constant scalar input after. False if it is not constant. */
static bool clip_bound(const Graph *g, const Node *c, int i, bool *present, double *v)
{
    *present = false;
    if (c->opset < 11) {
        const char *name = i == 1 ? "min" : "max";
        *present = ir_attr(c, name) != NULL;
        *v = ir_attr_float(c, name, 0);
        return true;
    }
    const Value *b = ir_in(g, c, i);
    if (!b)
        return true;
    if (b->kind != VAL_CONST || !b->data || shape_numel(&b->shape) != 1)
        return false;
    *present = true;
    *v = tensor_get_f(b->dtype, b->data, 0);
    return true;
}

/* Copies the activation r onto the fused node n as attributes; false if r
 * is not an activation n can take. */
static bool take_activation(Graph *g, Node *n, const Node *r)
{
    bool lo = false, hi = false;
    double lov = 0, hiv = 0;
    switch (r->op) {
    case OP_Relu: case OP_Sigmoid: case OP_Tanh: case OP_HardSwish: break;
    case OP_LeakyRelu:
        ir_node_set_attr(g, n, "activation_alpha", ATTR_FLOAT)->f = ir_attr_float(r, "alpha", 0.01);
        break;
    case OP_Clip:
        if (!clip_bound(g, r, 1, &lo, &lov) || !clip_bound(g, r, 2, &hi, &hiv))
            return false;
        if (lo)
            ir_node_set_attr(g, n, "activation_alpha", ATTR_FLOAT)->f = lov;
        if (hi)
            ir_node_set_attr(g, n, "activation_beta", ATTR_FLOAT)->f = hiv;
        break;
    default: return false;
    }
    ir_node_set_attr(g, n, "activation", ATTR_STRING)->s = op_info[r->op].name;
    return true;
}

/* pass_fuse_activation
 * requires: shapes inferred, Value.producer current.
 * does:     a Conv / Gemm / MatMul (f32 or f64) whose output only an
 *           activation reads becomes FusedConv / FusedGemm / FusedMatMul
 *           with that activation's attributes, writing the activation's
 *           output; the activation dies. A Clip fuses when its bounds are
 *           constants. In a training step an activation whose input the
 *           backward pass also reads is left alone (that input has two
 *           readers).
 * preserves: types, shapes, values (the same formulas, kernels' epilogues).
 * invalidates: nothing (the fused node stays where the producer was). */
bool pass_fuse_activation(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *p = g->nodes[k];
        OpKind op = p->dead ? OP_UNKNOWN : fused_op(g, p);
        if (op == OP_UNKNOWN)
            continue;
        Node *r = fuse_sole_reader(g, uses, p->out[0]);
        if (!r || r->in[0] != p->out[0] || ir_out(g, r, 0)->dtype != ir_out(g, p, 0)->dtype ||
            !take_activation(g, p, r))
            continue;
        fuse_become(p, op);
        fuse_absorb(p, r);
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
