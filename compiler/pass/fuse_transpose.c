/* fuse_transpose.c — a 2-D Transpose feeding a GEMM operand is folded into
 * the GEMM's transA / transB: the packing routines read the operand with
 * swapped strides instead of a transposed copy being written first. */
#include "pass.h"

/* n is a Transpose swapping the two dims of a 2-D tensor. */
static bool is_swap_2d(const Graph *g, const Node *n)
{
    if (n->op != OP_Transpose || ir_in(g, n, 0)->shape.rank != 2)
        return false;
    const Attr *perm = ir_attr(n, "perm");
    return !perm || (perm->n == 2 && perm->ints[0] == 1 && perm->ints[1] == 0);
}

/* A GEMM that can take operand i transposed: Gemm, or a 2-D float MatMul
 * (which becomes a Gemm without C). */
static bool takes_trans(const Graph *g, const Node *n)
{
    if (n->op == OP_Gemm)
        return true;
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    return n->op == OP_MatMul && a->shape.rank == 2 && b->shape.rank == 2 &&
           dtype_is_float(y->dtype) && y->dtype != DT_F16 && y->dtype != DT_BF16;
}

/* pass_fuse_transpose
 * requires: shapes inferred, Value.producer current.
 * does:     for operand A or B of a Gemm (or 2-D float MatMul, which becomes
 *           a Gemm) computed by a 2-D Transpose that nothing else reads, the
 *           GEMM reads the Transpose's input and flips transA / transB; the
 *           Transpose dies.
 * preserves: types, shapes, values (the same products, summed in the same
 *           order).
 * invalidates: nothing (no node moves before its inputs). */
bool pass_fuse_transpose(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *n = g->nodes[k];
        if (n->dead || !takes_trans(g, n))
            continue;
        for (int i = 0; i < 2; i++) {
            Node *t = fuse_producer(g, n->in[i]);
            if (!t || !is_swap_2d(g, t) || fuse_sole_reader(g, uses, n->in[i]) != n)
                continue;
            if (n->op == OP_MatMul) {
                fuse_become(n, OP_Gemm);
                n->opset = n->opset < 11 ? 11 : n->opset;
            }
            const char *flag = i == 0 ? "transA" : "transB";
            int64_t was = ir_attr_int(n, flag, 0) != 0;
            ir_node_set_attr(g, n, flag, ATTR_INT)->i = !was;
            n->in[i] = t->in[0];
            t->dead = true;
        }
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
