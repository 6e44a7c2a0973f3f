/* shapes_train.c — shape rules of kiln's own training ops (ops_train.def).
 * autodiff and the training pass build these nodes themselves, so the rules
 * check only what a hand-written .kir could get wrong. */
#include "pass.h"

#include <string.h>

/* UnaryGrad, SoftmaxCrossEntropyLossGrad, …: the output is like input 1. */
bool shape_like_input1(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 1);
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* SoftmaxGrad: the output is like dY. */
bool shape_like_input0(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 0);
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* SumToShape: attribute "shape", which X must broadcast from. */
bool shape_sum_to(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    const Attr *a = ir_attr(n, "shape");
    if (!a || a->type != ATTR_INTS || a->n > IR_MAX_RANK) {
        ir_node_error(d, n, "needs an ints attribute 'shape'");
        return false;
    }
    Shape s = {.rank = a->n}, b;
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    if (!rule_broadcast(&x->shape, &s, &b) || !shape_equal(&b, &x->shape)) {
        ir_node_error(d, n, "input does not broadcast from the target shape");
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &s);
    return true;
}

/* Loss: prediction and labels of one shape (sparse kinds are ONNX ops); a
 * scalar out. */
bool shape_kiln_loss(Graph *g, Node *n, Diag *d)
{
    const Value *y = ir_in(g, n, 0), *t = ir_in(g, n, 1);
    if (!dtype_is_float(y->dtype) || t->dtype != y->dtype || !shape_equal(&y->shape, &t->shape)) {
        ir_node_error(d, n, "prediction and labels must be float tensors of one shape");
        return false;
    }
    Shape s = {0};
    rule_set_out(g, n, 0, y->dtype, &s);
    return true;
}

/* ClipNorm: each output like its input. */
bool shape_clip_norm(Graph *g, Node *n, Diag *d)
{
    if (n->n_in != n->n_out) {
        ir_node_error(d, n, "needs as many outputs as inputs");
        return false;
    }
    for (int i = 0; i < n->n_in; i++)
        rule_set_out(g, n, i, ir_in(g, n, i)->dtype, &ir_in(g, n, i)->shape);
    return true;
}

/* Optimizer: outputs like the param and then like each state input. */
bool shape_optimizer(Graph *g, Node *n, Diag *d)
{
    if (n->n_out != 1 + (n->n_in - 4)) {
        ir_node_error(d, n, "needs one output per updated tensor");
        return false;
    }
    rule_set_out(g, n, 0, ir_in(g, n, 0)->dtype, &ir_in(g, n, 0)->shape);
    for (int i = 4; i < n->n_in; i++)
        rule_set_out(g, n, i - 3, ir_in(g, n, i)->dtype, &ir_in(g, n, i)->shape);
    return true;
}
