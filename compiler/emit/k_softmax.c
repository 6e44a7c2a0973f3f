/* k_softmax.c — Softmax and LogSoftmax. Opset < 13 coerces the input to 2-D
 * at `axis` (default 1) and normalizes each row; opset 13+ normalizes along
 * the single dim `axis` (default -1). Both subtract the maximum first, so
 * logits of ±1e4 neither overflow nor underflow to NaN. */
#include "emit.h"

bool k_softmax(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    int r = x->shape.rank;
    int64_t axis = ir_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
    if (axis < -r || axis >= (r > 0 ? r : 1)) {
        ir_node_error(e->d, n, "axis %lld out of range for rank %d", (long long)axis, r);
        return false;
    }
    if (axis < 0)
        axis += r;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i == axis || n->opset < 13)
            len *= x->shape.dims[i];
        else
            inner *= x->shape.dims[i];
    }
    const char *t = dtype_ctype(dt), *xs = e->in_name[0], *ys = e->out_name[0];
    const char *ex = emit_math(e, dt, "exp"), *lg = emit_math(e, dt, "log");
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    const char *plus_i = inner > 1 ? " + i" : "";
    emit_line(e, "const %s *x = %s + o * %lld%s;", t, xs, (long long)(len * inner), plus_i);
    emit_line(e, "%s *y = %s + o * %lld%s;", t, ys, (long long)(len * inner), plus_i);
    const char *at = inner == 1 ? "[j]" : arena_printf(e->arena, "[j * %lld]", (long long)inner);
    emit_line(e, "%s max = x[0];", t);
    emit_open(e, "for (int j = 1; j < %lld; j++)", (long long)len);
    emit_line(e, "max = x%s > max ? x%s : max;", at, at);
    emit_close(e);
    emit_line(e, "%s sum = %s;", t, emit_flit(e, 0, dt));
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
    if (n->op == OP_Softmax) {
        emit_line(e, "y%s = %s(x%s - max);", at, ex, at);
        emit_line(e, "sum += y%s;", at);
    } else {
        emit_line(e, "sum += %s(x%s - max);", ex, at);
    }
    emit_close(e);
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
    if (inner > 1)
        emit_close(e);
    emit_close(e);
    return true;
}
