/* shapes_preview.c — shape rules of ONNX's training ops (domain
 * ai.onnx.preview.training, opset 1; ops_preview.def): the optimizers
 * Adagrad, Momentum and Adam, and Gradient, which pass/lower_gradient.c
 * later replaces by autodiff's nodes. */
#include "pass.h"

#include <string.h>

/* The inputs per updated tensor: X, G and the states. */
static int inputs_per_tensor(const Node *n)
{
    return n->op == OP_Adam ? 4 : 3;
}

static bool is_float_scalar(const Value *v)
{
    return (v->dtype == DT_F32 || v->dtype == DT_F64) && shape_numel(&v->shape) == 1;
}

/* Attributes the op needs without a default in the spec (Momentum's). */
static bool has_attr(const Node *n, const char *name, AttrType type, Diag *d)
{
    const Attr *a = ir_attr(n, name);
    if (a && a->type == type)
        return true;
    ir_node_error(d, n, "needs a %s attribute '%s'", type == ATTR_FLOAT ? "float" : "string", name);
    return false;
}

/* Momentum: alpha, beta, norm_coefficient and mode ("standard" or
 * "nesterov") have no defaults. Adagrad's and Adam's attributes all do. */
static bool check_momentum_attrs(const Node *n, Diag *d)
{
    if (!has_attr(n, "alpha", ATTR_FLOAT, d) || !has_attr(n, "beta", ATTR_FLOAT, d) ||
        !has_attr(n, "norm_coefficient", ATTR_FLOAT, d) || !has_attr(n, "mode", ATTR_STRING, d))
        return false;
    const char *mode = ir_attr_str(n, "mode", "");
    if (strcmp(mode, "standard") != 0 && strcmp(mode, "nesterov") != 0) {
        ir_node_error(d, n, "attribute 'mode' is '%s', expected 'standard' or 'nesterov'", mode);
        return false;
    }
    return true;
}

/* Adagrad, Momentum, Adam (ai.onnx.preview.training opset 1): inputs R (a
 * float scalar), T (an int64 scalar), then n X's, n G's and the n (Adam: 2n)
 * state tensors; G and the states have X's dtype (f32 or f64) and shape.
 * Outputs: the n new X's, then the new states, each like its input. */
bool shape_preview_optimizer(Graph *g, Node *n, Diag *d)
{
    int per = inputs_per_tensor(n), count = (n->n_in - 2) / per;
    if ((n->n_in - 2) % per != 0 || n->n_out != count * (per - 1)) {
        ir_node_error(d, n, "has %d inputs and %d outputs; %s updates n tensors from 2 + %dn "
                      "inputs into %dn outputs", n->n_in, n->n_out, op_info[n->op].name, per,
                      per - 1);
        return false;
    }
    if (n->op == OP_Momentum && !check_momentum_attrs(n, d))
        return false;
    const Value *r = ir_in(g, n, 0), *t = ir_in(g, n, 1);
    if (!is_float_scalar(r) || t->dtype != DT_I64 || shape_numel(&t->shape) != 1) {
        ir_node_error(d, n, "R must be a float or double scalar and T an int64 scalar");
        return false;
    }
    for (int k = 0; k < count; k++) {
        const Value *x = ir_in(g, n, 2 + k);
        if (x->dtype != DT_F32 && x->dtype != DT_F64) {
            ir_node_error(d, n, "input '%s' is %s; the updated tensors must be float or double",
                          x->name, dtype_name(x->dtype));
            return false;
        }
        for (int j = 1; j < per; j++) {
            const Value *s = ir_in(g, n, 2 + j * count + k);
            if (!s || s->dtype != x->dtype || !shape_equal(&s->shape, &x->shape)) {
                ir_node_error(d, n, "input %d must have the dtype and shape of '%s'",
                              2 + j * count + k, x->name);
                return false;
            }
        }
        rule_set_out(g, n, k, x->dtype, &x->shape);
        for (int j = 2; j < per; j++)
            rule_set_out(g, n, (j - 1) * count + k, x->dtype, &x->shape);
    }
    return true;
}

/* Attribute name when it is a list of strings, else NULL. */
static const Attr *strings_attr(const Node *n, const char *name)
{
    const Attr *a = ir_attr(n, name);
    return a && a->type == ATTR_STRINGS ? a : NULL;
}

/* Gradient (ai.onnx.preview.training opset 1): attributes xs and zs (the
 * differentiated and the other independent tensors) and y (the tensor
 * differentiated); input i is the value of xs[i], then of zs[i - |xs|]. kiln
 * differentiates its own graph, so input i must be that very tensor (the
 * spec's evaluation at other values is not supported). Output i, dy/dxs[i],
 * is like xs[i], which must be float. */
bool shape_gradient(Graph *g, Node *n, Diag *d)
{
    const Attr *xs = strings_attr(n, "xs"), *zs = strings_attr(n, "zs");
    const Attr *y = ir_attr(n, "y");
    int n_xs = xs ? xs->n : 0, n_zs = zs ? zs->n : 0;
    if (!xs || !y || y->type != ATTR_STRING) {
        ir_node_error(d, n, "needs the attributes 'xs' (strings) and 'y' (a string)");
        return false;
    }
    if (ir_attr(n, "zs") && !zs) {
        ir_node_error(d, n, "attribute 'zs' must be a list of strings");
        return false;
    }
    if (n->n_in != n_xs + n_zs || n->n_out > n_xs) {
        ir_node_error(d, n, "has %d inputs and %d outputs; xs and zs name %d and %d tensors",
                      n->n_in, n->n_out, n_xs, n_zs);
        return false;
    }
    if (!ir_graph_find_value(g, y->s)) {
        ir_node_error(d, n, "attribute 'y' names '%s', which is not a tensor of the graph", y->s);
        return false;
    }
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        const char *want = i < n_xs ? xs->strings[i] : zs->strings[i - n_xs];
        if (!v || strcmp(v->name, want) != 0) {
            ir_node_error(d, n, "input %d must be the tensor '%s' it stands for; kiln can't "
                          "evaluate the gradient at other values", i, want);
            return false;
        }
        if (i < n_xs && (v->dtype != DT_F32 && v->dtype != DT_F64)) {
            ir_node_error(d, n, "'%s' is %s; Gradient differentiates with respect to float "
                          "tensors", v->name, dtype_name(v->dtype));
            return false;
        }
    }
    for (int i = 0; i < n->n_out; i++)
        rule_set_out(g, n, i, ir_in(g, n, i)->dtype, &ir_in(g, n, i)->shape);
    return true;
}
