/* k_softmax.c — Softmax, LogSoftmax and Hardmax. Opset < 13 coerces the
 * input to 2-D at `axis` (default 1) and normalizes each row; opset 13+
 * normalizes along the single dim `axis` (default -1). Softmax and LogSoftmax
 * subtract the maximum first, so logits of ±1e4 neither overflow nor
 * underflow to NaN. The shape rule (shapes_norm.c) checked the axis. */
#include "emit.h"

#include <stdint.h>

/* The op's view of x as [outer, len, inner], normalized along len. */
static void softmax_view(const Node *n, const Shape *s, int64_t *outer, int64_t *len,
                         int64_t *inner)
{
    int r = s->rank;
    int64_t axis = ir_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
    if (axis < 0)
        axis += r;
    *outer = *len = *inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            *outer *= s->dims[i];
        else if (i == axis || n->opset < 13)
            *len *= s->dims[i];
        else
            *inner *= s->dims[i];
    }
}

/* Opens the loops over outer (and inner) and points x and y at the row;
 * returns the subscript of element j of the row. */
static const char *open_rows(Emitter *e, DType dt, int64_t outer, int64_t len, int64_t inner)
{
    const char *t = dtype_ctype(dt), *xs = e->in_name[0], *ys = e->out_name[0];
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    const char *plus_i = inner > 1 ? " + i" : "";
    emit_line(e, "const %s *x = %s + o * %lld%s;", t, xs, (long long)(len * inner), plus_i);
    emit_line(e, "%s *y = %s + o * %lld%s;", t, ys, (long long)(len * inner), plus_i);
    return inner == 1 ? "[j]" : arena_printf(e->arena, "[j * %lld]", (long long)inner);
}

static void close_rows(Emitter *e, int64_t inner)
{
    if (inner > 1)
        emit_close(e);
    emit_close(e);
}

/* Softmax: y = exp(x - max) / Σ exp(x - max); LogSoftmax: y = x - max -
 * log Σ exp(x - max). */
bool k_softmax(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    int64_t outer, len, inner;
    if (shape_numel(&x->shape) == 0)
        return true;
    softmax_view(n, &x->shape, &outer, &len, &inner);
    const char *t = dtype_ctype(dt);
    const char *ex = emit_math(e, dt, "exp"), *lg = emit_math(e, dt, "log");
    const char *at = open_rows(e, dt, outer, len, inner);
    emit_line(e, "%s max = x[0];", t);
    emit_open(e, "for (int j = 1; j < %lld; j++)", (long long)len);
    emit_line(e, "max = x%s > max ? x%s : max;", at, at);
    emit_close(e);
    emit_line(e, "%s sum = %s;", t, emit_flit(e, 0, dt));
    if (dt == DT_F32 && inner == 1 && len < INT32_MAX) {
        /* Σ exp(x - max) on the target's vectors (templates/kiln_vmath.h); Softmax keeps
         * the exps in y */
        emit_line(e, "sum = kiln_vexpsum_%s(%lld, x, max, %s);", emit_vmath(e, dt), (long long)len,
                  n->op == OP_Softmax ? "y" : "NULL");
    } else {
        emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
        if (n->op == OP_Softmax) {
            emit_line(e, "y%s = %s(x%s - max);", at, ex, at);
            emit_line(e, "sum += y%s;", at);
        } else {
            emit_line(e, "sum += %s(x%s - max);", ex, at);
        }
        emit_close(e);
    }
    if (n->op == OP_Softmax) {
        emit_line(e, "const %s inv = %s / sum;", t, emit_flit(e, 1, dt));
        emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
        emit_line(e, "y%s *= inv;", at);
    } else {
        emit_line(e, "const %s lse = max + %s(sum);", t, lg);
        emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
        emit_line(e, "y%s = x%s - lse;", at, at);
    }
    emit_close(e);
    close_rows(e, inner);
    return true;
}

/* Hardmax: y = 1 at the first maximum of each row, 0 elsewhere. */
bool k_hardmax(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    int64_t outer, len, inner;
    if (shape_numel(&x->shape) == 0)
        return true;
    softmax_view(n, &x->shape, &outer, &len, &inner);
    const char *at = open_rows(e, dt, outer, len, inner);
    emit_line(e, "int best = 0;");
    emit_open(e, "for (int j = 1; j < %lld; j++)", (long long)len);
    const char *best =
        inner == 1 ? "[best]" : arena_printf(e->arena, "[best * %lld]", (long long)inner);
    emit_open(e, "if (x%s > x%s)", at, best);
    emit_line(e, "best = j;");
    emit_close(e);
    emit_close(e);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
    emit_line(e, "y%s = j == best ? %s : %s;", at, emit_flit(e, 1, dt), emit_flit(e, 0, dt));
    emit_close(e);
    close_rows(e, inner);
    return true;
}
