/* shapes_fused.c — the shape rules of kiln's FusedElementwise and
 * FusedOptimizer (ir/ops_fused.def), made by pass/fuse_elementwise.c and
 * pass/fuse_grad_update.c or read from a .kir file: they check what a
 * hand-written node may get wrong (the step program, the gradient's sum). */
#include "pass.h"

#include <string.h>

/* Checks step s of the program (its op name and operand references); every
 * input a step reads is marked in read[]. */
static bool check_step(Node *n, const Attr *ops, const Attr *args, int s, bool *read, Diag *d)
{
    OpKind op = op_lookup("", ops->strings[s]);
    int arity = op == OP_UNKNOWN ? 0 : fuse_elementwise_arity(op);
    if (arity == 0) {
        ir_node_error(d, n, "step %d: '%s' is not an elementwise op FusedElementwise takes", s,
                      ops->strings[s]);
        return false;
    }
    for (int i = 0; i < 2; i++) {
        int64_t r = args->ints[2 * s + i];
        if (i >= arity ? r != -1 : r < 0 || r >= n->n_in + s) {
            ir_node_error(d, n, "step %d: operand %d is %lld, expected %s", s, i, (long long)r,
                          i >= arity ? "-1 (a unary step)" : "an input or an earlier step");
            return false;
        }
        if (i < arity && r < n->n_in)
            read[r] = true;
    }
    return true;
}

/* FusedElementwise: inputs X0..Xk (f32, each broadcasting to Y); attributes
 *   ops   strings, one ONNX op per step (fuse_elementwise_arity)
 *   args  ints, two per step: operand j < k+1 is input j, j > k step j-k-1;
 *         a unary step's second is -1
 *   NAME_S the attribute NAME of step S (alpha_2 = 0.1)
 * Y is the last step's result, of the inputs' broadcast shape. */
bool shape_fused_elementwise(Graph *g, Node *n, Diag *d)
{
    const Attr *ops = ir_attr(n, "ops"), *args = ir_attr(n, "args");
    if (!ops || ops->type != ATTR_STRINGS || ops->n < 1 || !args || args->type != ATTR_INTS ||
        args->n != 2 * ops->n) {
        ir_node_error(d, n, "needs attributes 'ops' (strings) and 'args' (ints, two per op)");
        return false;
    }
    bool read[FUSE_MAX_INPUTS] = {false};
    for (int s = 0; s < ops->n; s++)
        if (!check_step(n, ops, args, s, read, d))
            return false;
    Shape out = {0}, prev;
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v || v->dtype != DT_F32 || !read[i]) {
            ir_node_error(d, n, "input %d must be a float tensor that a step reads", i);
            return false;
        }
        prev = out;
        if (i == 0) {
            out = v->shape;
        } else if (!rule_broadcast(&prev, &v->shape, &out)) {
            ir_node_error(d, n, "inputs 0..%d do not broadcast", i);
            return false;
        }
    }
    rule_set_out(g, n, 0, DT_F32, &out);
    return true;
}

/* FusedOptimizer: Optimizer's inputs and outputs (shape_optimizer), but
 * input 1 is dY (f32, like the parameter), whose sum to attribute "shape"
 * (SumToShape's rule) is the gradient: as many elements as the parameter,
 * and summed over leading and trailing dims only (shape_sum_split), which
 * is what the kernel (emit/k_train.c) sums. */
bool shape_fused_optimizer(Graph *g, Node *n, Diag *d)
{
    const Value *p = ir_in(g, n, 0), *dy = ir_in(g, n, 1);
    const Attr *a = ir_attr(n, "shape");
    if (!a || a->type != ATTR_INTS || a->n > IR_MAX_RANK) {
        ir_node_error(d, n, "needs an ints attribute 'shape'");
        return false;
    }
    Shape s = {.rank = (int)a->n}, b;
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    int64_t outer, mid, inner;
    if (p->dtype != DT_F32 || dy->dtype != DT_F32) {
        ir_node_error(d, n, "the parameter and dY must be f32");
        return false;
    }
    if (!rule_broadcast(&dy->shape, &s, &b) || !shape_equal(&b, &dy->shape) ||
        shape_numel(&s) != shape_numel(&p->shape)) {
        ir_node_error(d, n, "dY does not sum to the parameter's %lld elements",
                      (long long)shape_numel(&p->shape));
        return false;
    }
    if (!shape_sum_split(&dy->shape, &s, &outer, &mid, &inner)) {
        ir_node_error(d, n, "dY must be summed over leading and trailing dims only");
        return false;
    }
    return shape_optimizer(g, n, d);
}
