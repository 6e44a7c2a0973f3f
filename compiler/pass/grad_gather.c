/* grad_gather.c — gradient rules (named in ops.def) of the indexing and
 * resampling ops: GatherElements, GatherND, the scatters, TopK, CumSum,
 * ReverseSequence, Trilu, Compress, MaxUnpool, Resize and Upsample, with torch autograd's
 * conventions. The backward of a gather is a scatter-add into zeros, that of
 * a scatter a gather, each an ordinary ONNX node; Resize's adjoint is the
 * kiln op ResizeGrad (ops_train_gather.def). Indices never get a gradient. */
#include "autodiff.h"

#include <string.h>

/* A one-output node of op at opset >= at_least (18: ScatterElements and
 * ScatterND take reduction = "add"; the elementwise ops broadcast). */
static Node *node_at(GradCtx *c, OpKind op, const int *in, int n_in, int at_least)
{
    Node *n = ad_node(c, op, in, n_in, 1);
    if (n->opset < at_least)
        n->opset = at_least;
    return n;
}

static const Shape *shape_of(GradCtx *c, int v)
{
    return &c->g->values[v]->shape;
}

static DType dtype_of(GradCtx *c, int v)
{
    return c->g->values[v]->dtype;
}

/* Zeros of v's shape and dtype: a scalar 0 expanded (a runtime fill, not a
 * constant in the weights). */
static int zeros_like(GradCtx *c, int v)
{
    const Shape *s = shape_of(c, v);
    int in[2] = {ad_scalar(c, dtype_of(c, v), 0), ad_ints(c, s->dims, s->rank)};
    return ad_finish(c, node_at(c, OP_Expand, in, 2, 13));
}

/* op(a, b, d) with axis (ScatterElements, GatherElements when d < 0) and
 * reduction (NULL: none) attributes. */
static int indexed(GradCtx *c, OpKind op, int a, int b, int d, const int64_t *axis,
                   const char *reduction)
{
    int in[3] = {a, b, d};
    Node *n = node_at(c, op, in, d >= 0 ? 3 : 2, 18);
    if (axis)
        ad_set_int(c, n, "axis", *axis);
    if (reduction)
        ad_set_str(c, n, "reduction", reduction);
    return ad_finish(c, n);
}

/* GatherElements (axis): Y[p] = X[p with p[axis] = I[p]], so
 * dX = ScatterElements(zeros, I, dY) with reduction add (repeated indices
 * add up; an index out of range gathered 0 and scatters nothing). */
bool grad_gather_elements(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    int64_t axis = ir_attr_int(n, "axis", 0);
    int dx = indexed(c, OP_ScatterElements, zeros_like(c, x), n->in[1], dy, &axis, "add");
    ad_accumulate(c, x, dx);
    return !c->d->errors;
}

/* The indices of a GatherND with batch_dims b > 0 rewritten for one with
 * batch_dims 0 over X viewed as [B, X.shape[b:]...] (B the product of the
 * batch dims): I viewed as [B, M, m], each tuple prefixed by its batch
 * number → [B, M, m + 1]. */
static int flat_batch_indices(GradCtx *c, int ind, int b, int64_t *B)
{
    const Shape *is = shape_of(c, ind);
    int64_t m = is->dims[is->rank - 1], M = 1;
    *B = 1;
    for (int i = 0; i < is->rank - 1; i++)
        *(i < b ? B : &M) *= is->dims[i];
    int64_t dims3[3] = {*B, M, m}, one[3] = {*B, M, 1};
    int flat = ad_op2(c, OP_Reshape, ind, ad_ints(c, dims3, 3));
    int64_t *iota = arena_alloc(c->g->arena, sizeof(int64_t) * (size_t)(*B + 1));
    for (int64_t k = 0; k < *B; k++)
        iota[k] = k;
    Shape bs = {.rank = 3, .dims = {*B, 1, 1}};
    Value *bv = ir_graph_add_temp(c->g, "grad/batch");
    ir_value_set_const(c->g, bv, DT_I64, &bs, iota);
    int in[2] = {bv->id, ad_ints(c, one, 3)};
    int col = ad_finish(c, node_at(c, OP_Expand, in, 2, 13));
    if (dtype_of(c, ind) != DT_I64) {
        Node *cast = node_at(c, OP_Cast, &col, 1, 13);
        ad_set_int(c, cast, "to", dtype_of(c, ind));
        col = ad_finish(c, cast);
    }
    int cat[2] = {col, flat};
    Node *cn = node_at(c, OP_Concat, cat, 2, 13);
    ad_set_int(c, cn, "axis", 2);
    return ad_finish(c, cn);
}

/* GatherND (batch_dims b): Y[batch, j, :] = X[batch, I[batch, j], :], so
 * dX = ScatterND(zeros, I, dY) with reduction add. ScatterND has no batch
 * dims: for b > 0 the batch dims of X and dY are flattened into one and
 * each index tuple gets its batch number in front (flat_batch_indices). */
bool grad_gather_nd(GradCtx *c, const Node *n)
{
    int x = n->in[0], ind = n->in[1], dy = ad_grad(c, n->out[0]);
    int b = (int)ir_attr_int(n, "batch_dims", 0);
    if (b == 0) {
        ad_accumulate(c, x, indexed(c, OP_ScatterND, zeros_like(c, x), ind, dy, NULL, "add"));
        return !c->d->errors;
    }
    const Shape *xs = shape_of(c, x), *ys = shape_of(c, dy), *is = shape_of(c, ind);
    int64_t B, M = 1;
    int idx = flat_batch_indices(c, ind, b, &B);
    Shape xf = {.rank = 1, .dims = {B}}, yf = {.rank = 2, .dims = {B, 1}};
    for (int i = b; i < xs->rank; i++)
        xf.dims[xf.rank++] = xs->dims[i];
    for (int i = b; i < is->rank - 1; i++)
        M *= is->dims[i];
    yf.dims[1] = M;
    for (int i = is->rank - 1; i < ys->rank; i++)
        yf.dims[yf.rank++] = ys->dims[i];
    if (yf.rank > IR_MAX_RANK) {
        ir_node_error(c->d, n, "training through this GatherND needs more than %d dims",
                      IR_MAX_RANK);
        return false;
    }
    int zeros = ad_op2(c, OP_Reshape, zeros_like(c, x), ad_ints(c, xf.dims, xf.rank));
    int dyf = ad_op2(c, OP_Reshape, dy, ad_ints(c, yf.dims, yf.rank));
    int dxf = indexed(c, OP_ScatterND, zeros, idx, dyf, NULL, "add");
    ad_accumulate(c, x, ad_reshape_like(c, dxf, x));
    return !c->d->errors;
}

/* ScatterElements / Scatter (axis) and ScatterND: Y = X with updates U
 * written (reduction none), added or multiplied at the indices.
 *   none: dX = dY with zeros where U was written; dU = dY gathered at the
 *         indices (a repeated index gives every update its place's dY, as
 *         torch's scatter: ONNX leaves the winner undefined)
 *   add:  dX = dY, dU = dY gathered
 *   mul:  dX = dY scattered with the same multiplications (each place's
 *         dY times the product of its updates); dU is not supported
 * max and min are not supported. */
bool grad_scatter(GradCtx *c, const Node *n)
{
    int x = n->in[0], ind = n->in[1], u = n->in[2], dy = ad_grad(c, n->out[0]);
    const char *red = ir_attr_str(n, "reduction", "none");
    bool nd = n->op == OP_ScatterND, none = strcmp(red, "none") == 0, add = strcmp(red, "add") == 0;
    bool mul = strcmp(red, "mul") == 0;
    int64_t axis = ir_attr_int(n, "axis", 0);
    OpKind scatter = nd ? OP_ScatterND : OP_ScatterElements;
    OpKind gather = nd ? OP_GatherND : OP_GatherElements;
    const int64_t *ax = nd ? NULL : &axis;
    if ((!none && !add && !mul) || (mul && ad_wants(c, u))) {
        ir_node_error(c->d, n, "training through a scatter with reduction '%s'%s is not supported",
                      red, mul ? " w.r.t. its updates" : "");
        return false;
    }
    if (ad_wants(c, x)) {
        int dx = add ? dy
                 : indexed(c, scatter, dy, ind, mul ? u : zeros_like(c, u), ax, mul ? "mul" : NULL);
        ad_accumulate(c, x, dx);
    }
    if (ad_wants(c, u))
        ad_accumulate(c, u, indexed(c, gather, dy, ind, -1, ax, NULL));
    return !c->d->errors;
}

/* TopK: the values output is X at the indices output along axis, so
 * dX = ScatterElements(zeros, Indices, dValues) (the indices are distinct). */
bool grad_topk(GradCtx *c, const Node *n)
{
    int x = n->in[0], dv = ad_grad(c, n->out[0]);
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (dv < 0)
        return !c->d->errors;
    int dx = indexed(c, OP_ScatterElements, zeros_like(c, x), n->out[1], dv, &axis, "add");
    ad_accumulate(c, x, dx);
    return !c->d->errors;
}

/* CumSum along axis (a constant or a runtime input): each X_i enters the
 * sums at and after i (before i in reverse; strictly so when exclusive), so
 * dX is the cumulative sum of dY the other way round, with the same
 * exclusive. */
bool grad_cumsum(GradCtx *c, const Node *n)
{
    int in[2] = {ad_grad(c, n->out[0]), n->in[1]};
    Node *g = ad_node(c, OP_CumSum, in, 2, 1);
    ad_set_int(c, g, "exclusive", ir_attr_int(n, "exclusive", 0) != 0);
    ad_set_int(c, g, "reverse", ir_attr_int(n, "reverse", 0) == 0);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* ReverseSequence and Trilu move or mask elements with a map that is its own
 * adjoint (a reversal undoes itself; a mask keeps the same places): dX is
 * the same op applied to dY with the same other inputs and attributes. */
bool grad_self_adjoint(GradCtx *c, const Node *n)
{
    int in[2] = {ad_grad(c, n->out[0]), n->n_in > 1 ? n->in[1] : -1};
    Node *g = ad_node(c, n->op, in, n->n_in, 1);
    g->opset = n->opset;
    ad_copy_attrs(c, g, n);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* Resize / Upsample (every mode, coordinate transformation and antialias;
 * the scales, sizes and roi carry no gradient): Y is linear in X, so
 * dX = ResizeGrad(dY), the adjoint of the forward's tap tables
 * (emit/k_resize.c). Positions extrapolated by tf_crop_and_resize take a
 * constant and give nothing back. */
bool grad_resize(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    DType dt = dtype_of(c, x);
    if (dt != DT_F32 && dt != DT_F64) {
        ir_node_error(c->d, n, "training through a %s resize is not supported (f32 and f64 are)",
                      dtype_name(dt));
        return false;
    }
    Node *g = ad_node(c, OP_ResizeGrad, &dy, 1, 1);
    const Shape *xs = shape_of(c, x);
    ad_copy_attrs(c, g, n);
    ad_set_str(c, g, "of", op_info[n->op].name);
    ad_set_int(c, g, "opset", n->opset);
    ad_set_ints(c, g, "shape", xs->dims, xs->rank);
    ad_accumulate(c, x, ad_finish(c, g));
    return !c->d->errors;
}

/* Compress (the condition a constant, as the kernel requires): Y is X's
 * slices along axis (of X flattened without one) where the condition is
 * true, a Gather at those positions, so dX = GatherGrad(dY) at them. */
bool grad_compress(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    const Value *cond = c->g->values[n->in[1]];
    const Attr *ax = ir_attr(n, "axis");
    const Shape *xs = shape_of(c, x);
    if (cond->kind != VAL_CONST || !cond->data) {
        ir_node_error(c->d, n, "training through a Compress needs a constant condition");
        return false;
    }
    int64_t axis = ax ? (ax->i < 0 ? ax->i + xs->rank : ax->i) : 0, kept = 0;
    int64_t *at = arena_alloc(c->g->arena, sizeof(int64_t) * (size_t)(cond->shape.dims[0] + 1));
    for (int64_t k = 0; k < cond->shape.dims[0]; k++)
        if (((const uint8_t *)cond->data)[k])
            at[kept++] = k;
    Shape flat = {.rank = 1, .dims = {shape_numel(xs)}};
    const Shape *target = ax ? xs : &flat;
    int in[2] = {dy, ad_ints(c, at, (int)kept)};
    Node *g = ad_node(c, OP_GatherGrad, in, 2, 1);
    ad_set_int(c, g, "axis", axis);
    ad_set_ints(c, g, "shape", target->dims, target->rank);
    ad_accumulate(c, x, ad_reshape_like(c, ad_finish(c, g), x));
    return !c->d->errors;
}

/* MaxUnpool: Y = 0 with Y[I[k]] = X[k] (I flat indices into Y; those
 * outside Y, negative included, write nothing), so dX[k] = dY[I[k]]: a
 * Gather from dY flattened, 0 where I < 0 (Gather would wrap it). */
bool grad_max_unpool(GradCtx *c, const Node *n)
{
    int x = n->in[0], ind = n->in[1], dy = ad_grad(c, n->out[0]);
    int64_t all = -1;
    int flat_dy = ad_op2(c, OP_Reshape, dy, ad_ints(c, &all, 1));
    int flat_i = ad_op2(c, OP_Reshape, ind, ad_ints(c, &all, 1));
    int in[2] = {flat_dy, flat_i};
    int got = ad_finish(c, node_at(c, OP_Gather, in, 2, 13));
    int zero_i = ad_scalar(c, dtype_of(c, ind), 0), zero = ad_scalar(c, dtype_of(c, x), 0);
    int ge[2] = {flat_i, zero_i};
    int ok = ad_finish(c, node_at(c, OP_GreaterOrEqual, ge, 2, 13));
    int sel[3] = {ok, got, zero};
    int dx = ad_finish(c, node_at(c, OP_Where, sel, 3, 13));
    ad_accumulate(c, x, ad_reshape_like(c, dx, x));
    return !c->d->errors;
}
