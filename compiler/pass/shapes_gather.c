/* shapes_gather.c — shape rules of the indexing, scatter and resampling ops
 * (ONNX spec sections Gather, GatherElements, GatherND, ScatterElements,
 * Scatter, ScatterND, OneHot, CumSum, ReverseSequence, Resize, Upsample).
 * Index tensors are data and may be runtime inputs; every input that sets
 * an output dimension (OneHot's depth, Resize's scales/sizes) must be a
 * compile-time constant. */
#include "pass.h"

#include <math.h>
#include <string.h>

static bool is_index_type(DType t)
{
    return t == DT_I64 || t == DT_I32;
}

static bool check_indices(const Node *n, const Value *v, Diag *d)
{
    if (!is_index_type(v->dtype)) {
        ir_node_error(d, n, "indices '%s' must be int32 or int64, got %s", v->name,
                      dtype_name(v->dtype));
        return false;
    }
    return true;
}

static bool get_axis(const Node *n, int64_t dflt, int rank, int *axis, Diag *d)
{
    int64_t a = ir_attr_int(n, "axis", dflt);
    if (rank < 1 || !rule_axis(a, rank, axis)) {
        ir_node_error(d, n, "axis %lld out of range for rank %d", (long long)a, rank);
        return false;
    }
    return true;
}

/* Gather (opsets 1, 11, 13): data [d0..d(r-1)], indices of shape Q along
 * axis; Y = d[:axis] + Q + d[axis+1:]. Negative indices count from the end. */
bool shape_gather(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    int r = x->shape.rank, q = ind->shape.rank, axis;
    if (!check_indices(n, ind, d) || !get_axis(n, 0, r, &axis, d))
        return false;
    if (r - 1 + q > IR_MAX_RANK) {
        ir_node_error(d, n, "output rank %d exceeds %d", r - 1 + q, IR_MAX_RANK);
        return false;
    }
    Shape y = {.rank = r - 1 + q};
    int k = 0;
    for (int i = 0; i < axis; i++)
        y.dims[k++] = x->shape.dims[i];
    for (int i = 0; i < q; i++)
        y.dims[k++] = ind->shape.dims[i];
    for (int i = axis + 1; i < r; i++)
        y.dims[k++] = x->shape.dims[i];
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* Indices of GatherElements / ScatterElements: the rank of data, and no
 * larger than data in every dim but axis (so non-axis coordinates are in
 * range by construction). */
static bool check_elements_indices(const Node *n, const Value *x, const Value *ind, int axis,
                                   Diag *d)
{
    if (!check_indices(n, ind, d))
        return false;
    if (ind->shape.rank != x->shape.rank) {
        ir_node_error(d, n, "indices have rank %d, data rank %d; they must be equal",
                      ind->shape.rank, x->shape.rank);
        return false;
    }
    for (int i = 0; i < x->shape.rank; i++)
        if (i != axis && ind->shape.dims[i] > x->shape.dims[i]) {
            ir_node_error(d, n, "indices dim %d is %lld, larger than data's %lld", i,
                          (long long)ind->shape.dims[i], (long long)x->shape.dims[i]);
            return false;
        }
    return true;
}

/* GatherElements (opsets 11, 13): Y has the shape of indices;
 * Y[i0..ik..] = data[i0..indices[i0..ik..]..] with the index at axis. */
bool shape_gather_elements(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    int axis;
    if (!get_axis(n, 0, x->shape.rank, &axis, d) || !check_elements_indices(n, x, ind, axis, d))
        return false;
    rule_set_out(g, n, 0, x->dtype, &ind->shape);
    return true;
}

/* GatherND (opsets 11, 12 batch_dims, 13): data rank r, indices rank q with
 * last dim m (1 <= m <= r - b); the first b dims of both agree.
 * Y = indices.shape[:q-1] + data.shape[b+m:]. */
bool shape_gather_nd(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    int r = x->shape.rank, q = ind->shape.rank;
    int64_t b = ir_attr_int(n, "batch_dims", 0);
    if (!check_indices(n, ind, d))
        return false;
    if (r < 1 || q < 1 || b < 0 || b >= q || b >= r) {
        ir_node_error(d, n, "needs data and indices of rank >= 1 and 0 <= batch_dims < both "
                      "ranks (ranks %d, %d, batch_dims %lld)", r, q, (long long)b);
        return false;
    }
    int64_t m = ind->shape.dims[q - 1];
    if (m < 1 || m > r - b) {
        ir_node_error(d, n, "the last indices dim is %lld, expected 1..%lld", (long long)m,
                      (long long)(r - b));
        return false;
    }
    for (int i = 0; i < b; i++)
        if (ind->shape.dims[i] != x->shape.dims[i]) {
            ir_node_error(d, n, "batch dim %d differs: data %lld, indices %lld", i,
                          (long long)x->shape.dims[i], (long long)ind->shape.dims[i]);
            return false;
        }
    Shape y = {.rank = (int)(q - 1 + r - b - m)};
    int k = 0;
    for (int i = 0; i < q - 1; i++)
        y.dims[k++] = ind->shape.dims[i];
    for (int i = (int)(b + m); i < r; i++)
        y.dims[k++] = x->shape.dims[i];
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* The reduction attribute of ScatterElements / ScatterND: none always,
 * add and mul from opset 16, max and min from opset 18. */
static bool check_reduction(const Node *n, Diag *d)
{
    const char *red = ir_attr_str(n, "reduction", "none");
    bool ok = strcmp(red, "none") == 0;
    if (n->op != OP_Scatter && n->opset >= 16)
        ok |= strcmp(red, "add") == 0 || strcmp(red, "mul") == 0;
    if (n->op != OP_Scatter && n->opset >= 18)
        ok |= strcmp(red, "max") == 0 || strcmp(red, "min") == 0;
    if (!ok)
        ir_node_error(d, n, "reduction '%s' is not valid at opset %d", red, n->opset);
    return ok;
}

static bool check_updates(const Node *n, const Value *x, const Value *upd, Diag *d)
{
    if (upd->dtype != x->dtype) {
        ir_node_error(d, n, "updates are %s, data %s; they must match", dtype_name(upd->dtype),
                      dtype_name(x->dtype));
        return false;
    }
    return true;
}

/* ScatterElements (opsets 11, 13, 16, 18) and Scatter (9, 11): Y = data
 * with Y[..indices[i..]..] (reduction)= updates[i..]; updates have the
 * shape of indices. */
bool shape_scatter_elements(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *upd = ir_in(g, n, 2);
    int axis;
    if (!get_axis(n, 0, x->shape.rank, &axis, d) || !check_elements_indices(n, x, ind, axis, d) ||
        !check_updates(n, x, upd, d) || !check_reduction(n, d))
        return false;
    if (!shape_equal(&upd->shape, &ind->shape)) {
        char s1[128], s2[128];
        ir_node_error(d, n, "updates %s and indices %s must have the same shape",
                      shape_str(&upd->shape, s1, 128), shape_str(&ind->shape, s2, 128));
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* ScatterND (opsets 11, 13, 16, 18): indices [..., k] address slices of
 * data; updates are indices.shape[:-1] + data.shape[k:]. Y = data with each
 * addressed slice (reduction)= its update. */
bool shape_scatter_nd(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1), *upd = ir_in(g, n, 2);
    int r = x->shape.rank, q = ind->shape.rank;
    if (!check_indices(n, ind, d) || !check_updates(n, x, upd, d) || !check_reduction(n, d))
        return false;
    int64_t k = q >= 1 ? ind->shape.dims[q - 1] : -1;
    if (r < 1 || q < 1 || k < 1 || k > r) {
        ir_node_error(d, n, "needs data and indices of rank >= 1 with a last indices dim in "
                      "1..%d", r);
        return false;
    }
    Shape want = {.rank = (int)(q - 1 + r - k)};
    if (want.rank > IR_MAX_RANK) {
        ir_node_error(d, n, "updates rank %d exceeds %d", want.rank, IR_MAX_RANK);
        return false;
    }
    for (int i = 0; i < q - 1; i++)
        want.dims[i] = ind->shape.dims[i];
    for (int i = (int)k; i < r; i++)
        want.dims[q - 1 + i - k] = x->shape.dims[i];
    if (!shape_equal(&want, &upd->shape)) {
        char s1[128], s2[128];
        ir_node_error(d, n, "updates have shape %s, expected %s", shape_str(&upd->shape, s1, 128),
                      shape_str(&want, s2, 128));
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* A constant single-element input of any numeric dtype. */
static bool const_scalar(const Graph *g, const Node *n, int i, double *out)
{
    const Value *v = ir_in(g, n, i);
    if (!v || v->kind != VAL_CONST || !v->data || shape_numel(&v->shape) != 1)
        return false;
    *out = dtype_is_float(v->dtype) ? tensor_get_f(v->dtype, v->data, 0)
                                    : (double)tensor_get_i(v->dtype, v->data, 0);
    return true;
}

/* OneHot (opsets 9, 11): indices (any numeric type, negative counting from
 * the end since 11), depth (a constant scalar: it sets the output shape),
 * values [off, on]. Y inserts a dim of size depth at axis (default -1, i.e.
 * last); Y's dtype is values'. */
bool shape_onehot(Graph *g, Node *n, Diag *d)
{
    const Value *ind = ir_in(g, n, 0), *dep = ir_in(g, n, 1), *val = ir_in(g, n, 2);
    int q = ind->shape.rank, axis;
    double depth;
    if (ind->dtype == DT_STRING || ind->dtype == DT_BOOL || ind->dtype == DT_F16) {
        ir_node_error(d, n, "indices must be numeric, got %s", dtype_name(ind->dtype));
        return false;
    }
    if (shape_numel(&dep->shape) != 1) {
        ir_node_error(d, n, "depth must hold one value");
        return false;
    }
    if (!const_scalar(g, n, 1, &depth)) {
        ir_node_error(d, n, "input 'depth' must be a compile-time constant (it sets the "
                      "output shape)");
        return false;
    }
    if (!(depth >= 1 && depth <= INT32_MAX)) {
        ir_node_error(d, n, "depth %g must be a positive integer", depth);
        return false;
    }
    if (val->shape.rank != 1 || val->shape.dims[0] != 2) {
        ir_node_error(d, n, "values must be a 1-D tensor of 2 elements [off, on]");
        return false;
    }
    int64_t a = ir_attr_int(n, "axis", -1);
    if (q + 1 > IR_MAX_RANK || !rule_axis(a, q + 1, &axis)) {
        ir_node_error(d, n, "axis %lld out of range for output rank %d", (long long)a, q + 1);
        return false;
    }
    Shape y = {.rank = q + 1};
    for (int i = 0, k = 0; i < q + 1; i++)
        y.dims[i] = i == axis ? (int64_t)depth : ind->shape.dims[k++];
    rule_set_out(g, n, 0, val->dtype, &y);
    return true;
}

/* CumSum (opsets 11, 14): Y has x's shape; axis is a 0-D (or one-element)
 * int32/int64 tensor. A constant axis is checked here; a runtime axis is
 * read by the kernel. */
bool shape_cumsum(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ax = ir_in(g, n, 1);
    int axis;
    if (x->dtype == DT_BOOL || x->dtype == DT_STRING || x->dtype == DT_F16) {
        ir_node_error(d, n, "x of type %s is not supported", dtype_name(x->dtype));
        return false;
    }
    if (!is_index_type(ax->dtype) || shape_numel(&ax->shape) != 1 || ax->shape.rank > 1) {
        ir_node_error(d, n, "axis must be a 0-D int32 or int64 tensor");
        return false;
    }
    if (x->shape.rank < 1) {
        ir_node_error(d, n, "x must have rank >= 1");
        return false;
    }
    int64_t a;
    if (rule_const_ints(g, n, 1, &a, 1) == 1 && !rule_axis(a, x->shape.rank, &axis)) {
        ir_node_error(d, n, "axis %lld out of range for rank %d", (long long)a, x->shape.rank);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* ReverseSequence (opset 10): x of rank >= 2 with batch and time axes 0 and
 * 1 (either way round); sequence_lens [batch]. Y has x's shape. */
bool shape_reverse_sequence(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *lens = ir_in(g, n, 1);
    int64_t ba = ir_attr_int(n, "batch_axis", 1), ta = ir_attr_int(n, "time_axis", 0);
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "x must have rank >= 2");
        return false;
    }
    if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0))) {
        ir_node_error(d, n, "batch_axis and time_axis must be 0 and 1 (got %lld and %lld)",
                      (long long)ba, (long long)ta);
        return false;
    }
    if (!is_index_type(lens->dtype) || lens->shape.rank != 1 ||
        lens->shape.dims[0] != x->shape.dims[ba]) {
        ir_node_error(d, n, "sequence_lens must be a 1-D int64 tensor of %lld lengths",
                      (long long)x->shape.dims[ba]);
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* ---- Resize and Upsample ---- */

static bool one_of(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The string attributes, checked against the op and opset. Upsample and
 * Resize-10 ("legacy") know only nearest and linear, on asymmetric
 * coordinates. */
static bool resize_check_attrs(const Node *n, bool legacy, DType dt, Diag *d)
{
    static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
    static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                       "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn",
                                       "half_pixel_symmetric", NULL};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil", NULL};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller", NULL};
    const char *mode = ir_attr_str(n, "mode", "nearest");
    const char *ctm = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = ir_attr_str(n, "nearest_mode", "round_prefer_floor");
    const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
    const char *bad = NULL, *what = NULL;
    if (!one_of(mode, modes) || (legacy && strcmp(mode, "cubic") == 0))
        bad = mode, what = "mode";
    else if (!legacy && (!one_of(ctm, ctms) ||
                         (strcmp(ctm, "half_pixel_symmetric") == 0 && n->opset < 19)))
        bad = ctm, what = "coordinate_transformation_mode";
    else if (!legacy && !one_of(nm, nearest))
        bad = nm, what = "nearest_mode";
    else if (!legacy && !one_of(pol, policies))
        bad = pol, what = "keep_aspect_ratio_policy";
    if (bad) {
        ir_node_error(d, n, "%s '%s' is not valid here", what, bad);
        return false;
    }
    if (dt == DT_F16 && (strcmp(mode, "nearest") != 0 || strcmp(ctm, "tf_crop_and_resize") == 0)) {
        ir_node_error(d, n, "%s interpolation of f16 tensors is not supported", mode);
        return false;
    }
    return true;
}

/* Resize-18's axes attribute (default: every axis), normalized. */
static int resize_axes(const Node *n, int r, int *axes, Diag *d)
{
    const Attr *a = n->op == OP_Resize && n->opset >= 18 ? ir_attr(n, "axes") : NULL;
    if (!a) {
        for (int i = 0; i < r; i++)
            axes[i] = i;
        return r;
    }
    bool seen[IR_MAX_RANK] = {0};
    if (a->type != ATTR_INTS || a->n < 1 || a->n > r) {
        ir_node_error(d, n, "axes must list 1..%d axes", r);
        return -1;
    }
    for (int i = 0; i < a->n; i++) {
        if (!rule_axis(a->ints[i], r, &axes[i]) || seen[axes[i]]) {
            ir_node_error(d, n, "axes entry %lld is out of range or repeated",
                          (long long)a->ints[i]);
            return -1;
        }
        seen[axes[i]] = true;
    }
    return a->n;
}

/* An optional input; an empty tensor (Resize's "no scales") counts as absent. */
static const Value *present(const Graph *g, const Node *n, int i)
{
    const Value *v = ir_in(g, n, i);
    return v && shape_numel(&v->shape) > 0 ? v : NULL;
}

/* Reads a constant float tensor; -1 if not constant or of the wrong size. */
static int const_reals(const Value *v, double *vals, int want)
{
    if (!v || v->kind != VAL_CONST || !v->data || !dtype_is_float(v->dtype) ||
        v->dtype == DT_F16 || shape_numel(&v->shape) != want)
        return -1;
    for (int k = 0; k < want; k++)
        vals[k] = tensor_get_f(v->dtype, v->data, k);
    return want;
}

/* Scale factors and output dims from scales: Y = floor(X * scale), as the
 * ONNX reference computes it. */
static bool resize_from_scales(const Node *n, const Value *x, const double *s, const int *axes,
                               int na, double *scale, Shape *y, Diag *d)
{
    for (int i = 0; i < na; i++) {
        int ax = axes[i];
        double out = floor(s[i] * (double)x->shape.dims[ax]);
        if (!(s[i] > 0) || !(out <= INT32_MAX)) {
            ir_node_error(d, n, "scale %g for axis %d is not a positive finite factor", s[i], ax);
            return false;
        }
        scale[ax] = s[i];
        y->dims[ax] = (int64_t)out;
    }
    return true;
}

/* Scale factors and output dims from sizes, with Resize-18's
 * keep_aspect_ratio_policy: not_larger / not_smaller scale every listed axis
 * by the smallest / largest ratio and round the dims half up. */
static bool resize_from_sizes(const Node *n, const Value *x, const int64_t *sz, const int *axes,
                              int na, double *scale, Shape *y, Diag *d)
{
    const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
    bool smallest = strcmp(pol, "not_larger") == 0;
    double common = 0;
    for (int i = 0; i < na; i++) {
        int64_t in = x->shape.dims[axes[i]];
        if (sz[i] < 1 || sz[i] > INT32_MAX || in < 1) {
            ir_node_error(d, n, "size %lld for axis %d (input dim %lld) is not valid",
                          (long long)sz[i], axes[i], (long long)in);
            return false;
        }
        double r = (double)sz[i] / (double)in;
        if (i == 0 || (smallest ? r < common : r > common))
            common = r;
        scale[axes[i]] = r;
        y->dims[axes[i]] = sz[i];
    }
    if (n->op != OP_Resize || n->opset < 18 || strcmp(pol, "stretch") == 0)
        return true;
    for (int i = 0; i < na; i++) {
        scale[axes[i]] = common;
        y->dims[axes[i]] = (int64_t)(common * (double)x->shape.dims[axes[i]] + 0.5);
    }
    return true;
}

/* Saves a resolved per-axis array as a node attribute for the kernel. */
static void set_floats(Graph *g, Node *n, const char *name, const double *v, int count)
{
    Attr *a = ir_node_set_attr(g, n, name, ATTR_FLOATS);
    a->n = count;
    a->floats = arena_dup(g->arena, v, sizeof(double) * (size_t)count);
}

/* tf_crop_and_resize's roi: [starts..., ends...] over the listed axes, a
 * compile-time constant; saved full-rank (other axes 0..1) as kiln_roi. */
static bool resize_roi(Graph *g, Node *n, const Value *roi, const int *axes, int na, int r,
                       Diag *d)
{
    double vals[2 * IR_MAX_RANK], full[2 * IR_MAX_RANK];
    if (!roi || roi->kind != VAL_CONST) {
        ir_node_error(d, n, "input 'roi' must be a compile-time constant for tf_crop_and_resize");
        return false;
    }
    if (const_reals(roi, vals, 2 * na) < 0) {
        ir_node_error(d, n, "roi must hold %d float values", 2 * na);
        return false;
    }
    for (int i = 0; i < r; i++)
        full[i] = 0, full[r + i] = 1;
    for (int i = 0; i < na; i++)
        full[axes[i]] = vals[i], full[r + axes[i]] = vals[na + i];
    set_floats(g, n, "kiln_roi", full, 2 * r);
    return true;
}

/* Where the scale factors come from: Upsample-7's attribute, the scales
 * input of Upsample-9 / Resize-10, or Resize-11+'s scales or sizes (exactly
 * one given; an empty tensor counts as absent). */
static bool resize_factors(const Graph *g, const Node *n, const Value *x, const int *axes, int na,
                           double *scale, Shape *y, Diag *d)
{
    bool legacy = n->op == OP_Upsample || n->opset < 11;
    const Value *scales = legacy ? ir_in(g, n, 1) : present(g, n, 2);
    const Value *sizes = legacy ? NULL : present(g, n, 3);
    double s[IR_MAX_RANK];
    int64_t sz[IR_MAX_RANK];
    if (n->op == OP_Upsample && n->opset < 9) {
        const Attr *a = ir_attr(n, "scales");
        if (!a || a->type != ATTR_FLOATS || a->n != x->shape.rank) {
            ir_node_error(d, n, "attribute scales must list %d floats", x->shape.rank);
            return false;
        }
        return resize_from_scales(n, x, a->floats, axes, na, scale, y, d);
    }
    if ((scales != NULL) == (sizes != NULL)) {
        ir_node_error(d, n, legacy ? "input 'scales' is missing"
                                   : "exactly one of 'scales' and 'sizes' must be given");
        return false;
    }
    const Value *v = scales ? scales : sizes;
    if (v->kind != VAL_CONST || !v->data) {
        ir_node_error(d, n, "input '%s' must be a compile-time constant (it sets the output shape)",
                      scales ? "scales" : "sizes");
        return false;
    }
    if (scales && const_reals(scales, s, na) < 0) {
        ir_node_error(d, n, "scales must hold %d float values", na);
        return false;
    }
    if (sizes && (sizes->dtype != DT_I64 || rule_const_ints(g, n, 3, sz, IR_MAX_RANK) != na)) {
        ir_node_error(d, n, "sizes must hold %d int64 values", na);
        return false;
    }
    return scales ? resize_from_scales(n, x, s, axes, na, scale, y, d)
                  : resize_from_sizes(n, x, sz, axes, na, scale, y, d);
}

/* Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9): Y[ax] =
 * floor(X[ax] * scale), or sizes. The rule resolves the per-axis scale
 * factors (and tf_crop_and_resize's roi) into the node attributes
 * kiln_scales / kiln_roi, which k_resize reads. */
bool shape_resize(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int r = x->shape.rank, axes[IR_MAX_RANK];
    bool legacy = n->op == OP_Upsample || n->opset < 11;
    if (r < 1) {
        ir_node_error(d, n, "X must have rank >= 1");
        return false;
    }
    if (!resize_check_attrs(n, legacy, x->dtype, d))
        return false;
    int na = resize_axes(n, r, axes, d);
    double scale[IR_MAX_RANK];
    Shape y = x->shape;
    for (int i = 0; i < r; i++)
        scale[i] = 1;
    if (na < 0 || !resize_factors(g, n, x, axes, na, scale, &y, d))
        return false;
    set_floats(g, n, "kiln_scales", scale, r);
    const char *ctm = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    if (!legacy && strcmp(ctm, "tf_crop_and_resize") == 0 &&
        !resize_roi(g, n, ir_in(g, n, 1), axes, na, r, d))
        return false;
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}
