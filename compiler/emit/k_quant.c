/* k_quant.c — kernels of the quantization ops: QuantizeLinear,
 * DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul and QLinearConv.
 * Quantizing computes in float, rounds half to even with rintf (C's default
 * rounding mode) and saturates to the 8-bit range, as the ONNX spec and
 * pass/fold_misc.c do. The shape rules are in pass/shapes_misc.c. */
#include "emit.h"

#include <string.h>

/* The saturation bounds of an 8-bit output type, as float literals. */
static const char *q_lo(DType t)
{
    return t == DT_U8 ? "0.0f" : "-128.0f";
}

static const char *q_hi(DType t)
{
    return t == DT_U8 ? "255.0f" : "127.0f";
}

/* Prints `dst = (T)saturate(v)` for the float local v. */
static void emit_saturate(Emitter *e, DType t, const char *dst)
{
    emit_line(e, "v = v > %s ? v : %s;", q_lo(t), q_lo(t));
    emit_line(e, "v = v < %s ? v : %s;", q_hi(t), q_hi(t));
    emit_line(e, "%s = (%s)v;", dst, dtype_ctype(t));
}

/* QuantizeLinear, DequantizeLinear (opset 10, 13): one loop over x; the
 * channel of element k is k / inner % channels when scale is per axis. */
bool k_quantize(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *s = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int64_t numel = shape_numel(&x->shape), channels = 1, inner = 1;
    if (shape_numel(&s->shape) > 1) {
        int64_t axis = ir_attr_int(n, "axis", 1);
        axis += axis < 0 ? x->shape.rank : 0;
        channels = x->shape.dims[axis];
        for (int i = (int)axis + 1; i < x->shape.rank; i++)
            inner *= x->shape.dims[i];
    }
    const char *zp = e->in_name[2];
    if (numel == 0)
        return true;
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)numel);
    if (channels > 1)
        emit_line(e, "const int c = k / %lld %% %lld;", (long long)inner, (long long)channels);
    const char *c = channels > 1 ? "c" : "0";
    if (n->op == OP_QuantizeLinear) {
        emit_line(e, "float v = rintf((float)%s[k] / %s[%s])%s;", e->in_name[0], e->in_name[1], c,
                  zp ? arena_printf(e->arena, " + (float)%s[%s]", zp, c) : "");
        emit_saturate(e, y->dtype, arena_printf(e->arena, "%s[k]", e->out_name[0]));
    } else {
        emit_line(e, "%s[k] = (float)((int32_t)%s[k]%s) * %s[%s];", e->out_name[0], e->in_name[0],
                  zp ? arena_printf(e->arena, " - (int32_t)%s[%s]", zp, c) : "", e->in_name[1], c);
    }
    emit_close(e);
    return true;
}

/* DynamicQuantizeLinear (opset 11): the range of x widened to include 0
 * gives scale = (max - min) / 255 and zero point saturate(rint(-min /
 * scale)); then y = saturate(rint(x / scale) + zero point) in u8. */
bool k_dynamic_quant(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    const char *xs = e->in_name[0];
    int64_t numel = shape_numel(&x->shape);
    emit_line(e, "float lo = 0.0f, hi = 0.0f;");
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)numel);
    emit_line(e, "lo = %s[k] < lo ? %s[k] : lo;", xs, xs);
    emit_line(e, "hi = %s[k] > hi ? %s[k] : hi;", xs, xs);
    emit_close(e);
    emit_line(e, "const float scale = (hi - lo) / 255.0f;");
    emit_line(e, "float v = scale != 0.0f ? rintf(0.0f - lo / scale) : 0.0f;");
    emit_saturate(e, DT_U8, "const uint8_t zp");
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)numel);
    emit_line(e, "v = scale != 0.0f ? rintf(%s[k] / scale) + (float)zp : (float)zp;", xs);
    emit_saturate(e, DT_U8, arena_printf(e->arena, "%s[k]", e->out_name[0]));
    emit_close(e);
    if (e->out_name[1])
        emit_line(e, "%s[0] = scale;", e->out_name[1]);
    if (e->out_name[2])
        emit_line(e, "%s[0] = zp;", e->out_name[2]);
    return true;
}

/* QLinearMatMul (opset 10): per batch (broadcast through strides), an
 * int32 accumulation of (a - a_zp) * (b - b_zp) over K, requantized with
 * the float multiplier a_scale * b_scale / y_scale. */
bool k_qlinear_matmul(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 3), *y = ir_out(g, n, 0);
    const Shape *sa = &a->shape, *sb = &b->shape;
    int64_t M = sa->dims[sa->rank - 2], K = sa->dims[sa->rank - 1], N = sb->dims[sb->rank - 1];
    const char **in = e->in_name;
    Shape yb = y->shape, ab = *sa, bb = *sb;
    yb.rank -= 2, ab.rank -= 2, bb.rank -= 2;
    EmitLoops l = {.rank = yb.rank, .n_ops = 3};
    memcpy(l.dims, yb.dims, sizeof l.dims);
    emit_bcast_strides(&yb, &yb, M * N, l.strides[0]);
    emit_bcast_strides(&yb, &ab, M * K, l.strides[1]);
    emit_bcast_strides(&yb, &bb, K * N, l.strides[2]);
    emit_line(e, "const int32_t za = %s[0], zb = %s[0];", in[2], in[5]);
    emit_line(e, "const float mult = %s[0] * %s[0] / %s[0], zy = (float)%s[0];", in[1], in[4],
              in[6], in[7]);
    emit_loops_open(e, &l);
    emit_line(e, "const %s *a = %s + %s;", dtype_ctype(a->dtype), in[0], l.idx[1]);
    emit_line(e, "const %s *b = %s + %s;", dtype_ctype(b->dtype), in[3], l.idx[2]);
    emit_line(e, "%s *y = %s + %s;", dtype_ctype(y->dtype), e->out_name[0], l.idx[0]);
    emit_open(e, "for (int r = 0; r < %lld; r++)", (long long)M);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)N);
    emit_line(e, "int32_t acc = 0;");
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
    emit_line(e, "acc += ((int32_t)a[r * %lld + k] - za) * ((int32_t)b[k * %lld + c] - zb);",
              (long long)K, (long long)N);
    emit_close(e);
    emit_line(e, "float v = rintf((float)acc * mult) + zy;");
    emit_saturate(e, y->dtype, arena_printf(e->arena, "y[r * %lld + c]", (long long)N));
    emit_close(e);
    emit_close(e);
    emit_loops_close(e, &l);
    return true;
}

/* "((base * d0 + v0) * d1 + v1) ...": a row-major index from per-dim
 * variables named prefix0, prefix1, ... over dims[0..nsp). */
static const char *spatial_index(Emitter *e, const char *base, const char *prefix,
                                 const int64_t *dims, int nsp)
{
    const char *r = base;
    for (int i = 0; i < nsp; i++)
        r = arena_printf(e->arena, "(%s) * %lld + %s%d", r, (long long)dims[i], prefix, i);
    return r;
}

/* QLinearConv (opset 10): direct convolution over the canonical geometry
 * (explicit strides, dilations, pads; shapes_misc.c). Padding contributes
 * nothing, as a padded x equals its zero point. y = saturate(rint(acc *
 * x_scale * w_scale[m] / y_scale) + y_zp) with acc = B[m] + Σ (x - x_zp) *
 * (w - w_zp[m]). */
bool k_qlinear_conv(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *w = ir_in(g, n, 3), *y = ir_out(g, n, 0);
    const Value *ws = ir_in(g, n, 4), *wz = ir_in(g, n, 5);
    const char **in = e->in_name;
    int nsp = x->shape.rank - 2;
    const int64_t *st = ir_attr(n, "strides")->ints, *dil = ir_attr(n, "dilations")->ints;
    const int64_t *pads = ir_attr(n, "pads")->ints;
    int64_t C = x->shape.dims[1], M = w->shape.dims[0], Cg = w->shape.dims[1];
    int64_t group = C / Cg;
    if (shape_numel(&y->shape) == 0)
        return true;
    emit_line(e, "const int32_t zx = %s[0];", in[2]);
    emit_line(e, "const float zy = (float)%s[0];", in[7]);
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)x->shape.dims[0]);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)M);
    emit_line(e, "const int g = m / %lld;", (long long)(M / group));
    emit_line(e, "const int32_t zw = %s[%s];", in[5], shape_numel(&wz->shape) > 1 ? "m" : "0");
    emit_line(e, "const float mult = %s[0] * %s[%s] / %s[0];", in[1], in[4],
              shape_numel(&ws->shape) > 1 ? "m" : "0", in[6]);
    for (int i = 0; i < nsp; i++)
        emit_open(e, "for (int o%d = 0; o%d < %lld; o%d++)", i, i, (long long)y->shape.dims[i + 2], i);
    emit_line(e, "int32_t acc = %s;", in[8] ? arena_printf(e->arena, "%s[m]", in[8]) : "0");
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)Cg);
    for (int i = 0; i < nsp; i++) {
        emit_open(e, "for (int k%d = 0; k%d < %lld; k%d++)", i, i, (long long)w->shape.dims[i + 2], i);
        emit_line(e, "const int p%d = o%d * %lld - %lld + k%d * %lld;", i, i, (long long)st[i],
                  (long long)pads[i], i, (long long)dil[i]);
        emit_open(e, "if (p%d < 0 || p%d >= %lld)", i, i, (long long)x->shape.dims[i + 2]);
        emit_line(e, "continue;");
        emit_close(e);
    }
    const char *xi = spatial_index(e, arena_printf(e->arena, "b * %lld + g * %lld + c", (long long)C,
                                                   (long long)Cg), "p", x->shape.dims + 2, nsp);
    const char *wi = spatial_index(e, arena_printf(e->arena, "m * %lld + c", (long long)Cg), "k",
                                   w->shape.dims + 2, nsp);
    emit_line(e, "acc += ((int32_t)%s[%s] - zx) * ((int32_t)%s[%s] - zw);", in[0], xi, in[3], wi);
    for (int i = 0; i < nsp; i++)
        emit_close(e);
    emit_close(e);
    emit_line(e, "float v = rintf((float)acc * mult) + zy;");
    const char *yi = spatial_index(e, arena_printf(e->arena, "b * %lld + m", (long long)M), "o",
                                   y->shape.dims + 2, nsp);
    emit_saturate(e, y->dtype, arena_printf(e->arena, "%s[%s]", e->out_name[0], yi));
    for (int i = 0; i < nsp; i++)
        emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}
