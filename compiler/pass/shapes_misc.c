/* shapes_misc.c — shape rules of the ops in ops_misc.def: quantization
 * (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
 * QLinearConv), signal processing (the three windows, MelWeightMatrix, DFT,
 * STFT), GridSample, RoiAlign, MaxUnpool and Det (ONNX spec sections of the
 * same names). Kernels in emit/k_quant.c, k_signal.c and k_misc.c. */
#include "pass.h"

#include <string.h>

/* Attribute and size values stay far below int32 range, so the rules'
 * int64 arithmetic can't overflow and the kernels' int indices are safe. */
#define MISC_MAX (INT64_C(1) << 30)

static bool is_q8(DType t)
{
    return t == DT_U8 || t == DT_I8;
}

static bool is_float(DType t)
{
    return t == DT_F32 || t == DT_F64;
}

static bool require_dtype(const Node *n, const Value *v, bool ok, const char *what, Diag *d)
{
    if (!ok)
        ir_node_error(d, n, "input '%s' has type %s, expected %s", v->name, dtype_name(v->dtype),
                      what);
    return ok;
}

/* A scalar-valued input: rank 0 or one element. */
static bool require_scalar(const Node *n, const Value *v, Diag *d)
{
    if (shape_numel(&v->shape) != 1) {
        char buf[128];
        ir_node_error(d, n, "input '%s' must be a scalar, got shape %s", v->name,
                      shape_str(&v->shape, buf, sizeof buf));
        return false;
    }
    return true;
}

/* Reads scalar integer input i, which must be a compile-time constant
 * because it sets an output's shape. */
static bool const_scalar_int(const Graph *g, const Node *n, int i, int64_t lo, int64_t *out,
                             Diag *d)
{
    const Value *v = ir_in(g, n, i);
    int64_t vals[1];
    if (!require_scalar(n, v, d))
        return false;
    if (rule_const_ints(g, n, i, vals, 1) != 1) {
        if (v->dtype != DT_I64 && v->dtype != DT_I32)
            ir_node_error(d, n, "input '%s' must be int32 or int64", v->name);
        else
            ir_node_error(d, n, "input '%s' must be a compile-time constant (it sets the "
                          "output's shape)", v->name);
        return false;
    }
    if (vals[0] < lo || vals[0] > MISC_MAX) {
        ir_node_error(d, n, "input '%s' has an invalid value %lld", v->name, (long long)vals[0]);
        return false;
    }
    *out = vals[0];
    return true;
}

/* ---- quantization ---- */

/* QuantizeLinear and DequantizeLinear (opset 10, 13): the scale (f32) and
 * the optional zero point hold one element (per tensor) or, opset 13+, are
 * 1-D of x.dims[axis] (per axis; attribute axis, default 1).
 * QuantizeLinear: x f32 or i32; y has the zero point's dtype (u8 or i8;
 * u8 without one) and y = saturate(round_half_even(x / scale) + zp).
 * DequantizeLinear: x u8, i8 or i32, the zero point of x's dtype; y f32 =
 * (x - zp) * scale. */
bool shape_quantize(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *s = ir_in(g, n, 1), *zp = ir_in(g, n, 2);
    bool q = n->op == OP_QuantizeLinear;
    if (!require_dtype(n, s, s->dtype == DT_F32, "float32", d))
        return false;
    if (q && (!require_dtype(n, x, x->dtype == DT_F32 || x->dtype == DT_I32, "f32 or i32", d) ||
              (zp && !require_dtype(n, zp, is_q8(zp->dtype), "u8 or i8", d))))
        return false;
    if (!q && (!require_dtype(n, x, is_q8(x->dtype) || x->dtype == DT_I32, "u8, i8 or i32", d) ||
               (zp && !require_dtype(n, zp, zp->dtype == x->dtype, dtype_name(x->dtype), d))))
        return false;
    int64_t ns = shape_numel(&s->shape);
    if (zp && !shape_equal(&zp->shape, &s->shape) && shape_numel(&zp->shape) * ns != 1) {
        ir_node_error(d, n, "the zero point's shape differs from the scale's");
        return false;
    }
    if (ns != 1) {
        int axis;
        if (n->opset < 13 || s->shape.rank != 1 ||
            !rule_axis(ir_attr_int(n, "axis", 1), x->shape.rank, &axis) ||
            x->shape.dims[axis] != ns) {
            char buf[128];
            ir_node_error(d, n, "the scale's shape %s is neither a scalar nor 1-D of x's dim at "
                          "'axis'", shape_str(&s->shape, buf, sizeof buf));
            return false;
        }
    }
    DType out = !q ? DT_F32 : zp ? zp->dtype : DT_U8;
    rule_set_out(g, n, 0, out, &x->shape);
    return true;
}

/* DynamicQuantizeLinear (opset 11): x f32 → y u8 of x's shape, y_scale
 * (f32 scalar) and y_zero_point (u8 scalar) from x's range widened to
 * include 0. */
bool shape_dynamic_quant(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    Shape scalar = {0};
    if (!require_dtype(n, x, x->dtype == DT_F32, "float32", d))
        return false;
    rule_set_out(g, n, 0, DT_U8, &x->shape);
    rule_set_out(g, n, 1, DT_F32, &scalar);
    rule_set_out(g, n, 2, DT_U8, &scalar);
    return true;
}

/* The scale (f32) and zero point (dtype zdt) at inputs i and i + 1 of a
 * QLinear op: one element each, or (per_len > 0) 1-D of per_len. */
static bool qlinear_pair(const Graph *g, const Node *n, int i, DType zdt, int64_t per_len,
                         Diag *d)
{
    const Value *s = ir_in(g, n, i), *zp = ir_in(g, n, i + 1);
    if (!require_dtype(n, s, s->dtype == DT_F32, "float32", d) ||
        !require_dtype(n, zp, zp->dtype == zdt, dtype_name(zdt), d))
        return false;
    int64_t ns = shape_numel(&s->shape), nz = shape_numel(&zp->shape);
    bool ok = (ns == 1 || (per_len > 0 && s->shape.rank == 1 && ns == per_len)) &&
              (nz == 1 || (per_len > 0 && zp->shape.rank == 1 && nz == per_len));
    if (!ok)
        ir_node_error(d, n, "inputs '%s' and '%s' must be scalars%s", s->name, zp->name,
                      per_len > 0 ? " or 1-D per output channel" : "");
    return ok;
}

/* QLinearMatMul (opset 10): a, b u8/i8 with per-tensor scales and zero
 * points, numpy.matmul of (a - a_zp) and (b - b_zp) in int32 (rank >= 2,
 * batch dims broadcast), requantized to y_zero_point's dtype with
 * a_scale * b_scale / y_scale. */
bool shape_qlinear_matmul(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 3), *yzp = ir_in(g, n, 7);
    if (!require_dtype(n, a, is_q8(a->dtype), "u8 or i8", d) ||
        !require_dtype(n, b, is_q8(b->dtype), "u8 or i8", d) ||
        !require_dtype(n, yzp, is_q8(yzp->dtype), "u8 or i8", d) ||
        !qlinear_pair(g, n, 1, a->dtype, 0, d) || !qlinear_pair(g, n, 4, b->dtype, 0, d) ||
        !qlinear_pair(g, n, 6, yzp->dtype, 0, d))
        return false;
    const Shape *sa = &a->shape, *sb = &b->shape;
    if (sa->rank < 2 || sb->rank < 2 || sa->dims[sa->rank - 1] != sb->dims[sb->rank - 2]) {
        char s1[128], s2[128];
        ir_node_error(d, n, "shapes %s and %s can't be multiplied (both need rank >= 2)",
                      shape_str(sa, s1, 128), shape_str(sb, s2, 128));
        return false;
    }
    Shape ba = *sa, bb = *sb, y;
    ba.rank -= 2;
    bb.rank -= 2;
    if (!rule_broadcast(&ba, &bb, &y)) {
        ir_node_error(d, n, "batch dimensions do not broadcast");
        return false;
    }
    y.dims[y.rank++] = sa->dims[sa->rank - 2];
    y.dims[y.rank++] = sb->dims[sb->rank - 1];
    rule_set_out(g, n, 0, yzp->dtype, &y);
    return true;
}

/* Reads ints attribute `name` of count values >= lo, dflt when absent. */
static bool misc_ints(const Node *n, Diag *d, const char *name, int count, int64_t dflt,
                      int64_t lo, int64_t *out)
{
    const Attr *a = ir_attr(n, name);
    for (int i = 0; !a && i < count; i++)
        out[i] = dflt;
    if (!a)
        return true;
    if (a->type != ATTR_INTS || a->n != count) {
        ir_node_error(d, n, "attribute '%s' must hold %d ints", name, count);
        return false;
    }
    for (int i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > MISC_MAX) {
            ir_node_error(d, n, "attribute '%s' has an invalid value %lld", name,
                          (long long)a->ints[i]);
            return false;
        }
        out[i] = a->ints[i];
    }
    return true;
}

static void set_ints(Graph *g, Node *n, const char *name, const int64_t *v, int count)
{
    Attr *a = ir_node_set_attr(g, n, name, ATTR_INTS);
    a->n = count;
    a->ints = arena_dup(g->arena, v, sizeof(int64_t) * (size_t)count);
}

/* QLinearConv's window geometry (ONNX Conv's): pads from auto_pad or the
 * pads attribute; out = (in + pb + pe - ((k-1)*dil+1)) / s + 1. Written
 * back as explicit strides, dilations and pads (auto_pad NOTSET), the form
 * k_qlinear_conv reads. */
static bool qconv_geometry(Graph *g, Node *n, const Shape *x, const Shape *w, Shape *y, Diag *d)
{
    int nsp = x->rank - 2;
    int64_t st[IR_MAX_RANK], dil[IR_MAX_RANK], ks[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    if (!misc_ints(n, d, "strides", nsp, 1, 1, st) || !misc_ints(n, d, "dilations", nsp, 1, 1, dil) ||
        !misc_ints(n, d, "kernel_shape", nsp, 1, 1, ks) ||
        !misc_ints(n, d, "pads", 2 * nsp, 0, 0, pads))
        return false;
    *y = *x;
    y->dims[1] = w->dims[0];
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->dims[i + 2], span = (w->dims[i + 2] - 1) * dil[i] + 1;
        if (ir_attr(n, "kernel_shape") && ks[i] != w->dims[i + 2]) {
            ir_node_error(d, n, "kernel_shape disagrees with the weight's shape");
            return false;
        }
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t out = (in + st[i] - 1) / st[i], total = (out - 1) * st[i] + span - in;
            total = total < 0 ? 0 : total;
            pads[i] = ap[5] == 'U' ? total / 2 : total - total / 2;
            pads[i + nsp] = total - pads[i];
        } else if (strcmp(ap, "VALID") == 0) {
            pads[i] = pads[i + nsp] = 0;
        } else if (strcmp(ap, "NOTSET") != 0) {
            ir_node_error(d, n, "unknown auto_pad '%s'", ap);
            return false;
        }
        int64_t room = in + pads[i] + pads[i + nsp] - span;
        if (room < 0) {
            ir_node_error(d, n, "the kernel is larger than the padded input");
            return false;
        }
        y->dims[i + 2] = room / st[i] + 1;
    }
    set_ints(g, n, "strides", st, nsp);
    set_ints(g, n, "dilations", dil, nsp);
    set_ints(g, n, "pads", pads, 2 * nsp);
    ir_node_set_attr(g, n, "auto_pad", ATTR_STRING)->s = "NOTSET";
    return true;
}

/* QLinearConv (opset 10): x [N, C, D1..] and w [M, C/group, k1..], both
 * u8/i8, with scales and zero points (w's per tensor or per output channel
 * M), optional bias B i32 [M]; Conv of (x - x_zp) and (w - w_zp) in int32
 * plus B, requantized to y_zero_point's dtype. */
bool shape_qlinear_conv(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *w = ir_in(g, n, 3), *yzp = ir_in(g, n, 7);
    const Value *bias = ir_in(g, n, 8);
    if (!require_dtype(n, x, is_q8(x->dtype), "u8 or i8", d) ||
        !require_dtype(n, w, is_q8(w->dtype), "u8 or i8", d) ||
        !require_dtype(n, yzp, is_q8(yzp->dtype), "u8 or i8", d))
        return false;
    if (x->shape.rank < 3 || w->shape.rank != x->shape.rank) {
        ir_node_error(d, n, "x must be [N, C, D1, ...] and w [M, C/group, k1, ...] of x's rank");
        return false;
    }
    int64_t group = ir_attr_int(n, "group", 1), m = w->shape.dims[0];
    if (group < 1 || group > MISC_MAX || w->shape.dims[1] < 1 ||
        x->shape.dims[1] != w->shape.dims[1] * group || m % group != 0) {
        ir_node_error(d, n, "channels: x has %lld, w expects %lld per group with group %lld",
                      (long long)x->shape.dims[1], (long long)w->shape.dims[1], (long long)group);
        return false;
    }
    if (!qlinear_pair(g, n, 1, x->dtype, 0, d) || !qlinear_pair(g, n, 4, w->dtype, m, d) ||
        !qlinear_pair(g, n, 6, yzp->dtype, 0, d))
        return false;
    if (bias && (bias->dtype != DT_I32 || shape_numel(&bias->shape) != m)) {
        ir_node_error(d, n, "B must be int32 of %lld elements", (long long)m);
        return false;
    }
    Shape y;
    if (!qconv_geometry(g, n, &x->shape, &w->shape, &y, d))
        return false;
    rule_set_out(g, n, 0, yzp->dtype, &y);
    return true;
}

/* ---- signal processing ---- */

/* The dtype of attribute output_datatype (default f32): a float or integer
 * type kiln computes in. */
static bool output_datatype(const Node *n, DType *dt, Diag *d)
{
    int64_t t = ir_attr_int(n, "output_datatype", DT_F32);
    *dt = (DType)t;
    if (t <= 0 || t == DT_STRING || t == DT_F16 || t == DT_BOOL || t > DT_U64 ||
        !dtype_size(*dt)) {
        ir_node_error(d, n, "output_datatype %lld is not supported (f32, f64 or an integer type)",
                      (long long)t);
        return false;
    }
    return true;
}

/* HannWindow, HammingWindow, BlackmanWindow (opset 17): size, a constant
 * int32/int64 scalar, gives Y [size] of output_datatype; periodic (default
 * 1) or symmetric. */
bool shape_window(Graph *g, Node *n, Diag *d)
{
    int64_t size;
    DType dt;
    if (!const_scalar_int(g, n, 0, 0, &size, d) || !output_datatype(n, &dt, d))
        return false;
    Shape y = {.rank = 1, .dims = {size}};
    rule_set_out(g, n, 0, dt, &y);
    return true;
}

/* MelWeightMatrix (opset 17): num_mel_bins, dft_length, sample_rate
 * (integer scalars) and lower/upper_edge_hertz (float scalars), all
 * compile-time constants; Y [dft_length / 2 + 1, num_mel_bins]. */
bool shape_mel_matrix(Graph *g, Node *n, Diag *d)
{
    int64_t bins, len, rate;
    DType dt;
    if (!const_scalar_int(g, n, 0, 1, &bins, d) || !const_scalar_int(g, n, 1, 1, &len, d) ||
        !const_scalar_int(g, n, 2, 1, &rate, d) || !output_datatype(n, &dt, d))
        return false;
    for (int i = 3; i < 5; i++) {
        const Value *v = ir_in(g, n, i);
        if (!require_scalar(n, v, d) ||
            !require_dtype(n, v, is_float(v->dtype), "a float type", d))
            return false;
        if (v->kind != VAL_CONST || !v->data) {
            ir_node_error(d, n, "input '%s' must be a compile-time constant", v->name);
            return false;
        }
    }
    Shape y = {.rank = 2, .dims = {len / 2 + 1, bins}};
    rule_set_out(g, n, 0, dt, &y);
    return true;
}

/* A signal's last dim: 1 (real) or 2 (complex as re, im pairs). */
static bool signal_input(const Node *n, const Value *x, int min_rank, Diag *d)
{
    const Shape *s = &x->shape;
    if (!require_dtype(n, x, is_float(x->dtype), "f32 or f64", d))
        return false;
    if (s->rank < min_rank || (s->dims[s->rank - 1] != 1 && s->dims[s->rank - 1] != 2)) {
        char buf[128];
        ir_node_error(d, n, "input '%s' of shape %s must be [batch, ..., 1 or 2] (real or "
                      "complex)", x->name, shape_str(s, buf, sizeof buf));
        return false;
    }
    return true;
}

/* DFT (opset 17): x [batch, n1, ..., nk, 1|2] transformed along `axis`
 * (default 1; not the last dim), optional constant dft_length (input 1)
 * zero-pads or truncates that dim; onesided (real x only) keeps
 * length / 2 + 1 bins; inverse scales by 1/length. Y [..., 2]. */
bool shape_dft(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!signal_input(n, x, 3, d))
        return false;
    int r = x->shape.rank, axis;
    int64_t a = ir_attr_int(n, "axis", 1), len;
    if (!rule_axis(a, r, &axis) || axis == 0 || axis == r - 1) {
        ir_node_error(d, n, "axis %lld must name a signal dim (not the batch or last dim)",
                      (long long)a);
        return false;
    }
    len = x->shape.dims[axis];
    if (ir_in(g, n, 1) && !const_scalar_int(g, n, 1, 1, &len, d))
        return false;
    bool onesided = ir_attr_int(n, "onesided", 0) != 0;
    if (onesided && (x->shape.dims[r - 1] == 2 || ir_attr_int(n, "inverse", 0))) {
        ir_node_error(d, n, "onesided needs a real input and a forward transform");
        return false;
    }
    Shape y = x->shape;
    y.dims[axis] = onesided ? len / 2 + 1 : len;
    y.dims[r - 1] = 2;
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* STFT (opset 17): signal [batch, length, 1|2], frame_step (constant
 * scalar), optional window [frame_length] of signal's dtype, optional
 * constant frame_length; Y [batch, frames, bins, 2] with frames =
 * (length - frame_length) / frame_step + 1, bins = frame_length / 2 + 1
 * when onesided (default 1, real signals only), else frame_length. */
bool shape_stft(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *win = ir_in(g, n, 2);
    int64_t step, flen = -1;
    if (!signal_input(n, x, 3, d) || !const_scalar_int(g, n, 1, 1, &step, d))
        return false;
    if (x->shape.rank != 3) {
        ir_node_error(d, n, "signal must be [batch, length, 1 or 2]");
        return false;
    }
    if (ir_in(g, n, 3) && !const_scalar_int(g, n, 3, 1, &flen, d))
        return false;
    if (win) {
        if (win->shape.rank != 1 || win->dtype != x->dtype || (flen >= 0 && flen != win->shape.dims[0])) {
            ir_node_error(d, n, "window must be 1-D of frame_length elements of the signal's type");
            return false;
        }
        flen = win->shape.dims[0];
    }
    if (flen < 1 || flen > x->shape.dims[1]) {
        ir_node_error(d, n, "frame_length (or the window's length) must be given and fit the "
                      "signal of %lld samples", (long long)x->shape.dims[1]);
        return false;
    }
    bool onesided = ir_attr_int(n, "onesided", 1) != 0;
    if (onesided && x->shape.dims[2] == 2) {
        ir_node_error(d, n, "onesided needs a real signal");
        return false;
    }
    Shape y = {.rank = 4, .dims = {x->shape.dims[0], (x->shape.dims[1] - flen) / step + 1,
                                   onesided ? flen / 2 + 1 : flen, 2}};
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* ---- sampling, unpooling, determinants ---- */

static bool attr_one_of(const Node *n, const char *name, const char *dflt, const char *const *ok,
                        Diag *d)
{
    const char *s = ir_attr_str(n, name, dflt);
    for (int i = 0; ok[i]; i++)
        if (strcmp(s, ok[i]) == 0)
            return true;
    ir_node_error(d, n, "attribute '%s' has an unsupported value '%s'", name, s);
    return false;
}

/* GridSample (opset 16): X [N, C, H, W] sampled at grid [N, Ho, Wo, 2]
 * ((x, y) normalized to [-1, 1]) → Y [N, C, Ho, Wo]; mode bilinear,
 * nearest or bicubic, padding_mode zeros, border or reflection,
 * align_corners. */
bool shape_grid_sample(Graph *g, Node *n, Diag *d)
{
    static const char *const modes[] = {"bilinear", "nearest", "bicubic", NULL};
    static const char *const pads[] = {"zeros", "border", "reflection", NULL};
    const Value *x = ir_in(g, n, 0), *grid = ir_in(g, n, 1);
    if (!require_dtype(n, x, is_float(x->dtype), "f32 or f64", d) ||
        !require_dtype(n, grid, grid->dtype == x->dtype, dtype_name(x->dtype), d) ||
        !attr_one_of(n, "mode", "bilinear", modes, d) ||
        !attr_one_of(n, "padding_mode", "zeros", pads, d))
        return false;
    const Shape *xs = &x->shape, *gs = &grid->shape;
    if (xs->rank != 4 || gs->rank != 4 || gs->dims[0] != xs->dims[0] || gs->dims[3] != 2) {
        ir_node_error(d, n, "X must be [N, C, H, W] and grid [N, Ho, Wo, 2]");
        return false;
    }
    Shape y = {.rank = 4, .dims = {xs->dims[0], xs->dims[1], gs->dims[1], gs->dims[2]}};
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* RoiAlign (opset 10, 16): X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2) of
 * X's dtype, batch_indices [R] i64 → Y [R, C, output_height,
 * output_width]; mode avg or max. */
bool shape_roi_align(Graph *g, Node *n, Diag *d)
{
    static const char *const modes[] = {"avg", "max", NULL};
    static const char *const ctms[] = {"half_pixel", "output_half_pixel", NULL};
    const Value *x = ir_in(g, n, 0), *rois = ir_in(g, n, 1), *bi = ir_in(g, n, 2);
    if (!require_dtype(n, x, is_float(x->dtype), "f32 or f64", d) ||
        !require_dtype(n, rois, rois->dtype == x->dtype, dtype_name(x->dtype), d) ||
        !require_dtype(n, bi, bi->dtype == DT_I64 || bi->dtype == DT_I32, "an integer type", d) ||
        !attr_one_of(n, "mode", "avg", modes, d) ||
        !attr_one_of(n, "coordinate_transformation_mode", "half_pixel", ctms, d))
        return false;
    int64_t r = rois->shape.dims[0];
    if (x->shape.rank != 4 || rois->shape.rank != 2 || rois->shape.dims[1] != 4 ||
        bi->shape.rank != 1 || bi->shape.dims[0] != r) {
        ir_node_error(d, n, "X must be [N, C, H, W], rois [R, 4] and batch_indices [R]");
        return false;
    }
    int64_t oh = ir_attr_int(n, "output_height", 1), ow = ir_attr_int(n, "output_width", 1);
    if (oh < 1 || ow < 1 || oh > MISC_MAX || ow > MISC_MAX ||
        ir_attr_int(n, "sampling_ratio", 0) < 0 || ir_attr_int(n, "sampling_ratio", 0) > MISC_MAX) {
        ir_node_error(d, n, "output_height, output_width must be >= 1 and sampling_ratio >= 0");
        return false;
    }
    Shape y = {.rank = 4, .dims = {r, x->shape.dims[1], oh, ow}};
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* MaxUnpool (opset 9, 11): X [N, C, D1..] and I (i64, X's shape: flat
 * indices into Y, as MaxPool's Indices output) → Y zero but at the
 * indices. Y's spatial dims are (in - 1) * stride + kernel - pads, or the
 * constant output_shape input when given. */
bool shape_max_unpool(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    int nsp = x->shape.rank - 2;
    int64_t ks[IR_MAX_RANK], st[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
    if (!require_dtype(n, ind, ind->dtype == DT_I64, "int64", d))
        return false;
    if (nsp < 1 || !shape_equal(&x->shape, &ind->shape)) {
        ir_node_error(d, n, "X must be [N, C, D1, ...] and I of X's shape");
        return false;
    }
    if (!ir_attr(n, "kernel_shape")) {
        ir_node_error(d, n, "attribute 'kernel_shape' is required");
        return false;
    }
    if (!misc_ints(n, d, "kernel_shape", nsp, 1, 1, ks) || !misc_ints(n, d, "strides", nsp, 1, 1, st) ||
        !misc_ints(n, d, "pads", 2 * nsp, 0, 0, pads))
        return false;
    Shape y = x->shape;
    for (int i = 0; i < nsp; i++)
        y.dims[i + 2] = (x->shape.dims[i + 2] - 1) * st[i] + ks[i] - pads[i] - pads[i + nsp];
    if (ir_in(g, n, 2)) {
        int64_t want[IR_MAX_RANK];
        if (rule_const_ints(g, n, 2, want, IR_MAX_RANK) != y.rank) {
            ir_node_error(d, n, "input 'output_shape' must be a compile-time constant of %d "
                          "ints", y.rank);
            return false;
        }
        for (int i = 0; i < y.rank; i++)
            y.dims[i] = want[i];
        if (y.dims[0] != x->shape.dims[0] || y.dims[1] != x->shape.dims[1]) {
            ir_node_error(d, n, "output_shape must keep X's batch and channel dims");
            return false;
        }
    }
    for (int i = 0; i < nsp; i++)
        if (y.dims[i + 2] < 1 || y.dims[i + 2] > MISC_MAX) {
            ir_node_error(d, n, "output spatial dim %d would be %lld", i, (long long)y.dims[i + 2]);
            return false;
        }
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* Det (opset 11): X [*, M, M] of f32/f64 → Y [*], each matrix's
 * determinant. */
bool shape_det(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    const Shape *s = &x->shape;
    if (!require_dtype(n, x, is_float(x->dtype), "f32 or f64", d))
        return false;
    if (s->rank < 2 || s->dims[s->rank - 1] != s->dims[s->rank - 2]) {
        char buf[128];
        ir_node_error(d, n, "input of shape %s is not a (batch of) square matrices",
                      shape_str(s, buf, sizeof buf));
        return false;
    }
    Shape y = *s;
    y.rank -= 2;
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* ---- selection and n-grams ---- */

/* Compress (opset 9, 11): the slices of input along `axis` (of the
 * flattened input without one) where the bool condition is true; a
 * condition shorter than that dim leaves the rest out. The condition sets
 * the output's length, so it must be a compile-time constant. */
bool shape_compress(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *c = ir_in(g, n, 1);
    const Attr *ax = ir_attr(n, "axis");
    int axis = 0;
    if (!require_dtype(n, c, c->dtype == DT_BOOL, "bool", d))
        return false;
    if (c->shape.rank != 1) {
        ir_node_error(d, n, "condition must be 1-D");
        return false;
    }
    if (ax && !rule_axis(ax->i, x->shape.rank, &axis)) {
        ir_node_error(d, n, "axis %lld is out of range for rank %d", (long long)ax->i, x->shape.rank);
        return false;
    }
    int64_t len = ax ? x->shape.dims[axis] : shape_numel(&x->shape), kept = 0;
    if (c->shape.dims[0] > len) {
        ir_node_error(d, n, "condition has %lld elements, more than the %lld it selects from",
                      (long long)c->shape.dims[0], (long long)len);
        return false;
    }
    if (c->kind != VAL_CONST || !c->data) {
        ir_node_error(d, n, "input '%s' must be a compile-time constant (the output's length "
                      "depends on its values)", c->name);
        return false;
    }
    for (int64_t k = 0; k < c->shape.dims[0]; k++)
        kept += ((const uint8_t *)c->data)[k] != 0;
    Shape y = x->shape;
    if (ax)
        y.dims[axis] = kept;
    else
        y = (Shape){.rank = 1, .dims = {kept}};
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* An ints attribute that must be present. */
static const Attr *need_ints(const Node *n, const char *name, Diag *d)
{
    const Attr *a = ir_attr(n, name);
    if (!a || a->type != ATTR_INTS) {
        ir_node_error(d, n, "attribute '%s' (ints) is required", name);
        return NULL;
    }
    return a;
}

/* The pool layout of TfIdfVectorizer: ngram_counts[k] is where the
 * (k+1)-grams start in pool_int64s; each size's run must be whole n-grams,
 * and there must be one ngram_index (and weight) per n-gram. */
static bool tfidf_pool(const Node *n, int64_t max_n, Diag *d)
{
    const Attr *pool = need_ints(n, "pool_int64s", d), *cnt = need_ints(n, "ngram_counts", d);
    const Attr *idx = need_ints(n, "ngram_indexes", d), *w = ir_attr(n, "weights");
    if (!pool || !cnt || !idx)
        return false;
    int64_t grams = 0;
    for (int k = 0; k < cnt->n; k++) {
        int64_t start = cnt->ints[k], end = k + 1 < cnt->n ? cnt->ints[k + 1] : pool->n;
        if (start < 0 || end < start || end > pool->n || k + 1 > max_n || (end - start) % (k + 1)) {
            ir_node_error(d, n, "ngram_counts doesn't split pool_int64s into whole n-grams");
            return false;
        }
        grams += (end - start) / (k + 1);
    }
    if (grams != idx->n || (w && (w->type != ATTR_FLOATS || w->n != idx->n))) {
        ir_node_error(d, n, "the pool holds %lld n-grams but ngram_indexes (or weights) has %d "
                      "entries", (long long)grams, idx->n);
        return false;
    }
    for (int k = 0; k < idx->n; k++)
        if (idx->ints[k] < 0 || idx->ints[k] > MISC_MAX) {
            ir_node_error(d, n, "ngram_indexes has an invalid value %lld", (long long)idx->ints[k]);
            return false;
        }
    return true;
}

/* TfIdfVectorizer (opset 9): X [C] or [N, C] of int32/int64 → Y f32
 * [max(ngram_indexes) + 1] (per row for 2-D): counts of the pool's n-grams
 * (min_gram_length to max_gram_length items, consecutive or skipping up to
 * max_skip_count items between each), as TF, IDF or TFIDF. String pools
 * (pool_strings) are not supported. */
bool shape_tfidf(Graph *g, Node *n, Diag *d)
{
    static const char *const modes[] = {"TF", "IDF", "TFIDF", NULL};
    const Value *x = ir_in(g, n, 0);
    int64_t lo = ir_attr_int(n, "min_gram_length", 0), hi = ir_attr_int(n, "max_gram_length", 0);
    if (!require_dtype(n, x, x->dtype == DT_I32 || x->dtype == DT_I64, "int32 or int64", d) ||
        !attr_one_of(n, "mode", "", modes, d))
        return false;
    if (x->shape.rank < 1 || x->shape.rank > 2) {
        ir_node_error(d, n, "X must be [C] or [N, C]");
        return false;
    }
    if (lo < 1 || hi < lo || hi > 64 || ir_attr_int(n, "max_skip_count", 0) < 0 ||
        ir_attr_int(n, "max_skip_count", 0) > MISC_MAX) {
        ir_node_error(d, n, "needs 1 <= min_gram_length <= max_gram_length <= 64 and "
                      "max_skip_count >= 0");
        return false;
    }
    if (!tfidf_pool(n, hi, d))
        return false;
    const Attr *idx = ir_attr(n, "ngram_indexes");
    int64_t width = 0;
    for (int k = 0; k < idx->n; k++)
        width = idx->ints[k] + 1 > width ? idx->ints[k] + 1 : width;
    Shape y = x->shape;
    y.dims[y.rank - 1] = width;
    rule_set_out(g, n, 0, DT_F32, &y);
    return true;
}

/* ---- output shapes that depend on input values ---- */

/* NonZero (opset 9, 13), Unique (11), NonMaxSuppression (10, 11): the
 * length of the output follows from the input's values. NonZero of a
 * constant folds (Y i64 [rank, count]); otherwise kiln, which compiles
 * static shapes, refuses the node and says why. */
bool shape_value_shaped(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (n->op == OP_NonZero && x->kind == VAL_CONST && x->data && x->dtype != DT_F16 &&
        x->dtype != DT_BF16) {
        int64_t count = 0, numel = shape_numel(&x->shape);
        for (int64_t k = 0; k < numel; k++)
            count += tensor_get_f(x->dtype, x->data, k) != 0;
        Shape y = {.rank = 2, .dims = {x->shape.rank, count}};
        rule_set_out(g, n, 0, DT_I64, &y);
        return true;
    }
    ir_node_error(d, n, "the output's shape depends on the values of input '%s', known only at "
                  "run time; kiln compiles static shapes", x->name);
    return false;
}
