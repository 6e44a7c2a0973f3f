/* fold_elementwise.c — compile-time evaluation of elementwise ops and
 * Constant, so shape arithmetic (Shape → Gather → Mul → Reshape, as PyTorch
 * exports it) leaves static shapes behind. Float types are evaluated in
 * double, integer types in int64 with the wrap-around and the defined
 * results (x / 0 = 0, …) of the kernels in emit/k_elementwise.c — keep the
 * two in step — then stored in the output dtype. */
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

static bool is_unsigned(DType t)
{
    return t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64 || t == DT_BOOL;
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

/* ---- one tensor ---- */

/* One element of a float unary op (the kernel's unary_expr). */
static double unary_float(const Node *n, double x)
{
    double alpha = ir_attr_float(n, "alpha", n->op == OP_LeakyRelu ? 0.01
                                             : n->op == OP_HardSigmoid ? 0.2
                                             : n->op == OP_Selu ? 1.67326319217681884765625 : 1.0);
    switch (n->op) {
    case OP_Abs: return fabs(x);
    case OP_Neg: return -x;
    case OP_Sign: return x > 0 ? 1 : x < 0 ? -1 : x;
    case OP_Exp: return exp(x);
    case OP_Log: return log(x);
    case OP_Sqrt: return sqrt(x);
    case OP_Reciprocal: return 1 / x;
    case OP_Floor: return floor(x);
    case OP_Ceil: return ceil(x);
    case OP_Round: return nearbyint(x);
    case OP_Erf: return erf(x);
    case OP_Sin: return sin(x);
    case OP_Cos: return cos(x);
    case OP_Tan: return tan(x);
    case OP_Asin: return asin(x);
    case OP_Acos: return acos(x);
    case OP_Atan: return atan(x);
    case OP_Sinh: return sinh(x);
    case OP_Cosh: return cosh(x);
    case OP_Asinh: return asinh(x);
    case OP_Acosh: return acosh(x);
    case OP_Atanh: return atanh(x);
    case OP_Relu: return x > 0 ? x : 0;
    case OP_LeakyRelu: return x >= 0 ? x : alpha * x;
    case OP_Elu: return x >= 0 ? x : alpha * expm1(x);
    case OP_Selu: {
        double gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875);
        return x > 0 ? gamma * x : gamma * (alpha * expm1(x));
    }
    case OP_Celu: return x > 0 ? x : alpha * expm1(x / alpha);
    case OP_Sigmoid: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    case OP_HardSigmoid: return fmax(0, fmin(1, alpha * x + ir_attr_float(n, "beta", 0.5)));
    case OP_HardSwish: return x * fmax(0, fmin(1, x * (1.0 / 6) + 0.5));
    case OP_Tanh: return tanh(x);
    case OP_Softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case OP_Softsign: return x / (1 + fabs(x));
    case OP_ThresholdedRelu: return x > alpha ? x : 0;
    case OP_Shrink: {
        double lambd = ir_attr_float(n, "lambd", 0.5), bias = ir_attr_float(n, "bias", 0);
        return x < -lambd ? x + bias : x > lambd ? x - bias : 0;
    }
    case OP_IsNaN: return isnan(x);
    case OP_IsInf:
        return isinf(x) && (x > 0 ? ir_attr_int(n, "detect_positive", 1) : ir_attr_int(n, "detect_negative", 1));
    case OP_Not: return x == 0;
    default: KILN_ASSERT(!"fold_unary: op without a float formula");
    }
    return 0;
}

/* One element of an integer unary op; false for ops computed in double
 * (Shrink), as the kernel does. x holds dt's value (uint64 as its bits). */
static bool unary_int(const Node *n, DType dt, int64_t x, int64_t *r)
{
    bool u = is_unsigned(dt);
    switch (n->op) {
    case OP_Abs: *r = !u && x < 0 ? (int64_t)(0 - (uint64_t)x) : x; return true;
    case OP_Neg: *r = (int64_t)(0 - (uint64_t)x); return true;
    case OP_Sign: *r = u ? x != 0 : (x > 0) - (x < 0); return true;
    case OP_Relu: *r = !u && x < 0 ? 0 : x; return true;
    case OP_Not: *r = x == 0; return true;
    default: return false;
    }
}

/* Clip: min(max(x, lo), hi) with either bound optional (ONNX Clip-6/11). */
static void fold_clip(const Graph *g, const Node *n, void *out)
{
    const Value *x = ir_in(g, n, 0), *lo = ir_in(g, n, 1), *hi = ir_in(g, n, 2);
    const Attr *alo = n->opset < 11 ? ir_attr(n, "min") : NULL;
    const Attr *ahi = n->opset < 11 ? ir_attr(n, "max") : NULL;
    DType dt = x->dtype;
    for (int64_t k = 0, numel = shape_numel(&x->shape); k < numel; k++) {
        if (dtype_is_float(dt)) {
            double v = tensor_get_f(dt, x->data, k);
            if (lo || alo) {
                double b = lo ? tensor_get_f(dt, lo->data, 0) : alo->f;
                v = v < b ? b : v;
            }
            if (hi || ahi) {
                double b = hi ? tensor_get_f(dt, hi->data, 0) : ahi->f;
                v = v > b ? b : v;
            }
            tensor_set_f(dt, out, k, v);
        } else {
            /* compared as the C type compares: uint64 beyond INT64_MAX
             * through the unsigned view */
            int64_t v = tensor_get_i(dt, x->data, k);
            bool u = dt == DT_U64;
            if (lo) {
                int64_t b = tensor_get_i(dt, lo->data, 0);
                v = (u ? (uint64_t)v < (uint64_t)b : v < b) ? b : v;
            }
            if (hi) {
                int64_t b = tensor_get_i(dt, hi->data, 0);
                v = (u ? (uint64_t)v > (uint64_t)b : v > b) ? b : v;
            }
            tensor_set_i(dt, out, k, v);
        }
    }
}

/* ---- float16 and bfloat16 (held as their bits), for Cast ---- */

/* The 16-bit float formats: mantissa bits and exponent bias. */
static void half_format(DType t, int *man, int *bias)
{
    *man = t == DT_F16 ? 10 : 7;
    *bias = t == DT_F16 ? 15 : 127;
}

static bool is_half(DType t)
{
    return t == DT_F16 || t == DT_BF16;
}

/* The exact value of 16-bit float bits h. */
static double half_to_double(uint16_t h, DType t)
{
    int man, bias;
    half_format(t, &man, &bias);
    int e = (h & 0x7fff) >> man, f = h & ((1 << man) - 1);
    double v = e == 0 ? ldexp(f, 1 - bias - man)
             : e == 2 * bias + 1 ? (f ? NAN : INFINITY)
             : ldexp(f | (1 << man), e - bias - man);
    return h & 0x8000 ? -v : v;
}

/* x rounded to the nearest 16-bit float, ties to even (IEEE 754), as bits:
 * overflow gives infinity, NaN a quiet NaN of x's sign. The kernel's
 * kiln_half_from_f64 (emit/k_elementwise.c) computes the same. */
static uint16_t half_from_double(double x, DType t)
{
    int man, bias, e;
    half_format(t, &man, &bias);
    uint16_t sign = signbit(x) ? 0x8000 : 0, inf = (uint16_t)((2 * bias + 1) << man);
    if (isnan(x))
        return (uint16_t)(sign | inf | (1 << (man - 1)));
    x = fabs(x);
    if (isinf(x))
        return sign | inf;
    double m = frexp(x, &e); /* x = m 2^e, m in [0.5, 1) */
    if (x == 0 || e - 1 < 1 - bias) /* subnormal (or zero): units of 2^(1-bias-man) */
        return (uint16_t)(sign | (uint16_t)nearbyint(ldexp(x, bias - 1 + man)));
    double f = nearbyint(ldexp(m * 2 - 1, man));
    int ex = e - 1 + bias;
    if (f >= (double)(1 << man))
        f = 0, ex++;
    if (ex >= 2 * bias + 1)
        return sign | inf;
    return (uint16_t)(sign | (uint16_t)(ex << man) | (uint16_t)f);
}

/* Cast and CastLike to or from float16 / bfloat16: through the exact
 * double value; into integers and bool as C converts a double. */
static void fold_half_cast(const Value *x, const Value *y, void *out)
{
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++) {
        double v = is_half(x->dtype) ? half_to_double(((const uint16_t *)x->data)[k], x->dtype)
                                     : tensor_get_f(x->dtype, x->data, k);
        if (x->dtype == y->dtype)
            ((uint16_t *)out)[k] = ((const uint16_t *)x->data)[k];
        else if (is_half(y->dtype))
            ((uint16_t *)out)[k] = half_from_double(v, y->dtype);
        else
            tensor_set_f(y->dtype, out, k, v);
    }
}

/* Unary ops, Clip, Cast and CastLike (ops_unary.def). Cast converts as C
 * converts: float → integer truncates, anything → bool is x != 0. */
bool fold_unary(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    void *out = out_const(g, n, 0);
    if (n->op == OP_Clip) {
        fold_clip(g, n, out);
        return true;
    }
    bool cast = n->op == OP_Cast || n->op == OP_CastLike;
    if (cast && (is_half(x->dtype) || is_half(y->dtype))) {
        fold_half_cast(x, y, out);
        return true;
    }
    bool via_float = dtype_is_float(x->dtype) || (cast && dtype_is_float(y->dtype));
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++) {
        int64_t r;
        if (cast && !via_float)
            tensor_set_i(y->dtype, out, k, tensor_get_i(x->dtype, x->data, k));
        else if (cast)
            tensor_set_f(y->dtype, out, k, tensor_get_f(x->dtype, x->data, k));
        else if (!via_float && unary_int(n, x->dtype, tensor_get_i(x->dtype, x->data, k), &r))
            tensor_set_i(y->dtype, out, k, r);
        else
            tensor_set_f(y->dtype, out, k, unary_float(n, tensor_get_f(x->dtype, x->data, k)));
    }
    return true;
}

/* ---- several tensors ---- */

/* The op a variadic op applies pairwise. */
static OpKind pairwise_op(OpKind op)
{
    return op == OP_Sum || op == OP_Mean ? OP_Add : op;
}

/* One element of a float op of two operands (the kernel's binary_expr). */
static double binary_float(const Node *n, double a, double b)
{
    switch (pairwise_op(n->op)) {
    case OP_Add: return a + b;
    case OP_Sub: return a - b;
    case OP_Mul: return a * b;
    case OP_Div: return a / b;
    case OP_Mod: {
        double r = fmod(a, b); /* fmod=0 on floats: the sign of the divisor, as numpy */
        return ir_attr_int(n, "fmod", 0) || r == 0 || (r < 0) == (b < 0) ? r : r + b;
    }
    case OP_Pow: return pow(a, b);
    case OP_Max: return a > b || isnan(a) ? a : b;
    case OP_Min: return a < b || isnan(a) ? a : b;
    case OP_PRelu: return a < 0 ? b * a : a;
    case OP_Equal: return a == b;
    case OP_Less: return a < b;
    case OP_LessOrEqual: return a <= b;
    case OP_Greater: return a > b;
    case OP_GreaterOrEqual: return a >= b;
    case OP_And: return a != 0 && b != 0;
    case OP_Or: return a != 0 || b != 0;
    case OP_Xor: return (a != 0) != (b != 0);
    default: KILN_ASSERT(!"fold_binary: op without a float formula");
    }
    return 0;
}

/* a ** b in integers, wrapping as the kernel does; a negative exponent
 * gives the truncated real result (1, ±1 or 0). */
static int64_t int_pow(int64_t a, int64_t b)
{
    if (b < 0)
        return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
    uint64_t r = 1, p = (uint64_t)a;
    for (uint64_t k = (uint64_t)b; k != 0; k >>= 1) {
        if (k & 1)
            r *= p;
        p *= p;
    }
    return (int64_t)r;
}

/* One element of an integer op of two operands of dtype dt. Division and
 * modulo by 0 give 0 and INT_MIN / -1 wraps, as in the kernel. */
static int64_t binary_int(const Node *n, DType dt, int64_t a, int64_t b)
{
    switch (pairwise_op(n->op)) {
    case OP_Add: return (int64_t)((uint64_t)a + (uint64_t)b);
    case OP_Sub: return (int64_t)((uint64_t)a - (uint64_t)b);
    case OP_Mul: return (int64_t)((uint64_t)a * (uint64_t)b);
    case OP_Div: return b == 0 ? 0 : b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
    case OP_Mod: {
        int64_t r = b == 0 || b == -1 ? 0 : a % b;
        return ir_attr_int(n, "fmod", 0) || r == 0 || (r < 0) == (b < 0) ? r : r + b;
    }
    case OP_Pow: return int_pow(a, b);
    case OP_BitShift: {
        uint64_t bits = 8 * dtype_size(dt);
        bool left = strcmp(ir_attr_str(n, "direction", ""), "LEFT") == 0;
        if ((uint64_t)b >= bits)
            return 0;
        return (int64_t)(left ? (uint64_t)a << b : (uint64_t)a >> b);
    }
    case OP_Max: return a > b ? a : b;
    case OP_Min: return a < b ? a : b;
    case OP_PRelu: return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
    case OP_Equal: return a == b;
    case OP_Less: return a < b;
    case OP_LessOrEqual: return a <= b;
    case OP_Greater: return a > b;
    case OP_GreaterOrEqual: return a >= b;
    case OP_And: return a != 0 && b != 0;
    case OP_Or: return a != 0 || b != 0;
    case OP_Xor: return (a != 0) != (b != 0);
    default: KILN_ASSERT(!"fold_binary: op without an integer formula");
    }
    return 0;
}

/* Whether int64 arithmetic gives dt's results for this op: uint64 values
 * past INT64_MAX divide, compare and raise differently, so those stay for
 * the kernel to compute. */
static bool int64_exact(const Node *n, DType dt)
{
    switch (n->op) {
    case OP_Add: case OP_Sub: case OP_Mul: case OP_Sum: case OP_BitShift:
    case OP_Equal: case OP_And: case OP_Or: case OP_Xor:
        return true;
    default: return dt != DT_U64;
    }
}

/* Where: Y[k] = C[k] ? X[k] : Y[k] with broadcasting, copied bytewise. */
static void fold_where(const Graph *g, const Node *n, const Shape *sh, void *out)
{
    const Value *y = ir_out(g, n, 0);
    size_t es = dtype_size(y->dtype);
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++) {
        const Value *c = ir_in(g, n, 0);
        int src = tensor_get_i(c->dtype, c->data, rule_bcast_index(&y->shape, &sh[0], k)) ? 1 : 2;
        int64_t at = rule_bcast_index(&y->shape, &sh[src], k);
        memcpy((char *)out + (size_t)k * es, (const char *)ir_in(g, n, src)->data + (size_t)at * es, es);
    }
}

/* Elementwise ops of several tensors (ops_binary.def), with broadcasting;
 * variadic ops fold their inputs left to right, Mean divides at the end. */
bool fold_binary(Graph *g, Node *n, Diag *d)
{
    (void)d;
    enum { MAX_IN = 16 };
    if (!rule_inputs_const(g, n) || n->n_in > MAX_IN)
        return false;
    const Value *y = ir_out(g, n, 0), *x0 = ir_in(g, n, 0);
    const Value *x1 = n->n_in > 1 ? ir_in(g, n, 1) : x0;
    if (x0->dtype == DT_F16) /* Max, Min, Mod of float16: left to the kernel */
        return false;
    Shape sh[MAX_IN];
    for (int i = 0; i < n->n_in; i++)
        ir_elem_operand_shape(g, n, i, &sh[i]);
    bool fdom = dtype_is_float(x0->dtype) || (n->op == OP_Pow && dtype_is_float(x1->dtype));
    if (n->op != OP_Where && !fdom &&
        (!int64_exact(n, x0->dtype) || (n->op == OP_Pow && x1->dtype == DT_U64)))
        return false;
    void *out = out_const(g, n, 0);
    if (n->op == OP_Where) {
        fold_where(g, n, sh, out);
        return true;
    }
    for (int64_t k = 0, numel = shape_numel(&y->shape); k < numel; k++) {
        double af = 0;
        int64_t ai = 0;
        for (int i = 0; i < n->n_in; i++) {
            const Value *v = ir_in(g, n, i);
            int64_t at = rule_bcast_index(&y->shape, &sh[i], k);
            if (fdom) {
                double b = tensor_get_f(v->dtype, v->data, at);
                af = i == 0 ? b : binary_float(n, af, b);
            } else {
                int64_t b = tensor_get_i(v->dtype, v->data, at);
                ai = i == 0 ? b : binary_int(n, x0->dtype, ai, b);
            }
        }
        if (fdom)
            tensor_set_f(y->dtype, out, k, n->op == OP_Mean ? af / n->n_in : af);
        else
            tensor_set_i(y->dtype, out, k, ai);
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
