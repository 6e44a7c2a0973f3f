/* k_gather.c — kernels of the index-driven ops: Gather, GatherElements,
 * GatherND, ScatterElements/Scatter, ScatterND, OneHot, CumSum and
 * ReverseSequence (ONNX spec sections of the same names). Indices are
 * runtime data, so every index is wrapped (negative counts from the end) and
 * bounds-checked before use: ONNX leaves out-of-range indices undefined;
 * kiln gathers 0 for them, skips the scatter, sets no OneHot position, and
 * clamps sequence lengths, so a bad index never touches memory outside a
 * buffer. */
#include "emit.h"

#include <string.h>

/* Y has no elements: nothing to compute, but the parameters stay in the
 * signature so the caller's pointers count as used. */
static bool emit_empty(Emitter *e, const Node *n)
{
    emit_line(e, "/* no elements */");
    for (int i = 0; i < n->n_in; i++)
        if (e->in_name[i])
            emit_line(e, "(void)%s;", e->in_name[i]);
    emit_line(e, "(void)%s;", e->out_name[0]);
    return true;
}

static int norm_axis(int64_t axis, int rank)
{
    return (int)(axis < 0 ? axis + rank : axis);
}

/* Prints `int64_t VAR = EXPR;` wrapped into [0, dim) when negative (the
 * caller still checks the upper bound and the still-negative case). */
static void emit_index(Emitter *e, const char *var, const char *expr, int64_t dim)
{
    emit_line(e, "int64_t %s = %s;", var, expr);
    emit_line(e, "if (%s < 0)", var);
    emit_line(e, "    %s += %lld;", var, (long long)dim);
}

/* "a * n + b", dropping the product when the loop over a isn't printed. */
static const char *lin(Emitter *e, bool have_a, const char *a, int64_t n, const char *b)
{
    return have_a ? arena_printf(e->arena, "%s * %lld + %s", a, (long long)n, b) : b;
}

/* y[dst .. dst+len) = x[src .. src+len) if cond, else 0 (one element: an
 * assignment; a run: memcpy / memset). */
static void emit_copy_or_zero(Emitter *e, DType dt, const char *cond, const char *dst,
                              const char *src, int64_t len)
{
    const char *t = dtype_ctype(dt), *y = e->out_name[0], *x = e->in_name[0];
    if (len == 1) {
        emit_line(e, "%s[%s] = %s ? %s[%s] : %s;", y, dst, cond, x, src, emit_lit(e, 0, dt));
        return;
    }
    emit_line(e, "if (%s)", cond);
    emit_line(e, "    memcpy(%s + (%s) * %lld, %s + (%s) * %lld, %lld * sizeof(%s));", y, dst,
              (long long)len, x, src, (long long)len, (long long)len, t);
    emit_line(e, "else");
    emit_line(e, "    memset(%s + (%s) * %lld, 0, %lld * sizeof(%s));", y, dst, (long long)len,
              (long long)len, t);
}

/* Gather: data as [outer, S, inner], indices flattened to N; Y is
 * [outer, N, inner]: Y[o, j, :] = data[o, indices[j], :]. */
bool k_gather(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int axis = norm_axis(ir_attr_int(n, "axis", 0), x->shape.rank);
    int64_t outer = 1, inner = 1, S = x->shape.dims[axis], N = shape_numel(&ind->shape);
    for (int i = 0; i < x->shape.rank; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    if (outer > 1)
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)N);
    emit_index(e, "k", arena_printf(e->arena, "%s[j]", e->in_name[1]), S);
    const char *cond = arena_printf(e->arena, "k >= 0 && k < %lld", (long long)S);
    emit_copy_or_zero(e, x->dtype, cond, lin(e, outer > 1, "o", N, "j"),
                      lin(e, outer > 1, "o", S, "k"), inner);
    emit_close(e);
    if (outer > 1)
        emit_close(e);
    return true;
}

/* Loops over the shape of indices (= of Y / updates) with operand 0 walking
 * it contiguously and operand 1 walking data with the axis dim held at 0. */
static void open_elements_loops(Emitter *e, EmitLoops *l, const Value *x, const Value *ind,
                                int axis)
{
    int r = x->shape.rank;
    int64_t st = 1;
    l->rank = r;
    l->n_ops = 2;
    for (int i = r - 1; i >= 0; i--) {
        l->dims[i] = ind->shape.dims[i];
        l->strides[1][i] = i == axis ? 0 : st;
        st *= x->shape.dims[i];
    }
    st = 1;
    for (int i = r - 1; i >= 0; i--) {
        l->strides[0][i] = st;
        st *= ind->shape.dims[i];
    }
    emit_loops_open(e, l);
}

static int64_t axis_stride(const Value *x, int axis)
{
    int64_t st = 1;
    for (int i = axis + 1; i < x->shape.rank; i++)
        st *= x->shape.dims[i];
    return st;
}

/* GatherElements: Y[p] = data[p with p[axis] = indices[p]] over the shape
 * of indices. */
bool k_gather_elements(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    int axis = norm_axis(ir_attr_int(n, "axis", 0), x->shape.rank);
    int64_t S = x->shape.dims[axis], st = axis_stride(x, axis);
    if (shape_numel(&ind->shape) == 0)
        return emit_empty(e, n);
    EmitLoops l = {0};
    open_elements_loops(e, &l, x, ind, axis);
    emit_index(e, "k", arena_printf(e->arena, "%s[%s]", e->in_name[1], l.idx[0]), S);
    emit_line(e, "%s[%s] = k >= 0 && k < %lld ? %s[%s + k * %lld] : %s;", e->out_name[0],
              l.idx[0], (long long)S, e->in_name[0], l.idx[1], (long long)st,
              emit_lit(e, 0, x->dtype));
    emit_loops_close(e, &l);
    return true;
}

/* Reads the m-tuple at ix[0..m) into k0..k(m-1) against data dims
 * dims[0..m), setting `ok` when every one is in range, and returns the C
 * expression of the offset [base +] sum k_t * stride_t. */
static const char *emit_tuple(Emitter *e, int64_t m, const int64_t *dims, const int64_t *strides,
                              const char *base)
{
    StrBuf sb = {0};
    if (base)
        sb_printf(&sb, "%s + ", base);
    for (int64_t t = 0; t < m; t++) {
        const char *k = arena_printf(e->arena, "k%lld", (long long)t);
        emit_index(e, k, arena_printf(e->arena, "ix[%lld]", (long long)t), dims[t]);
        emit_line(e, "%s%s >= 0 && %s < %lld;", t == 0 ? "int ok = " : "ok = ok && ", k, k,
                  (long long)dims[t]);
        sb_printf(&sb, "%s%s", t ? " + " : "", k);
        if (strides[t] != 1)
            sb_printf(&sb, " * %lld", (long long)strides[t]);
    }
    const char *r = arena_strdup(e->arena, sb.buf);
    sb_free(&sb);
    return r;
}

static void row_strides(const Shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= s->dims[i];
    }
}

/* GatherND with batch_dims b: for each batch bi and index tuple j (m
 * values), Y[bi, j, :] = data[bi, tuple, :] (a slice of data.shape[b+m:]). */
bool k_gather_nd(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int b = (int)ir_attr_int(n, "batch_dims", 0), q = ind->shape.rank;
    int64_t m = ind->shape.dims[q - 1], xs[IR_MAX_RANK], B = 1, N = 1;
    row_strides(&x->shape, xs);
    for (int i = 0; i < q - 1; i++)
        *(i < b ? &B : &N) *= ind->shape.dims[i];
    int64_t slice = xs[b + m - 1], batch = b > 0 ? xs[b - 1] : 0;
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    if (B > 1)
        emit_open(e, "for (int bi = 0; bi < %lld; bi++)", (long long)B);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)N);
    const char *row = lin(e, B > 1, "bi", N, "j");
    emit_line(e, "const %s *ix = %s + (%s) * %lld;", dtype_ctype(ind->dtype), e->in_name[1], row,
              (long long)m);
    const char *base = B > 1 ? arena_printf(e->arena, "bi * %lld", (long long)(batch / slice)) : NULL;
    /* offsets in units of slices: data strides of the addressed dims / slice */
    int64_t st[IR_MAX_RANK] = {0};
    for (int64_t t = 0; t < m; t++)
        st[t] = xs[b + t] / slice;
    const char *src = emit_tuple(e, m, x->shape.dims + b, st, base);
    emit_copy_or_zero(e, x->dtype, "ok", row, src, slice);
    emit_close(e);
    if (B > 1)
        emit_close(e);
    return true;
}

/* The statement applying one update u to the element at *p. */
static const char *reduce_stmt(Emitter *e, const Node *n, const char *p, const char *u)
{
    const char *red = ir_attr_str(n, "reduction", "none");
    if (strcmp(red, "add") == 0)
        return arena_printf(e->arena, "%s += %s;", p, u);
    if (strcmp(red, "mul") == 0)
        return arena_printf(e->arena, "%s *= %s;", p, u);
    if (strcmp(red, "max") == 0)
        return arena_printf(e->arena, "%s = %s > %s ? %s : %s;", p, u, p, u, p);
    if (strcmp(red, "min") == 0)
        return arena_printf(e->arena, "%s = %s < %s ? %s : %s;", p, u, p, u, p);
    return arena_printf(e->arena, "%s = %s;", p, u);
}

static void emit_copy_input(Emitter *e, const Value *y)
{
    emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
              (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
}

/* ScatterElements / Scatter: Y = data, then for every position p of
 * indices, Y[p with p[axis] = indices[p]] (reduction)= updates[p], in
 * order (later duplicates win for reduction none). */
bool k_scatter_elements(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int axis = norm_axis(ir_attr_int(n, "axis", 0), x->shape.rank);
    int64_t S = x->shape.dims[axis], st = axis_stride(x, axis);
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    emit_copy_input(e, y);
    if (shape_numel(&ind->shape) == 0)
        return true;
    EmitLoops l = {0};
    open_elements_loops(e, &l, x, ind, axis);
    emit_index(e, "k", arena_printf(e->arena, "%s[%s]", e->in_name[1], l.idx[0]), S);
    emit_open(e, "if (k >= 0 && k < %lld)", (long long)S);
    emit_line(e, "%s *p = &%s[%s + k * %lld];", dtype_ctype(x->dtype), e->out_name[0], l.idx[1],
              (long long)st);
    emit_line(e, "%s", reduce_stmt(e, n, "*p", arena_printf(e->arena, "%s[%s]", e->in_name[2],
                                                             l.idx[0])));
    emit_close(e);
    emit_loops_close(e, &l);
    return true;
}

/* ScatterND: Y = data, then for every index tuple j (k values) the slice
 * Y[tuple, :] (reduction)= updates[j, :], in order. */
bool k_scatter_nd(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int q = ind->shape.rank;
    int64_t m = ind->shape.dims[q - 1], xs[IR_MAX_RANK];
    int64_t N = shape_numel(&ind->shape) / m;
    row_strides(&x->shape, xs);
    int64_t slice = xs[m - 1];
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    emit_copy_input(e, y);
    if (N == 0)
        return true;
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)N);
    emit_line(e, "const %s *ix = %s + j * %lld;", dtype_ctype(ind->dtype), e->in_name[1],
              (long long)m);
    const char *off = emit_tuple(e, m, x->shape.dims, xs, NULL);
    if (slice == 1) {
        emit_open(e, "if (ok)");
        emit_line(e, "%s *p = &%s[%s];", dtype_ctype(y->dtype), e->out_name[0], off);
        emit_line(e, "%s", reduce_stmt(e, n, "*p", arena_printf(e->arena, "%s[j]", e->in_name[2])));
        emit_close(e);
    } else {
        emit_open(e, "if (ok)");
        emit_line(e, "%s *dst = %s + (%s);", dtype_ctype(y->dtype), e->out_name[0], off);
        emit_line(e, "const %s *src = %s + j * %lld;", dtype_ctype(y->dtype), e->in_name[2],
                  (long long)slice);
        emit_line(e, "for (int s = 0; s < %lld; s++)", (long long)slice);
        emit_line(e, "    %s", reduce_stmt(e, n, "dst[s]", "src[s]"));
        emit_close(e);
    }
    emit_close(e);
    return true;
}

/* OneHot: Y (values' dtype) is indices' shape with a dim of size depth
 * inserted at axis, viewed as [outer, depth, inner]: every element is off,
 * except Y[o, indices[o, i], i] = on. Non-integer indices are truncated
 * (range-checked before the conversion); negative ones count from the end
 * (opset 11). */
bool k_onehot(Emitter *e, const Graph *g, const Node *n)
{
    const Value *ind = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int axis = norm_axis(ir_attr_int(n, "axis", -1), y->shape.rank);
    int64_t depth = y->shape.dims[axis], outer = 1, inner = 1;
    for (int i = 0; i < y->shape.rank; i++) {
        if (i < axis)
            outer *= y->shape.dims[i];
        else if (i > axis)
            inner *= y->shape.dims[i];
    }
    const char *t = dtype_ctype(y->dtype), *yn = e->out_name[0], *v = e->in_name[2];
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    emit_line(e, "const %s off = %s[0], on = %s[1];", t, v, v);
    emit_line(e, "for (int p = 0; p < %lld; p++)", (long long)shape_numel(&y->shape));
    emit_line(e, "    %s[p] = off;", yn);
    if (outer > 1)
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    const char *at = arena_printf(e->arena, "%s[%s]", e->in_name[0],
                                  lin(e, outer > 1, "o", inner, inner > 1 ? "i" : "0"));
    const char *conv = at;
    if (dtype_is_float(ind->dtype)) {
        emit_line(e, "const %s v = %s;", dtype_ctype(ind->dtype), at);
        conv = arena_printf(e->arena, "v > -%lld.0 && v < %lld.0 ? (int64_t)v : %lld",
                            (long long)depth + 1, (long long)depth, (long long)depth);
    } else if (ind->dtype == DT_U64) {
        conv = arena_printf(e->arena, "%s < %lluu ? (int64_t)%s : %lld", at,
                            (unsigned long long)depth, at, (long long)depth);
    }
    if (n->opset >= 11)
        emit_index(e, "k", conv, depth);
    else
        emit_line(e, "const int64_t k = %s;", conv);
    const char *pos = arena_printf(e->arena, outer > 1 ? "(%s) * %lld%s" : "%s * %lld%s",
                                   lin(e, outer > 1, "o", depth, "k"), (long long)inner,
                                   inner > 1 ? " + i" : "");
    emit_line(e, "if (k >= 0 && k < %lld)", (long long)depth);
    emit_line(e, "    %s[%s] = on;", yn, pos);
    if (inner > 1)
        emit_close(e);
    if (outer > 1)
        emit_close(e);
    return true;
}

/* The accumulator type of CumSum: the float type itself; uint64_t for
 * integers (wrapping, no signed overflow). */
static const char *cumsum_acc(DType dt)
{
    return dtype_is_float(dt) ? dtype_ctype(dt) : "uint64_t";
}

/* CumSum: x viewed as [outer, len, inner] around axis; running sums along
 * len, inclusive (y_j = x_0 + … + x_j) or exclusive (x_0 + … + x_(j-1)),
 * forwards or in reverse. A constant axis is printed into the loops; a
 * runtime axis is read from x1 (out of range: y is a copy of x). */
bool k_cumsum(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *ax = ir_in(g, n, 1);
    DType dt = x->dtype;
    int r = x->shape.rank;
    bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
    const char *outer = "outer", *len = "len", *inner = "inner";
    const char *xs = e->in_name[0], *ys = e->out_name[0], *t = dtype_ctype(dt);
    if (shape_numel(&x->shape) == 0)
        return emit_empty(e, n);
    if (ax->kind == VAL_CONST && ax->data) {
        int axis = norm_axis(tensor_get_i(ax->dtype, ax->data, 0), r);
        int64_t o = 1, in = 1;
        for (int i = 0; i < r; i++) {
            if (i < axis)
                o *= x->shape.dims[i];
            else if (i > axis)
                in *= x->shape.dims[i];
        }
        outer = arena_printf(e->arena, "%lld", (long long)o);
        len = arena_printf(e->arena, "%lld", (long long)x->shape.dims[axis]);
        inner = arena_printf(e->arena, "%lld", (long long)in);
    } else {
        StrBuf sb = {0};
        for (int i = 0; i < r; i++)
            sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)x->shape.dims[i]);
        emit_line(e, "static const int dims[%d] = {%s};", r, sb.buf);
        sb_free(&sb);
        emit_index(e, "axis", arena_printf(e->arena, "%s[0]", e->in_name[1]), r);
        emit_open(e, "if (axis < 0 || axis >= %d)", r);
        emit_copy_input(e, x);
        emit_line(e, "return;");
        emit_close(e);
        emit_line(e, "int outer = 1, len = dims[axis], inner = 1;");
        emit_open(e, "for (int d = 0; d < %d; d++)", r);
        emit_line(e, "if (d < axis)");
        emit_line(e, "    outer *= dims[d];");
        emit_line(e, "else if (d > axis)");
        emit_line(e, "    inner *= dims[d];");
        emit_close(e);
    }
    emit_open(e, "for (int o = 0; o < %s; o++)", outer);
    emit_open(e, "for (int i = 0; i < %s; i++)", inner);
    emit_line(e, "%s acc = 0;", cumsum_acc(dt));
    emit_open(e, "for (int j = 0; j < %s; j++)", len);
    emit_line(e, "const int p = (o * %s + %s) * %s + i;", len,
              rev ? arena_printf(e->arena, "%s - 1 - j", len) : "j", inner);
    const char *store = arena_printf(e->arena, "%s[p] = %sacc;", ys,
                                     dtype_is_float(dt) ? "" : arena_printf(e->arena, "(%s)", t));
    if (excl)
        emit_line(e, "%s", store);
    emit_line(e, "acc += %s[p];", xs);
    if (!excl)
        emit_line(e, "%s", store);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ReverseSequence: for batch b, the first sequence_lens[b] steps along the
 * time axis are reversed, the rest copied; lengths are clamped to
 * [0, time]. x is [time, batch, inner] (time_axis 0) or [batch, time, inner]. */
bool k_reverse_sequence(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    int ta = (int)ir_attr_int(n, "time_axis", 0);
    int64_t T = x->shape.dims[ta], B = x->shape.dims[1 - ta], inner = 1;
    for (int i = 2; i < x->shape.rank; i++)
        inner *= x->shape.dims[i];
    if (shape_numel(&x->shape) == 0)
        return emit_empty(e, n);
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)B);
    emit_line(e, "int64_t len = %s[b];", e->in_name[1]);
    emit_line(e, "len = len < 0 ? 0 : len > %lld ? %lld : len;", (long long)T, (long long)T);
    emit_open(e, "for (int t = 0; t < %lld; t++)", (long long)T);
    emit_line(e, "const int64_t s = t < len ? len - 1 - t : t;");
    const char *dst = ta == 0 ? arena_printf(e->arena, "t * %lld + b", (long long)B)
                              : arena_printf(e->arena, "b * %lld + t", (long long)T);
    const char *src = ta == 0 ? arena_printf(e->arena, "s * %lld + b", (long long)B)
                              : arena_printf(e->arena, "b * %lld + s", (long long)T);
    if (inner == 1)
        emit_line(e, "%s[%s] = %s[%s];", e->out_name[0], dst, e->in_name[0], src);
    else
        emit_line(e, "memcpy(%s + (%s) * %lld, %s + (%s) * %lld, %lld * sizeof(%s));",
                  e->out_name[0], dst, (long long)inner, e->in_name[0], src, (long long)inner,
                  (long long)inner, dtype_ctype(x->dtype));
    emit_close(e);
    emit_close(e);
    return true;
}
