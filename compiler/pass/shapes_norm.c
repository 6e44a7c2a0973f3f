/* shapes_norm.c — shape rules of the normalization ops (BatchNormalization,
 * InstanceNormalization, LayerNormalization, LRN, MeanVarianceNormalization),
 * Dropout, the softmax family and the two losses (ONNX spec sections of the
 * same names). Their kernels are in emit/k_norm.c, k_softmax.c, k_loss.c. */
#include "pass.h"

#include <string.h>

/* These ops compute in f32 or f64 only (f16 is stored but not computed). */
static bool want_real(Diag *d, const Node *n, const Value *v)
{
    if (v->dtype == DT_F32 || v->dtype == DT_F64)
        return true;
    ir_node_error(d, n, "input '%s' has type %s, expected f32 or f64", v->name,
                  dtype_name(v->dtype));
    return false;
}

/* v must have exactly shape s. */
static bool want_shape(Diag *d, const Node *n, const Value *v, const Shape *s, const char *what)
{
    if (shape_equal(&v->shape, s))
        return true;
    char got[128], exp[128];
    ir_node_error(d, n, "%s '%s' has shape %s, expected %s", what, v->name,
                  shape_str(&v->shape, got, sizeof got), shape_str(s, exp, sizeof exp));
    return false;
}

static bool has_outputs_from(const Node *n, int first)
{
    for (int i = first; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return true;
    return false;
}

/* BatchNormalization: X [N,C,D1..], scale/B/mean/var [C] (or [C,D1..] with
 * spatial=0, opset < 9). Training mode is the training_mode attribute from
 * opset 14, the presence of the extra outputs in opsets 7–13, and is_test=0
 * (the default) in opset 6.
 * Outputs: Y like X; running mean/var (and opset < 14's saved mean/var)
 * like the mean input. */
bool shape_batchnorm(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "X must have rank at least 2 (N x C x ...), got %d", x->shape.rank);
        return false;
    }
    bool spatial = n->opset >= 9 || ir_attr_int(n, "spatial", 1) != 0;
    Shape ps = {.rank = 1, .dims = {x->shape.dims[1]}};
    if (!spatial) {
        ps.rank = x->shape.rank - 1;
        memcpy(ps.dims, x->shape.dims + 1, sizeof(int64_t) * (size_t)ps.rank);
    }
    static const char *const what[] = {"", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++)
        if (!want_real(d, n, ir_in(g, n, i)) || !want_shape(d, n, ir_in(g, n, i), &ps, what[i]))
            return false;
    /* keep in step with k_batchnorm (emit/k_norm.c) */
    bool training = n->opset >= 14 ? ir_attr_int(n, "training_mode", 0) != 0
                    : n->opset >= 7 ? has_outputs_from(n, 1)
                                    : ir_attr_int(n, "is_test", 0) == 0;
    if (!training && has_outputs_from(n, 1)) {
        ir_node_error(d, n, "outputs other than Y are only produced in training mode");
        return false;
    }
    if (n->opset >= 14 && n->n_out > 3) {
        ir_node_error(d, n, "has %d outputs, expected at most 3 from opset 14", n->n_out);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    const Value *mean = ir_in(g, n, 3);
    for (int i = 1; i < n->n_out; i++)
        rule_set_out(g, n, i, mean->dtype, &mean->shape);
    return true;
}

/* InstanceNormalization: X [N,C,D1..], scale and B [C] of X's type; Y like X. */
bool shape_instancenorm(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "input must have rank at least 2 (N x C x ...), got %d", x->shape.rank);
        return false;
    }
    Shape ps = {.rank = 1, .dims = {x->shape.dims[1]}};
    for (int i = 1; i < 3; i++) {
        const Value *p = ir_in(g, n, i);
        if (p->dtype != x->dtype) {
            ir_node_error(d, n, "input '%s' has type %s, expected %s like the input", p->name,
                          dtype_name(p->dtype), dtype_name(x->dtype));
            return false;
        }
        if (!want_shape(d, n, p, &ps, i == 1 ? "scale" : "B"))
            return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* LayerNormalization (opset 17): normalizes over X's dims [axis, rank);
 * Scale and B broadcast (unidirectionally) to those dims. Mean and
 * InvStdDev have X's leading dims and 1s after, in the stash_type (f32 by
 * default; f64 also accepted). */
bool shape_layernorm(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    int r = x->shape.rank, axis;
    if (r < 1 || !rule_axis(ir_attr_int(n, "axis", -1), r, &axis)) {
        ir_node_error(d, n, "axis %lld out of range for rank %d",
                      (long long)ir_attr_int(n, "axis", -1), r);
        return false;
    }
    Shape norm = {.rank = r - axis};
    memcpy(norm.dims, x->shape.dims + axis, sizeof(int64_t) * (size_t)norm.rank);
    for (int i = 1; i < 3; i++) {
        const Value *p = ir_in(g, n, i);
        Shape b;
        if (!p)
            continue;
        if (p->dtype != x->dtype) {
            ir_node_error(d, n, "input '%s' has type %s, expected %s like X", p->name,
                          dtype_name(p->dtype), dtype_name(x->dtype));
            return false;
        }
        if (p->shape.rank > norm.rank || !rule_broadcast(&norm, &p->shape, &b) ||
            !shape_equal(&b, &norm)) {
            char sp[128], sn[128];
            ir_node_error(d, n, "%s of shape %s does not broadcast to the normalized shape %s",
                          i == 1 ? "Scale" : "B", shape_str(&p->shape, sp, sizeof sp),
                          shape_str(&norm, sn, sizeof sn));
            return false;
        }
    }
    int64_t stash = ir_attr_int(n, "stash_type", 1);
    if (stash != DT_F32 && stash != DT_F64) {
        ir_node_error(d, n, "stash_type %lld is not supported (1 = f32 or 11 = f64)",
                      (long long)stash);
        return false;
    }
    Shape ms = x->shape;
    for (int i = axis; i < r; i++)
        ms.dims[i] = 1;
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    rule_set_out(g, n, 1, (DType)stash, &ms);
    rule_set_out(g, n, 2, (DType)stash, &ms);
    return true;
}

/* LRN: X [N,C,D1..]; size (required, >= 1) channels around each one. */
bool shape_lrn(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "input must have rank at least 2 (N x C x ...), got %d", x->shape.rank);
        return false;
    }
    const Attr *size = ir_attr(n, "size");
    if (!size || size->type != ATTR_INT || size->i < 1) {
        ir_node_error(d, n, "attribute 'size' is required and must be a positive int");
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* MeanVarianceNormalization: normalizes over `axes` (default [0,2,3]). */
bool shape_mvn(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    const Attr *a = ir_attr(n, "axes");
    static const int64_t dflt[] = {0, 2, 3};
    int count = a ? a->n : 3;
    const int64_t *axes = a ? a->ints : dflt;
    if (a && a->type != ATTR_INTS) {
        ir_node_error(d, n, "attribute 'axes' must be a list of ints");
        return false;
    }
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
        int ax;
        if (!rule_axis(axes[i], x->shape.rank, &ax) || x->shape.rank == 0) {
            ir_node_error(d, n, "axis %lld out of range for rank %d", (long long)axes[i],
                          x->shape.rank);
            return false;
        }
        if (seen[ax]) {
            ir_node_error(d, n, "axis %lld is given twice", (long long)axes[i]);
            return false;
        }
        seen[ax] = true;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* Dropout: Y like X; the optional mask is bool (opset 10+) or X's type.
 * Opset 12+: inputs ratio (a float scalar, default 0.5) and training_mode (a
 * bool scalar, default false), either may be a runtime input. Before:
 * attribute ratio, and training only with is_test=0 in opsets < 7. */
bool shape_dropout(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ratio = ir_in(g, n, 1), *train = ir_in(g, n, 2);
    if (!want_real(d, n, x))
        return false;
    if (n->opset < 12 && n->n_in > 1) {
        ir_node_error(d, n, "has %d inputs; ratio and training_mode are inputs from opset 12",
                      n->n_in);
        return false;
    }
    if (ratio && !want_real(d, n, ratio))
        return false;
    if (ratio && shape_numel(&ratio->shape) != 1) {
        ir_node_error(d, n, "ratio must be a scalar");
        return false;
    }
    if (train && (train->dtype != DT_BOOL || shape_numel(&train->shape) != 1)) {
        ir_node_error(d, n, "training_mode must be a bool scalar");
        return false;
    }
    double r = n->opset < 12 ? ir_attr_float(n, "ratio", 0.5) : 0.5;
    if (n->opset >= 12 && ratio && ratio->kind == VAL_CONST && ratio->data)
        r = tensor_get_f(ratio->dtype, ratio->data, 0);
    if (!(r >= 0 && r <= 1)) {
        ir_node_error(d, n, "ratio %g is outside [0, 1]", r);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    rule_set_out(g, n, 1, n->opset >= 10 ? DT_BOOL : x->dtype, &x->shape);
    return true;
}

/* Softmax, LogSoftmax, Hardmax: Y like X. axis defaults to 1 before opset 13
 * (X coerced to 2-D at axis) and to -1 from 13 (one dim). */
bool shape_softmax(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!want_real(d, n, x))
        return false;
    int64_t axis = ir_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
    int ax;
    if (!rule_axis(axis, x->shape.rank, &ax)) {
        ir_node_error(d, n, "axis %lld out of range for rank %d", (long long)axis, x->shape.rank);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss (opset 12/13):
 * scores [N,C,D1..], labels [N,D1..] of int32/int64, optional weights [C];
 * reduction none (loss like the labels), sum or mean (a scalar). SCE's
 * optional log_prob is like the scores. */
bool shape_loss(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *t = ir_in(g, n, 1), *w = ir_in(g, n, 2);
    if (!want_real(d, n, x))
        return false;
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "scores must have rank at least 2 (N x C x ...), got %d",
                      x->shape.rank);
        return false;
    }
    if (t->dtype != DT_I32 && t->dtype != DT_I64) {
        ir_node_error(d, n, "labels '%s' have type %s, expected i32 or i64", t->name,
                      dtype_name(t->dtype));
        return false;
    }
    Shape ts = {.rank = x->shape.rank - 1, .dims = {x->shape.dims[0]}};
    for (int i = 2; i < x->shape.rank; i++)
        ts.dims[i - 1] = x->shape.dims[i];
    if (!want_shape(d, n, t, &ts, "labels"))
        return false;
    Shape ws = {.rank = 1, .dims = {x->shape.dims[1]}};
    if (w && (w->dtype != x->dtype || !want_shape(d, n, w, &ws, "weights"))) {
        if (w->dtype != x->dtype)
            ir_node_error(d, n, "weights have type %s, expected %s like the scores",
                          dtype_name(w->dtype), dtype_name(x->dtype));
        return false;
    }
    const char *red = ir_attr_str(n, "reduction", "mean");
    bool none = strcmp(red, "none") == 0;
    if (!none && strcmp(red, "sum") != 0 && strcmp(red, "mean") != 0) {
        ir_node_error(d, n, "reduction '%s' is not one of none, sum, mean", red);
        return false;
    }
    Shape scalar = {0};
    rule_set_out(g, n, 0, x->dtype, none ? &ts : &scalar);
    rule_set_out(g, n, 1, x->dtype, &x->shape);
    return true;
}
