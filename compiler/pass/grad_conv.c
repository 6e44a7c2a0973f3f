/* grad_conv.c — gradient rules of the convolution, pooling, normalization
 * and dropout ops (named in ops_conv.def and ops_norm.def), with torch
 * autograd's semantics. Data gradients of convolutions are convolutions
 * again (Conv <-> ConvTranspose); weight, pooling and normalization
 * gradients are kiln-domain ops (ops_train_conv.def, k_train_conv.c). */
#include "autodiff.h"

#include <string.h>

/* The window attributes the conv shape rule made explicit (shapes_conv.c). */
static const char *const window_attrs[] = {"kernel_shape", "strides", "dilations", "pads"};

static void copy_window(GradCtx *c, Node *to, const Node *from)
{
    for (int i = 0; i < 4; i++) {
        const Attr *a = ir_attr(from, window_attrs[i]);
        KILN_ASSERT(a && a->type == ATTR_INTS); /* written by shape_conv / shape_pool */
        ad_set_ints(c, to, window_attrs[i], a->ints, a->n);
    }
    ad_set_int(c, to, "group", ir_attr_int(from, "group", 1));
}

/* dB of a conv: dY [N, M, ...] summed to [M]. */
static int bias_grad(GradCtx *c, int dy, int b)
{
    const Shape *s = &c->g->values[dy]->shape;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < s->rank; i++)
        dims[i] = i == 1 ? s->dims[1] : 1;
    Node *n = ad_node(c, OP_SumToShape, &dy, 1, 1);
    ad_set_ints(c, n, "shape", dims, s->rank);
    return ad_reshape_like(c, ad_finish(c, n), b);
}

/* ConvWeightGrad(a, b) with fwd's window. */
static int weight_grad(GradCtx *c, const Node *fwd, int a, int b)
{
    int in[2] = {a, b};
    Node *n = ad_node(c, OP_ConvWeightGrad, in, 2, 1);
    copy_window(c, n, fwd);
    return ad_finish(c, n);
}

/* The adjoint convolution of fwd applied to dy: ConvTranspose for a Conv,
 * Conv for a ConvTranspose, with the same weight and window. A Conv's
 * input positions past its last window come back as output_padding
 * ((in + pb + pe - extent) mod stride). Returns -1 (with an error) when the
 * result would not have X's shape. */
static int data_grad(GradCtx *c, const Node *fwd, int dy)
{
    const Value *x = c->g->values[fwd->in[0]];
    bool conv = fwd->op == OP_Conv;
    int in[2] = {dy, fwd->in[1]};
    Node *n = ad_node(c, conv ? OP_ConvTranspose : OP_Conv, in, 2, 1);
    copy_window(c, n, fwd);
    if (conv) {
        const Attr *k = ir_attr(fwd, "kernel_shape"), *s = ir_attr(fwd, "strides");
        const Attr *d = ir_attr(fwd, "dilations"), *p = ir_attr(fwd, "pads");
        int64_t opad[IR_MAX_RANK];
        for (int j = 0; j < k->n; j++) {
            int64_t span = x->shape.dims[j + 2] + p->ints[j] + p->ints[j + k->n] -
                           ((k->ints[j] - 1) * d->ints[j] + 1);
            opad[j] = span % s->ints[j];
        }
        ad_set_ints(c, n, "output_padding", opad, k->n);
    }
    int dx = ad_finish(c, n);
    if (dx >= 0 && !shape_equal(&c->g->values[dx]->shape, &x->shape)) {
        ir_node_error(c->d, fwd, "training through this ConvTranspose is not supported (its "
                                 "output_padding is not smaller than its strides)");
        return -1;
    }
    return dx;
}

/* Conv (opset 1, 11) and ConvTranspose: Y = conv(X, W) + B.
 *   dX = the adjoint convolution of dY (data_grad)
 *   dW = ConvWeightGrad(dY, X) for Conv, ConvWeightGrad(X, dY) for ConvTranspose
 *   dB = dY summed over every dim but the channels */
bool grad_conv(GradCtx *c, const Node *n)
{
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1, dy = ad_grad(c, n->out[0]);
    bool conv = n->op == OP_Conv;
    const Attr *pads = ir_attr(n, "pads");
    for (int i = 0; pads && i < pads->n; i++)
        if (pads->ints[i] < 0) { /* a ConvTranspose output_shape past the natural size */
            ir_node_error(c->d, n, "training through a ConvTranspose whose output_shape exceeds "
                                   "its natural size is not supported");
            return false;
        }
    if (ad_wants(c, x))
        ad_accumulate(c, x, data_grad(c, n, dy));
    if (ad_wants(c, w))
        ad_accumulate(c, w, conv ? weight_grad(c, n, dy, x) : weight_grad(c, n, x, dy));
    if (ad_wants(c, b))
        ad_accumulate(c, b, bias_grad(c, dy, b));
    return !c->d->errors;
}

/* MaxPool (the window's first maximum gets dY; the Indices output must not
 * carry a gradient), AveragePool (dY / count spread over the window, the
 * count as the forward op's count_include_pad), GlobalMaxPool,
 * GlobalAveragePool: dX = PoolGrad(dY, X), k_train_conv.c. */
bool grad_pool(GradCtx *c, const Node *n)
{
    if (n->n_out > 1 && ad_grad(c, n->out[1]) >= 0) {
        ir_node_error(c->d, n, "training through MaxPool's Indices output is not supported");
        return false;
    }
    int in[2] = {ad_grad(c, n->out[0]), n->in[0]};
    Node *g = ad_node(c, OP_PoolGrad, in, 2, 1);
    ad_copy_attrs(c, g, n);
    ad_set_str(c, g, "of", op_info[n->op].name);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* Only output 0 of a normalization carries a gradient (the others are
 * running or saved statistics). */
static bool only_output0(GradCtx *c, const Node *n)
{
    for (int i = 1; i < n->n_out; i++)
        if (ad_grad(c, n->out[i]) >= 0) {
            ir_node_error(c->d, n, "training through output %d (a statistic) is not supported", i);
            return false;
        }
    return true;
}

/* Adds the gradients of a *NormGrad node's outputs dX, dScale, dBias to
 * n's inputs 0, 1, 2, summed down to their shapes. */
static void norm_accumulate(GradCtx *c, const Node *n, Node *g)
{
    if (ad_finish(c, g) < 0)
        return;
    ad_accumulate(c, n->in[0], g->out[0]);
    if (ad_wants(c, n->in[1]))
        ad_accumulate(c, n->in[1], ad_unbroadcast(c, g->out[1], n->in[1]));
    if (n->n_in > 2 && ad_wants(c, n->in[2]))
        ad_accumulate(c, n->in[2], ad_unbroadcast(c, g->out[2], n->in[2]));
}

/* BatchNormalization (opset 14/15): in training mode (training_mode = 1,
 * the batch statistics over N and the spatial dims, count M per channel)
 *   xhat = (x - mean) / sqrt(var + eps), dBias = sum dY, dScale = sum dY xhat,
 *   dX = scale / sqrt(var + eps) * (dY - dBias / M - xhat dScale / M);
 * in inference mode dX = dY scale / sqrt(input_var + eps). The running
 * mean and var get no gradient. (torch.nn.functional.batch_norm) */
bool grad_batchnorm(GradCtx *c, const Node *n)
{
    if (!only_output0(c, n))
        return false;
    if (n->opset < 9 && ir_attr_int(n, "spatial", 1) == 0) {
        ir_node_error(c->d, n, "training a BatchNormalization with spatial=0 is not supported");
        return false;
    }
    int in[5] = {ad_grad(c, n->out[0]), n->in[0], n->in[1], n->in[3], n->in[4]};
    Node *g = ad_node(c, OP_BatchNormGrad, in, 5, 3);
    ad_set_int(c, g, "training_mode", n->opset >= 14 && ir_attr_int(n, "training_mode", 0) != 0);
    ir_node_set_attr(c->g, g, "epsilon", ATTR_FLOAT)->f = ir_attr_float(n, "epsilon", 1e-5);
    norm_accumulate(c, n, g);
    return !c->d->errors;
}

/* InstanceNormalization (opset 6): BatchNormalization's training-mode
 * formula per (n, c) over the spatial dims; dScale and dBias summed over n. */
bool grad_instancenorm(GradCtx *c, const Node *n)
{
    int in[3] = {ad_grad(c, n->out[0]), n->in[0], n->in[1]};
    Node *g = ad_node(c, OP_InstanceNormGrad, in, 3, 3);
    ir_node_set_attr(c->g, g, "epsilon", ATTR_FLOAT)->f = ir_attr_float(n, "epsilon", 1e-5);
    norm_accumulate(c, n, g);
    return !c->d->errors;
}

/* LayerNormalization (opset 17): per row (the dims before axis) over the
 * normalized dims (D values), with g = dY scale,
 *   dX = inv_std (g - mean(g) - xhat mean(g xhat)),
 * dScale = sum over rows of dY xhat, dBias = sum over rows of dY, summed
 * down to the shapes Scale and B broadcast from. A Scale of fewer dims is
 * expanded to the normalized shape first. */
bool grad_layernorm(GradCtx *c, const Node *n)
{
    if (!only_output0(c, n))
        return false;
    const Value *x = c->g->values[n->in[0]], *s = c->g->values[n->in[1]];
    int r = x->shape.rank, axis = (int)ir_attr_int(n, "axis", -1);
    axis = axis < 0 ? axis + r : axis;
    int scale = n->in[1];
    Shape norm = {.rank = r - axis};
    memcpy(norm.dims, x->shape.dims + axis, sizeof(int64_t) * (size_t)norm.rank);
    if (!shape_equal(&s->shape, &norm))
        scale = ad_op2(c, OP_Expand, scale, ad_ints(c, norm.dims, norm.rank));
    int in[3] = {ad_grad(c, n->out[0]), n->in[0], scale};
    Node *g = ad_node(c, OP_LayerNormGrad, in, 3, 3);
    ad_set_int(c, g, "axis", axis);
    ir_node_set_attr(c->g, g, "epsilon", ATTR_FLOAT)->f = ir_attr_float(n, "epsilon", 1e-5);
    norm_accumulate(c, n, g);
    return !c->d->errors;
}

/* Whether a Dropout node drops (as k_dropout decides; keep in step): 1 yes,
 * 0 no, -1 decided at run time. */
static int dropout_drops(const Graph *g, const Node *n)
{
    if (n->op == OP_TrainDropout)
        return 1;
    if (n->opset < 7)
        return ir_attr_int(n, "is_test", 0) == 0;
    const Value *t = ir_in(g, n, 2);
    if (n->opset < 12 || !t)
        return 0;
    return t->kind == VAL_CONST && t->data ? tensor_get_i(t->dtype, t->data, 0) != 0 : -1;
}

/* Dropout (and the training step's TrainDropout): y = x mask / (1 - ratio),
 * so dX = dY / (1 - ratio) where the mask is set, 0 elsewhere (0 everywhere
 * for ratio 1, where the mask is all false); the identity
 * when the node doesn't drop. A ratio input that isn't a constant is read at
 * run time. */
bool grad_dropout(GradCtx *c, const Node *n)
{
    const Graph *g = c->g;
    int dy = ad_grad(c, n->out[0]), drops = dropout_drops(g, n);
    if (n->n_out > 1 && ad_grad(c, n->out[1]) >= 0) {
        ir_node_error(c->d, n, "training through Dropout's mask output is not supported");
        return false;
    }
    if (drops == 0) {
        ad_accumulate(c, n->in[0], dy);
        return !c->d->errors;
    }
    DType dt = g->values[dy]->dtype;
    const Value *ratio = ir_in(g, n, n->op == OP_TrainDropout ? 2 : 1);
    const Value *mask = n->n_out > 1 ? ir_out(g, n, 1) : NULL;
    if (n->op == OP_Dropout && n->opset < 12)
        ratio = NULL; /* an attribute */
    bool known = !ratio || (ratio->kind == VAL_CONST && ratio->data);
    if (drops < 0 || !mask || (!known && ratio->dtype != dt)) {
        ir_node_error(c->d, n, "training through Dropout needs a constant training_mode, its mask "
                               "output, and a ratio of the data's type");
        return false;
    }
    int scale; /* 1 / (1 - ratio), as the forward kernels scale */
    if (known) {
        double r = ratio ? tensor_get_f(ratio->dtype, ratio->data, 0) : ir_attr_float(n, "ratio", 0.5);
        scale = ad_scalar(c, dt, r < 1 ? 1.0 / (1.0 - r) : 0.0);
    } else {
        int one = ad_scalar(c, dt, 1.0), r = ad_reshape_like(c, ratio->id, one);
        scale = ad_op2(c, OP_Div, one, ad_op2(c, OP_Sub, one, r));
    }
    int scaled = ad_op2(c, OP_Mul, dy, scale), dx;
    if (mask->dtype == DT_BOOL) {
        int in[3] = {mask->id, scaled, ad_scalar(c, dt, 0)};
        dx = ad_finish(c, ad_node(c, OP_Where, in, 3, 1));
    } else { /* opsets < 10: the mask has X's float type */
        dx = ad_op2(c, OP_Mul, scaled, mask->id);
    }
    ad_accumulate(c, n->in[0], dx);
    return !c->d->errors;
}
