/* move.h — the data-movement ops described once. move_params reads and checks
 * a node's attributes and constant inputs and gives its output shapes;
 * move_build turns them into a short list of strided block copies and fills.
 * The shape rules (pass/shapes_movement.c) use the first, the fold rules
 * (pass/fold_movement.c) run the list at compile time and the kernels
 * (emit/k_movement.c) print it as loops, so folding and generated code can't
 * disagree. Header-only (static inline functions): pass/ and emit/ both
 * include it and may only include ir/.
 *
 * Ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
 * Expand, Tile, Pad, DepthToSpace, SpaceToDepth, EyeLike, ConstantOfShape;
 * and the spans of Shape and Trilu (move_shape_span, move_trilu_keep). */
#ifndef KILN_MOVE_H
#define KILN_MOVE_H

#include <stdio.h>
#include <string.h>

#include "ir.h"

#define MOVE_MAX_RANK (2 * IR_MAX_RANK)
#define MOVE_ERR_LEN 200

typedef enum MoveKind { MOVE_COPY, MOVE_FILL } MoveKind;

/* One step. For every index c over dims (row-major order):
 *   MOVE_COPY  dst[dst_off + Σ c_i·dst_stride_i] = src[src_off + Σ c_i·src_stride_i]
 *   MOVE_FILL  dst[dst_off + Σ c_i·dst_stride_i] = the fill value
 * in elements. dst is output `dst`. A copy reads input `src` when src >= 0,
 * else output -1 - src (a part an earlier step wrote; the parts never
 * overlap). A fill's value is element 0 of input `src` when src >= 0 (read at
 * run time), else the bytes `fill` (one element of the output dtype). */
typedef struct MoveStep {
    MoveKind kind;
    int dst, src;
    _Alignas(8) unsigned char fill[8]; /* any dtype is stored here in place */
    int rank;
    int64_t dims[MOVE_MAX_RANK];
    int64_t dst_off, src_off;
    int64_t dst_stride[MOVE_MAX_RANK], src_stride[MOVE_MAX_RANK];
} MoveStep;

typedef struct MoveProg {
    int n, cap;
    MoveStep *steps;
} MoveProg;

typedef enum MovePad { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } MovePad;

/* A node's parameters, normalized (axes non-negative, defaults applied). */
typedef struct MoveParams {
    DType dtype;               /* of every output */
    int n_out;
    Shape *out;                /* n_out output shapes */
    int axis;                  /* Concat, Split */
    int perm[IR_MAX_RANK];     /* Transpose: y dim i is x dim perm[i] */
    int64_t start[IR_MAX_RANK], step[IR_MAX_RANK]; /* Slice: first index, step */
    int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK];  /* Pad: pads per axis (< 0 crops) */
    int64_t rep[IR_MAX_RANK];  /* Tile */
    int64_t *split;            /* Split: n_out sizes along axis */
    int mode;                  /* Pad: MovePad; DepthToSpace: 0 DCR, 1 CRD */
    int64_t block;             /* DepthToSpace, SpaceToDepth */
    int64_t k;                 /* EyeLike: diagonal offset */
    int fill_src;              /* Pad: input with the constant value, or -1 */
    _Alignas(8) unsigned char fill[8]; /* Pad, ConstantOfShape: the fill value */
} MoveParams;

/* ---- reading a node ---- */

#define MOVE_FAIL(...) (snprintf(err, MOVE_ERR_LEN, __VA_ARGS__), false)

/* Integer tensor input i (int64/int32, constant) into vals: the count, or
 * -1 when absent, -2 when not a compile-time constant of at most max values. */
static inline int move_ints(const Graph *g, const Node *n, int i, int64_t *vals, int max)
{
    const Value *v = ir_in(g, n, i);
    if (!v)
        return -1;
    int64_t count = shape_numel(&v->shape);
    if (v->kind != VAL_CONST || !v->data || (v->dtype != DT_I64 && v->dtype != DT_I32) ||
        count < 0 || count > max)
        return -2;
    for (int64_t k = 0; k < count; k++)
        vals[k] = tensor_get_i(v->dtype, v->data, k);
    return (int)count;
}

/* The int list a node gives as attribute `name` before opset `from` and as
 * input i since: the count, -1 if absent, -2 (with err) if unusable. */
static inline int move_list(const Graph *g, const Node *n, const char *name, int from, int i,
                            int64_t *vals, int max, char *err)
{
    if (n->opset < from) {
        const Attr *a = ir_attr(n, name);
        if (!a)
            return -1;
        if (a->type != ATTR_INTS || a->n > max) {
            snprintf(err, MOVE_ERR_LEN, "attribute '%s' must be at most %d ints", name, max);
            return -2;
        }
        memcpy(vals, a->ints, sizeof(int64_t) * (size_t)a->n);
        return a->n;
    }
    int count = move_ints(g, n, i, vals, max);
    if (count == -2)
        snprintf(err, MOVE_ERR_LEN, "input '%s' must be a compile-time constant int tensor of at "
                 "most %d values", name, max);
    return count;
}

/* Normalizes axis a of a rank-r tensor into *out; false if out of range. */
static inline bool move_axis(int64_t a, int r, int *out)
{
    if (a < -r || a >= r)
        return false;
    *out = (int)(a < 0 ? a + r : a);
    return true;
}

/* Row-major element strides of s. */
static inline void move_strides(const Shape *s, int64_t *st)
{
    int64_t m = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        st[i] = m;
        m *= s->dims[i];
    }
}

/* ---- parameters and output shapes, per op (ONNX spec sections by name) ---- */

/* Reshape (shape input; 0 copies the input dim unless allowzero=1, opset
 * 14; one -1 is inferred) and Flatten (2-D split at axis in [-r, r]). */
static inline bool move_reshape(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Value *x = ir_in(g, n, 0);
    Shape *y = &p->out[0];
    if (n->op == OP_Flatten) {
        int r = x->shape.rank;
        int64_t axis = ir_attr_int(n, "axis", 1);
        if (axis < -r || axis > r)
            return MOVE_FAIL("axis %lld out of range for rank %d", (long long)axis, r);
        *y = (Shape){.rank = 2, .dims = {1, 1}};
        for (int i = 0; i < r; i++)
            y->dims[i < (axis < 0 ? axis + r : axis) ? 0 : 1] *= x->shape.dims[i];
        return true;
    }
    int64_t want[IR_MAX_RANK];
    int r = move_list(g, n, "shape", 0, 1, want, IR_MAX_RANK, err);
    if (r < 0)
        return false;
    bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1, total = shape_numel(&x->shape);
    y->rank = r;
    for (int i = 0; i < r; i++) {
        int64_t v = want[i];
        if (v == 0 && !allowzero) {
            if (i >= x->shape.rank)
                return MOVE_FAIL("target dim %d is 0 but the input has rank %d", i,
                                 x->shape.rank);
            v = x->shape.dims[i];
        }
        if (v == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (v < 0 || !size_mul_ok(known, v, &known))
            return MOVE_FAIL("target dim %d is invalid (%lld)", i, (long long)want[i]);
        y->dims[i] = v;
    }
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return MOVE_FAIL("can't infer -1: %lld elements into blocks of %lld", (long long)total,
                             (long long)known);
        y->dims[infer] = total / known;
    } else if (known != total) {
        char sx[128], sy[128];
        return MOVE_FAIL("can't reshape %s (%lld elements) to %s", shape_str(&x->shape, sx, 128),
                         (long long)total, shape_str(y, sy, 128));
    }
    return true;
}

/* Squeeze (axes optional: every size-1 dim) and Unsqueeze (axes index the
 * output); axes an attribute before opset 13, an input since. */
static inline bool move_squeeze(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    Shape *y = &p->out[0];
    int64_t axes[IR_MAX_RANK];
    int na = move_list(g, n, "axes", 13, 1, axes, IR_MAX_RANK, err);
    bool pick[IR_MAX_RANK] = {0};
    if (na == -2)
        return false;
    int r = n->op == OP_Unsqueeze ? x->rank + (na > 0 ? na : 0) : x->rank;
    if (n->op == OP_Unsqueeze && na < 0)
        return MOVE_FAIL("axes are required");
    if (r > IR_MAX_RANK)
        return MOVE_FAIL("the output would have rank %d, more than kiln's %d", r, IR_MAX_RANK);
    for (int k = 0; k < na; k++) {
        int a;
        if (!move_axis(axes[k], r, &a) || pick[a])
            return MOVE_FAIL("axes entry %lld is out of range or repeated", (long long)axes[k]);
        if (n->op == OP_Squeeze && x->dims[a] != 1)
            return MOVE_FAIL("can't squeeze axis %d of size %lld", a, (long long)x->dims[a]);
        pick[a] = true;
    }
    y->rank = 0;
    for (int i = 0, j = 0; i < r; i++) {
        if (n->op == OP_Unsqueeze)
            y->dims[y->rank++] = pick[i] ? 1 : x->dims[j++];
        else if (na >= 0 ? !pick[i] : x->dims[i] != 1)
            y->dims[y->rank++] = x->dims[i];
    }
    return true;
}

/* Transpose: perm defaults to reversing the dims. */
static inline bool move_transpose(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    const Attr *perm = ir_attr(n, "perm");
    int r = x->rank;
    bool seen[IR_MAX_RANK] = {0};
    if (perm && (perm->type != ATTR_INTS || perm->n != r))
        return MOVE_FAIL("perm must have %d entries", r);
    p->out[0].rank = r;
    for (int i = 0; i < r; i++) {
        int a;
        if (!move_axis(perm ? perm->ints[i] : r - 1 - i, r, &a) || seen[a])
            return MOVE_FAIL("perm is not a permutation of 0..%d", r - 1);
        seen[a] = true;
        p->perm[i] = a;
        p->out[0].dims[i] = x->dims[a];
    }
    return true;
}

/* Concat: inputs of one dtype and rank, equal but along axis. */
static inline bool move_concat(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Value *x0 = ir_in(g, n, 0);
    const Attr *axis = ir_attr(n, "axis");
    if (!axis || !move_axis(axis->i, x0->shape.rank, &p->axis))
        return MOVE_FAIL("attribute 'axis' is missing or out of range for rank %d",
                         x0->shape.rank);
    Shape *y = &p->out[0];
    *y = x0->shape;
    y->dims[p->axis] = 0;
    for (int k = 0; k < n->n_in; k++) {
        const Value *x = ir_in(g, n, k);
        if (!x)
            return MOVE_FAIL("input %d is missing", k);
        bool same = x->dtype == x0->dtype && x->shape.rank == x0->shape.rank;
        for (int i = 0; same && i < y->rank; i++)
            same = i == p->axis || x->shape.dims[i] == y->dims[i];
        if (!same) {
            char s0[128], s1[128];
            return MOVE_FAIL("input %d (%s[%s]) doesn't match input 0 (%s[%s]) off axis %d", k,
                             dtype_name(x->dtype), shape_str(&x->shape, s1, 128),
                             dtype_name(x0->dtype), shape_str(&x0->shape, s0, 128), p->axis);
        }
        y->dims[p->axis] += x->shape.dims[p->axis];
    }
    return true;
}

/* Split: sizes from the split attribute (before 13) or input (13+), else
 * equal parts; opset 18's num_outputs makes the last part the smaller one. */
static inline bool move_split(const Graph *g, const Node *n, Arena *a, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    if (!move_axis(ir_attr_int(n, "axis", 0), x->rank, &p->axis))
        return MOVE_FAIL("axis is out of range for rank %d", x->rank);
    int64_t dim = x->dims[p->axis], sum = 0;
    p->split = arena_alloc(a, sizeof(int64_t) * (size_t)p->n_out);
    int ns = move_list(g, n, "split", 13, 1, p->split, p->n_out, err);
    if (ns == -2)
        return false;
    if (ns >= 0 && ns != p->n_out)
        return MOVE_FAIL("split has %d entries for %d outputs", ns, p->n_out);
    int64_t chunk = (dim + p->n_out - 1) / p->n_out;
    if (ns < 0 && !ir_attr(n, "num_outputs") && dim % p->n_out != 0)
        return MOVE_FAIL("can't split %lld into %d equal parts", (long long)dim, p->n_out);
    for (int j = 0; j < p->n_out; j++) {
        if (ns < 0)
            p->split[j] = j + 1 < p->n_out ? chunk : dim - chunk * (p->n_out - 1);
        if (p->split[j] < 0 || p->split[j] > dim)
            return MOVE_FAIL("split sizes must be >= 0 and add up to %lld", (long long)dim);
        sum += p->split[j];
        p->out[j] = *x;
        p->out[j].dims[p->axis] = p->split[j];
    }
    if (sum != dim)
        return MOVE_FAIL("split sizes add up to %lld, not %lld", (long long)sum, (long long)dim);
    return true;
}

/* Slice: starts/ends/axes attributes before opset 10, inputs (with steps)
 * since; negative indices count from the end, then clamp to the dim
 * ([0, d] forwards, [-1, d-1] backwards). */
static inline bool move_slice(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
    int ns = move_list(g, n, "starts", 10, 1, st, IR_MAX_RANK, err);
    int ne = ns == -2 ? -2 : move_list(g, n, "ends", 10, 2, en, IR_MAX_RANK, err);
    int na = ne == -2 ? -2 : move_list(g, n, "axes", 10, 3, ax, IR_MAX_RANK, err);
    int np = na == -2 || n->opset < 10 ? -1
                                       : move_list(g, n, "steps", 10, 4, sp, IR_MAX_RANK, err);
    if (ns == -2 || ne == -2 || na == -2 || np == -2)
        return false;
    if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return MOVE_FAIL("starts, ends, axes and steps must have one length");
    p->out[0] = *x;
    for (int i = 0; i < x->rank; i++)
        p->start[i] = 0, p->step[i] = 1;
    bool seen[IR_MAX_RANK] = {0};
    for (int k = 0; k < ns; k++) {
        int a;
        if (!move_axis(na >= 0 ? ax[k] : k, x->rank, &a) || seen[a])
            return MOVE_FAIL("axes entry %d is out of range or repeated", k);
        seen[a] = true;
        int64_t d = x->dims[a], step = np >= 0 ? sp[k] : 1, s = st[k], e = en[k];
        if (step == 0)
            return MOVE_FAIL("steps entry %d is 0", k);
        s = s < 0 ? s + d : s;
        e = e < 0 ? e + d : e;
        int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? d : d - 1;
        s = s < 0 ? 0 : s > hi ? hi : s;
        e = e < lo ? lo : e > hi ? hi : e;
        int64_t mag = step > 0 ? step : step == INT64_MIN ? INT64_MAX : -step;
        int64_t count = step > 0 ? (e > s ? (e - s - 1) / mag + 1 : 0)
                                 : (s > e ? (s - e - 1) / mag + 1 : 0);
        p->start[a] = s;
        p->step[a] = step;
        p->out[0].dims[a] = count;
    }
    return true;
}

/* Expand: numpy broadcast of the input and the constant shape input. */
static inline bool move_expand(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int64_t want[IR_MAX_RANK];
    int r = move_list(g, n, "shape", 0, 1, want, IR_MAX_RANK, err);
    if (r < 0)
        return false;
    Shape *y = &p->out[0];
    y->rank = r > x->rank ? r : x->rank;
    for (int i = 0; i < y->rank; i++) {
        int ix = i - (y->rank - x->rank), iw = i - (y->rank - r);
        int64_t dx = ix >= 0 ? x->dims[ix] : 1, dw = iw >= 0 ? want[iw] : 1;
        if (dw < 0 || (dx != dw && dx != 1 && dw != 1)) {
            char sx[128];
            return MOVE_FAIL("can't expand %s: shape entry %d is %lld", shape_str(x, sx, 128), iw,
                             (long long)dw);
        }
        y->dims[i] = dx == 1 ? dw : dx;
    }
    return true;
}

/* Tile: repeats (one per dim, >= 0) from a constant input. */
static inline bool move_tile(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int r = move_list(g, n, "repeats", 0, 1, p->rep, IR_MAX_RANK, err);
    if (r < 0)
        return false;
    if (r != x->rank)
        return MOVE_FAIL("repeats has %d entries for rank %d", r, x->rank);
    p->out[0] = *x;
    for (int i = 0; i < r; i++)
        if (p->rep[i] < 0 || !size_mul_ok(x->dims[i], p->rep[i], &p->out[0].dims[i]))
            return MOVE_FAIL("repeats entry %d is invalid (%lld)", i, (long long)p->rep[i]);
    return true;
}

/* Pad's constant value: the value attribute before opset 11; since, the
 * optional input 2 — folded in when constant, else read at run time. */
static inline bool move_pad_value(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Value *x = ir_in(g, n, 0), *c = ir_in(g, n, 2);
    p->fill_src = -1;
    memset(p->fill, 0, sizeof p->fill);
    if (n->opset < 11) {
        tensor_set_f(x->dtype, p->fill, 0, ir_attr_float(n, "value", 0));
    } else if (c) {
        if (c->dtype != x->dtype || shape_numel(&c->shape) != 1)
            return MOVE_FAIL("constant_value must be one %s", dtype_name(x->dtype));
        if (c->kind == VAL_CONST && c->data)
            memcpy(p->fill, c->data, dtype_size(x->dtype));
        else
            p->fill_src = 2;
    }
    return true;
}

static inline int move_pad_mode(const char *mode)
{
    static const char *const names[] = {"constant", "reflect", "edge", "wrap"};
    for (int m = PAD_CONSTANT; m <= PAD_WRAP; m++)
        if (strcmp(mode, names[m]) == 0)
            return m;
    return -1;
}

/* The widest pad a mode allows on an axis that keeps `keep` elements:
 * reflect mirrors without repeating the edge, wrap repeats the kept part
 * at most once, edge needs an edge. */
static inline int64_t move_pad_max(int mode, int64_t keep)
{
    switch (mode) {
    case PAD_REFLECT: return keep - 1;
    case PAD_WRAP: return keep;
    case PAD_EDGE: return keep > 0 ? INT32_MAX : 0;
    default: return INT32_MAX;
    }
}

/* Pad: pads [x1_begin, x2_begin, …, x1_end, …] (attribute before opset 11,
 * input since; opset 18's axes input picks the axes they apply to; a
 * negative pad crops); modes constant, reflect, edge (and opset 19's wrap). */
static inline bool move_pad(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
    int np = move_list(g, n, "pads", 11, 1, pads, 2 * IR_MAX_RANK, err);
    int na = np == -2 || n->opset < 18 ? -1
                                       : move_list(g, n, "axes", 18, 3, axes, IR_MAX_RANK, err);
    if (np == -2 || na == -2)
        return false;
    int count = na >= 0 ? na : x->rank;
    if (np != 2 * count)
        return MOVE_FAIL("pads has %d entries, expected %d", np < 0 ? 0 : np, 2 * count);
    const char *mode = ir_attr_str(n, "mode", "constant");
    if ((p->mode = move_pad_mode(mode)) < 0)
        return MOVE_FAIL("mode '%s' is not one of constant, reflect, edge, wrap", mode);
    p->out[0] = *x;
    for (int k = 0; k < count; k++) {
        int a;
        if (!move_axis(na >= 0 ? axes[k] : k, x->rank, &a))
            return MOVE_FAIL("axes entry %d is out of range", k);
        int64_t b = pads[k], e = pads[k + count], d = x->dims[a];
        int64_t keep = d + (b < 0 ? b : 0) + (e < 0 ? e : 0);
        if (b < -d || e < -d || b > INT32_MAX || e > INT32_MAX || keep < 0)
            return MOVE_FAIL("pads %lld/%lld don't fit axis %d of size %lld", (long long)b,
                             (long long)e, a, (long long)d);
        int64_t max = move_pad_max(p->mode, keep);
        if (b > max || e > max)
            return MOVE_FAIL("%s padding of %lld/%lld is too wide for axis %d of size %lld", mode,
                             (long long)b, (long long)e, a, (long long)d);
        p->begin[a] = b;
        p->end[a] = e;
        p->out[0].dims[a] = d + b + e;
    }
    return p->mode != PAD_CONSTANT || move_pad_value(g, n, p, err);
}

/* DepthToSpace (blocksize b, mode DCR or CRD, opset 11) and SpaceToDepth:
 * NCHW with C divisible by b² / H and W divisible by b. */
static inline bool move_depth(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int64_t b = p->block = ir_attr_int(n, "blocksize", 0);
    if (x->rank != 4 || b <= 0)
        return MOVE_FAIL("needs a rank-4 input and blocksize > 0");
    Shape *y = &p->out[0];
    *y = *x;
    if (n->op == OP_DepthToSpace) {
        const char *mode = ir_attr_str(n, "mode", "DCR");
        p->mode = strcmp(mode, "CRD") == 0;
        if (!p->mode && strcmp(mode, "DCR") != 0)
            return MOVE_FAIL("mode '%s' is not DCR or CRD", mode);
        if (x->dims[1] % (b * b) != 0)
            return MOVE_FAIL("channels %lld don't divide by blocksize^2 %lld",
                             (long long)x->dims[1], (long long)(b * b));
        y->dims[1] /= b * b, y->dims[2] *= b, y->dims[3] *= b;
    } else {
        if (x->dims[2] % b != 0 || x->dims[3] % b != 0)
            return MOVE_FAIL("height and width don't divide by blocksize %lld", (long long)b);
        y->dims[1] *= b * b, y->dims[2] /= b, y->dims[3] /= b;
    }
    return true;
}

/* EyeLike: 2-D; ones on diagonal k; dtype attribute (default the input's). */
static inline bool move_eyelike(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    const Value *x = ir_in(g, n, 0);
    p->dtype = (DType)ir_attr_int(n, "dtype", x->dtype);
    if (x->shape.rank != 2)
        return MOVE_FAIL("input has rank %d, expected 2", x->shape.rank);
    if (dtype_size(p->dtype) == 0 || p->dtype == DT_STRING || p->dtype == DT_F16)
        return MOVE_FAIL("dtype %d is not supported", (int)p->dtype);
    int64_t k = ir_attr_int(n, "k", 0), R = x->shape.dims[0], C = x->shape.dims[1];
    p->k = k > C ? C : k < -R ? -R : k; /* beyond the matrix: all zeros either way */
    p->out[0] = x->shape;
    return true;
}

/* ConstantOfShape: constant 1-D int64 shape; value a one-element tensor
 * (default float 0). */
static inline bool move_constantofshape(const Graph *g, const Node *n, MoveParams *p, char *err)
{
    int64_t dims[IR_MAX_RANK];
    int r = move_list(g, n, "input", 0, 0, dims, IR_MAX_RANK, err);
    if (r < 0)
        return false;
    const Attr *v = ir_attr(n, "value");
    p->dtype = DT_F32;
    memset(p->fill, 0, sizeof p->fill);
    if (v) {
        if (v->type != ATTR_TENSOR || shape_numel(&v->t->shape) != 1 ||
            dtype_size(v->t->dtype) == 0 || v->t->dtype == DT_STRING || v->t->dtype == DT_F16)
            return MOVE_FAIL("value must be a one-element tensor of a supported dtype");
        p->dtype = v->t->dtype;
        memcpy(p->fill, v->t->data, dtype_size(p->dtype));
    }
    p->out[0].rank = r;
    for (int i = 0; i < r; i++) {
        if (dims[i] < 0)
            return MOVE_FAIL("shape entry %d is negative", i);
        p->out[0].dims[i] = dims[i];
    }
    return true;
}

/* Reads and checks node n; on success p holds its parameters and output
 * shapes (allocated in a), else err says what is wrong. */
static inline bool move_params(const Graph *g, const Node *n, Arena *a, MoveParams *p, char *err)
{
    const Value *x = ir_in(g, n, 0);
    memset(p, 0, sizeof *p);
    p->n_out = n->n_out;
    p->out = arena_alloc(a, sizeof(Shape) * (size_t)(n->n_out + 1));
    memset(p->out, 0, sizeof(Shape) * (size_t)(n->n_out + 1));
    p->dtype = x ? x->dtype : DT_UNDEF;
    switch (n->op) {
    case OP_Reshape:
    case OP_Flatten: return move_reshape(g, n, p, err);
    case OP_Squeeze:
    case OP_Unsqueeze: return move_squeeze(g, n, p, err);
    case OP_Transpose: return move_transpose(g, n, p, err);
    case OP_Concat: return move_concat(g, n, p, err);
    case OP_Split: return move_split(g, n, a, p, err);
    case OP_Slice: return move_slice(g, n, p, err);
    case OP_Expand: return move_expand(g, n, p, err);
    case OP_Tile: return move_tile(g, n, p, err);
    case OP_Pad: return move_pad(g, n, p, err);
    case OP_DepthToSpace:
    case OP_SpaceToDepth: return move_depth(g, n, p, err);
    case OP_EyeLike: return move_eyelike(g, n, p, err);
    case OP_ConstantOfShape: return move_constantofshape(g, n, p, err);
    default: KILN_ASSERT(!"move_params: not a data-movement op");
    }
    return false;
}

/* ---- the copy list ---- */

static inline MoveStep *move_add(MoveProg *prog, Arena *a, MoveKind kind, int dst, int src)
{
    if (prog->n == prog->cap)
        prog->steps = arena_grow(a, prog->steps, sizeof(MoveStep), &prog->cap, prog->n + 1);
    MoveStep *s = &prog->steps[prog->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind, s->dst = dst, s->src = src;
    return s;
}

/* A copy or fill over shape `over`, written densely (row-major) into dst. */
static inline MoveStep *move_add_dense(MoveProg *prog, Arena *a, MoveKind kind, int dst, int src,
                                       const Shape *over)
{
    MoveStep *s = move_add(prog, a, kind, dst, src);
    s->rank = over->rank;
    memcpy(s->dims, over->dims, sizeof(int64_t) * (size_t)over->rank);
    move_strides(over, s->dst_stride);
    if (kind == MOVE_COPY)
        move_strides(over, s->src_stride);
    return s;
}

/* Pad: the kept part of x, then per axis the slabs before and after it,
 * copied from what is already written (edge, reflect, wrap) or filled. */
static inline void move_build_pad(const Graph *g, const Node *n, const MoveParams *p, Arena *a,
                                  MoveProg *prog)
{
    const Shape *x = &ir_in(g, n, 0)->shape, *y = &p->out[0];
    int r = x->rank;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], lo[IR_MAX_RANK], len[IR_MAX_RANK];
    move_strides(x, xs);
    move_strides(y, ys);
    if (p->mode == PAD_CONSTANT) {
        MoveStep *f = move_add_dense(prog, a, MOVE_FILL, 0, p->fill_src, y);
        memcpy(f->fill, p->fill, sizeof f->fill);
    }
    MoveStep *c = move_add(prog, a, MOVE_COPY, 0, 0);
    c->rank = r;
    for (int i = 0; i < r; i++) {
        lo[i] = p->begin[i] > 0 ? p->begin[i] : 0;
        len[i] = y->dims[i] - lo[i] - (p->end[i] > 0 ? p->end[i] : 0);
        c->dims[i] = len[i];
        c->dst_stride[i] = ys[i], c->src_stride[i] = xs[i];
        c->dst_off += lo[i] * ys[i];
        c->src_off += (p->begin[i] < 0 ? -p->begin[i] : 0) * xs[i];
    }
    if (p->mode == PAD_CONSTANT)
        return;
    /* axis by axis: slabs span the finished extent on earlier axes and
     * the kept extent on later ones */
    for (int ax = 0; ax < r; ax++)
        for (int side = 0; side < 2; side++) {
            int64_t width = side ? y->dims[ax] - lo[ax] - len[ax] : lo[ax];
            if (width <= 0)
                continue;
            MoveStep *s = move_add(prog, a, MOVE_COPY, 0, -1);
            s->rank = r;
            for (int i = 0; i < r; i++) {
                s->dims[i] = i < ax ? y->dims[i] : i == ax ? width : len[i];
                s->dst_stride[i] = s->src_stride[i] = ys[i];
                int64_t first = i < ax ? 0 : lo[i];
                s->dst_off += first * ys[i];
                s->src_off += first * ys[i];
            }
            int64_t first = side ? lo[ax] + len[ax] : 0, last = lo[ax] + len[ax] - 1, from, step;
            if (p->mode == PAD_EDGE)
                from = side ? last : lo[ax], step = 0;
            else if (p->mode == PAD_REFLECT)
                from = side ? 2 * last - first : 2 * lo[ax] - first, step = -1;
            else
                from = side ? first - len[ax] : first + len[ax], step = 1;
            s->dst_off += (first - lo[ax]) * ys[ax];
            s->src_off += (from - lo[ax]) * ys[ax];
            s->src_stride[ax] = step * ys[ax];
        }
}

/* DepthToSpace / SpaceToDepth as one transposed copy over a 6-D view. */
static inline void move_build_depth(const Graph *g, const Node *n, const MoveParams *p, Arena *a,
                                    MoveProg *prog)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = p->block;
    MoveStep *s = move_add(prog, a, MOVE_COPY, 0, 0);
    s->rank = 6;
    if (n->op == OP_DepthToSpace) {
        /* y[n][c][h][i][w][j] = x[n][(i·b + j)·C' + c][h][w] (DCR) or
         *                       x[n][(c·b + i)·b + j][h][w] (CRD) */
        int64_t Cp = C / (b * b), HW = H * W;
        int64_t dims[6] = {N, Cp, H, b, W, b};
        int64_t src_dcr[6] = {C * HW, HW, W, b * Cp * HW, 1, Cp * HW};
        int64_t src_crd[6] = {C * HW, b * b * HW, W, b * HW, 1, HW};
        memcpy(s->dims, dims, sizeof dims);
        memcpy(s->src_stride, p->mode ? src_crd : src_dcr, sizeof dims);
    } else {
        /* y[n][(i·b + j)·C + c][h][w] = x[n][c][h·b + i][w·b + j] */
        int64_t dims[6] = {N, b, b, C, H / b, W / b};
        int64_t src[6] = {C * H * W, W, 1, H * W, b * W, b};
        memcpy(s->dims, dims, sizeof dims);
        memcpy(s->src_stride, src, sizeof dims);
    }
    Shape view = {.rank = 6};
    memcpy(view.dims, s->dims, sizeof(int64_t) * 6);
    move_strides(&view, s->dst_stride);
}

/* Tile: x into y's first block, then per axis from the last, that block
 * copied rep - 1 times along the axis (a contiguous run, as the axes after
 * it are complete by then). */
static inline void move_build_tile(const Graph *g, const Node *n, const MoveParams *p, Arena *a,
                                   MoveProg *prog)
{
    const Shape *x = &ir_in(g, n, 0)->shape;
    int r = x->rank;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
    move_strides(x, xs);
    move_strides(&p->out[0], ys);
    MoveStep *s = move_add_dense(prog, a, MOVE_COPY, 0, 0, x);
    memcpy(s->dst_stride, ys, sizeof ys);
    for (int ax = r - 1; ax >= 0; ax--) {
        if (p->rep[ax] <= 1)
            continue;
        int64_t block = x->dims[ax] * ys[ax];
        s = move_add(prog, a, MOVE_COPY, 0, -1);
        s->rank = ax + 2;
        for (int i = 0; i < ax; i++)
            s->dims[i] = x->dims[i], s->dst_stride[i] = s->src_stride[i] = ys[i];
        s->dims[ax] = p->rep[ax] - 1, s->dst_stride[ax] = block, s->src_stride[ax] = 0;
        s->dims[ax + 1] = block, s->dst_stride[ax + 1] = s->src_stride[ax + 1] = 1;
        s->dst_off = block;
    }
}

/* Concat: input k into its block along axis; Split: output j from its. */
static inline void move_build_blocks(const Graph *g, const Node *n, const MoveParams *p, Arena *a,
                                     MoveProg *prog)
{
    bool concat = n->op == OP_Concat;
    const Shape *whole = concat ? &p->out[0] : &ir_in(g, n, 0)->shape;
    int64_t ws[IR_MAX_RANK], at = 0;
    move_strides(whole, ws);
    for (int k = 0; k < (concat ? n->n_in : n->n_out); k++) {
        if (!concat && !ir_out(g, n, k)) {
            at += p->split[k];
            continue;
        }
        const Shape *part = concat ? &ir_in(g, n, k)->shape : &p->out[k];
        MoveStep *s = move_add_dense(prog, a, MOVE_COPY, concat ? 0 : k, concat ? k : 0, part);
        memcpy(concat ? s->dst_stride : s->src_stride, ws, sizeof ws);
        *(concat ? &s->dst_off : &s->src_off) = at * ws[p->axis];
        at += part->dims[p->axis];
    }
}

/* EyeLike: zeros, then ones from (row0, col0) down the diagonal. */
static inline void move_build_eyelike(const MoveParams *p, Arena *a, MoveProg *prog)
{
    int64_t R = p->out[0].dims[0], C = p->out[0].dims[1], k = p->k;
    int64_t r0 = k < 0 ? -k : 0, c0 = k > 0 ? k : 0;
    int64_t count = R - r0 < C - c0 ? R - r0 : C - c0;
    move_add_dense(prog, a, MOVE_FILL, 0, -1, &p->out[0]);
    if (count > 0) {
        MoveStep *s = move_add(prog, a, MOVE_FILL, 0, -1);
        tensor_set_i(p->dtype, s->fill, 0, 1);
        s->rank = 1, s->dims[0] = count, s->dst_stride[0] = C + 1, s->dst_off = r0 * C + c0;
    }
}

/* The copy list of node n (whose move_params gave p), in a. */
static inline void move_build(const Graph *g, const Node *n, const MoveParams *p, Arena *a,
                              MoveProg *prog)
{
    const Shape *y = &p->out[0];
    const Value *x = ir_in(g, n, 0);
    memset(prog, 0, sizeof *prog);
    switch (n->op) {
    case OP_Reshape:
    case OP_Flatten:
    case OP_Squeeze:
    case OP_Unsqueeze: {
        Shape flat = {.rank = 1, .dims = {shape_numel(y)}};
        move_add_dense(prog, a, MOVE_COPY, 0, 0, &flat);
        break;
    }
    case OP_Transpose: {
        int64_t xs[IR_MAX_RANK] = {0};
        MoveStep *s = move_add_dense(prog, a, MOVE_COPY, 0, 0, y);
        move_strides(&x->shape, xs);
        for (int i = 0; i < y->rank; i++)
            s->src_stride[i] = xs[p->perm[i]];
        break;
    }
    case OP_Slice: {
        int64_t xs[IR_MAX_RANK];
        MoveStep *s = move_add_dense(prog, a, MOVE_COPY, 0, 0, y);
        move_strides(&x->shape, xs);
        for (int i = 0; i < y->rank; i++) {
            s->src_stride[i] = xs[i] * p->step[i];
            s->src_off += xs[i] * p->start[i];
        }
        break;
    }
    case OP_Expand: {
        MoveStep *s = move_add_dense(prog, a, MOVE_COPY, 0, 0, y);
        int64_t st = 1;
        for (int i = y->rank - 1, j = x->shape.rank - 1; i >= 0; i--, j--) {
            s->src_stride[i] = j >= 0 && x->shape.dims[j] != 1 ? st : 0;
            st *= j >= 0 ? x->shape.dims[j] : 1;
        }
        break;
    }
    case OP_Concat:
    case OP_Split: move_build_blocks(g, n, p, a, prog); break;
    case OP_Tile: move_build_tile(g, n, p, a, prog); break;
    case OP_Pad: move_build_pad(g, n, p, a, prog); break;
    case OP_DepthToSpace:
    case OP_SpaceToDepth: move_build_depth(g, n, p, a, prog); break;
    case OP_EyeLike: move_build_eyelike(p, a, prog); break;
    case OP_ConstantOfShape:
        memcpy(move_add_dense(prog, a, MOVE_FILL, 0, -1, y)->fill, p->fill, sizeof p->fill);
        break;
    default: KILN_ASSERT(!"move_build: not a data-movement op");
    }
}

/* Drops empty-stride size-1 dims and merges dims a step walks as one run;
 * a step with a zero dim becomes rank 1 of size 0. */
static inline void move_simplify(MoveStep *s)
{
    int r = 0;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i] == 0) {
            s->rank = 1, s->dims[0] = 0;
            return;
        }
        if (s->dims[i] == 1)
            continue;
        if (r > 0 && s->dst_stride[r - 1] == s->dst_stride[i] * s->dims[i] &&
            s->src_stride[r - 1] == s->src_stride[i] * s->dims[i]) {
            s->dims[r - 1] *= s->dims[i];
            s->dst_stride[r - 1] = s->dst_stride[i];
            s->src_stride[r - 1] = s->src_stride[i];
            continue;
        }
        s->dims[r] = s->dims[i];
        s->dst_stride[r] = s->dst_stride[i];
        s->src_stride[r] = s->src_stride[i];
        r++;
    }
    if (r == 0) /* a single element */
        s->dims[0] = 1, s->dst_stride[0] = s->src_stride[0] = 1, r = 1;
    s->rank = r;
}

/* ---- Shape (opset 15): the dims [start, end) it returns; start and end
 * count from the back when negative and clamp to [0, rank]. ---- */

static inline void move_shape_span(const Node *n, int rank, int *start, int *end)
{
    int64_t s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", rank);
    s = s < 0 ? s + rank : s;
    e = e < 0 ? e + rank : e;
    *start = (int)(s < 0 ? 0 : s > rank ? rank : s);
    *end = (int)(e < 0 ? 0 : e > rank ? rank : e);
    if (*end < *start)
        *end = *start;
}

/* ---- Trilu (ONNX Trilu, opset 14): per row i of the last two dims, the
 * kept columns j are j - i >= k (upper) or j - i <= k (lower). ---- */

static inline bool move_trilu_keep(bool upper, int64_t k, int64_t i, int64_t j)
{
    return upper ? j - i >= k : j - i <= k;
}

#undef MOVE_FAIL

/* The forward node of a MoveGrad node n (the kiln op autodiff adds for
 * Split, Slice, Pad, …; see pass/grad_misc.c), rebuilt with in[] and out[] as
 * its arrays so move_params/move_build describe the copies to run backwards:
 * its X is n's output (the shape X had), its other inputs n's inputs after
 * the n_dy gradients, its outputs the gradients (-1 where none flows, which
 * the copy list then skips). Used by the shape rule and the kernel alike. */
static inline void move_grad_forward(const Node *n, Node *fwd, int *in, int *out)
{
    int m = (int)ir_attr_int(n, "n_dy", 1);
    memset(fwd, 0, sizeof *fwd);
    fwd->op = op_from_name(ir_attr_str(n, "of", ""));
    fwd->name = n->name;
    fwd->opset = (int)ir_attr_int(n, "opset", 13);
    fwd->n_in = n->n_in - m + 1;
    fwd->n_out = m;
    in[0] = n->out[0];
    for (int i = 1; i < fwd->n_in; i++)
        in[i] = n->in[m + i - 1];
    for (int j = 0; j < m; j++)
        out[j] = n->in[j];
    fwd->in = in;
    fwd->out = out;
    fwd->attrs = n->attrs;
    fwd->n_attr = n->n_attr;
}

#endif
