/* shapes_conv.c — shape rules of the convolution and pooling family: Conv,
 * ConvInteger, ConvTranspose, MaxPool, AveragePool, LpPool and the global
 * pools (ONNX spec sections of the same names). One helper resolves the
 * sliding-window geometry for all of them and writes it back onto the node
 * as explicit attributes: the single form the kernels (emit/k_conv.c) read. */
#include "pass.h"

#include <string.h>

/* The geometry of a sliding window over nsp spatial dims. For Conv and the
 * pools the windows slide over the input (in) and there is one per output
 * position (out); ConvTranspose runs the same windows backwards. */
typedef struct Window {
    int nsp;
    int64_t in[IR_MAX_RANK], out[IR_MAX_RANK];
    int64_t k[IR_MAX_RANK], s[IR_MAX_RANK], d[IR_MAX_RANK]; /* kernel, strides, dilations */
    int64_t pb[IR_MAX_RANK], pe[IR_MAX_RANK];               /* pads at the start / end */
} Window;

typedef enum AutoPad { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } AutoPad;

/* Tensors stay within INT32_MAX elements and attribute values within
 * ATTR_MAX, so the rules' int64 arithmetic can't overflow; window_fits_int
 * then checks the generated C's int index arithmetic. */
#define WIN_MAX INT32_MAX
#define ATTR_MAX (INT64_C(1) << 30)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Reads ints attribute `name`: absent → every value dflt; present → exactly
 * count values in [lo, WIN_MAX]. */
static bool read_ints(const Node *n, Diag *d, const char *name, int count, int64_t dflt,
                      int64_t lo, int64_t *out)
{
    const Attr *a = ir_attr(n, name);
    if (!a) {
        for (int i = 0; i < count; i++)
            out[i] = dflt;
        return true;
    }
    if (a->type != ATTR_INTS || a->n != count) {
        ir_node_error(d, n, "attribute '%s' must hold %d ints", name, count);
        return false;
    }
    for (int i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > ATTR_MAX) {
            ir_node_error(d, n, "attribute '%s' has an invalid value %lld", name,
                          (long long)a->ints[i]);
            return false;
        }
        out[i] = a->ints[i];
    }
    return true;
}

static bool read_auto_pad(const Node *n, Diag *d, AutoPad *ap)
{
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const char *s = ir_attr_str(n, "auto_pad", "NOTSET");
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *ap = (AutoPad)i;
            return true;
        }
    ir_node_error(d, n, "unknown auto_pad '%s'", s);
    return false;
}

/* Checks x is [N, C, D1..Dn] with n >= 1, numel within int range, and fills
 * w->nsp, w->in. */
static bool window_input(const Node *n, Diag *d, const Value *x, Window *w)
{
    if (x->shape.rank < 3) {
        ir_node_error(d, n, "input must be [N, C, D1, ...] with at least one spatial dim, got rank %d",
                      x->shape.rank);
        return false;
    }
    int64_t numel = shape_numel(&x->shape);
    if (numel < 1 || numel > WIN_MAX) {
        char buf[128];
        ir_node_error(d, n, "input shape %s is empty or too large",
                      shape_str(&x->shape, buf, sizeof buf));
        return false;
    }
    w->nsp = x->shape.rank - 2;
    for (int i = 0; i < w->nsp; i++)
        w->in[i] = x->shape.dims[i + 2];
    return true;
}

/* Reads kernel_shape, strides and dilations. wk: the kernel's spatial dims
 * from the weight (Conv), or NULL when kernel_shape is required (pools). */
static bool window_attrs(const Node *n, Diag *d, const int64_t *wk, Window *w)
{
    if (!wk && !ir_attr(n, "kernel_shape")) {
        ir_node_error(d, n, "attribute 'kernel_shape' is required");
        return false;
    }
    if (!read_ints(n, d, "kernel_shape", w->nsp, 1, 1, w->k) ||
        !read_ints(n, d, "strides", w->nsp, 1, 1, w->s) ||
        !read_ints(n, d, "dilations", w->nsp, 1, 1, w->d))
        return false;
    for (int i = 0; wk && i < w->nsp; i++) {
        if (ir_attr(n, "kernel_shape") && w->k[i] != wk[i]) {
            ir_node_error(d, n, "kernel_shape[%d] = %lld but the weight's kernel dim is %lld", i,
                          (long long)w->k[i], (long long)wk[i]);
            return false;
        }
        w->k[i] = wk[i];
    }
    return true;
}

/* Conv and pools: pads from auto_pad or the pads attribute, then
 *   out = floor_or_ceil((in + pb + pe - ((k-1)*d+1)) / s) + 1
 * (SAME_*: out = ceil(in / s), pads split to reach it, the odd one at the
 * end for SAME_UPPER, at the start for SAME_LOWER). With ceil_mode a last
 * window that would start in the end padding is dropped (as PyTorch and
 * the ONNX reference do). */
static bool window_forward(const Node *n, Diag *d, bool ceil_mode, Window *w)
{
    AutoPad ap;
    int64_t pads[2 * IR_MAX_RANK];
    if (!read_auto_pad(n, d, &ap) || !read_ints(n, d, "pads", 2 * w->nsp, 0, 0, pads))
        return false;
    for (int i = 0; i < w->nsp; i++) {
        int64_t keff = (w->k[i] - 1) * w->d[i] + 1;
        if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            w->out[i] = (w->in[i] + w->s[i] - 1) / w->s[i];
            int64_t total = (w->out[i] - 1) * w->s[i] + keff - w->in[i];
            total = total > 0 ? total : 0;
            w->pb[i] = ap == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            w->pe[i] = total - w->pb[i];
            continue;
        }
        w->pb[i] = ap == PAD_VALID ? 0 : pads[i];
        w->pe[i] = ap == PAD_VALID ? 0 : pads[i + w->nsp];
        int64_t span = w->in[i] + w->pb[i] + w->pe[i] - keff;
        if (span < 0) {
            ir_node_error(d, n, "kernel extent %lld exceeds the padded input %lld in spatial dim %d",
                          (long long)keff, (long long)(span + keff), i);
            return false;
        }
        w->out[i] = (ceil_mode ? (span + w->s[i] - 1) / w->s[i] : span / w->s[i]) + 1;
        if (ceil_mode && (w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i])
            w->out[i]--;
    }
    return true;
}

/* ConvTranspose: out = s*(in-1) + output_padding + ((k-1)*d+1) - pb - pe.
 * Given output_shape (or auto_pad SAME_*, which asks for out = in*s), the
 * total padding follows from it and is split as the spec says: SAME_UPPER
 * puts floor(total/2) at the start, otherwise at the end (floor division,
 * so an output_shape past the natural size gives negative pads: zeros). */
static bool window_transposed(const Node *n, Diag *d, Window *w)
{
    AutoPad ap;
    int64_t pads[2 * IR_MAX_RANK], opad[IR_MAX_RANK], oshape[IR_MAX_RANK + 2];
    if (!read_auto_pad(n, d, &ap) || !read_ints(n, d, "output_padding", w->nsp, 0, 0, opad))
        return false;
    const Attr *os = ir_attr(n, "output_shape");
    int skip = 0; /* output_shape may also list N and C */
    if (os) {
        skip = os->type == ATTR_INTS && os->n == w->nsp + 2 ? 2 : 0;
        if (os->type != ATTR_INTS || os->n != w->nsp + skip) {
            ir_node_error(d, n, "attribute 'output_shape' must hold %d ints", w->nsp);
            return false;
        }
    }
    for (int i = 0; os && i < w->nsp; i++) {
        oshape[i] = os->ints[i + skip];
        if (oshape[i] < 1 || oshape[i] > ATTR_MAX) {
            ir_node_error(d, n, "output_shape[%d] is invalid (%lld)", i, (long long)oshape[i]);
            return false;
        }
    }
    /* pads may be negative here: the canonical form of a larger output */
    if (!os && ap == PAD_NOTSET && !read_ints(n, d, "pads", 2 * w->nsp, 0, -ATTR_MAX, pads))
        return false;
    for (int i = 0; i < w->nsp; i++) {
        int64_t full = w->s[i] * (w->in[i] - 1) + opad[i] + (w->k[i] - 1) * w->d[i] + 1;
        if (os || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            w->out[i] = os ? oshape[i] : w->in[i] * w->s[i];
            int64_t total = full - w->out[i];
            int64_t half = floor_div(total, 2);
            w->pb[i] = ap == PAD_SAME_UPPER ? half : total - half;
            w->pe[i] = total - w->pb[i];
        } else {
            w->pb[i] = ap == PAD_VALID ? 0 : pads[i];
            w->pe[i] = ap == PAD_VALID ? 0 : pads[i + w->nsp];
            w->out[i] = full - w->pb[i] - w->pe[i];
        }
        if (w->out[i] < 1) {
            ir_node_error(d, n, "output size %lld in spatial dim %d is invalid",
                          (long long)w->out[i], i);
            return false;
        }
    }
    return true;
}

/* The generated C computes window positions and taps with int: the extent
 * the windows reach, pads included, must fit. */
static bool window_fits_int(const Node *n, Diag *d, const Window *w, bool transposed)
{
    for (int i = 0; i < w->nsp; i++) {
        int64_t pos = transposed ? w->in[i] : w->out[i], ext = transposed ? w->out[i] : w->in[i];
        int64_t pb = w->pb[i] < 0 ? -w->pb[i] : w->pb[i], pe = w->pe[i] < 0 ? -w->pe[i] : w->pe[i];
        if (pos * w->s[i] + w->k[i] * w->d[i] + ext + pb + pe > WIN_MAX) {
            ir_node_error(d, n, "spatial dim %d is too large for int indexing", i);
            return false;
        }
    }
    return true;
}

static void set_ints(Graph *g, Node *n, const char *name, const int64_t *v, int count)
{
    Attr *a = ir_node_set_attr(g, n, name, ATTR_INTS);
    a->n = count;
    a->ints = arena_dup(g->arena, v, sizeof(int64_t) * (size_t)count);
}

/* The canonical form the kernels read: kernel_shape, strides, dilations and
 * pads (starts then ends) explicit, auto_pad NOTSET. Rerunning the rule on
 * it gives the same geometry. A ConvTranspose with output_shape keeps it and
 * its auto_pad, which still decide the (same) pads. */
static void window_write(Graph *g, Node *n, const Window *w)
{
    int64_t pads[2 * IR_MAX_RANK];
    memcpy(pads, w->pb, sizeof(int64_t) * (size_t)w->nsp);
    memcpy(pads + w->nsp, w->pe, sizeof(int64_t) * (size_t)w->nsp);
    set_ints(g, n, "kernel_shape", w->k, w->nsp);
    set_ints(g, n, "strides", w->s, w->nsp);
    set_ints(g, n, "dilations", w->d, w->nsp);
    set_ints(g, n, "pads", pads, 2 * w->nsp);
    if (!ir_attr(n, "output_shape"))
        ir_node_set_attr(g, n, "auto_pad", ATTR_STRING)->s = "NOTSET";
}

static Shape window_out_shape(int64_t batch, int64_t channels, const Window *w)
{
    Shape y = {.rank = w->nsp + 2, .dims = {batch, channels}};
    for (int i = 0; i < w->nsp; i++)
        y.dims[i + 2] = w->out[i];
    return y;
}

/* Checks the weight W of a Conv ([M, C/group, k...]) or ConvTranspose
 * ([C, M/group, k...]) against X [N, C, ...]; returns its kernel dims in wk
 * and the output channels M in *m. */
static bool check_weight(const Node *n, Diag *d, const Value *x, const Value *wt, bool transposed,
                         int64_t group, int64_t *wk, int64_t *m)
{
    int64_t c = x->shape.dims[1];
    if (wt->shape.rank != x->shape.rank) {
        ir_node_error(d, n, "weight has rank %d, expected %d", wt->shape.rank, x->shape.rank);
        return false;
    }
    int64_t wnumel = shape_numel(&wt->shape);
    if (wnumel < 1 || wnumel > WIN_MAX) {
        char buf[128];
        ir_node_error(d, n, "weight shape %s is empty or too large",
                      shape_str(&wt->shape, buf, sizeof buf));
        return false;
    }
    if (group < 1 || group > WIN_MAX || c % group != 0) {
        ir_node_error(d, n, "group %lld must be at least 1 and divide the %lld input channels",
                      (long long)group, (long long)c);
        return false;
    }
    int64_t w0 = wt->shape.dims[0], w1 = wt->shape.dims[1];
    bool ok = transposed ? w0 == c : w1 * group == c && w0 % group == 0;
    if (!ok) {
        char buf[128];
        ir_node_error(d, n, "weight shape %s does not fit %lld input channels with group %lld",
                      shape_str(&wt->shape, buf, sizeof buf), (long long)c, (long long)group);
        return false;
    }
    *m = transposed ? w1 * group : w0;
    for (int i = 2; i < wt->shape.rank; i++)
        wk[i - 2] = wt->shape.dims[i];
    return true;
}

static bool check_bias(const Node *n, Diag *d, const Value *b, DType dt, int64_t m)
{
    if (b && (b->dtype != dt || b->shape.rank != 1 || b->shape.dims[0] != m)) {
        ir_node_error(d, n, "bias must be a 1-D %s tensor of %lld values", dtype_name(dt),
                      (long long)m);
        return false;
    }
    return true;
}

/* A zero point of ConvInteger: a scalar (or 1-element tensor) of the
 * operand's type; w's may instead hold one value per output channel. */
static bool check_zero_point(const Node *n, Diag *d, const Value *zp, DType dt, int64_t per)
{
    if (!zp)
        return true;
    int64_t numel = shape_numel(&zp->shape);
    if (zp->dtype != dt || zp->shape.rank > 1 || (numel != 1 && numel != per)) {
        ir_node_error(d, n, "zero point '%s' must be a %s scalar%s", zp->name, dtype_name(dt),
                      per > 1 ? " or hold one value per output channel" : "");
        return false;
    }
    return true;
}

/* Conv (opset 1, 11): X [N, C, D1..Dn], W [M, C/group, k1..kn], optional
 * B [M]; Y [N, M, O1..On]. ConvInteger (opset 10): X and W int8/uint8, with
 * optional zero points (inputs 2 and 3, x's a scalar, w's a scalar or [M]),
 * no bias; Y int32. */
bool shape_conv(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *wt = ir_in(g, n, 1);
    bool integer = n->op == OP_ConvInteger;
    DType dt = x->dtype;
    bool dt_ok = integer ? (dt == DT_U8 || dt == DT_I8) && (wt->dtype == DT_U8 || wt->dtype == DT_I8)
                         : (dt == DT_F32 || dt == DT_F64) && wt->dtype == dt;
    if (!dt_ok) {
        ir_node_error(d, n, "input types %s and %s are not supported (%s)", dtype_name(dt),
                      dtype_name(wt->dtype), integer ? "int8 or uint8" : "f32 or f64, the same");
        return false;
    }
    Window w;
    int64_t wk[IR_MAX_RANK], m;
    if (!window_input(n, d, x, &w) ||
        !check_weight(n, d, x, wt, false, ir_attr_int(n, "group", 1), wk, &m) ||
        !window_attrs(n, d, wk, &w) || !window_forward(n, d, false, &w) ||
        !window_fits_int(n, d, &w, false))
        return false;
    if (integer) {
        if (!check_zero_point(n, d, ir_in(g, n, 2), dt, 1) ||
            !check_zero_point(n, d, ir_in(g, n, 3), wt->dtype, m))
            return false;
    } else if (!check_bias(n, d, ir_in(g, n, 2), dt, m)) {
        return false;
    }
    window_write(g, n, &w);
    Shape y = window_out_shape(x->shape.dims[0], m, &w);
    rule_set_out(g, n, 0, integer ? DT_I32 : dt, &y);
    return true;
}

/* ConvTranspose (opset 1, 11): X [N, C, D1..Dn], W [C, M/group, k1..kn],
 * optional B [M]; Y [N, M, O1..On] with O from output_shape, auto_pad or
 * pads and output_padding (window_transposed). */
bool shape_conv_transpose(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *wt = ir_in(g, n, 1);
    DType dt = x->dtype;
    if ((dt != DT_F32 && dt != DT_F64) || wt->dtype != dt) {
        ir_node_error(d, n, "input types %s and %s are not supported (f32 or f64, the same)",
                      dtype_name(dt), dtype_name(wt->dtype));
        return false;
    }
    Window w;
    int64_t wk[IR_MAX_RANK], m;
    if (!window_input(n, d, x, &w) ||
        !check_weight(n, d, x, wt, true, ir_attr_int(n, "group", 1), wk, &m) ||
        !window_attrs(n, d, wk, &w) || !window_transposed(n, d, &w) ||
        !window_fits_int(n, d, &w, true) || !check_bias(n, d, ir_in(g, n, 2), dt, m))
        return false;
    window_write(g, n, &w);
    Shape y = window_out_shape(x->shape.dims[0], m, &w);
    rule_set_out(g, n, 0, dt, &y);
    return true;
}

/* Every window of a pool must hold at least one input element (pads
 * smaller than the window), or its max / average has nothing to work on. */
static bool check_windows_nonempty(const Node *n, Diag *d, const Window *w)
{
    for (int i = 0; i < w->nsp; i++)
        for (int64_t o = 0; o < w->out[i]; o++) {
            int64_t at = o * w->s[i] - w->pb[i];                  /* the window's first tap */
            int64_t k = at < 0 ? (-at + w->d[i] - 1) / w->d[i] : 0; /* its first tap inside */
            if (k >= w->k[i] || at + k * w->d[i] >= w->in[i]) {
                ir_node_error(d, n, "window %lld of spatial dim %d lies entirely in the padding",
                              (long long)o, i);
                return false;
            }
        }
    return true;
}

/* MaxPool (opset 1, 8, 10, 11, 12), AveragePool (1, 7, 10, 11, 19), LpPool
 * (1, 2, 11, 18): X [N, C, D1..Dn] → Y [N, C, O1..On]; MaxPool's optional
 * Indices output is int64 of Y's shape. MaxPool takes f32, f64, int8 and
 * uint8; the others float types. */
bool shape_pool(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    bool dt_ok = dt == DT_F32 || dt == DT_F64 ||
                 (n->op == OP_MaxPool && (dt == DT_I8 || dt == DT_U8));
    if (!dt_ok) {
        ir_node_error(d, n, "input type %s is not supported", dtype_name(dt));
        return false;
    }
    int64_t order = ir_attr_int(n, "storage_order", 0);
    if (order != 0 && order != 1) {
        ir_node_error(d, n, "storage_order must be 0 or 1, got %lld", (long long)order);
        return false;
    }
    Window w;
    bool ceil_mode = ir_attr_int(n, "ceil_mode", 0) != 0;
    if (!window_input(n, d, x, &w) || !window_attrs(n, d, NULL, &w) ||
        !window_forward(n, d, ceil_mode, &w) || !window_fits_int(n, d, &w, false) ||
        !check_windows_nonempty(n, d, &w))
        return false;
    window_write(g, n, &w);
    Shape y = window_out_shape(x->shape.dims[0], x->shape.dims[1], &w);
    rule_set_out(g, n, 0, dt, &y);
    rule_set_out(g, n, 1, DT_I64, &y);
    return true;
}

/* GlobalAveragePool, GlobalMaxPool, GlobalLpPool (opset 1, 2): X [N, C,
 * D1..Dn] → Y [N, C, 1..1], float types. */
bool shape_global_pool(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    Window w;
    if (x->dtype != DT_F32 && x->dtype != DT_F64) {
        ir_node_error(d, n, "input type %s is not supported (f32 or f64)", dtype_name(x->dtype));
        return false;
    }
    if (!window_input(n, d, x, &w))
        return false;
    Shape y = x->shape;
    for (int i = 2; i < y.rank; i++)
        y.dims[i] = 1;
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}
