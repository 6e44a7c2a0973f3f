/* fuse_matmul_add.c — MatMul followed by the Add of a bias becomes one
 * Gemm, so the bias is added in the GEMM's epilogue (and a following
 * activation can fuse into it too, fuse_activation.c). */
#include "pass.h"

/* The Add's other operand C broadcasts to the product's [M,N] and the Add's
 * output is that product's shape (the bias doesn't widen it). */
static bool bias_fits(const Graph *g, const Node *add, int c_slot, const Value *y)
{
    const Value *out = ir_out(g, add, 0), *c = ir_in(g, add, c_slot);
    Shape bc;
    return add->opset >= 7 && c->dtype == y->dtype && c->shape.rank <= 2 &&
           shape_equal(&out->shape, &y->shape) && rule_broadcast(&y->shape, &c->shape, &bc) &&
           shape_equal(&bc, &y->shape);
}

/* pass_fuse_matmul_add
 * requires: shapes inferred, Value.producer current.
 * does:     MatMul(A [M,K], B [K,N]) (both 2-D, float) whose output only an
 *           Add reads, that Add adding C broadcastable to [M,N], becomes
 *           Gemm(A, B, C) writing the Add's output. Add is commutative, so
 *           the bias may be either operand; the sum is the same float sum.
 * preserves: types, shapes, values.
 * invalidates: node order (re-sorted). */
bool pass_fuse_matmul_add(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *mm = g->nodes[k];
        if (mm->dead || mm->op != OP_MatMul)
            continue;
        const Value *a = ir_in(g, mm, 0), *b = ir_in(g, mm, 1), *y = ir_out(g, mm, 0);
        if (a->shape.rank != 2 || b->shape.rank != 2 || !dtype_is_float(y->dtype) ||
            y->dtype == DT_F16 || y->dtype == DT_BF16)
            continue;
        Node *add = fuse_sole_reader(g, uses, mm->out[0]);
        if (!add || add->op != OP_Add)
            continue;
        int c_slot = add->in[0] == mm->out[0] ? 1 : 0;
        if (add->in[c_slot] == mm->out[0] || !bias_fits(g, add, c_slot, y))
            continue;
        int in[3] = {mm->in[0], mm->in[1], add->in[c_slot]};
        fuse_set_inputs(g, mm, in, 3);
        fuse_become(mm, OP_Gemm);
        if (mm->opset < 11) /* Gemm's C broadcasts unidirectionally from opset 7, optional from 11 */
            mm->opset = 11;
        fuse_absorb(mm, add);
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
