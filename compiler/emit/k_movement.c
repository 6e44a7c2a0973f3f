/* k_movement.c — kernels of the data-movement ops: each prints the copy list
 * of ir/move.h (the same one folding runs) as strided loops, with memcpy /
 * memset for contiguous runs; and Trilu, a masked copy. */
#include "emit.h"

#include <string.h>

#include "move.h"

/* "base[off + idx]"-style index: off and the loop index expression. */
static const char *at(Emitter *e, int64_t off, const char *idx)
{
    if (off == 0)
        return idx;
    if (strcmp(idx, "0") == 0)
        return arena_printf(e->arena, "%lld", (long long)off);
    return arena_printf(e->arena, "%lld + %s", (long long)off, idx);
}

/* "ptr + index", or "ptr" for index 0. */
static const char *ptr_at(Emitter *e, const char *ptr, const char *index)
{
    return strcmp(index, "0") == 0 ? ptr : arena_printf(e->arena, "%s + %s", ptr, index);
}

/* One element of dtype dt as a C literal, exact for 64-bit integers. */
static const char *fill_literal(Emitter *e, DType dt, const unsigned char *bytes)
{
    if (dt == DT_I64)
        return arena_printf(e->arena, "INT64_C(%lld)", (long long)tensor_get_i(dt, bytes, 0));
    if (dt == DT_U64)
        return arena_printf(e->arena, "UINT64_C(%llu)",
                            (unsigned long long)*(const uint64_t *)bytes);
    return emit_lit(e, tensor_get_f(dt, bytes, 0), dt);
}

static bool all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Prints one step: loops over its outer dims (emit_loops_open), and a
 * memcpy / memset of the innermost run when both sides are contiguous. */
static bool emit_step(Emitter *e, const Node *n, DType dt, MoveStep *s)
{
    move_simplify(s);
    const char *dst = e->out_name[s->dst], *t = dtype_ctype(dt);
    if (!dst || s->dims[0] == 0)
        return true;
    bool fill = s->kind == MOVE_FILL;
    bool zero = fill && s->src < 0 && all_zero(s->fill, dtype_size(dt));
    const char *src = fill ? (s->src >= 0 ? arena_printf(e->arena, "%s[0]", e->in_name[s->src])
                                          : fill_literal(e, dt, s->fill))
                           : (s->src >= 0 ? e->in_name[s->src] : e->out_name[-1 - s->src]);
    int last = s->rank - 1;
    bool run = s->dims[last] > 1 && s->dst_stride[last] == 1 &&
               (fill ? zero : s->src_stride[last] == 1);
    EmitLoops l = {.rank = run ? last : s->rank, .n_ops = 2};
    if (l.rank > IR_MAX_RANK) {
        ir_node_error(e->d, n, "the copy walks %d dims, more than kiln's %d", l.rank, IR_MAX_RANK);
        return false;
    }
    for (int i = 0; i < l.rank; i++) {
        l.dims[i] = s->dims[i];
        l.strides[0][i] = s->dst_stride[i];
        l.strides[1][i] = fill ? 0 : s->src_stride[i];
    }
    emit_loops_open(e, &l);
    const char *di = at(e, s->dst_off, l.idx[0]), *si = at(e, s->src_off, l.idx[1]);
    if (run && fill)
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", ptr_at(e, dst, di),
                  (long long)s->dims[last], t);
    else if (run)
        emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", ptr_at(e, dst, di), ptr_at(e, src, si),
                  (long long)s->dims[last], t);
    else if (fill)
        emit_line(e, "%s[%s] = %s;", dst, di, src);
    else
        emit_line(e, "%s[%s] = %s[%s];", dst, di, src, si);
    emit_loops_close(e, &l);
    return true;
}

/* Outputs without elements get no loops; naming them keeps the kernel's
 * signature (and the caller's pointers) in use. */
static void emit_empty_outputs(Emitter *e, const Graph *g, const Node *n)
{
    for (int i = 0; i < n->n_out; i++)
        if (ir_out(g, n, i) && shape_numel(&ir_out(g, n, i)->shape) == 0)
            emit_line(e, "(void)%s; /* no elements */", e->out_name[i]);
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
 * Expand, Tile, Pad, DepthToSpace, SpaceToDepth, EyeLike, ConstantOfShape:
 * shapes and semantics as in move.h (ONNX spec sections of the same names);
 * any dtype, since only bytes move. */
bool k_move(Emitter *e, const Graph *g, const Node *n)
{
    MoveParams p;
    MoveProg prog;
    char err[MOVE_ERR_LEN];
    bool ok = move_params(g, n, e->arena, &p, err);
    KILN_ASSERT(ok); /* the shape rule passed */
    move_build(g, n, &p, e->arena, &prog);
    emit_empty_outputs(e, g, n);
    for (int k = 0; k < prog.n; k++)
        if (!emit_step(e, n, p.dtype, &prog.steps[k]))
            return false;
    return true;
}

/* Trilu (opset 14): x [..., R, C] → y, keeping element (i, j) of each
 * matrix where j - i >= k (upper) or j - i <= k (lower), as
 * move_trilu_keep; k may be a run-time input. */
bool k_trilu(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *kv = ir_in(g, n, 1);
    int r = x->shape.rank;
    int64_t R = x->shape.dims[r - 2], C = x->shape.dims[r - 1];
    int64_t B = shape_numel(&x->shape) / (R * C > 0 ? R * C : 1);
    if (shape_numel(&x->shape) == 0) {
        emit_empty_outputs(e, g, n);
        return true;
    }
    const char *k = "0";
    if (kv && kv->kind == VAL_CONST) { /* clamped: beyond ±(R + C) nothing changes */
        int64_t kc = tensor_get_i(kv->dtype, kv->data, 0), lim = R + C;
        k = arena_printf(e->arena, "%lld", (long long)(kc > lim ? lim : kc < -lim ? -lim : kc));
    } else if (kv) {
        k = arena_printf(e->arena, "%s[0]", e->in_name[1]);
    }
    const char *cmp = ir_attr_int(n, "upper", 1) ? ">=" : "<=";
    if (B > 1)
        emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)B);
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)R);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)C);
    if (B > 1)
        emit_line(e, "const int at = (m * %lld + i) * %lld + j;", (long long)R, (long long)C);
    else
        emit_line(e, "const int at = i * %lld + j;", (long long)C);
    emit_line(e, "%s[at] = (int64_t)(j - i) %s %s ? %s[at] : %s;", e->out_name[0], cmp, k,
              e->in_name[0], emit_lit(e, 0, x->dtype));
    emit_close(e);
    emit_close(e);
    if (B > 1)
        emit_close(e);
    return true;
}
