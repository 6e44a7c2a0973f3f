/* k_misc.c — kernels of GridSample, RoiAlign, MaxUnpool and Det. Sampling
 * computes coordinates and interpolation weights in double; Det runs an LU
 * factorization with partial pivoting in double in scratch. The shape rules
 * are in pass/shapes_misc.c. */
#include "emit.h"

#include <string.h>

/* ---- GridSample ---- */

/* File-scope helpers of GridSample (PyTorch's grid_sample, which ONNX
 * GridSample-16 follows), printed only when a kernel uses them. */
static const char gs_clip[] =
    "/* GridSample: clamp a pixel coordinate into [0, size - 1] */\n"
    "static double kiln_gs_clip(double x, int size)\n"
    "{\n"
    "    return x < 0.0 ? 0.0 : x > size - 1 ? (double)(size - 1) : x;\n"
    "}\n\n";

static const char gs_reflect[] =
    "/* GridSample: reflect a coordinate at the borders (the pixel centers with\n"
    " * align_corners, the image edges without), then clamp */\n"
    "static double kiln_gs_reflect(double x, int size, int align)\n"
    "{\n"
    "    const double lo = align ? 0.0 : -0.5, span = align ? size - 1.0 : (double)size;\n"
    "    if (span <= 0.0)\n"
    "        return 0.0;\n"
    "    x = fabs(x - lo);\n"
    "    const double extra = fmod(x, span);\n"
    "    x = fmod(floor(x / span), 2.0) == 0.0 ? lo + extra : lo + span - extra;\n"
    "    return kiln_gs_clip(x, size);\n"
    "}\n\n";

static const char gs_cubic[] =
    "/* GridSample: the four cubic convolution weights (A = -0.75) at fraction t */\n"
    "static void kiln_gs_cubic(double t, double *w)\n"
    "{\n"
    "    const double A = -0.75, u = t + 1.0, v = 1.0 - t, z = 2.0 - t;\n"
    "    w[0] = ((A * u - 5.0 * A) * u + 8.0 * A) * u - 4.0 * A;\n"
    "    w[1] = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;\n"
    "    w[2] = ((A + 2.0) * v - (A + 3.0)) * v * v + 1.0;\n"
    "    w[3] = ((A * z - 5.0 * A) * z + 8.0 * A) * z - 4.0 * A;\n"
    "}\n\n";

typedef enum GsPad { GS_ZEROS, GS_BORDER, GS_REFLECT } GsPad;

/* The padded form of coordinate expression c along a dim of `size`. */
static const char *gs_pad(Emitter *e, GsPad pad, const char *c, int64_t size, int align)
{
    if (pad == GS_ZEROS)
        return c;
    emit_prelude_once(e, "kiln_gs_clip", gs_clip);
    if (pad == GS_BORDER)
        return arena_printf(e->arena, "kiln_gs_clip(%s, %lld)", c, (long long)size);
    emit_prelude_once(e, "kiln_gs_reflect", gs_reflect);
    return arena_printf(e->arena, "kiln_gs_reflect(%s, %lld, %d)", c, (long long)size, align);
}

/* Pixel (xx, yy) of the H x W plane p (of C type t), 0 outside the image,
 * through a helper printed once per element type. */
static const char *gs_pixel(Emitter *e, const char *t, const char *xx, const char *yy, int64_t H,
                            int64_t W)
{
    const char *fn = arena_printf(e->arena, "kiln_gs_pixel_%s", t);
    emit_prelude_once(e, fn, arena_printf(e->arena,
        "/* GridSample: pixel (x, y) of an h x w plane, 0 outside it */\n"
        "static double %s(const %s *p, int x, int y, int h, int w)\n"
        "{\n"
        "    return x >= 0 && x < w && y >= 0 && y < h ? (double)p[y * w + x] : 0.0;\n"
        "}\n\n", fn, t));
    return arena_printf(e->arena, "%s(p, %s, %s, %lld, %lld)", fn, xx, yy, (long long)H, (long long)W);
}

/* Bicubic: 4x4 taps around floor(ix, iy), each tap's coordinate padded
 * on its own (PyTorch's get_value_bounded); dst is the store's left side
 * and cast ("y[...] = (float)"). */
static void gs_bicubic(Emitter *e, GsPad pad, const char *t, int64_t H, int64_t W, int align,
                       const char *dst)
{
    emit_line(e, "double acc = 0.0;");
    emit_open(e, "for (int j = 0; j < 4; j++)");
    emit_line(e, "const int yy = (int)%s;", gs_pad(e, pad, "fy - 1.0 + j", H, align));
    emit_open(e, "for (int i = 0; i < 4; i++)");
    emit_line(e, "const int xx = (int)%s;", gs_pad(e, pad, "fx - 1.0 + i", W, align));
    emit_line(e, "acc += cy[j] * cx[i] * %s;", gs_pixel(e, t, "xx", "yy", H, W));
    emit_close(e);
    emit_close(e);
    emit_line(e, "%sacc;", dst);
}

/* GridSample (opset 16): per output pixel, the grid's (x, y) in [-1, 1] is
 * unnormalized to pixel coordinates (align_corners: -1 and 1 are the
 * corner pixels' centers, else the image edges), padded (border clamps,
 * reflection mirrors; bicubic pads each tap instead), then sampled
 * bilinearly, nearest (half to even) or bicubically; pixels outside the
 * image read 0. */
bool k_grid_sample(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], H = x->shape.dims[2], W = x->shape.dims[3];
    int64_t Ho = y->shape.dims[2], Wo = y->shape.dims[3];
    const char *mode = ir_attr_str(n, "mode", "bilinear"), *pm = ir_attr_str(n, "padding_mode", "zeros");
    GsPad pad = strcmp(pm, "border") == 0 ? GS_BORDER : strcmp(pm, "reflection") == 0 ? GS_REFLECT : GS_ZEROS;
    int align = ir_attr_int(n, "align_corners", 0) != 0;
    bool cubic = strcmp(mode, "bicubic") == 0, nearest = strcmp(mode, "nearest") == 0;
    const char *t = dtype_ctype(x->dtype);
    if (shape_numel(&y->shape) == 0)
        return true;
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)N);
    emit_open(e, "for (int h = 0; h < %lld; h++)", (long long)Ho);
    emit_open(e, "for (int w = 0; w < %lld; w++)", (long long)Wo);
    emit_line(e, "const %s *gp = %s + ((b * %lld + h) * %lld + w) * 2;", t, e->in_name[1],
              (long long)Ho, (long long)Wo);
    /* unnormalize; fmin/fmax keep NaN and huge values away from int casts */
    for (int k = 0; k < 2; k++) {
        int64_t size = k == 0 ? W : H;
        const char *v = k == 0 ? "ix" : "iy";
        const char *un = align ? arena_printf(e->arena, "((double)gp[%d] + 1.0) / 2.0 * %lld.0", k, (long long)(size - 1))
                               : arena_printf(e->arena, "(((double)gp[%d] + 1.0) * %lld.0 - 1.0) / 2.0", k, (long long)size);
        emit_line(e, "double %s = fmin(fmax(%s, -1e6), 1e6);", v, un);
        if (!cubic && pad != GS_ZEROS)
            emit_line(e, "%s = %s;", v, gs_pad(e, pad, v, size, align));
    }
    if (nearest) {
        emit_line(e, "const int xx = (int)rint(ix), yy = (int)rint(iy);");
    } else {
        emit_line(e, "const double fx = floor(ix), fy = floor(iy), tx = ix - fx, ty = iy - fy;");
        if (cubic) {
            emit_prelude_once(e, "kiln_gs_cubic", gs_cubic);
            emit_line(e, "double cx[4], cy[4];");
            emit_line(e, "kiln_gs_cubic(tx, cx);");
            emit_line(e, "kiln_gs_cubic(ty, cy);");
        } else {
            emit_line(e, "const int xa = (int)fx, ya = (int)fy, xb = xa + 1, yb = ya + 1;");
        }
    }
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const %s *p = %s + (b * %lld + c) * %lld;", t, e->in_name[0], (long long)C,
              (long long)(H * W));
    const char *dst = arena_printf(e->arena, "%s[((b * %lld + c) * %lld + h) * %lld + w]",
                                   e->out_name[0], (long long)C, (long long)Ho, (long long)Wo);
    if (nearest) {
        emit_line(e, "%s = (%s)%s;", dst, t, gs_pixel(e, t, "xx", "yy", H, W));
    } else if (cubic) {
        gs_bicubic(e, pad, t, H, W, align, arena_printf(e->arena, "%s = (%s)", dst, t));
    } else {
        emit_line(e, "const double top = (1.0 - tx) * %s + tx * %s;", gs_pixel(e, t, "xa", "ya", H, W),
                  gs_pixel(e, t, "xb", "ya", H, W));
        emit_line(e, "const double bot = (1.0 - tx) * %s + tx * %s;", gs_pixel(e, t, "xa", "yb", H, W),
                  gs_pixel(e, t, "xb", "yb", H, W));
        emit_line(e, "%s = (%s)((1.0 - ty) * top + ty * bot);", dst, t);
    }
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- RoiAlign ---- */

/* Prints the bilinear sample at (sx, sy) of plane p into w1..w4 and
 * v1..v4 (Caffe2's and ONNX's RoiAlign: a sample more than one pixel
 * outside the image counts 0; coordinates clamp at the last row/column). */
static void roi_sample(Emitter *e, int64_t H, int64_t W)
{
    emit_line(e, "double w1 = 0.0, w2 = 0.0, w3 = 0.0, w4 = 0.0;");
    emit_line(e, "int o1 = 0, o2 = 0, o3 = 0, o4 = 0;");
    emit_open(e, "if (!(sy < -1.0 || sy > %lld.0 || sx < -1.0 || sx > %lld.0))", (long long)H,
              (long long)W);
    for (int k = 0; k < 2; k++) {
        const char *v = k ? "sx" : "sy", *lo = k ? "xl" : "yl", *hi = k ? "xh" : "yh";
        int64_t size = k ? W : H;
        emit_line(e, "%s = %s < 0.0 ? 0.0 : %s;", v, v, v);
        emit_line(e, "int %s = (int)%s, %s;", lo, v, hi);
        emit_open(e, "if (%s >= %lld)", lo, (long long)(size - 1));
        emit_line(e, "%s = %s = %lld;", lo, hi, (long long)(size - 1));
        emit_line(e, "%s = (double)%s;", v, lo);
        e->indent--;
        emit_open(e, "} else");
        emit_line(e, "%s = %s + 1;", hi, lo);
        emit_close(e);
    }
    emit_line(e, "const double ly = sy - yl, lx = sx - xl, hy = 1.0 - ly, hx = 1.0 - lx;");
    emit_line(e, "w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;");
    emit_line(e, "o1 = yl * %lld + xl, o2 = yl * %lld + xh, o3 = yh * %lld + xl, o4 = yh * %lld + xh;",
              (long long)W, (long long)W, (long long)W, (long long)W);
    emit_close(e);
}

/* RoiAlign (opset 10, 16): roi r's box (x1, y1, x2, y2) times
 * spatial_scale (minus 0.5 for half_pixel, the opset-16 default; opset 10
 * and output_half_pixel don't shift but grow boxes to at least 1x1) is cut
 * in output_height x output_width bins, each averaging (or taking the max
 * of) a grid of sampling_ratio^2 bilinear samples (ceil(bin size) per dim
 * when sampling_ratio is 0). */
bool k_roi_align(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], H = x->shape.dims[2], W = x->shape.dims[3];
    int64_t R = y->shape.dims[0], oh = y->shape.dims[2], ow = y->shape.dims[3];
    const char *ctm = ir_attr_str(n, "coordinate_transformation_mode",
                                  n->opset < 16 ? "output_half_pixel" : "half_pixel");
    bool half = strcmp(ctm, "half_pixel") == 0, avg = strcmp(ir_attr_str(n, "mode", "avg"), "avg") == 0;
    int64_t ratio = ir_attr_int(n, "sampling_ratio", 0);
    const char *t = dtype_ctype(x->dtype), **in = e->in_name;
    if (shape_numel(&y->shape) == 0)
        return true;
    if (shape_numel(&x->shape) == 0) { /* nothing to sample: every bin is 0 */
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
                  (long long)shape_numel(&y->shape), t);
        return true;
    }
    emit_open(e, "for (int r = 0; r < %lld; r++)", (long long)R);
    emit_line(e, "const %s *box = %s + r * 4;", t, in[1]);
    emit_line(e, "const long long bi = (long long)%s[r];", in[2]);
    emit_line(e, "const int b = bi < 0 ? 0 : bi >= %lld ? %lld : (int)bi;", (long long)N, (long long)(N - 1));
    emit_line(e, "const double scale = %.17g, off = %s;", ir_attr_float(n, "spatial_scale", 1.0),
              half ? "0.5" : "0.0");
    emit_line(e, "const double x1 = box[0] * scale - off, y1 = box[1] * scale - off;");
    emit_line(e, "double rw = box[2] * scale - off - x1, rh = box[3] * scale - off - y1;");
    if (!half) {
        emit_line(e, "rw = rw > 1.0 ? rw : 1.0;");
        emit_line(e, "rh = rh > 1.0 ? rh : 1.0;");
    }
    emit_line(e, "const double bw = rw / %lld.0, bh = rh / %lld.0;", (long long)ow, (long long)oh);
    if (ratio > 0) {
        emit_line(e, "const int gh = %lld, gw = %lld;", (long long)ratio, (long long)ratio);
    } else { /* adaptive: the sample count depends on the box (bounded for safety) */
        emit_line(e, "const double ch = ceil(bh), cw = ceil(bw);");
        emit_line(e, "const int gh = ch > 1.0 ? (ch < 1024.0 ? (int)ch : 1024) : 1;");
        emit_line(e, "const int gw = cw > 1.0 ? (cw < 1024.0 ? (int)cw : 1024) : 1;");
    }
    if (avg)
        emit_line(e, "const double count = (double)(gh * gw);");
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const %s *p = %s + (b * %lld + c) * %lld;", t, in[0], (long long)C, (long long)(H * W));
    emit_open(e, "for (int ph = 0; ph < %lld; ph++)", (long long)oh);
    emit_open(e, "for (int pw = 0; pw < %lld; pw++)", (long long)ow);
    emit_line(e, "double acc = %s;", avg ? "0.0" : "-1e308");
    emit_open(e, "for (int iy = 0; iy < gh; iy++)");
    emit_open(e, "for (int ix = 0; ix < gw; ix++)");
    emit_line(e, "double sy = y1 + ph * bh + (iy + 0.5) * bh / gh;");
    emit_line(e, "double sx = x1 + pw * bw + (ix + 0.5) * bw / gw;");
    roi_sample(e, H, W);
    if (avg) {
        emit_line(e, "acc += w1 * p[o1] + w2 * p[o2] + w3 * p[o3] + w4 * p[o4];");
    } else {
        emit_line(e, "const double m12 = w1 * p[o1] > w2 * p[o2] ? w1 * p[o1] : w2 * p[o2];");
        emit_line(e, "const double m34 = w3 * p[o3] > w4 * p[o4] ? w3 * p[o3] : w4 * p[o4];");
        emit_line(e, "const double m = m12 > m34 ? m12 : m34;");
        emit_line(e, "acc = m > acc ? m : acc;");
    }
    emit_close(e);
    emit_close(e);
    emit_line(e, "%s[((r * %lld + c) * %lld + ph) * %lld + pw] = (%s)(%s);", e->out_name[0],
              (long long)C, (long long)oh, (long long)ow, t, avg ? "acc / count" : "acc");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- MaxUnpool ---- */

/* MaxUnpool (opset 9, 11): Y = 0, then Y[I[k]] = X[k] with I flat indices
 * into Y (MaxPool's Indices, which count over the whole tensor); indices
 * outside Y are skipped. */
bool k_max_unpool(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t ny = shape_numel(&y->shape);
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0], (long long)ny,
              dtype_ctype(y->dtype));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)shape_numel(&x->shape));
    emit_line(e, "const int64_t at = %s[k];", e->in_name[1]);
    emit_open(e, "if (at >= 0 && at < %lld)", (long long)ny);
    emit_line(e, "%s[at] = %s[k];", e->out_name[0], e->in_name[0]);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- Det ---- */

/* Det (opset 11): per matrix, Gaussian elimination with partial pivoting
 * in double (scratch holds one matrix); the determinant is the product of
 * the pivots, negated per row swap. */
bool k_det(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t M = x->shape.dims[x->shape.rank - 1], batch = shape_numel(&y->shape);
    int64_t bytes = M * M * (int64_t)sizeof(double);
    if (batch == 0)
        return true;
    if (M == 0) { /* the determinant of a 0x0 matrix is 1 */
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)batch);
        emit_line(e, "%s[b] = %s;", e->out_name[0], emit_flit(e, 1, y->dtype));
        emit_close(e);
        return true;
    }
    if (bytes > e->scratch)
        e->scratch = bytes;
    emit_line(e, "double *a = (double *)scratch;");
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)batch);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)(M * M));
    emit_line(e, "a[k] = (double)%s[b * %lld + k];", e->in_name[0], (long long)(M * M));
    emit_close(e);
    emit_line(e, "double det = 1.0;");
    emit_open(e, "for (int c = 0; c < %lld && det != 0.0; c++)", (long long)M);
    emit_line(e, "int piv = c;");
    emit_open(e, "for (int r = c + 1; r < %lld; r++)", (long long)M);
    emit_line(e, "piv = fabs(a[r * %lld + c]) > fabs(a[piv * %lld + c]) ? r : piv;", (long long)M,
              (long long)M);
    emit_close(e);
    emit_open(e, "if (piv != c)");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)M);
    emit_line(e, "const double tmp = a[c * %lld + j];", (long long)M);
    emit_line(e, "a[c * %lld + j] = a[piv * %lld + j];", (long long)M, (long long)M);
    emit_line(e, "a[piv * %lld + j] = tmp;", (long long)M);
    emit_close(e);
    emit_line(e, "det = -det;");
    emit_close(e);
    emit_line(e, "det *= a[c * %lld];", (long long)(M + 1));
    emit_open(e, "for (int r = c + 1; r < %lld && det != 0.0; r++)", (long long)M);
    emit_line(e, "const double f = a[r * %lld + c] / a[c * %lld];", (long long)M, (long long)(M + 1));
    emit_open(e, "for (int j = c; j < %lld; j++)", (long long)M);
    emit_line(e, "a[r * %lld + j] -= f * a[c * %lld + j];", (long long)M, (long long)M);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_line(e, "%s[b] = (%s)det;", e->out_name[0], dtype_ctype(y->dtype));
    emit_close(e);
    return true;
}

/* ---- Compress ---- */

/* Compress (opset 9, 11): a gather along `axis` (of the flattened input
 * without one) at the indices where the constant condition is true. */
bool k_compress(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *c = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    const Attr *ax = ir_attr(n, "axis");
    int64_t axis = ax ? (ax->i < 0 ? ax->i + x->shape.rank : ax->i) : 0;
    int64_t outer = 1, len = ax ? x->shape.dims[axis] : shape_numel(&x->shape), inner = 1;
    for (int i = 0; ax && i < x->shape.rank; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    int64_t kept = ax ? y->shape.dims[axis] : shape_numel(&y->shape);
    if (shape_numel(&y->shape) == 0)
        return true;
    StrBuf sb = {0};
    for (int64_t k = 0, m = 0; k < c->shape.dims[0]; k++)
        if (((const uint8_t *)c->data)[k])
            sb_printf(&sb, "%s%lld", m++ ? ", " : "", (long long)k);
    emit_line(e, "static const int kept[%lld] = {%s};", (long long)kept, sb.buf);
    sb_free(&sb);
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)kept);
    emit_line(e, "memcpy(%s + (o * %lld + k) * %lld, %s + (o * %lld + kept[k]) * %lld, %lld * sizeof(%s));",
              e->out_name[0], (long long)kept, (long long)inner, e->in_name[0], (long long)len,
              (long long)inner, (long long)inner, dtype_ctype(x->dtype));
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- TfIdfVectorizer ---- */

/* The pool's n-grams of n items as a static table, and their output
 * columns; returns how many there are. */
static int64_t tfidf_table(Emitter *e, const Node *n, int64_t ng, int64_t *first)
{
    const Attr *pool = ir_attr(n, "pool_int64s"), *cnt = ir_attr(n, "ngram_counts");
    const Attr *idx = ir_attr(n, "ngram_indexes");
    if (ng > cnt->n)
        return 0;
    int64_t start = cnt->ints[ng - 1], end = ng < cnt->n ? cnt->ints[ng] : pool->n;
    int64_t count = (end - start) / ng;
    *first = 0; /* the index of this size's first n-gram among all */
    for (int64_t k = 0; k + 1 < ng; k++)
        *first += ((k + 1 < cnt->n ? cnt->ints[k + 1] : pool->n) - cnt->ints[k]) / (k + 1);
    if (count == 0)
        return 0;
    StrBuf sb = {0}, sc = {0};
    for (int64_t k = start; k < end; k++)
        sb_printf(&sb, "%s%lld", k > start ? ", " : "", (long long)pool->ints[k]);
    for (int64_t k = 0; k < count; k++)
        sb_printf(&sc, "%s%lld", k ? ", " : "", (long long)idx->ints[*first + k]);
    emit_line(e, "static const int64_t pool%lld[%lld] = {%s};", (long long)ng, (long long)(end - start), sb.buf);
    emit_line(e, "static const int col%lld[%lld] = {%s};", (long long)ng, (long long)count, sc.buf);
    sb_free(&sb);
    sb_free(&sc);
    return count;
}

/* Counts, per row, the n-grams of n items starting at each i with items
 * `step` apart (step 1 .. max_skip_count + 1; unigrams once). */
static void tfidf_count(Emitter *e, int64_t ng, int64_t count, int64_t len, int64_t max_skip)
{
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)len);
    emit_open(e, "for (int step = 1; step <= %lld && i + %lld * step < %lld; step++)",
              (long long)(ng == 1 ? 1 : max_skip + 1), (long long)(ng - 1), (long long)len);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)count);
    emit_line(e, "int j = 0;");
    emit_line(e, "while (j < %lld && (int64_t)x[i + j * step] == pool%lld[m * %lld + j])", (long long)ng,
              (long long)ng, (long long)ng);
    emit_line(e, "    j++;");
    emit_line(e, "y[col%lld[m]] += j == %lld ? 1.0f : 0.0f;", (long long)ng, (long long)ng);
    emit_close(e);
    emit_close(e);
    emit_close(e);
}

/* TfIdfVectorizer (opset 9): per row of X, count the pool's n-grams of
 * min_gram_length to max_gram_length items into their columns; IDF turns
 * each count into weight (count > 0), TFIDF into count * weight (weights
 * default 1). */
bool k_tfidf(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t rows = x->shape.rank == 2 ? x->shape.dims[0] : 1;
    int64_t len = x->shape.dims[x->shape.rank - 1], width = y->shape.dims[y->shape.rank - 1];
    int64_t lo = ir_attr_int(n, "min_gram_length", 1), hi = ir_attr_int(n, "max_gram_length", 1);
    const char *mode = ir_attr_str(n, "mode", "TF");
    emit_line(e, "memset(%s, 0, %lld * sizeof(float));", e->out_name[0], (long long)shape_numel(&y->shape));
    if (shape_numel(&x->shape) == 0 || width == 0)
        return true;
    emit_open(e, "for (int r = 0; r < %lld; r++)", (long long)rows);
    emit_line(e, "const %s *x = %s + r * %lld;", dtype_ctype(x->dtype), e->in_name[0], (long long)len);
    emit_line(e, "float *y = %s + r * %lld;", e->out_name[0], (long long)width);
    for (int64_t ng = lo; ng <= hi; ng++) {
        int64_t first, count = tfidf_table(e, n, ng, &first);
        if (count > 0 && ng <= len)
            tfidf_count(e, ng, count, len, ir_attr_int(n, "max_skip_count", 0));
    }
    if (strcmp(mode, "TF") != 0) {
        const Attr *w = ir_attr(n, "weights"), *idx = ir_attr(n, "ngram_indexes");
        StrBuf sb = {0};
        for (int64_t c = 0; c < width; c++) {
            double wc = 1.0;
            for (int k = 0; w && k < idx->n; k++)
                wc = idx->ints[k] == c ? w->floats[k] : wc;
            sb_printf(&sb, "%s%s", c ? ", " : "", emit_flit(e, wc, DT_F32));
        }
        emit_line(e, "static const float weight[%lld] = {%s};", (long long)width, sb.buf);
        sb_free(&sb);
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)width);
        emit_line(e, "y[c] = %s;", strcmp(mode, "IDF") == 0 ? "y[c] > 0.0f ? weight[c] : 0.0f"
                                                            : "y[c] * weight[c]");
        emit_close(e);
    }
    emit_close(e);
    return true;
}
