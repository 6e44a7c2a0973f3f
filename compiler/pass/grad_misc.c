/* grad_misc.c — gradient rules (named in ops.def) of the elementwise math
 * ops beyond the MLP's, the variadic and selection ops, the data-movement ops
 * and the reductions, with torch autograd's conventions. Most are built from
 * existing ops; the data-movement ops share one backward op, MoveGrad (the
 * adjoint of their copy list in ir/move.h), and Gather scatters with
 * GatherGrad (both in ops_train_misc.def). */
#include "autodiff.h"

#include <string.h>

static DType dtype_of(GradCtx *c, int v)
{
    return c->g->values[v]->dtype;
}

/* x converted to dtype dt (a Cast node), or x itself when it has it. */
static int cast_to(GradCtx *c, int x, DType dt)
{
    if (x < 0 || dtype_of(c, x) == dt)
        return x;
    Node *n = ad_node13(c, OP_Cast, &x, 1);
    ad_set_int(c, n, "to", dt);
    return ad_finish(c, n);
}

/* x broadcast to s (Expand). */
static int expand_to(GradCtx *c, int x, const Shape *s)
{
    if (x < 0 || shape_equal(&c->g->values[x]->shape, s))
        return x;
    return ad_op13_2(c, OP_Expand, x, ad_ints(c, s->dims, s->rank));
}

/* Adds gv, summed down to v's shape, to v's gradient when v wants one. */
static void give(GradCtx *c, int v, int gv)
{
    if (ad_wants(c, v))
        ad_accumulate(c, v, ad_unbroadcast(c, gv, v));
}

/* ---- elementwise ---- */

/* Sign, Floor, Ceil, Round: piecewise constant, so the gradient is zero
 * almost everywhere (torch's zeros); nothing flows back. */
bool grad_zero(GradCtx *c, const Node *n)
{
    (void)n;
    return !c->d->errors;
}

/* Cast and CastLike between float types: dX = dY cast back to X's type
 * (torch's .to()); a cast to or from integers carries no gradient. */
bool grad_cast(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    DType dt = dtype_of(c, x);
    if (dtype_is_float(dt) && dtype_is_float(dtype_of(c, dy)))
        ad_accumulate(c, x, cast_to(c, dy, dt));
    return !c->d->errors;
}

/* True when v is a constant with no zero element. */
static bool const_nonzero(GradCtx *c, int v)
{
    const Value *x = c->g->values[v];
    if (x->kind != VAL_CONST || !x->data)
        return false;
    for (int64_t k = 0; k < shape_numel(&x->shape); k++)
        if (tensor_get_f(x->dtype, x->data, k) == 0)
            return false;
    return true;
}

/* Pow (Y = A^B, broadcasting; B may be an integer type): as torch's
 * pow_backward_self / pow_backward_exponent,
 *   dA = B == 0 ? 0 : dY B A^(B-1)
 *   dB = (A == 0 && B >= 0) ? 0 : dY Y log(A). */
bool grad_pow(GradCtx *c, const Node *n)
{
    int a = n->in[0], b = n->in[1], y = n->out[0], dy = ad_grad(c, y);
    DType dt = dtype_of(c, y);
    int bf = cast_to(c, b, dt), zero = ad_scalar(c, dt, 0);
    if (ad_wants(c, a)) {
        int pw = ad_op13_2(c, OP_Pow, a, ad_op13_2(c, OP_Sub, bf, ad_scalar(c, dt, 1)));
        int da = ad_op13_2(c, OP_Mul, dy, ad_op13_2(c, OP_Mul, bf, pw));
        if (!const_nonzero(c, b))
            da = ad_op13_3(c, OP_Where, ad_op13_2(c, OP_Equal, bf, zero), zero, da);
        give(c, a, da);
    }
    if (ad_wants(c, b)) {
        int db = ad_op13_2(c, OP_Mul, dy, ad_op13_2(c, OP_Mul, y, ad_op13_1(c, OP_Log, a)));
        int at0 = ad_op13_2(c, OP_And, ad_op13_2(c, OP_Equal, a, zero), ad_op13_2(c, OP_GreaterOrEqual, bf, zero));
        give(c, b, ad_op13_3(c, OP_Where, at0, zero, db));
    }
    return !c->d->errors;
}

/* PRelu (Y = X > 0 ? X : slope X): as torch,
 *   dX = X > 0 ? dY : slope dY,   dslope = X > 0 ? 0 : X dY summed to slope.
 * Before opset 7 a 1-D slope lies along X's channel dim: it is reshaped to
 * the shape it broadcasts from (ir_elem_operand_shape) and back. */
bool grad_prelu(GradCtx *c, const Node *n)
{
    int x = n->in[0], s = n->in[1], dy = ad_grad(c, n->out[0]);
    DType dt = dtype_of(c, x);
    Shape ss;
    ir_elem_operand_shape(c->g, n, 1, &ss);
    int sv = ad_reshape_to(c, s, &ss), zero = ad_scalar(c, dt, 0);
    int pos = ad_op13_2(c, OP_Greater, x, zero);
    if (ad_wants(c, x))
        give(c, x, ad_op13_3(c, OP_Where, pos, dy, ad_op13_2(c, OP_Mul, dy, sv)));
    if (ad_wants(c, s)) {
        int ds = ad_unbroadcast(c, ad_op13_3(c, OP_Where, pos, zero, ad_op13_2(c, OP_Mul, x, dy)), sv);
        ad_accumulate(c, s, ad_reshape_to(c, ds, &c->g->values[s]->shape));
    }
    return !c->d->errors;
}

/* Max, Min (variadic, broadcasting): each input equal to Y gets dY, split
 * evenly among the inputs that tie (torch's maximum/minimum give half to
 * each of two): dX_i = dY [X_i == Y] / #{j : X_j == Y}. */
bool grad_minmax(GradCtx *c, const Node *n)
{
    int y = n->out[0], dy = ad_grad(c, y);
    DType dt = dtype_of(c, y);
    if (n->n_in == 1) {
        give(c, n->in[0], dy);
        return !c->d->errors;
    }
    int *mask = arena_alloc(c->g->arena, sizeof(int) * (size_t)n->n_in), count = -1;
    for (int i = 0; i < n->n_in; i++) {
        mask[i] = cast_to(c, ad_op13_2(c, OP_Equal, n->in[i], y), dt);
        count = count < 0 ? mask[i] : ad_op13_2(c, OP_Add, count, mask[i]);
    }
    int share = ad_op13_2(c, OP_Div, dy, count);
    for (int i = 0; i < n->n_in; i++)
        if (ad_wants(c, n->in[i]))
            give(c, n->in[i], ad_op13_2(c, OP_Mul, share, mask[i]));
    return !c->d->errors;
}

/* Sum, Mean (variadic, broadcasting): dX_i = dY (/ N for Mean), summed to
 * X_i's shape. */
bool grad_sum(GradCtx *c, const Node *n)
{
    int dy = ad_grad(c, n->out[0]);
    if (n->op == OP_Mean && n->n_in > 1)
        dy = ad_op13_2(c, OP_Mul, dy, ad_scalar(c, dtype_of(c, dy), 1.0 / n->n_in));
    for (int i = 0; i < n->n_in; i++)
        give(c, n->in[i], dy);
    return !c->d->errors;
}

/* Where(cond, X, Y): dX = cond ? dY : 0, dY' = cond ? 0 : dY, each summed
 * to its operand's shape; the condition has none. */
bool grad_where(GradCtx *c, const Node *n)
{
    int cond = n->in[0], dy = ad_grad(c, n->out[0]);
    int zero = ad_scalar(c, dtype_of(c, dy), 0);
    if (ad_wants(c, n->in[1]))
        give(c, n->in[1], ad_op13_3(c, OP_Where, cond, dy, zero));
    if (ad_wants(c, n->in[2]))
        give(c, n->in[2], ad_op13_3(c, OP_Where, cond, zero, dy));
    return !c->d->errors;
}

/* ---- data movement ---- */

/* Expand: dX = dY summed over the broadcast dims. */
bool grad_expand(GradCtx *c, const Node *n)
{
    give(c, n->in[0], ad_grad(c, n->out[0]));
    return !c->d->errors;
}

/* Concat: each input's gradient is its block of dY (a Slice along axis). */
bool grad_concat(GradCtx *c, const Node *n)
{
    int dy = ad_grad(c, n->out[0]), r = c->g->values[dy]->shape.rank;
    int64_t axis = ir_attr_int(n, "axis", 0), at = 0;
    if (axis < 0)
        axis += r;
    for (int i = 0; i < n->n_in; i++) {
        int64_t len = c->g->values[n->in[i]]->shape.dims[axis];
        if (ad_wants(c, n->in[i])) {
            int64_t start = at, end = at + len;
            int in[4] = {dy, ad_ints(c, &start, 1), ad_ints(c, &end, 1), ad_ints(c, &axis, 1)};
            ad_accumulate(c, n->in[i], ad_finish(c, ad_node13(c, OP_Slice, in, 4)));
        }
        at += len;
    }
    return !c->d->errors;
}

/* Tile: each element of X was repeated along the axes with repeats > 1, so
 * dX sums those copies: dY viewed as [r0, x0, r1, x1, …] (an axis split
 * only where its repeat is > 1), summed over the r's (SumToShape), viewed
 * as X. */
bool grad_tile(GradCtx *c, const Node *n)
{
    const Shape *xs = &c->g->values[n->in[0]]->shape;
    int64_t rep[IR_MAX_RANK];
    int r = rule_const_ints(c->g, n, 1, rep, IR_MAX_RANK);
    Shape split = {0}, kept = {0};
    for (int i = 0; i < r && i < xs->rank; i++) {
        if (rep[i] > 1 && split.rank < IR_MAX_RANK) {
            split.dims[split.rank++] = rep[i];
            kept.dims[kept.rank++] = 1;
        }
        if (split.rank < IR_MAX_RANK) {
            split.dims[split.rank++] = xs->dims[i];
            kept.dims[kept.rank++] = xs->dims[i];
        }
    }
    if (r != xs->rank || split.rank >= IR_MAX_RANK) {
        ir_node_error(c->d, n, "training through this Tile needs constant repeats and at most %d "
                               "dims counting each repeated one twice", IR_MAX_RANK - 1);
        return false;
    }
    int dy = ad_reshape_to(c, ad_grad(c, n->out[0]), &split);
    Node *sum = ad_node13(c, OP_SumToShape, &dy, 1);
    ad_set_ints(c, sum, "shape", kept.dims, kept.rank);
    ad_accumulate(c, n->in[0], ad_reshape_to(c, ad_finish(c, sum), xs));
    return !c->d->errors;
}

/* Split, Slice, Pad, DepthToSpace, SpaceToDepth: dX = MoveGrad(dY…),
 * the adjoint of the forward op's copy list (ir/move.h): every element of
 * X that was copied somewhere collects the gradients of those places.
 * Inputs: the gradients of the forward outputs (-1 where none flows), then
 * the forward inputs after X (the constant starts, pads, repeats, …);
 * attributes: the forward op's, plus "of" (its name), "opset" and "shape"
 * (X's). The pad value of Pad gets no gradient. */
bool grad_move(GradCtx *c, const Node *n)
{
    int m = n->n_out, k = n->n_in;
    int *in = arena_alloc(c->g->arena, sizeof(int) * (size_t)(m + k));
    for (int j = 0; j < m; j++)
        in[j] = n->out[j] >= 0 ? ad_grad(c, n->out[j]) : -1;
    for (int i = 1; i < k; i++)
        in[m + i - 1] = n->in[i];
    Node *g = ad_node(c, OP_MoveGrad, in, m + k - 1, 1);
    const Shape *xs = &c->g->values[n->in[0]]->shape;
    ad_copy_attrs(c, g, n);
    ad_set_str(c, g, "of", op_info[n->op].name);
    ad_set_int(c, g, "opset", n->opset);
    ad_set_int(c, g, "n_dy", m);
    ad_set_ints(c, g, "shape", xs->dims, xs->rank);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* Gather: dX = zeros of X's shape with dY's slices added at the gathered
 * indices along axis (repeated indices add up): GatherGrad. */
bool grad_gather(GradCtx *c, const Node *n)
{
    const Shape *xs = &c->g->values[n->in[0]]->shape;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += xs->rank;
    int in[2] = {ad_grad(c, n->out[0]), n->in[1]};
    Node *g = ad_node(c, OP_GatherGrad, in, 2, 1);
    ad_set_int(c, g, "axis", axis);
    ad_set_ints(c, g, "shape", xs->dims, xs->rank);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* ---- reductions ---- */

/* The mask/count ReduceSum of the ReduceMax/Min rule, in the canonical form
 * shape_reduce gives (axes attribute, keepdims 1). */
static int reduce_sum_kept(GradCtx *c, int x, const Attr *axes)
{
    Node *r = ad_node13(c, OP_ReduceSum, &x, 1);
    ad_set_ints(c, r, "axes", axes->ints, axes->n);
    ad_set_int(c, r, "keepdims", 1);
    ad_set_int(c, r, "noop_with_empty_axes", 1);
    return ad_finish(c, r);
}

/* The Reduce ops over the reduced axes (the canonical "axes" attribute the
 * shape rule leaves; empty: nothing reduced, Y = X). With dY and Y reshaped
 * to X's rank (reduced dims 1, "kept"), broadcasting against X:
 *   ReduceSum        dX = dY
 *   ReduceMean       dX = dY / n (n elements per reduced group)
 *   ReduceSumSquare  dX = 2 X dY
 *   ReduceL1         dX = sign(X) dY
 *   ReduceL2         dX = X dY / Y, 0 where Y = 0 (torch's norm)
 *   ReduceLogSum     dX = dY / exp(Y)
 *   ReduceLogSumExp  dX = dY exp(X - Y)
 *   ReduceMax/Min    dX = dY [X == Y] / #ties, split evenly (torch's amax) */
bool grad_reduce(GradCtx *c, const Node *n)
{
    int x = n->in[0], y = n->out[0], dy = ad_grad(c, y);
    const Value *xv = c->g->values[x];
    DType dt = xv->dtype;
    const Attr *axes = ir_attr(n, "axes");
    if (!axes || axes->type != ATTR_INTS) {
        ir_node_error(c->d, n, "training through this reduction needs its axes resolved");
        return false;
    }
    Shape kept = xv->shape;
    int64_t count = 1;
    for (int k = 0; k < axes->n; k++) {
        count *= kept.dims[axes->ints[k]];
        kept.dims[axes->ints[k]] = 1;
    }
    int dyk = ad_reshape_to(c, dy, &kept), yk = ad_reshape_to(c, y, &kept), dx = -1;
    int zero = ad_scalar(c, dt, 0);
    switch (n->op) {
    case OP_ReduceSum: dx = dyk; break;
    case OP_ReduceMean: dx = ad_op13_2(c, OP_Mul, dyk, ad_scalar(c, dt, 1.0 / (double)count)); break;
    case OP_ReduceSumSquare: dx = ad_op13_2(c, OP_Mul, ad_op13_2(c, OP_Mul, x, ad_scalar(c, dt, 2)), dyk); break;
    case OP_ReduceL1: dx = ad_op13_2(c, OP_Mul, ad_op13_1(c, OP_Sign, x), dyk); break;
    case OP_ReduceL2: {
        int scale = ad_op13_3(c, OP_Where, ad_op13_2(c, OP_Equal, yk, zero), zero, ad_op13_2(c, OP_Div, dyk, yk));
        dx = ad_op13_2(c, OP_Mul, x, scale);
        break;
    }
    case OP_ReduceLogSum: dx = ad_op13_2(c, OP_Div, dyk, ad_op13_1(c, OP_Exp, yk)); break;
    case OP_ReduceLogSumExp: dx = ad_op13_2(c, OP_Mul, dyk, ad_op13_1(c, OP_Exp, ad_op13_2(c, OP_Sub, x, yk))); break;
    case OP_ReduceMax:
    case OP_ReduceMin: {
        int mask = cast_to(c, ad_op13_2(c, OP_Equal, x, yk), dt);
        int ties = axes->n ? reduce_sum_kept(c, mask, axes) : mask;
        dx = ad_op13_2(c, OP_Mul, mask, ad_op13_2(c, OP_Div, dyk, ties));
        break;
    }
    default: KILN_ASSERT(!"grad_reduce: not a differentiable reduction");
    }
    int gx = expand_to(c, dx, &xv->shape);
    bool sum = n->op == OP_ReduceSum || n->op == OP_ReduceMean;
    if (sum && c->g->batch.max > 0 && xv->shape.rank > 0 && kept.dims[0] == 1 &&
        xv->shape.dims[0] == c->g->batch.max) { /* over a run-time batch: only its real rows */
        int in[2] = {gx, x};
        Node *rows = ad_node(c, OP_BatchRows, in, 2, 1);
        ad_set_int(c, rows, "mean", n->op == OP_ReduceMean);
        gx = ad_finish(c, rows);
    }
    ad_accumulate(c, x, gx);
    return !c->d->errors;
}
