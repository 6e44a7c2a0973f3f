/* shapes_train_conv.c — shape rules of the kiln-domain backward ops of the
 * convolution, pooling, normalization and dropout family
 * (ir/ops_train_conv.def). autodiff (grad_conv.c) builds these nodes from
 * checked forward nodes, so the rules check what a hand-written .kir could
 * get wrong and never trust an attribute blindly. */
#include "pass.h"

#include <string.h>

/* attribute name holds exactly count ints, each at least lo. */
static bool want_ints(const Node *n, Diag *d, const char *name, int count, int64_t lo)
{
    const Attr *a = ir_attr(n, name);
    bool ok = a && a->type == ATTR_INTS && a->n == count;
    for (int i = 0; ok && i < count; i++)
        ok = a->ints[i] >= lo && a->ints[i] <= INT32_MAX;
    if (!ok)
        ir_node_error(d, n, "needs an ints attribute '%s' of %d values >= %lld", name, count,
                      (long long)lo);
    return ok;
}

/* ConvWeightGrad: A [N, Ca, P...] (the window positions), B [N, Cb, E...]
 * (the extent the windows cover), one float type; attributes kernel_shape,
 * strides, dilations, pads (2 per spatial dim), group dividing Ca and Cb.
 * dW [Ca, Cb/group, k...]. */
bool shape_conv_weight_grad(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    int r = a->shape.rank, nsp = r - 2;
    if (!dtype_is_float(a->dtype) || b->dtype != a->dtype || r < 3 || b->shape.rank != r ||
        a->shape.dims[0] != b->shape.dims[0]) {
        ir_node_error(d, n, "inputs must be float tensors [N, C, spatial...] of one type, rank "
                            "and batch");
        return false;
    }
    int64_t group = ir_attr_int(n, "group", 1), ca = a->shape.dims[1], cb = b->shape.dims[1];
    if (group < 1 || ca % group != 0 || cb % group != 0) {
        ir_node_error(d, n, "group %lld must divide both channel counts %lld and %lld",
                      (long long)group, (long long)ca, (long long)cb);
        return false;
    }
    if (!want_ints(n, d, "kernel_shape", nsp, 1) || !want_ints(n, d, "strides", nsp, 1) ||
        !want_ints(n, d, "dilations", nsp, 1) || !want_ints(n, d, "pads", 2 * nsp, 0))
        return false;
    Shape w = {.rank = r, .dims = {ca, cb / group}};
    memcpy(w.dims + 2, ir_attr(n, "kernel_shape")->ints, sizeof(int64_t) * (size_t)nsp);
    rule_set_out(g, n, 0, a->dtype, &w);
    return true;
}

/* BatchNormGrad, InstanceNormGrad, LayerNormGrad: dY and X of one float
 * type and shape, scale of that type; dX like X, dScale and dBias like
 * scale. */
bool shape_norm_grad(Graph *g, Node *n, Diag *d)
{
    const Value *dy = ir_in(g, n, 0), *x = ir_in(g, n, 1), *s = ir_in(g, n, 2);
    if (!dtype_is_float(x->dtype) || dy->dtype != x->dtype || s->dtype != x->dtype ||
        !shape_equal(&dy->shape, &x->shape) || x->shape.rank < 2) {
        ir_node_error(d, n, "dY, X and scale must be float tensors of one type, dY shaped like X");
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    rule_set_out(g, n, 1, s->dtype, &s->shape);
    rule_set_out(g, n, 2, s->dtype, &s->shape);
    return true;
}

/* TrainDropout: X float, step an int64 scalar, ratio (optional) a float
 * scalar; Y like X, the mask bool of X's shape. */
bool shape_train_dropout(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *step = ir_in(g, n, 1), *ratio = ir_in(g, n, 2);
    if (!dtype_is_float(x->dtype) || step->dtype != DT_I64 || shape_numel(&step->shape) != 1 ||
        (ratio && (!dtype_is_float(ratio->dtype) || shape_numel(&ratio->shape) != 1))) {
        ir_node_error(d, n, "needs a float X, an int64 scalar step and a float scalar ratio");
        return false;
    }
    double r = ir_attr_float(n, "ratio", 0.5);
    if (ratio && ratio->kind == VAL_CONST && ratio->data)
        r = tensor_get_f(ratio->dtype, ratio->data, 0);
    if (!(r >= 0 && r <= 1)) {
        ir_node_error(d, n, "ratio %g is outside [0, 1]", r);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    rule_set_out(g, n, 1, DT_BOOL, &x->shape);
    return true;
}
