/* k_elementwise.c — kernels of elementwise ops: one loop nest over the
 * output with each operand indexed through its broadcast strides, and a C
 * expression per op (ONNX spec formulas) from one switch per arity. Also
 * plain copies (Identity, Reshape, Flatten). The formulas and the defined
 * results of integer corner cases match pass/fold_elementwise.c; keep the
 * two in step. */
#include "emit.h"

#include <string.h>

/* Copy: Identity, Reshape, Flatten — the bytes don't change. */
bool k_copy(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
              (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    return true;
}

/* Ops that are always folded away (Constant) never reach the emitter. */
bool k_none(Emitter *e, const Graph *g, const Node *n)
{
    (void)g;
    ir_node_error(e->d, n, "kiln must compute this op at compile time, but its inputs are not constant");
    return false;
}

/* ---- dtype helpers for integer expressions ---- */

static bool is_sint(DType t)
{
    return t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64;
}

static bool is_uint(DType t)
{
    return t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64 || t == DT_BOOL;
}

/* Integer types narrower than int, which C promotes to int in arithmetic. */
static bool promotes(DType t)
{
    return !dtype_is_float(t) && dtype_size(t) < 4;
}

/* The unsigned type of a wide signed one, for arithmetic that must wrap
 * instead of overflowing (undefined behaviour in C). */
static const char *utype(DType t)
{
    return t == DT_I64 ? "uint64_t" : "uint32_t";
}

/* expr converted back to dt when C promoted it to int. */
static const char *narrow(Emitter *e, DType dt, const char *expr)
{
    return promotes(dt) ? arena_printf(e->arena, "(%s)(%s)", dtype_ctype(dt), expr) : expr;
}

/* a OP b for + - *, wrapping on integer overflow as numpy does. */
static const char *wrap_arith(Emitter *e, DType dt, const char *a, char op, const char *b)
{
    if (is_sint(dt) && !promotes(dt))
        return arena_printf(e->arena, "(%s)((%s)%s %c (%s)%s)", dtype_ctype(dt), utype(dt), a, op,
                            utype(dt), b);
    return narrow(e, dt, arena_printf(e->arena, "%s %c %s", a, op, b));
}

/* Binds name to operand `in`'s element at idx: "const T name = xI[idx];". */
static void emit_load(Emitter *e, const Value *v, const char *name, const char *in, const char *idx)
{
    emit_line(e, "const %s %s = %s[%s];", dtype_ctype(v->dtype), name, in, idx);
}

/* ---- one tensor ---- */

/* The float expression of y from the operand x (a C expression, usually a
 * local's name; float dtype dt). Also the unary steps of FusedElementwise
 * (k_fused_elementwise.c), with the step's attributes on n. */
const char *emit_unary_float_expr(Emitter *e, const Node *n, DType dt, const char *x)
{
#define F(fn) emit_math(e, dt, fn)
#define L(v) emit_flit(e, v, dt)
#define P(...) arena_printf(e->arena, __VA_ARGS__)
    const char *zero = L(0), *one = L(1);
    const char *alpha = L(ir_attr_float(n, "alpha", n->op == OP_LeakyRelu ? 0.01
                                                    : n->op == OP_HardSigmoid ? 0.2
                                                    : n->op == OP_Selu ? 1.67326319217681884765625 : 1.0));
    switch (n->op) {
    case OP_Abs: return P("%s(%s)", F("fabs"), x);
    case OP_Neg: return P("-%s", x);
    case OP_Sign: return P("%s > %s ? %s : %s < %s ? %s : %s", x, zero, one, x, zero, L(-1), x);
    case OP_Exp: case OP_Log: case OP_Sqrt: case OP_Floor: case OP_Ceil: case OP_Erf:
    case OP_Sin: case OP_Cos: case OP_Tan: case OP_Asin: case OP_Acos: case OP_Atan:
    case OP_Sinh: case OP_Cosh: case OP_Asinh: case OP_Acosh: case OP_Atanh: case OP_Tanh: {
        static const char *const fn[OP_COUNT] = {
            [OP_Exp] = "exp", [OP_Log] = "log", [OP_Sqrt] = "sqrt", [OP_Floor] = "floor",
            [OP_Ceil] = "ceil", [OP_Erf] = "erf", [OP_Sin] = "sin", [OP_Cos] = "cos",
            [OP_Tan] = "tan", [OP_Asin] = "asin", [OP_Acos] = "acos", [OP_Atan] = "atan",
            [OP_Sinh] = "sinh", [OP_Cosh] = "cosh", [OP_Asinh] = "asinh", [OP_Acosh] = "acosh",
            [OP_Atanh] = "atanh", [OP_Tanh] = "tanh"};
        return P("%s(%s)", F(fn[n->op]), x);
    }
    case OP_Reciprocal: return P("%s / %s", one, x);
    case OP_Round: return P("%s(%s)", F("nearbyint"), x); /* half to even in the default mode */
    case OP_Relu: return P("%s > %s ? %s : %s", x, zero, x, zero);
    case OP_LeakyRelu: return P("%s >= %s ? %s : %s * %s", x, zero, x, alpha, x);
    case OP_Elu: return P("%s >= %s ? %s : %s * %s(%s)", x, zero, x, alpha, F("expm1"), x);
    case OP_Selu: {
        const char *gamma = L(ir_attr_float(n, "gamma", 1.05070102214813232421875));
        return P("%s > %s ? %s * %s : %s * (%s * %s(%s))", x, zero, gamma, x, gamma, alpha,
                 F("expm1"), x);
    }
    case OP_Celu: return P("%s > %s ? %s : %s * %s(%s / %s)", x, zero, x, alpha, F("expm1"), x, alpha);
    case OP_Sigmoid: /* no overflow of exp for large |x| */
        return P("%s >= %s ? %s / (%s + %s(-%s)) : %s(%s) / (%s + %s(%s))", x, zero, one, one,
                 F("exp"), x, F("exp"), x, one, F("exp"), x);
    case OP_HardSigmoid:
        return P("%s(%s, %s(%s, %s * %s + %s))", F("fmax"), zero, F("fmin"), one, alpha, x,
                 L(ir_attr_float(n, "beta", 0.5)));
    case OP_HardSwish:
        return P("%s * %s(%s, %s(%s, %s * %s + %s))", x, F("fmax"), zero, F("fmin"), one, x,
                 L(1.0 / 6), L(0.5));
    case OP_Softplus: /* log(1 + exp(x)) without overflow */
        return P("%s > %s ? %s + %s(%s(-%s)) : %s(%s(%s))", x, zero, x, F("log1p"), F("exp"), x,
                 F("log1p"), F("exp"), x);
    case OP_Softsign: return P("%s / (%s + %s(%s))", x, one, F("fabs"), x);
    case OP_ThresholdedRelu: return P("%s > %s ? %s : %s", x, alpha, x, zero);
    case OP_IsNaN: return P("(uint8_t)(isnan(%s) != 0)", x);
    case OP_IsInf: {
        bool pos = ir_attr_int(n, "detect_positive", 1), neg = ir_attr_int(n, "detect_negative", 1);
        return P("(uint8_t)(isinf(%s) && %s)", x,
                 pos && neg ? "1" : pos ? P("%s > 0", x) : neg ? P("%s < 0", x) : "0");
    }
    default: return NULL;
    }
#undef F
#undef L
#undef P
}

/* The integer expression of y from x (integer or bool dtype dt); NULL for
 * ops only defined on floats. */
static const char *unary_int_expr(Emitter *e, const Node *n, DType dt)
{
    const char *t = dtype_ctype(dt);
    bool s = is_sint(dt);
    switch (n->op) {
    case OP_Abs:
        if (!s)
            return "x";
        return promotes(dt) ? narrow(e, dt, "x < 0 ? -x : x")
                            : arena_printf(e->arena, "x < 0 ? (%s)(0 - (%s)x) : x", t, utype(dt));
    case OP_Neg:
        return promotes(dt) ? narrow(e, dt, "-x") : arena_printf(e->arena, "(%s)(0 - (%s)x)", t, utype(dt));
    case OP_Sign: return narrow(e, dt, s ? "(x > 0) - (x < 0)" : "x > 0");
    case OP_Relu: return s ? narrow(e, dt, "x > 0 ? x : 0") : "x";
    case OP_Not: return "(uint8_t)!x";
    default: return NULL;
    }
}

/* Shrink (ONNX Shrink-9): computed in the attributes' precision, any
 * numeric dtype. */
static const char *shrink_expr(Emitter *e, const Node *n, DType dt)
{
    DType ct = dt == DT_F32 ? DT_F32 : DT_F64;
    const char *l = emit_flit(e, ir_attr_float(n, "lambd", 0.5), ct);
    const char *ml = emit_flit(e, -ir_attr_float(n, "lambd", 0.5), ct);
    const char *b = emit_flit(e, ir_attr_float(n, "bias", 0), ct);
    const char *expr = arena_printf(e->arena, "x < %s ? x + %s : x > %s ? x - %s : %s", ml, b, l, b,
                                    emit_flit(e, 0, ct));
    return dtype_is_float(dt) ? expr : arena_printf(e->arena, "(%s)(%s)", dtype_ctype(dt), expr);
}

/* float16 and bfloat16 (held as uint16_t bits) to and from float, for Cast;
 * the same conversions as pass/fold_elementwise.c's half_to_double and
 * half_from_double. man, bias: 10, 15 (IEEE half) or 7, 127 (bfloat16). */
static const char half_to_f32[] =
    "/* 16-bit float bits (man mantissa bits, exponent bias) to their exact value */\n"
    "static float kiln_half_to_f32(uint16_t h, int man, int bias)\n"
    "{\n"
    "    const int e = (h & 0x7fff) >> man, f = h & ((1 << man) - 1);\n"
    "    const float v = e == 0 ? ldexpf((float)f, 1 - bias - man)\n"
    "                  : e == 2 * bias + 1 ? (f ? NAN : INFINITY)\n"
    "                  : ldexpf((float)(f | (1 << man)), e - bias - man);\n"
    "    return h & 0x8000 ? -v : v;\n"
    "}\n\n";

static const char half_from_f64[] =
    "/* x rounded to the nearest 16-bit float (ties to even), as bits */\n"
    "static uint16_t kiln_half_from_f64(double x, int man, int bias)\n"
    "{\n"
    "    const unsigned sign = signbit(x) ? 0x8000u : 0u, inf = (unsigned)(2 * bias + 1) << man;\n"
    "    int e;\n"
    "    if (isnan(x))\n"
    "        return (uint16_t)(sign | inf | 1u << (man - 1));\n"
    "    x = fabs(x);\n"
    "    if (isinf(x))\n"
    "        return (uint16_t)(sign | inf);\n"
    "    const double m = frexp(x, &e);\n"
    "    if (x == 0.0 || e - 1 < 1 - bias) /* subnormal: units of 2^(1-bias-man) */\n"
    "        return (uint16_t)(sign | (unsigned)nearbyint(ldexp(x, bias - 1 + man)));\n"
    "    unsigned f = (unsigned)nearbyint(ldexp(m * 2.0 - 1.0, man)), ex = (unsigned)(e - 1 + bias);\n"
    "    if (f >> man)\n"
    "        f = 0, ex++;\n"
    "    return (uint16_t)(ex >= (unsigned)(2 * bias + 1) ? sign | inf : sign | ex << man | f);\n"
    "}\n\n";

/* A float x into integer type `to`: toward zero, saturating at the type's
 * limits, NaN to 0 (C leaves those undefined; the folder, ir.c's
 * tensor_set_f, converts the same way). */
static const char *float_to_int_expr(Emitter *e, const char *x, DType to)
{
    static const struct { DType dt; const char *lo, *hi, *min, *max; } lim[] = {
        {DT_I8, "-128.0", "128.0", "INT8_MIN", "INT8_MAX"},
        {DT_I16, "-32768.0", "32768.0", "INT16_MIN", "INT16_MAX"},
        {DT_I32, "-2147483648.0", "2147483648.0", "INT32_MIN", "INT32_MAX"},
        {DT_I64, "-9223372036854775808.0", "9223372036854775808.0", "INT64_MIN", "INT64_MAX"},
        {DT_U8, "-1.0", "256.0", "0", "UINT8_MAX"},
        {DT_U16, "-1.0", "65536.0", "0", "UINT16_MAX"},
        {DT_U32, "-1.0", "4294967296.0", "0", "UINT32_MAX"},
        {DT_U64, "-1.0", "18446744073709551616.0", "0", "UINT64_MAX"},
    };
    const char *t = dtype_ctype(to);
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].dt == to)
            return arena_printf(e->arena, "isnan(%s) ? (%s)0 : %s <= %s ? (%s)%s : %s >= %s ? (%s)%s : (%s)%s",
                                x, t, x, lim[i].lo, t, lim[i].min, x, lim[i].hi, t, lim[i].max, t, x);
    KILN_ASSERT(!"float_to_int_expr: not an integer dtype");
    return NULL;
}

/* Cast, CastLike (ONNX Cast-13): float → integer toward zero, saturating
 * (float_to_int_expr), and x != 0 into bool. float16 and bfloat16 convert
 * exactly to float, and from double rounding to nearest even (the helpers
 * above). */
static const char *cast_expr(Emitter *e, DType from, DType to)
{
    const char *x = "x";
    if (from == to)
        return x;
    if (from == DT_F16 || from == DT_BF16) {
        emit_prelude_once(e, "kiln_half_to_f32", half_to_f32);
        x = arena_printf(e->arena, "kiln_half_to_f32(x, %s)", from == DT_F16 ? "10, 15" : "7, 127");
    }
    if (to == DT_F16 || to == DT_BF16) {
        emit_prelude_once(e, "kiln_half_from_f64", half_from_f64);
        return arena_printf(e->arena, "kiln_half_from_f64((double)%s, %s)", x,
                            to == DT_F16 ? "10, 15" : "7, 127");
    }
    if (to == DT_BOOL)
        return arena_printf(e->arena, "(uint8_t)(%s != 0)", x);
    if ((dtype_is_float(from) || from == DT_F16 || from == DT_BF16) && !dtype_is_float(to))
        return float_to_int_expr(e, x, to);
    return arena_printf(e->arena, "(%s)%s", dtype_ctype(to), x);
}

/* Elementwise ops of one tensor (ops_unary.def but Clip): y[i] = f(x[i])
 * over X's elements, f from the switches above. */
bool k_unary(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    DType dt = x->dtype;
    const char *expr;
    if (n->op == OP_Cast || n->op == OP_CastLike)
        expr = cast_expr(e, x->dtype, y->dtype);
    else if (n->op == OP_Shrink)
        expr = shrink_expr(e, n, dt);
    else
        expr = dtype_is_float(dt) ? emit_unary_float_expr(e, n, dt, "x") : unary_int_expr(e, n, dt);
    KILN_ASSERT(expr != NULL); /* shape_unary let a dtype through without a formula */
    int64_t count = shape_numel(&y->shape);
    bool pooled = e->threads > 1 && count >= ((int64_t)1 << 17); /* emit_loops_open splits it */
    if (dt == DT_F32 && !pooled && count < INT32_MAX &&
        (n->op == OP_Exp || n->op == OP_Tanh || n->op == OP_Sigmoid)) {
        /* the target's vector loop (templates/kiln_vmath.h) */
        emit_line(e, "kiln_vmath_%s(%s, %lld, %s, %s);", emit_vmath(e, dt),
                  n->op == OP_Exp ? "KILN_VMATH_EXP" : n->op == OP_Tanh ? "KILN_VMATH_TANH"
                                                                        : "KILN_VMATH_SIGMOID",
                  (long long)count, e->in_name[0], e->out_name[0]);
        return true;
    }
    EmitLoops l = {.rank = 1, .dims = {shape_numel(&y->shape)}, .n_ops = 1, .strides = {{1}},
                   .split = true};
    emit_loops_open(e, &l);
    emit_load(e, x, "x", e->in_name[0], l.idx[0]);
    emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], expr);
    emit_loops_close(e, &l);
    return true;
}

/* Clip (ONNX Clip-6: attributes min/max; Clip-11+: optional scalar inputs):
 * y = min(max(x, lo), hi), so lo > hi gives hi as the spec says; NaN stays
 * NaN. A missing bound is no bound. */
bool k_clip(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt), *lo = NULL, *hi = NULL;
    if (n->opset < 11) {
        if (ir_attr(n, "min"))
            lo = emit_flit(e, ir_attr_float(n, "min", 0), dt);
        if (ir_attr(n, "max"))
            hi = emit_flit(e, ir_attr_float(n, "max", 0), dt);
    } else {
        if (e->in_name[1])
            emit_line(e, "const %s lo = %s[0];", t, e->in_name[1]), lo = "lo";
        if (n->n_in > 2 && e->in_name[2])
            emit_line(e, "const %s hi = %s[0];", t, e->in_name[2]), hi = "hi";
    }
    EmitLoops l = {.rank = 1, .dims = {shape_numel(&y->shape)}, .n_ops = 1, .strides = {{1}},
                   .split = true};
    emit_loops_open(e, &l);
    emit_load(e, x, "x", e->in_name[0], l.idx[0]);
    const char *v = "x";
    if (lo && hi) {
        emit_line(e, "const %s t = %s;", t, narrow(e, dt, arena_printf(e->arena, "x < %s ? %s : x", lo, lo)));
        v = "t";
    } else if (lo) {
        emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0],
                  narrow(e, dt, arena_printf(e->arena, "x < %s ? %s : x", lo, lo)));
    }
    if (hi)
        emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0],
                  narrow(e, dt, arena_printf(e->arena, "%s > %s ? %s : %s", v, hi, hi, v)));
    else if (!lo)
        emit_line(e, "%s[%s] = x;", e->out_name[0], l.idx[0]);
    emit_loops_close(e, &l);
    return true;
}

/* ---- several tensors ---- */

/* Integer division and modulo: x / 0 and x % 0 are undefined in C (a trap
 * on x86) and in ONNX, so kiln defines them as 0; INT_MIN / -1 overflows,
 * so it wraps (to INT_MIN) and INT_MIN % -1 is 0. Mod with fmod=0 takes the
 * divisor's sign (ONNX Mod-13), fmod=1 the dividend's (C's %). Statements
 * go before the returned expression; r is free in the loop body. */
static const char *int_divmod(Emitter *e, const Node *n, DType dt, const char *a, const char *b)
{
    const char *t = dtype_ctype(dt);
    if (n->op == OP_Div) {
        if (!is_sint(dt) || promotes(dt))
            return narrow(e, dt, arena_printf(e->arena, "%s != 0 ? %s / %s : 0", b, a, b));
        return arena_printf(e->arena, "%s == 0 ? 0 : %s == -1 ? (%s)(0 - (%s)%s) : %s / %s", b, b, t,
                            utype(dt), a, a, b);
    }
    if (!is_sint(dt))
        return narrow(e, dt, arena_printf(e->arena, "%s != 0 ? %s %% %s : 0", b, a, b));
    emit_line(e, "const %s r = %s;", t,
              narrow(e, dt, arena_printf(e->arena, "%s == 0 || %s == -1 ? 0 : %s %% %s", b, b, a, b)));
    if (ir_attr_int(n, "fmod", 0))
        return "r";
    return narrow(e, dt, arena_printf(e->arena, "r != 0 && (r < 0) != (%s < 0) ? r + %s : r", b, b));
}

/* Float Mod (ONNX Mod-13): fmod=1 is C's fmod; fmod=0 (which the spec
 * leaves to integers) takes the divisor's sign, as numpy's mod. */
static const char *float_mod(Emitter *e, const Node *n, DType dt, const char *a, const char *b)
{
    const char *fm = arena_printf(e->arena, "%s(%s, %s)", emit_math(e, dt, "fmod"), a, b);
    if (ir_attr_int(n, "fmod", 0))
        return fm;
    emit_line(e, "const %s r = %s;", dtype_ctype(dt), fm);
    return arena_printf(e->arena, "r != 0 && (r < 0) != (%s < 0) ? r + %s : r", b, b);
}

/* Pow (ONNX Pow-15): base dtype bt, exponent dtype et. Float bases use
 * pow; integer bases with a float exponent go through double and truncate;
 * integer ** integer multiplies in uint64 (wrapping like numpy), and a
 * negative exponent gives the truncated real result (1, ±1 or 0). */
static const char *pow_expr(Emitter *e, DType bt, DType et, const char *a, const char *b)
{
    const char *t = dtype_ctype(bt);
    if (dtype_is_float(bt))
        return arena_printf(e->arena, "%s(%s, %s%s)", emit_math(e, bt, "pow"), a,
                            et == bt ? "" : arena_printf(e->arena, "(%s)", t), b);
    if (dtype_is_float(et))
        return arena_printf(e->arena, "(%s)pow((double)%s, (double)%s)", t, a, b);
    emit_line(e, "uint64_t r = 1, p = (uint64_t)%s;", a);
    emit_open(e, "for (uint64_t k = %s; k != 0; k >>= 1)",
              is_sint(et) ? arena_printf(e->arena, "%s < 0 ? 0 : (uint64_t)%s", b, b)
                          : arena_printf(e->arena, "(uint64_t)%s", b));
    emit_line(e, "r = k & 1 ? r * p : r;");
    emit_line(e, "p *= p;");
    emit_close(e);
    if (is_sint(et))
        emit_line(e, "r = %s >= 0 ? r : %s == 1 ? 1 : %s ? (%s & 1 ? UINT64_MAX : 1) : 0;", b, a,
                  is_sint(bt) ? arena_printf(e->arena, "%s == -1", a) : "0", b);
    return arena_printf(e->arena, "(%s)r", t);
}

/* The expression of two operands a and b (names of locals) of dtype dt
 * (input 0's; Pow's exponent has et). Multi-statement formulas print
 * their statements first. Also the binary steps of FusedElementwise
 * (k_fused_elementwise.c). */
const char *emit_binary_expr(Emitter *e, const Node *n, DType dt, DType et, const char *a,
                               const char *b)
{
#define P(...) arena_printf(e->arena, __VA_ARGS__)
    bool f = dtype_is_float(dt);
    OpKind op = n->op == OP_Sum || n->op == OP_Mean ? OP_Add : n->op;
    switch (op) {
    case OP_Add: return wrap_arith(e, dt, a, '+', b);
    case OP_Sub: return wrap_arith(e, dt, a, '-', b);
    case OP_Mul: return wrap_arith(e, dt, a, '*', b);
    case OP_Div: return f ? P("%s / %s", a, b) : int_divmod(e, n, dt, a, b);
    case OP_Mod: return f ? float_mod(e, n, dt, a, b) : int_divmod(e, n, dt, a, b);
    case OP_Pow: return pow_expr(e, dt, et, a, b);
    case OP_BitShift: { /* shifting by the width or more is undefined in C: 0 */
        bool left = strcmp(ir_attr_str(n, "direction", ""), "LEFT") == 0;
        return narrow(e, dt, P("%s >= %d ? 0 : %s %s %s", b, (int)(8 * dtype_size(dt)), a,
                               left ? "<<" : ">>", b));
    }
    case OP_Max: /* NaN wins, as numpy's maximum */
        return f ? P("%s > %s || %s != %s ? %s : %s", a, b, a, a, a, b)
                 : narrow(e, dt, P("%s > %s ? %s : %s", a, b, a, b));
    case OP_Min:
        return f ? P("%s < %s || %s != %s ? %s : %s", a, b, a, a, a, b)
                 : narrow(e, dt, P("%s < %s ? %s : %s", a, b, a, b));
    case OP_PRelu:
        if (is_uint(dt)) { /* never negative: y = x */
            emit_line(e, "(void)%s;", b);
            return a;
        }
        return P("%s < 0 ? %s : %s", a, wrap_arith(e, dt, b, '*', a), a);
    case OP_Equal: return P("(uint8_t)(%s == %s)", a, b);
    case OP_Less: return P("(uint8_t)(%s < %s)", a, b);
    case OP_LessOrEqual: return P("(uint8_t)(%s <= %s)", a, b);
    case OP_Greater: return P("(uint8_t)(%s > %s)", a, b);
    case OP_GreaterOrEqual: return P("(uint8_t)(%s >= %s)", a, b);
    case OP_And: return P("(uint8_t)(%s && %s)", a, b);
    case OP_Or: return P("(uint8_t)(%s || %s)", a, b);
    case OP_Xor: return P("(uint8_t)(!%s != !%s)", a, b);
    default: return NULL;
    }
#undef P
}

/* A result of dtype dt stored as y's element: float16 (Max, Min, Mod),
 * computed in float, is rounded back to its bits. */
static const char *store_expr(Emitter *e, DType dt, const char *expr)
{
    if (dt != DT_F16)
        return expr;
    emit_prelude_once(e, "kiln_half_from_f64", half_from_f64);
    return arena_printf(e->arena, "kiln_half_from_f64((double)(%s), 10, 15)", expr);
}

/* The body of one output element from the inputs bound to names[]. */
static void emit_element(Emitter *e, const Graph *g, const Node *n, const char **names,
                         const char *yidx)
{
    const Value *y = ir_out(g, n, 0), *x0 = ir_in(g, n, 0);
    const char *ys = e->out_name[0];
    DType dt = x0->dtype == DT_F16 ? DT_F32 : x0->dtype;
    DType et = n->n_in > 1 && ir_in(g, n, 1)->dtype != DT_F16 ? ir_in(g, n, 1)->dtype : dt;
    bool variadic = n->op == OP_Max || n->op == OP_Min || n->op == OP_Sum || n->op == OP_Mean;
    if (n->op == OP_Where) {
        emit_line(e, "%s[%s] = c ? a : b;", ys, yidx);
    } else if (n->n_in == 1) {
        emit_line(e, "%s[%s] = %s;", ys, yidx, store_expr(e, y->dtype, names[0]));
    } else if (!variadic || (n->n_in == 2 && n->op != OP_Mean)) {
        const char *expr = emit_binary_expr(e, n, dt, et, names[0], names[1]);
        KILN_ASSERT(expr != NULL); /* shape_broadcast let an op through without a formula */
        emit_line(e, "%s[%s] = %s;", ys, yidx, store_expr(e, y->dtype, expr));
    } else { /* left to right, as fold_binary */
        emit_line(e, "%s r = %s;", dtype_ctype(dt), names[0]);
        for (int i = 1; i < n->n_in; i++)
            emit_line(e, "r = %s;", emit_binary_expr(e, n, dt, dt, "r", names[i]));
        if (n->op == OP_Mean)
            emit_line(e, "%s[%s] = r / %s;", ys, yidx, emit_flit(e, n->n_in, y->dtype));
        else
            emit_line(e, "%s[%s] = %s;", ys, yidx, store_expr(e, y->dtype, "r"));
    }
}

/* Elementwise ops of several tensors (ops_binary.def): numpy broadcasting
 * (ONNX Broadcasting.md) through per-operand strides; variadic Max, Min,
 * Sum, Mean fold their inputs left to right; Where picks X or Y. */
bool k_binary(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    if (n->n_in + 1 > EMIT_MAX_OPERANDS) {
        ir_node_error(e->d, n, "has %d inputs; kiln handles at most %d", n->n_in, EMIT_MAX_OPERANDS - 1);
        return false;
    }
    EmitLoops l = {.rank = y->shape.rank, .n_ops = n->n_in + 1, .split = true};
    memcpy(l.dims, y->shape.dims, sizeof l.dims);
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    for (int i = 0; i < n->n_in; i++) {
        Shape s;
        ir_elem_operand_shape(g, n, i, &s);
        emit_bcast_strides(&y->shape, &s, 1, l.strides[i + 1]);
    }
    static const char *const two[] = {"a", "b"}, *const where[] = {"c", "a", "b"};
    const char *names[EMIT_MAX_OPERANDS];
    for (int i = 0; i < n->n_in; i++)
        names[i] = n->op == OP_Where ? where[i]
                   : n->n_in <= 2    ? two[i]
                                     : arena_printf(e->arena, "a%d", i);
    emit_loops_open(e, &l);
    for (int i = 0; i < n->n_in; i++) {
        if (ir_in(g, n, i)->dtype != DT_F16) {
            emit_load(e, ir_in(g, n, i), names[i], e->in_name[i], l.idx[i + 1]);
            continue;
        }
        emit_prelude_once(e, "kiln_half_to_f32", half_to_f32); /* Max, Min, Mod of float16 */
        emit_line(e, "const float %s = kiln_half_to_f32(%s[%s], 10, 15);", names[i],
                  e->in_name[i], l.idx[i + 1]);
    }
    emit_element(e, g, n, names, l.idx[0]);
    emit_loops_close(e, &l);
    return true;
}
