/* k_elementwise.c — kernels of elementwise ops: one loop nest over the
 * output with each operand indexed through its broadcast strides, and a C
 * expression per op (ONNX spec formulas). Also plain copies (Identity,
 * Reshape, Flatten). */
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

/* The expression computing y from x (unary ops). */
static const char *unary_expr(Emitter *e, const Node *n, DType dt)
{
    const char *zero = emit_flit(e, 0, dt), *one = emit_flit(e, 1, dt);
    switch (n->op) {
    case OP_Relu:
        return arena_printf(e->arena, "x > %s ? x : %s", zero, zero);
    case OP_LeakyRelu:
        return arena_printf(e->arena, "x >= %s ? x : %s * x", zero,
                            emit_flit(e, ir_attr_float(n, "alpha", 0.01), dt));
    case OP_Sigmoid:
        return arena_printf(e->arena, "%s / (%s + %s(-x))", one, one, emit_math(e, dt, "exp"));
    case OP_Tanh:
        return arena_printf(e->arena, "%s(x)", emit_math(e, dt, "tanh"));
    default:
        return NULL;
    }
}

bool k_unary(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    const char *expr = unary_expr(e, n, x->dtype);
    KILN_ASSERT(expr != NULL);
    const char *t = dtype_ctype(x->dtype);
    EmitLoops l = {.rank = 1, .dims = {shape_numel(&y->shape)}, .n_ops = 1, .strides = {{1}}};
    emit_loops_open(e, &l);
    emit_line(e, "const %s x = %s[%s];", t, e->in_name[0], l.idx[0]);
    emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], expr);
    emit_loops_close(e, &l);
    return true;
}

static const char *binary_expr(Emitter *e, const Node *n)
{
    (void)e;
    switch (n->op) {
    case OP_Add: return "a + b";
    case OP_Sub: return "a - b";
    case OP_Mul: return "a * b";
    case OP_Div: return "a / b";
    default: return NULL;
    }
}

bool k_binary(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    const char *expr = binary_expr(e, n);
    KILN_ASSERT(expr != NULL);
    if (n->op == OP_Div && !dtype_is_float(y->dtype)) {
        /* integer division by zero is undefined in C; ONNX leaves it
         * undefined too, so kiln yields 0 rather than trapping */
        expr = "b != 0 ? a / b : 0";
    }
    EmitLoops l = {.rank = y->shape.rank, .n_ops = 3};
    memcpy(l.dims, y->shape.dims, sizeof l.dims);
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    emit_bcast_strides(&y->shape, &a->shape, 1, l.strides[1]);
    emit_bcast_strides(&y->shape, &b->shape, 1, l.strides[2]);
    const char *t = dtype_ctype(y->dtype);
    emit_loops_open(e, &l);
    emit_line(e, "const %s a = %s[%s];", t, e->in_name[0], l.idx[1]);
    emit_line(e, "const %s b = %s[%s];", t, e->in_name[1], l.idx[2]);
    emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], expr);
    emit_loops_close(e, &l);
    return true;
}
