/* fold_elementwise.c — compile-time evaluation of elementwise ops and
 * Constant, so shape arithmetic (Shape → Gather → Mul → Reshape, as PyTorch
 * exports it) leaves static shapes behind. Evaluated in double (int64 for
 * integer types), then stored in the output dtype. */
#include "pass.h"

#include <math.h>
#include <string.h>

/* Allocates the output's data and marks it constant. */
static void *out_const(Graph *g, Node *n, int i)
{
    Value *y = ir_out(g, n, i);
    int64_t numel = shape_numel(&y->shape);
    y->kind = VAL_CONST;
    y->data = arena_alloc(g->arena, (size_t)numel * dtype_size(y->dtype) + 1);
    return y->data;
}

bool fold_identity(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 0);
    if (!rule_inputs_const(g, n))
        return false;
    memcpy(out_const(g, n, 0), x->data, (size_t)shape_numel(&x->shape) * dtype_size(x->dtype));
    return true;
}

static double unary(const Node *n, double x)
{
    switch (n->op) {
    case OP_Relu: return x > 0 ? x : 0;
    case OP_LeakyRelu: return x >= 0 ? x : ir_attr_float(n, "alpha", 0.01) * x;
    case OP_Sigmoid: return 1 / (1 + exp(-x));
    case OP_Tanh: return tanh(x);
    default: KILN_ASSERT(!"fold_unary: op without a folding formula");
    }
    return 0;
}

bool fold_unary(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    void *out = out_const(g, n, 0);
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++)
        tensor_set_f(y->dtype, out, k, unary(n, tensor_get_f(x->dtype, x->data, k)));
    return true;
}

static int64_t binary_int(const Node *n, int64_t a, int64_t b, bool *ok)
{
    switch (n->op) {
    case OP_Add: return (int64_t)((uint64_t)a + (uint64_t)b);
    case OP_Sub: return (int64_t)((uint64_t)a - (uint64_t)b);
    case OP_Mul: return (int64_t)((uint64_t)a * (uint64_t)b);
    case OP_Div:
        if (b == 0 || (a == INT64_MIN && b == -1)) {
            *ok = false;
            return 0;
        }
        return a / b; /* C truncation, as ONNX Div on integers */
    default: KILN_ASSERT(!"fold_binary: op without an integer formula");
    }
    return 0;
}

static double binary_float(const Node *n, double a, double b)
{
    switch (n->op) {
    case OP_Add: return a + b;
    case OP_Sub: return a - b;
    case OP_Mul: return a * b;
    case OP_Div: return a / b;
    default: KILN_ASSERT(!"fold_binary: op without a float formula");
    }
    return 0;
}

bool fold_binary(Graph *g, Node *n, Diag *d)
{
    if (!rule_inputs_const(g, n))
        return false;
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    void *out = out_const(g, n, 0);
    bool ok = true;
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++) {
        int64_t ia = rule_bcast_index(&y->shape, &a->shape, k);
        int64_t ib = rule_bcast_index(&y->shape, &b->shape, k);
        if (dtype_is_float(y->dtype)) {
            double r = binary_float(n, tensor_get_f(a->dtype, a->data, ia),
                                    tensor_get_f(b->dtype, b->data, ib));
            tensor_set_f(y->dtype, out, k, r);
        } else {
            int64_t r = binary_int(n, tensor_get_i(a->dtype, a->data, ia),
                                   tensor_get_i(b->dtype, b->data, ib), &ok);
            tensor_set_i(y->dtype, out, k, r);
        }
    }
    if (!ok) {
        ir_node_error(d, n, "integer division by zero in constant inputs");
        return false;
    }
    return true;
}

bool fold_constant(Graph *g, Node *n, Diag *d)
{
    (void)d;
    Value *y = ir_out(g, n, 0);
    const Attr *a = NULL;
    for (int i = 0; i < n->n_attr && !a; i++)
        if (strncmp(n->attrs[i].name, "value", 5) == 0)
            a = &n->attrs[i];
    void *out = out_const(g, n, 0);
    switch (a->type) {
    case ATTR_TENSOR:
        memcpy(out, a->t->data, (size_t)shape_numel(&y->shape) * dtype_size(y->dtype));
        break;
    case ATTR_FLOAT: ((float *)out)[0] = (float)a->f; break;
    case ATTR_INT: ((int64_t *)out)[0] = a->i; break;
    case ATTR_FLOATS:
        for (int k = 0; k < a->n; k++)
            ((float *)out)[k] = (float)a->floats[k];
        break;
    case ATTR_INTS: memcpy(out, a->ints, sizeof(int64_t) * (size_t)a->n); break;
    default: KILN_ASSERT(!"fold_constant: shape_constant let an unsupported form through");
    }
    return true;
}
