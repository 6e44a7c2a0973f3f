/* k_resize.c — the kernel of Resize (opsets 10, 11, 13, 18, 19) and
 * Upsample (7, 9). Interpolation is separable, so kiln computes, at compile
 * time, a table per resized axis (for each output position: the input
 * indices it reads and their weights) and prints one pass per axis, each
 * reading the previous pass's output. Coordinates, neighbours and weights
 * follow the ONNX reference implementation (onnx/reference/ops/op_resize.py);
 * the shape rule (shapes_gather.c) has resolved the scale factors and roi
 * into the attributes kiln_scales / kiln_roi. */
#include "emit.h"

#include <math.h>
#include <string.h>

typedef enum ResizeMode { RM_NEAREST, RM_LINEAR, RM_CUBIC } ResizeMode;

typedef struct ResizeCfg {
    ResizeMode mode;
    bool legacy;          /* Upsample, Resize-10: asymmetric, nearest as ORT's "simple" */
    const char *ctm;      /* coordinate_transformation_mode */
    const char *nearest;  /* nearest_mode */
    double cubic_a, extrapolation;
    bool exclude_outside, antialias;
} ResizeCfg;

/* One resized axis: output position j reads input idx[j*taps + k] with
 * weight w[j*taps + k]; ext[j] marks positions that take the extrapolation
 * value (tf_crop_and_resize outside the input). */
typedef struct AxisPlan {
    int axis;
    int64_t in, out;
    int taps;
    int *idx;
    double *w;
    bool *ext;
    bool any_ext;
} AxisPlan;

#define RESIZE_MAX_TAPS 1024

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

static void resize_cfg(const Node *n, ResizeCfg *c)
{
    const char *mode = ir_attr_str(n, "mode", "nearest");
    c->mode = strcmp(mode, "cubic") == 0 ? RM_CUBIC
              : strcmp(mode, "nearest") == 0 ? RM_NEAREST : RM_LINEAR;
    c->legacy = n->op == OP_Upsample || n->opset < 11;
    c->ctm = c->legacy ? "asymmetric" : ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    c->nearest = ir_attr_str(n, "nearest_mode", "round_prefer_floor");
    c->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75);
    c->extrapolation = ir_attr_float(n, "extrapolation_value", 0.0);
    c->exclude_outside = !c->legacy && ir_attr_int(n, "exclude_outside", 0) != 0;
    c->antialias = n->op == OP_Resize && n->opset >= 18 && ir_attr_int(n, "antialias", 0) != 0 &&
                   c->mode != RM_NEAREST;
}

/* x_original of output coordinate x. As in the ONNX reference, the resized
 * length is scale * in (not the integer output dim), which matters when
 * scales don't divide the input evenly. */
static double resize_coord(const ResizeCfg *c, double x, double in, double out, double scale,
                           double roi0, double roi1, bool *ext)
{
    double ow = scale * in;
    *ext = false;
    if (strcmp(c->ctm, "asymmetric") == 0)
        return x / scale;
    if (strcmp(c->ctm, "align_corners") == 0)
        return ow == 1 ? 0 : x * (in - 1) / (ow - 1);
    if (strcmp(c->ctm, "tf_crop_and_resize") == 0) {
        double xo = ow == 1 ? (roi1 - roi0) * (in - 1) / 2
                            : x * (roi1 - roi0) * (in - 1) / (ow - 1);
        xo += roi0 * (in - 1);
        *ext = xo < 0 || xo > in - 1;
        return xo;
    }
    if (strcmp(c->ctm, "pytorch_half_pixel") == 0)
        return ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    if (strcmp(c->ctm, "tf_half_pixel_for_nn") == 0)
        return (x + 0.5) / scale;
    if (strcmp(c->ctm, "half_pixel_symmetric") == 0) {
        double offset = in / 2 * (1 - out / ow);
        return offset + (x + 0.5) / scale - 0.5;
    }
    return (x + 0.5) / scale - 0.5; /* half_pixel */
}

/* Taps of the filter: 2 (nearest, linear), 4 (cubic), or the antialiased
 * filters' footprint, stretched by 1 / scale when downsampling. */
static int resize_tap_count(const ResizeCfg *c, double scale)
{
    if (c->mode == RM_NEAREST || (!c->antialias && c->mode == RM_LINEAR))
        return 2;
    if (!c->antialias)
        return 4;
    double s = scale < 1 ? scale : 1;
    double start = floor((c->mode == RM_LINEAR ? -1 : -2) / s) + 1;
    return start < -RESIZE_MAX_TAPS ? RESIZE_MAX_TAPS + 1 : (int)(2 - 2 * start);
}

static double cubic_kernel(double x, double A)
{
    x = fabs(x);
    if (x <= 1)
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2)
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

/* The n weights of the window for ratio in (0, 1] (the distance from the
 * tap left of x_original): _nearest/_linear/_cubic_coeffs and their
 * antialiased forms in the ONNX reference. */
static void resize_coeffs(const ResizeCfg *c, double ratio, double scale, int n, double *w)
{
    if (c->mode == RM_NEAREST) {
        bool right = ratio == 1 || strcmp(c->nearest, "ceil") == 0 ||
                     (strcmp(c->nearest, "round_prefer_floor") == 0 && ratio > 0.5) ||
                     (strcmp(c->nearest, "round_prefer_ceil") == 0 && ratio >= 0.5);
        if (strcmp(c->nearest, "floor") == 0 && ratio != 1)
            right = false;
        w[0] = !right, w[1] = right;
        return;
    }
    if (!c->antialias && c->mode == RM_LINEAR) {
        w[0] = 1 - ratio, w[1] = ratio;
        return;
    }
    if (!c->antialias) {
        double A = c->cubic_a;
        for (int k = 0; k < 4; k++)
            w[k] = cubic_kernel(k - 1 - ratio, A);
        return;
    }
    double s = scale < 1 ? scale : 1, sum = 0;
    int start = 1 - n / 2;
    for (int k = 0; k < n; k++) {
        double arg = s * (start + k - ratio);
        w[k] = c->mode == RM_LINEAR ? fmax(0, 1 - fabs(arg)) : cubic_kernel(arg, c->cubic_a);
        sum += w[k];
    }
    for (int k = 0; k < n; k++)
        w[k] /= sum;
}

/* Output position j of axis plan p at x_original xo: the n nearest input
 * positions (smaller ones preferred; within the edge-padded range the
 * reference searches), edge-clamped, with exclude_outside dropping and
 * renormalizing the weights of positions outside the input. */
static void resize_taps(const ResizeCfg *c, AxisPlan *p, int64_t j, double xo, double scale)
{
    int n = resize_tap_count(c, scale);
    double w[RESIZE_MAX_TAPS], fl = floor(xo), sum = 0;
    double ratio = xo == fl ? 1 : xo - fl;
    int64_t i0 = (int64_t)fl - (xo == fl), pad = (n + 1) / 2;
    int64_t s = i0 - (n / 2 - 1), lo = -pad, hi = p->in - 1 + pad;
    resize_coeffs(c, ratio, scale, n, w);
    s = s < lo ? lo : s + n - 1 > hi ? hi - n + 1 : s;
    for (int k = 0; k < n; k++) {
        int64_t t = s + k;
        if (c->exclude_outside && (t < 0 || t >= p->in))
            w[k] = 0;
        sum += w[k];
    }
    for (int k = 0, out = 0; k < n; k++) {
        int64_t t = s + k, at = j * p->taps + out;
        if (c->mode == RM_NEAREST && w[k] == 0)
            continue;
        p->idx[at] = (int)(t < 0 ? 0 : t >= p->in ? p->in - 1 : t);
        p->w[at] = c->exclude_outside && sum != 0 ? w[k] / sum : w[k];
        if (c->mode == RM_NEAREST)
            break;
        out++;
    }
}

/* The table of one axis; false if the axis is the identity (skipped). */
static bool resize_plan(Emitter *e, const ResizeCfg *c, const Node *n, const Value *x,
                        const Value *y, int axis, AxisPlan *p)
{
    const Attr *sc = ir_attr(n, "kiln_scales"), *roi = ir_attr(n, "kiln_roi");
    int r = x->shape.rank;
    double scale = sc->floats[axis];
    p->axis = axis;
    p->in = x->shape.dims[axis];
    p->out = y->shape.dims[axis];
    p->taps = c->mode == RM_NEAREST ? 1 : resize_tap_count(c, scale);
    p->idx = arena_alloc(e->arena, sizeof(int) * (size_t)(p->out * p->taps + 1));
    p->w = arena_alloc(e->arena, sizeof(double) * (size_t)(p->out * p->taps + 1));
    p->ext = arena_alloc(e->arena, sizeof(bool) * (size_t)(p->out + 1));
    p->any_ext = false;
    bool identity = p->in == p->out;
    for (int64_t j = 0; j < p->out; j++) {
        double xo = resize_coord(c, (double)j, (double)p->in, (double)p->out, scale,
                                 roi ? roi->floats[axis] : 0, roi ? roi->floats[r + axis] : 1,
                                 &p->ext[j]);
        p->any_ext |= p->ext[j];
        if (p->ext[j])
            continue;
        if (c->legacy && c->mode == RM_NEAREST) {
            /* ORT's "simple" rounding: floor when upsampling, ceil when downsampling */
            double k = scale < 1 ? ceil(xo) : floor(xo);
            p->idx[j] = (int)(k < 0 ? 0 : k > p->in - 1 ? p->in - 1 : k);
            p->w[j] = 1;
        } else {
            resize_taps(c, p, j, xo, scale);
        }
        double on_j = 0, off_j = 0;
        for (int64_t at = j * p->taps; at < (j + 1) * p->taps; at++)
            *(p->idx[at] == j ? &on_j : &off_j) += fabs(p->w[at]);
        identity &= on_j == 1 && off_j == 0;
    }
    return !(identity && !p->any_ext);
}

/* A static const table of ints (iv), weights (dv) or flags (bv), one output
 * position's taps a line (at most eight values). */
static void emit_table(Emitter *e, const char *type, const char *name, int64_t count, int taps,
                       const int *iv, const double *dv, const bool *bv, DType wt)
{
    int per = taps >= 2 && taps <= 8 ? taps : 8;
    emit_line(e, "static const %s %s[%lld] = {", type, name, (long long)count);
    e->indent++;
    StrBuf sb = {0};
    for (int64_t k = 0; k < count; k++) {
        if (iv)
            sb_printf(&sb, "%d", iv[k]);
        else if (dv)
            sb_printf(&sb, "%s", emit_flit(e, dv[k], wt));
        else
            sb_printf(&sb, "%d", bv[k] ? 1 : 0);
        if (k + 1 < count)
            sb_printf(&sb, ",%s", k % per == per - 1 ? "" : " ");
        if (k % per == per - 1 || k + 1 == count) {
            emit_line(e, "%s", sb.buf);
            sb.len = 0;
        }
    }
    sb_free(&sb);
    e->indent--;
    emit_line(e, "};");
}

/* Where one pass reads and writes: buffer names and C element types. */
typedef struct PassIO {
    const char *src, *src_t, *dst, *dst_t;
    DType dst_dt;       /* dtype of the destination elements */
    const char *acc_t;  /* weights and sums: float for f32, else double */
    bool final_int;     /* the destination is Y of an integer dtype (convert) */
} PassIO;

/* The weighted sum of one output element of a pass, as a C expression. */
static const char *pass_sum(Emitter *e, const AxisPlan *p, int64_t inner)
{
    StrBuf sb = {0};
    const char *in = inner == 1 ? "" : arena_printf(e->arena, " * %lld + i", (long long)inner);
    for (int k = 0; k < p->taps; k++)
        sb_printf(&sb, "%sjw[%d] * s[jx[%d]%s]", k ? " + " : "", k, k, in);
    const char *r = arena_strdup(e->arena, sb.buf);
    sb_free(&sb);
    return r;
}

/* d[at] = v, converting to an integer Y with saturation (the bounds as
 * exact doubles: 2^63 and 2^64 for the 64-bit types, where the compare
 * must not round INT64_MAX up). */
static void emit_store(Emitter *e, const PassIO *io, const char *at, const char *v)
{
    static const struct { DType dt; const char *lo, *hi, *lo_d, *hi_d; } lim[] = {
        {DT_I8, "INT8_MIN", "INT8_MAX", "-128.0", "127.0"},
        {DT_I16, "INT16_MIN", "INT16_MAX", "-32768.0", "32767.0"},
        {DT_I32, "INT32_MIN", "INT32_MAX", "-2147483648.0", "2147483647.0"},
        {DT_I64, "INT64_MIN", "INT64_MAX", "-9223372036854775808.0", "9223372036854775808.0"},
        {DT_U8, "0", "UINT8_MAX", "0.0", "255.0"},
        {DT_U16, "0", "UINT16_MAX", "0.0", "65535.0"},
        {DT_U32, "0", "UINT32_MAX", "0.0", "4294967295.0"},
        {DT_U64, "0", "UINT64_MAX", "0.0", "18446744073709551616.0"},
        {DT_BOOL, "0", "1", "0.0", "1.0"},
    };
    if (!io->final_int) {
        emit_line(e, "d[%s] = %s;", at, v);
        return;
    }
    for (size_t k = 0; k < sizeof lim / sizeof lim[0]; k++)
        if (lim[k].dt == io->dst_dt) {
            emit_line(e, "const double v = %s;", v);
            emit_line(e, "d[%s] = v <= %s ? %s : v >= %s ? %s : (%s)v;", at, lim[k].lo_d, lim[k].lo,
                      lim[k].hi_d, lim[k].hi, io->dst_t);
            return;
        }
    KILN_ASSERT(!"emit_store: integer dtype without limits");
}

/* The body of one output position j of a pass (inside the loop over j). */
static void emit_pass_row(Emitter *e, const ResizeCfg *c, const AxisPlan *p, const PassIO *io,
                          int64_t inner)
{
    const char *at = inner == 1 ? "j" : arena_printf(e->arena, "j * %lld + i", (long long)inner);
    if (p->any_ext) {
        emit_open(e, "if (ext[j])");
        if (inner > 1)
            emit_line(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
        emit_line(e, "%sd[%s] = %s;", inner > 1 ? "    " : "", at,
                  emit_lit(e, c->extrapolation, io->dst_dt));
        emit_line(e, "continue;");
        emit_close(e);
    }
    if (c->mode == RM_NEAREST && inner > 1) {
        emit_line(e, "memcpy(d + j * %lld, s + ix[j] * %lld, %lld * sizeof(%s));", (long long)inner,
                  (long long)inner, (long long)inner, io->dst_t);
        return;
    }
    if (c->mode == RM_NEAREST) {
        emit_line(e, "d[j] = s[ix[j]];");
        return;
    }
    emit_line(e, "const int *jx = ix + j * %d;", p->taps);
    emit_line(e, "const %s *jw = w + j * %d;", io->acc_t, p->taps);
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    if (p->taps <= 4) {
        emit_store(e, io, at, pass_sum(e, p, inner));
    } else {
        const char *in = inner == 1 ? "" : arena_printf(e->arena, " * %lld + i", (long long)inner);
        emit_line(e, "%s acc = 0;", io->acc_t);
        emit_line(e, "for (int k = 0; k < %d; k++)", p->taps);
        emit_line(e, "    acc += jw[k] * s[jx[k]%s];", in);
        emit_store(e, io, at, "acc");
    }
    if (inner > 1)
        emit_close(e);
}

/* One pass: cur is the shape before it; resamples axis p->axis. */
static void emit_pass(Emitter *e, const ResizeCfg *c, const AxisPlan *p, const Shape *cur,
                      const PassIO *io, DType wt)
{
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < cur->rank && i < IR_MAX_RANK; i++) { /* the bound stops a false gcc -O3 warning */
        if (i < p->axis)
            outer *= cur->dims[i];
        else if (i > p->axis)
            inner *= cur->dims[i];
    }
    emit_line(e, "{ /* axis %d: %lld -> %lld */", p->axis, (long long)p->in, (long long)p->out);
    e->indent++;
    emit_table(e, "int", "ix", p->out * p->taps, p->taps, p->idx, NULL, NULL, wt);
    if (c->mode != RM_NEAREST)
        emit_table(e, dtype_ctype(wt), "w", p->out * p->taps, p->taps, NULL, p->w, NULL, wt);
    if (p->any_ext)
        emit_table(e, "unsigned char", "ext", p->out, 1, NULL, NULL, p->ext, wt);
    if (outer > 1) {
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
        emit_line(e, "const %s *s = %s + o * %lld;", io->src_t, io->src, (long long)(p->in * inner));
        emit_line(e, "%s *d = %s + o * %lld;", io->dst_t, io->dst, (long long)(p->out * inner));
    } else {
        emit_line(e, "const %s *s = %s;", io->src_t, io->src);
        emit_line(e, "%s *d = %s;", io->dst_t, io->dst);
    }
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)p->out);
    emit_pass_row(e, c, p, io, inner);
    emit_close(e);
    if (outer > 1)
        emit_close(e);
    emit_close(e);
}

/* Shrinking axes first (by out / in; stable), so intermediates stay small. */
static void sort_passes(AxisPlan *plans, int np)
{
    for (int k = 1; k < np; k++)
        for (int j = k; j > 0 && plans[j].out * plans[j - 1].in < plans[j - 1].out * plans[j].in;
             j--) {
            AxisPlan t = plans[j];
            plans[j] = plans[j - 1];
            plans[j - 1] = t;
        }
}

/* Scratch for the intermediates: pass k writes buffer t(k % 2), each sized
 * for the largest intermediate it holds; the last pass writes Y. */
static void emit_buffers(Emitter *e, const AxisPlan *plans, int np, const Shape *x, DType bt)
{
    Shape cur = *x;
    int64_t size[2] = {0, 0}, es = (int64_t)dtype_size(bt);
    for (int k = 0; k + 1 < np; k++) {
        cur.dims[plans[k].axis] = plans[k].out;
        int64_t numel = shape_numel(&cur);
        size[k % 2] = numel > size[k % 2] ? numel : size[k % 2];
    }
    int64_t off1 = (size[0] * es + 63) / 64 * 64;
    const char *t = dtype_ctype(bt);
    if (np > 1) {
        e->scratch = off1 + size[1] * es;
        emit_line(e, "%s *t0 = (%s *)scratch;", t, t);
    }
    if (np > 2)
        emit_line(e, "%s *t1 = (%s *)((unsigned char *)scratch + %lld);", t, t, (long long)off1);
}

/* Resize / Upsample: X → Y, one pass per resampled axis, shrinking axes
 * first so the intermediates stay small; intermediates live in scratch
 * (two ping-pong buffers) in X's dtype for nearest, else in the weights'
 * type (float for f32, double otherwise). */
bool k_resize(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    ResizeCfg c;
    resize_cfg(n, &c);
    DType dt = x->dtype, wt = dt == DT_F32 ? DT_F32 : DT_F64;
    DType bt = c.mode == RM_NEAREST ? dt : wt; /* intermediates */
    AxisPlan plans[IR_MAX_RANK];
    int np = 0;
    if (shape_numel(&y->shape) == 0)
        return emit_empty(e, n);
    for (int a = 0; a < x->shape.rank; a++) {
        if (resize_tap_count(&c, ir_attr(n, "kiln_scales")->floats[a]) > RESIZE_MAX_TAPS) {
            ir_node_error(e->d, n, "the antialiasing filter of axis %d is wider than %d taps", a,
                          RESIZE_MAX_TAPS);
            return false;
        }
        if (resize_plan(e, &c, n, x, y, a, &plans[np]))
            np++;
    }
    sort_passes(plans, np);
    if (np == 0) {
        emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
                  (long long)shape_numel(&y->shape), dtype_ctype(dt));
        return true;
    }
    emit_buffers(e, plans, np, &x->shape, bt);
    Shape cur = x->shape;
    const char *bname[2] = {"t0", "t1"};
    for (int k = 0; k < np; k++) {
        bool last = k + 1 == np;
        PassIO io = {
            .src = k == 0 ? e->in_name[0] : bname[(k - 1) % 2],
            .src_t = dtype_ctype(k == 0 ? dt : bt),
            .dst = last ? e->out_name[0] : bname[k % 2],
            .dst_t = dtype_ctype(last ? dt : bt),
            .dst_dt = last ? dt : bt,
            .acc_t = dtype_ctype(wt),
            .final_int = last && !dtype_is_float(dt) && c.mode != RM_NEAREST,
        };
        emit_pass(e, &c, &plans[k], &cur, &io, wt);
        cur.dims[plans[k].axis] = plans[k].out;
    }
    return true;
}

/* ---- ResizeGrad (ops_train_gather.def) ---- */

/* The adjoint of one pass: dst (the shape before the pass, axis p->in) = 0,
 * then every output position j adds each tap's weight times src[j] (the
 * shape after it, axis p->out) to the input position the tap read;
 * extrapolated positions read nothing and give nothing back. */
static void emit_adjoint_pass(Emitter *e, const ResizeCfg *c, const AxisPlan *p, const Shape *cur,
                              const char *src, const char *dst, DType dt)
{
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < cur->rank; i++) {
        if (i < p->axis)
            outer *= cur->dims[i];
        else if (i > p->axis)
            inner *= cur->dims[i];
    }
    const char *t = dtype_ctype(dt);
    emit_line(e, "{ /* axis %d: the adjoint of %lld -> %lld */", p->axis, (long long)p->in,
              (long long)p->out);
    e->indent++;
    emit_table(e, "int", "ix", p->out * p->taps, p->taps, p->idx, NULL, NULL, dt);
    if (c->mode != RM_NEAREST)
        emit_table(e, t, "w", p->out * p->taps, p->taps, NULL, p->w, NULL, dt);
    if (p->any_ext)
        emit_table(e, "unsigned char", "ext", p->out, 1, NULL, NULL, p->ext, dt);
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", dst, (long long)(outer * p->in * inner), t);
    if (outer > 1) {
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
        emit_line(e, "const %s *s = %s + o * %lld;", t, src, (long long)(p->out * inner));
        emit_line(e, "%s *d = %s + o * %lld;", t, dst, (long long)(p->in * inner));
    } else {
        emit_line(e, "const %s *s = %s;", t, src);
        emit_line(e, "%s *d = %s;", t, dst);
    }
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)p->out);
    if (p->any_ext) {
        emit_line(e, "if (ext[j])");
        emit_line(e, "    continue;");
    }
    if (c->mode != RM_NEAREST) {
        emit_line(e, "const int *jx = ix + j * %d;", p->taps);
        emit_line(e, "const %s *jw = w + j * %d;", t, p->taps);
    }
    const char *i = inner > 1 ? " + i" : "";
    if (inner > 1)
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    emit_line(e, "const %s v = s[j%s%s];", t,
              inner > 1 ? arena_printf(e->arena, " * %lld", (long long)inner) : "", i);
    const char *row = inner > 1 ? arena_printf(e->arena, " * %lld", (long long)inner) : "";
    if (c->mode == RM_NEAREST) {
        emit_line(e, "d[ix[j]%s%s] += v;", row, i);
    } else {
        emit_line(e, "for (int k = 0; k < %d; k++)", p->taps);
        emit_line(e, "    d[jx[k]%s%s] += jw[k] * v;", row, i);
    }
    if (inner > 1)
        emit_close(e);
    emit_close(e);
    if (outer > 1)
        emit_close(e);
    emit_close(e);
}

/* ResizeGrad: dY [the forward Y] → dX [the forward X, attribute "shape"],
 * f32 or f64. The forward is linear in X, one pass per resampled axis
 * (k_resize, the same tables: "of" and "opset" rebuild its configuration);
 * the backward runs the passes' adjoints last to first, intermediates in
 * two ping-pong scratch buffers. */
bool k_resize_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *dy = ir_in(g, n, 0), *dx = ir_out(g, n, 0);
    Node fwd = *n;
    fwd.op = op_from_name(ir_attr_str(n, "of", "Resize"));
    fwd.opset = (int)ir_attr_int(n, "opset", n->opset);
    ResizeCfg c;
    resize_cfg(&fwd, &c);
    DType dt = dx->dtype;
    AxisPlan plans[IR_MAX_RANK];
    int np = 0;
    if (shape_numel(&dx->shape) == 0 || shape_numel(&dy->shape) == 0) {
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
                  (long long)shape_numel(&dx->shape), dtype_ctype(dt));
        emit_line(e, "(void)%s;", e->in_name[0]);
        return true;
    }
    for (int a = 0; a < dx->shape.rank; a++) {
        if (resize_tap_count(&c, ir_attr(n, "kiln_scales")->floats[a]) > RESIZE_MAX_TAPS) {
            ir_node_error(e->d, n, "the antialiasing filter of axis %d is wider than %d taps", a,
                          RESIZE_MAX_TAPS);
            return false;
        }
        if (resize_plan(e, &c, &fwd, dx, dy, a, &plans[np]))
            np++;
    }
    sort_passes(plans, np);
    if (np == 0) {
        emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
                  (long long)shape_numel(&dx->shape), dtype_ctype(dt));
        return true;
    }
    Shape cur[IR_MAX_RANK + 1];
    cur[0] = dx->shape;
    for (int k = 0; k < np; k++) {
        cur[k + 1] = cur[k];
        cur[k + 1].dims[plans[k].axis] = plans[k].out;
    }
    emit_buffers(e, plans, np, &dx->shape, dt);
    /* the forward pass k wrote t(k % 2) for k < np - 1: its adjoint reads it */
    const char *bname[2] = {"t0", "t1"};
    for (int k = np - 1; k >= 0; k--) {
        const char *src = k == np - 1 ? e->in_name[0] : bname[k % 2];
        const char *dst = k == 0 ? e->out_name[0] : bname[(k - 1) % 2];
        emit_adjoint_pass(e, &c, &plans[k], &cur[k], src, dst, dt);
    }
    return true;
}
