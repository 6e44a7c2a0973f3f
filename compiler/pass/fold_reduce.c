/* fold_reduce.c — compile-time evaluation of the ten Reduce ops on constant
 * inputs (PyTorch exports compute sizes with ReduceProd over a Shape slice,
 * …). Like the kernel (emit/k_reduce.c) it walks X once, folding each
 * element into its output's accumulator (the output's dtype for floats, 64
 * bits for integers) with the op's init / accumulate / finish steps — keep
 * the two in step. The node is in the canonical form
 * shapes_reduce.c leaves: attribute axes lists the reduced axes. */
#include "pass.h"

#include <math.h>
#include <string.h>

static bool is_signed_int(DType t)
{
    return t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64;
}

/* The output element that element k of X (shape x) accumulates into. */
static int64_t out_index(const Shape *x, const bool *mask, int64_t k)
{
    int64_t idx = 0, stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        int64_t c = k % x->dims[i];
        k /= x->dims[i];
        if (!mask[i]) {
            idx += c * stride;
            stride *= x->dims[i];
        }
    }
    return idx;
}

/* ---- floats, in double ---- */

static double init_f(OpKind op)
{
    switch (op) {
    case OP_ReduceMax: case OP_ReduceLogSumExp: return -INFINITY;
    case OP_ReduceMin: return INFINITY;
    case OP_ReduceProd: return 1;
    default: return 0;
    }
}

static double step_f(OpKind op, double a, double v)
{
    switch (op) {
    case OP_ReduceMax: case OP_ReduceLogSumExp: return v > a || isnan(v) ? v : a;
    case OP_ReduceMin: return v < a || isnan(v) ? v : a;
    case OP_ReduceProd: return a * v;
    case OP_ReduceL1: return a + fabs(v);
    case OP_ReduceL2: case OP_ReduceSumSquare: return a + v * v;
    default: return a + v; /* Sum, Mean, LogSum */
    }
}

static double finish_f(OpKind op, double a, int64_t count)
{
    switch (op) {
    case OP_ReduceMean: return a / (double)count;
    case OP_ReduceL2: return sqrt(a);
    case OP_ReduceLogSum: return log(a);
    default: return a;
    }
}

/* ---- integers, in 64 bits wrapping like the kernel's accumulators ---- */

static int64_t int_limit(DType t, bool highest)
{
    switch (t) {
    case DT_I8: return highest ? INT8_MAX : INT8_MIN;
    case DT_I16: return highest ? INT16_MAX : INT16_MIN;
    case DT_I32: return highest ? INT32_MAX : INT32_MIN;
    case DT_I64: return highest ? INT64_MAX : INT64_MIN;
    case DT_U8: return highest ? UINT8_MAX : 0;
    case DT_U16: return highest ? UINT16_MAX : 0;
    case DT_U32: return highest ? (int64_t)UINT32_MAX : 0;
    default: return highest ? -1 : 0; /* u64: UINT64_MAX's bits */
    }
}

static int64_t init_i(OpKind op, DType t)
{
    return op == OP_ReduceMax ? int_limit(t, false) : op == OP_ReduceMin ? int_limit(t, true)
                                                    : op == OP_ReduceProd;
}

static int64_t step_i(OpKind op, DType t, int64_t a, int64_t v)
{
    bool u64 = t == DT_U64;
    uint64_t ua = (uint64_t)a, uv = (uint64_t)v;
    switch (op) {
    case OP_ReduceMax: return (u64 ? uv > ua : v > a) ? v : a;
    case OP_ReduceMin: return (u64 ? uv < ua : v < a) ? v : a;
    case OP_ReduceProd: return (int64_t)(ua * uv);
    case OP_ReduceL1: return (int64_t)(ua + (is_signed_int(t) && v < 0 ? 0 - uv : uv));
    case OP_ReduceSumSquare: return (int64_t)(ua + uv * uv);
    default: return (int64_t)(ua + uv); /* Sum, Mean */
    }
}

/* ReduceLogSumExp: max first, then max + log Σ exp(x - max) (a max of ±inf
 * shifts by 0 instead, so no inf - inf). */
static void fold_logsumexp(Arena *a, const Value *x, Value *y, const bool *mask)
{
    int64_t nx = shape_numel(&x->shape), ny = shape_numel(&y->shape);
    double *m = arena_alloc(a, sizeof(double) * (size_t)(ny + 1));
    double *s = arena_alloc(a, sizeof(double) * (size_t)(ny + 1));
    for (int64_t i = 0; i < ny; i++)
        m[i] = -INFINITY;
    for (int64_t k = 0; k < nx; k++) {
        int64_t i = out_index(&x->shape, mask, k);
        m[i] = step_f(OP_ReduceMax, m[i], tensor_get_f(x->dtype, x->data, k));
    }
    for (int64_t i = 0; i < ny; i++)
        m[i] = isinf(m[i]) ? 0 : m[i];
    for (int64_t k = 0; k < nx; k++) {
        int64_t i = out_index(&x->shape, mask, k);
        s[i] += exp(tensor_get_f(x->dtype, x->data, k) - m[i]);
    }
    for (int64_t i = 0; i < ny; i++)
        tensor_set_f(y->dtype, y->data, i, m[i] + log(s[i]));
}

/* The ten Reduce ops: y = finish(accumulate over the reduced elements, from
 * init). Integer L2, LogSum and LogSumExp are left to the kernel. */
bool fold_reduce(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 0);
    Value *y = ir_out(g, n, 0);
    DType dt = x->dtype;
    bool fl = dtype_is_float(dt);
    if (!rule_inputs_const(g, n) ||
        (!fl && (n->op == OP_ReduceL2 || n->op == OP_ReduceLogSum || n->op == OP_ReduceLogSumExp)))
        return false;
    bool mask[IR_MAX_RANK] = {false};
    const Attr *axes = ir_attr(n, "axes");
    int64_t count = 1, nx = shape_numel(&x->shape), ny = shape_numel(&y->shape);
    for (int k = 0; axes && k < axes->n; k++) {
        mask[axes->ints[k]] = true;
        count *= x->shape.dims[axes->ints[k]];
    }
    y->kind = VAL_CONST;
    y->data = arena_alloc(g->arena, (size_t)ny * dtype_size(dt) + 1);
    if (n->op == OP_ReduceLogSumExp) {
        fold_logsumexp(g->arena, x, y, mask);
        return true;
    }
    if (fl) { /* accumulates in the output's dtype, as the kernel does */
        for (int64_t i = 0; i < ny; i++)
            tensor_set_f(dt, y->data, i, init_f(n->op));
        for (int64_t k = 0; k < nx; k++) {
            int64_t i = out_index(&x->shape, mask, k);
            double a = tensor_get_f(dt, y->data, i);
            tensor_set_f(dt, y->data, i, step_f(n->op, a, tensor_get_f(dt, x->data, k)));
        }
        for (int64_t i = 0; i < ny; i++)
            tensor_set_f(dt, y->data, i, finish_f(n->op, tensor_get_f(dt, y->data, i), count));
        return true;
    }
    int64_t *acc = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(ny + 1));
    for (int64_t i = 0; i < ny; i++)
        acc[i] = init_i(n->op, dt);
    for (int64_t k = 0; k < nx; k++) {
        int64_t i = out_index(&x->shape, mask, k);
        acc[i] = step_i(n->op, dt, acc[i], tensor_get_i(dt, x->data, k));
    }
    for (int64_t i = 0; i < ny; i++) {
        int64_t a = acc[i];
        if (n->op == OP_ReduceMean && count > 0)
            a = is_signed_int(dt) ? a / count : (int64_t)((uint64_t)a / (uint64_t)count);
        tensor_set_i(dt, y->data, i, a);
    }
    return true;
}
