/* fuse_grad_mask.c — in a training step, a Relu's gradient (UnaryGrad of
 * Relu: dX = X > 0 ? dY : 0) applied to a dY that a Gemm computes becomes
 * that Gemm's epilogue (a FusedGemm with X as its fourth input), so the
 * masked gradient is written once (emit/k_gemm.c, templates/kiln_gemm.h). */
#include "pass.h"

#include <string.h>

/* Whether r is a Relu's gradient (f32, dY, X and dX of one shape). */
static bool relu_grad(const Graph *g, const Node *r)
{
    if (r->dead || r->op != OP_UnaryGrad || strcmp(ir_attr_str(r, "of", ""), "Relu") != 0 ||
        r->n_in < 2)
        return false;
    const Value *dy = ir_in(g, r, 0), *x = ir_in(g, r, 1), *dx = ir_out(g, r, 0);
    return dy && x && dx && dy->dtype == DT_F32 && x->dtype == DT_F32 && dx->dtype == DT_F32 &&
           shape_equal(&dy->shape, &x->shape) && shape_equal(&dx->shape, &x->shape);
}

/* pass_fuse_grad_mask
 * requires: shapes inferred, Value.producer current; after fuse_activation
 *           (a Gemm with an activation already fused is left alone).
 * does:     a Relu gradient dX = UnaryGrad(dY, X) whose dY only it reads and
 *           a plain f32 Gemm produces: the Gemm becomes FusedGemm(A, B, C,
 *           X) writing dX, and the UnaryGrad dies. Doesn't fire on MatMul
 *           (a backward MatMul of rank > 2), on other activations'
 *           gradients, or when dY has another reader.
 * preserves: types, shapes, values (the mask X > 0, PyTorch's 0 at 0).
 * invalidates: nothing (the fused node stays where the Gemm was). */
bool pass_fuse_grad_mask(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *r = g->nodes[k];
        if (!relu_grad(g, r))
            continue;
        Node *p = fuse_producer(g, r->in[0]);
        if (!p || p->op != OP_Gemm || uses[r->in[0]] != 1 || ir_out(g, p, 0)->dtype != DT_F32)
            continue;
        int in[4] = {p->in[0], p->in[1], p->n_in > 2 ? p->in[2] : -1, r->in[1]};
        fuse_set_inputs(g, p, in, 4);
        fuse_become(p, OP_FusedGemm);
        fuse_absorb(p, r);
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
