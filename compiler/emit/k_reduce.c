/* k_reduce.c — kernels of the reductions: one generic emitter for the ten
 * Reduce ops (init, accumulate and finish steps per op), ArgMax/ArgMin and
 * TopK. The shape rules (pass/shapes_reduce.c) checked the node and left it
 * canonical: Reduce's attribute axes lists the reduced axes, ArgMax/ArgMin/
 * TopK carry a non-negative axis and TopK its k. fold_reduce.c evaluates the
 * same steps at compile time — keep the two in step. */
#include "emit.h"

#include <math.h>

#define P(...) arena_printf(e->arena, __VA_ARGS__)

/* ---- the ten Reduce ops ---- */

/* The smallest / largest value of an integer type, as C. */
static const char *int_limit(DType t, bool highest)
{
    switch (t) {
    case DT_I8: return highest ? "INT8_MAX" : "INT8_MIN";
    case DT_I16: return highest ? "INT16_MAX" : "INT16_MIN";
    case DT_I32: return highest ? "INT32_MAX" : "INT32_MIN";
    case DT_I64: return highest ? "INT64_MAX" : "INT64_MIN";
    case DT_U8: return highest ? "UINT8_MAX" : "0";
    case DT_U16: return highest ? "UINT16_MAX" : "0";
    case DT_U32: return highest ? "UINT32_MAX" : "0";
    default: return highest ? "UINT64_MAX" : "0";
    }
}

/* Integer Sum, Mean, Prod, L1, L2, LogSum and SumSquare accumulate in 64
 * bits (as numpy.sum does), so Mean and L2 of small types don't see the sum
 * wrap; the rest accumulate in the output itself. */
static bool wide_acc(OpKind op, DType dt)
{
    return !dtype_is_float(dt) && op != OP_ReduceMax && op != OP_ReduceMin &&
           op != OP_ReduceLogSumExp;
}

static bool is_unsigned(DType t)
{
    return t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64;
}

/* The value each accumulator starts from: the identity of the op (so an
 * empty set gives 0 for sums, 1 for Prod, -inf / +inf, or the type's
 * limits, for Max / Min). */
static const char *reduce_init(Emitter *e, OpKind op, DType dt)
{
    bool fl = dtype_is_float(dt);
    switch (op) {
    case OP_ReduceMax: case OP_ReduceLogSumExp:
        return fl ? emit_flit(e, -INFINITY, dt) : int_limit(dt, false);
    case OP_ReduceMin: return fl ? emit_flit(e, INFINITY, dt) : int_limit(dt, true);
    case OP_ReduceProd: return fl ? emit_flit(e, 1, dt) : "1";
    default: return fl ? emit_flit(e, 0, dt) : "0";
    }
}

/* The statement folding element v into accumulator a. Max and Min let NaN
 * through, like numpy. Wide signed accumulators wrap through uint64_t
 * (signed overflow is undefined in C); unsigned ones wrap by themselves. */
static const char *reduce_step(Emitter *e, OpKind op, DType dt, const char *a, const char *v)
{
    const char *nan = dtype_is_float(dt) ? P(" || isnan(%s)", v) : "";
    bool wrap = wide_acc(op, dt) && !is_unsigned(dt);
    switch (op) {
    case OP_ReduceMax: case OP_ReduceLogSumExp: return P("if (%s > %s%s) %s = %s;", v, a, nan, a, v);
    case OP_ReduceMin: return P("if (%s < %s%s) %s = %s;", v, a, nan, a, v);
    case OP_ReduceProd:
        return wrap ? P("%s = (int64_t)((uint64_t)%s * (uint64_t)%s);", a, a, v) : P("%s *= %s;", a, v);
    case OP_ReduceL1:
        if (dtype_is_float(dt))
            return P("%s += %s(%s);", a, emit_math(e, dt, "fabs"), v);
        return wrap ? P("%s = (int64_t)((uint64_t)%s + (%s < 0 ? 0 - (uint64_t)%s : (uint64_t)%s));",
                        a, a, v, v, v)
                    : P("%s += %s;", a, v);
    case OP_ReduceL2: case OP_ReduceSumSquare:
        if (wrap)
            return P("%s = (int64_t)((uint64_t)%s + (uint64_t)%s * (uint64_t)%s);", a, a, v, v);
        return dtype_is_float(dt) ? P("%s += %s * %s;", a, v, v) : P("%s += (uint64_t)%s * %s;", a, v, v);
    default: /* Sum, Mean, LogSum */
        return wrap ? P("%s = (int64_t)((uint64_t)%s + (uint64_t)%s);", a, a, v) : P("%s += %s;", a, v);
    }
}

/* The expression of the result from accumulator a (NULL: a itself, for
 * floats). Mean divides by the number of reduced elements (an empty set:
 * 0/0, NaN for floats, 0 for integers). */
static const char *reduce_finish(Emitter *e, OpKind op, DType dt, const char *a, int64_t count)
{
    bool fl = dtype_is_float(dt);
    const char *t = dtype_ctype(dt);
    switch (op) {
    case OP_ReduceMean:
        if (fl)
            return P("%s / %s", a, emit_flit(e, (double)count, dt));
        return count > 0 ? P("(%s)(%s / %lld)", t, a, (long long)count) : P("(%s)%s", t, a);
    case OP_ReduceL2:
        return fl ? P("%s(%s)", emit_math(e, dt, "sqrt"), a) : P("(%s)sqrt((double)%s)", t, a);
    case OP_ReduceLogSum:
        return fl ? P("%s(%s)", emit_math(e, dt, "log"), a) : P("(%s)log((double)%s)", t, a);
    default: return wide_acc(op, dt) ? P("(%s)%s", t, a) : NULL;
    }
}

/* Opens loops walking all of X in order, X's subscript in l->idx[0] and the
 * output element it folds into (reduced dims of stride 0) in l->idx[1]. */
static void walk_open(Emitter *e, const Shape *x, const bool *mask, EmitLoops *l)
{
    Shape kept = *x;
    for (int i = 0; i < x->rank; i++)
        kept.dims[i] = mask[i] ? 1 : x->dims[i];
    *l = (EmitLoops){.rank = x->rank, .n_ops = 2};
    for (int i = 0; i < x->rank; i++)
        l->dims[i] = x->dims[i];
    emit_bcast_strides(x, x, 1, l->strides[0]);
    emit_bcast_strides(x, &kept, 1, l->strides[1]);
    emit_loops_open(e, l);
    if (l->depth == 0) { /* a block of its own for the element's name */
        emit_line(e, "{");
        e->indent++;
    }
}

static void walk_close(Emitter *e, EmitLoops *l)
{
    if (l->depth == 0)
        emit_close(e);
    emit_loops_close(e, l);
}

/* Opens a loop over the ny outputs, returning the index expression. */
static const char *each_out_open(Emitter *e, int64_t ny)
{
    if (ny == 1)
        return "0";
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)ny);
    return "i";
}

static void each_out_close(Emitter *e, int64_t ny)
{
    if (ny != 1)
        emit_close(e);
}

/* ReduceLogSumExp: y = max + log Σ exp(x - max), max per output first; a
 * max of ±inf shifts by 0 instead, so all -inf gives -inf, not NaN. The sums
 * live in scratch (double for integer types). */
static void emit_logsumexp(Emitter *e, const Value *x, const bool *mask, int64_t ny)
{
    DType dt = x->dtype;
    bool fl = dtype_is_float(dt);
    const char *st = fl ? dtype_ctype(dt) : "double", *ys = e->out_name[0];
    EmitLoops l;
    e->scratch = ny * (fl ? (int64_t)dtype_size(dt) : 8);
    emit_line(e, "%s *sum = scratch;", st);
    const char *i = each_out_open(e, ny);
    if (fl)
        emit_line(e, "if (isinf(%s[%s])) %s[%s] = %s;", ys, i, ys, i, emit_flit(e, 0, dt));
    emit_line(e, "sum[%s] = 0;", i);
    each_out_close(e, ny);
    walk_open(e, &x->shape, mask, &l);
    const char *v = P("%s[%s]", e->in_name[0], l.idx[0]), *m = P("%s[%s]", ys, l.idx[1]);
    emit_line(e, "sum[%s] += %s(%s%s - %s%s);", l.idx[1], emit_math(e, fl ? dt : DT_F64, "exp"),
              fl ? "" : "(double)", v, fl ? "" : "(double)", m);
    walk_close(e, &l);
    i = each_out_open(e, ny);
    if (fl)
        emit_line(e, "%s[%s] += %s(sum[%s]);", ys, i, emit_math(e, dt, "log"), i);
    else
        emit_line(e, "%s[%s] = (%s)((double)%s[%s] + log(sum[%s]));", ys, i, dtype_ctype(dt), ys,
                  i, i);
    each_out_close(e, ny);
}

/* ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare: X walked
 * once in memory order, each element folded into its output's accumulator
 * (the reduced axes in attribute axes, any set of them); accumulators start
 * at the op's identity, and a last pass turns them into the outputs. */
/* ReduceSum / ReduceMean over the run-time batch (e->batch_rows: axis 0 is
 * reduced, pass/batch_rows.c): the walk over X's first nb rows only; a mean
 * divides by the count of those rows' reduced elements. */
static bool reduce_batch_rows(Emitter *e, const Node *n, const Value *x, const bool *mask,
                              const char *acc, int64_t count)
{
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt);
    int64_t N = x->shape.dims[0], ny = count ? shape_numel(&x->shape) / count : 0;
    Shape rest = {.rank = x->shape.rank - 1};
    for (int d = 1; d < x->shape.rank; d++)
        rest.dims[d - 1] = x->shape.dims[d];
    emit_open(e, "for (int n = 0; n < nb; n++)");
    emit_line(e, "const %s *row = %s + (size_t)n * %lld;", t, e->in_name[0],
              (long long)shape_numel(&rest));
    EmitLoops l;
    walk_open(e, &rest, mask + 1, &l);
    emit_line(e, "%s", reduce_step(e, n->op, dt, P("%s[%s]", acc, l.idx[1]), P("row[%s]", l.idx[0])));
    walk_close(e, &l);
    emit_close(e);
    const char *i = each_out_open(e, ny);
    if (n->op == OP_ReduceMean)
        emit_line(e, "%s[%s] = (%s)(%s[%s] / ((%s)nb * %s));", e->out_name[0], i, t, acc, i, t,
                  emit_flit(e, (double)(count / N), dt));
    else if (acc != e->out_name[0])
        emit_line(e, "%s[%s] = (%s)%s[%s];", e->out_name[0], i, t, acc, i);
    each_out_close(e, ny);
    return true;
}

bool k_reduce(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    DType dt = x->dtype;
    int64_t ny = shape_numel(&y->shape), count = 1;
    bool mask[IR_MAX_RANK] = {false};
    const Attr *axes = ir_attr(n, "axes");
    for (int k = 0; axes && k < axes->n; k++) {
        mask[axes->ints[k]] = true;
        count *= x->shape.dims[axes->ints[k]];
    }
    if (ny == 0)
        return true;
    const char *acc = e->out_name[0];
    if (wide_acc(n->op, dt)) {
        e->scratch = ny * 8;
        emit_line(e, "%s *acc = scratch;", is_unsigned(dt) ? "uint64_t" : "int64_t");
        acc = "acc";
    }
    const char *i = each_out_open(e, ny);
    emit_line(e, "%s[%s] = %s;", acc, i, reduce_init(e, n->op, dt));
    each_out_close(e, ny);
    if (e->batch_rows)
        return reduce_batch_rows(e, n, x, mask, acc, count);
    if (shape_numel(&x->shape) > 0) {
        EmitLoops l;
        walk_open(e, &x->shape, mask, &l);
        emit_line(e, "const %s v = %s[%s];", dtype_ctype(dt), e->in_name[0], l.idx[0]);
        emit_line(e, "%s", reduce_step(e, n->op, dt, P("%s[%s]", acc, l.idx[1]), "v"));
        walk_close(e, &l);
    }
    if (n->op == OP_ReduceLogSumExp) {
        emit_logsumexp(e, x, mask, ny);
        return true;
    }
    const char *fin = reduce_finish(e, n->op, dt, P("%s[%s]", acc, ny == 1 ? "0" : "i"), count);
    if (fin) {
        i = each_out_open(e, ny);
        emit_line(e, "%s[%s] = %s;", e->out_name[0], i, fin);
        each_out_close(e, ny);
    }
    return true;
}

/* ---- ArgMax, ArgMin, TopK ---- */

/* X as [outer, len, inner] around the node's (canonical) axis. */
static void axis_view(const Node *n, const Shape *s, int64_t *outer, int64_t *len, int64_t *inner)
{
    int axis = (int)ir_attr_int(n, "axis", 0);
    *outer = *inner = 1;
    for (int i = 0; i < s->rank; i++) {
        if (i < axis)
            *outer *= s->dims[i];
        else if (i > axis)
            *inner *= s->dims[i];
    }
    *len = s->dims[axis];
}

/* Opens the loops over outer and inner; returns "o * STEP + i" (the row's
 * offset for a row of `step` elements). */
static const char *rows_open(Emitter *e, int64_t outer, int64_t inner)
{
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    return inner > 1 ? " + i" : "";
}

static void rows_close(Emitter *e, int64_t inner)
{
    if (inner > 1)
        emit_close(e);
    emit_close(e);
}

/* "[j]" or "[j * inner]": element j of a row strided by inner. */
static const char *at(Emitter *e, const char *j, int64_t inner)
{
    return inner == 1 ? P("[%s]", j) : P("[%s * %lld]", j, (long long)inner);
}

/* ArgMax / ArgMin: per row along axis the index of the first (or with
 * select_last_index the last) extreme element; a NaN counts as the extreme,
 * as numpy.argmax/argmin do. Y int64 [outer, inner]. */
bool k_argreduce(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    int64_t outer, len, inner;
    axis_view(n, &x->shape, &outer, &len, &inner);
    if (outer * inner == 0)
        return true;
    bool last = ir_attr_int(n, "select_last_index", 0) != 0, fl = dtype_is_float(dt);
    const char *cmp = n->op == OP_ArgMax ? (last ? ">=" : ">") : (last ? "<=" : "<");
    const char *plus_i = rows_open(e, outer, inner);
    emit_line(e, "const %s *x = %s + o * %lld%s;", dtype_ctype(dt), e->in_name[0],
              (long long)(len * inner), plus_i);
    emit_line(e, "%s m = x[0];", dtype_ctype(dt));
    emit_line(e, "int64_t best = 0;");
    emit_open(e, "for (int j = 1; j < %lld; j++)", (long long)len);
    emit_line(e, "const %s v = x%s;", dtype_ctype(dt), at(e, "j", inner));
    if (!fl)
        emit_open(e, "if (v %s m)", cmp);
    else if (last)
        emit_open(e, "if (v %s m || isnan(v))", cmp);
    else
        emit_open(e, "if (v %s m || (isnan(v) && !isnan(m)))", cmp);
    emit_line(e, "m = v;");
    emit_line(e, "best = j;");
    emit_close(e);
    emit_close(e);
    emit_line(e, "%s[o * %lld%s] = best;", e->out_name[0], (long long)inner, plus_i);
    rows_close(e, inner);
    return true;
}

/* TopK: per row along axis, insertion of each element into the sorted list
 * of the best k so far (values in y0, indices in y1, both [outer, k, inner]);
 * an element goes after those it ties with, so ties keep index order. */
bool k_topk(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    const char *t = dtype_ctype(x->dtype);
    int64_t outer, len, inner, k = ir_attr_int(n, "k", 0);
    axis_view(n, &x->shape, &outer, &len, &inner);
    if (outer * inner == 0 || k == 0)
        return true;
    const char *cmp = ir_attr_int(n, "largest", 1) != 0 ? ">" : "<";
    const char *plus_i = rows_open(e, outer, inner);
    emit_line(e, "const %s *x = %s + o * %lld%s;", t, e->in_name[0], (long long)(len * inner), plus_i);
    emit_line(e, "%s *val = %s + o * %lld%s;", t, e->out_name[0], (long long)(k * inner), plus_i);
    emit_line(e, "int64_t *idx = %s + o * %lld%s;", e->out_name[1], (long long)(k * inner), plus_i);
    emit_line(e, "int m = 0; /* the list's length */");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
    emit_line(e, "const %s v = x%s;", t, at(e, "j", inner));
    emit_line(e, "int p = m;");
    emit_open(e, "while (p > 0 && v %s val%s)", cmp, at(e, "(p - 1)", inner));
    emit_line(e, "p--;");
    emit_close(e);
    emit_open(e, "if (p == %lld)", (long long)k);
    emit_line(e, "continue;");
    emit_close(e);
    emit_open(e, "if (m < %lld)", (long long)k);
    emit_line(e, "m++;");
    emit_close(e);
    emit_open(e, "for (int q = m - 1; q > p; q--)");
    emit_line(e, "val%s = val%s;", at(e, "q", inner), at(e, "(q - 1)", inner));
    emit_line(e, "idx%s = idx%s;", at(e, "q", inner), at(e, "(q - 1)", inner));
    emit_close(e);
    emit_line(e, "val%s = v;", at(e, "p", inner));
    emit_line(e, "idx%s = j;", at(e, "p", inner));
    emit_close(e);
    rows_close(e, inner);
    return true;
}
