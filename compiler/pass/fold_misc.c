/* fold_misc.c — compile-time evaluation of the ops of ops_misc.def that
 * are cheap or depend on constants only: QuantizeLinear and
 * DequantizeLinear on constant inputs (weights of QDQ models), the window
 * functions and MelWeightMatrix (always constant). Quantization computes in
 * float exactly as emit/k_quant.c does; keep the two in step. */
#include "pass.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static void *out_const(Graph *g, Node *n, int i)
{
    Value *y = ir_out(g, n, i);
    int64_t numel = shape_numel(&y->shape);
    y->kind = VAL_CONST;
    y->data = arena_alloc(g->arena, (size_t)numel * dtype_size(y->dtype) + 1);
    memset(y->data, 0, (size_t)numel * dtype_size(y->dtype) + 1);
    return y->data;
}

/* x seen as [outer, channels, inner] around the quantization axis; one
 * channel when the scale is a single value. */
static void quant_view(const Node *n, const Shape *x, int64_t scale_numel, int64_t *channels,
                       int64_t *inner)
{
    *channels = 1;
    *inner = 1;
    if (scale_numel == 1)
        return;
    int64_t axis = ir_attr_int(n, "axis", 1);
    if (axis < 0)
        axis += x->rank;
    *channels = x->dims[axis];
    for (int i = (int)axis + 1; i < x->rank; i++)
        *inner *= x->dims[i];
}

/* QuantizeLinear: y = saturate(rint(x / scale) + zp) in float, rint
 * rounding half to even; DequantizeLinear: y = (x - zp) * scale. */
bool fold_quantize(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *s = ir_in(g, n, 1), *zp = ir_in(g, n, 2);
    const Value *y = ir_out(g, n, 0);
    int64_t channels, inner, numel = shape_numel(&x->shape);
    quant_view(n, &x->shape, shape_numel(&s->shape), &channels, &inner);
    void *out = out_const(g, n, 0);
    float lo = y->dtype == DT_U8 ? 0.0f : -128.0f, hi = y->dtype == DT_U8 ? 255.0f : 127.0f;
    for (int64_t k = 0; k < numel; k++) {
        int64_t c = (k / inner) % channels;
        float sc = ((const float *)s->data)[c];
        int64_t z = zp ? tensor_get_i(zp->dtype, zp->data, c) : 0;
        if (n->op == OP_QuantizeLinear) {
            float v = rintf((float)tensor_get_f(x->dtype, x->data, k) / sc) + (float)z;
            v = v > lo ? v : lo;
            v = v < hi ? v : hi;
            tensor_set_i(y->dtype, out, k, (int64_t)v);
        } else {
            int32_t q = (int32_t)(tensor_get_i(x->dtype, x->data, k) - z);
            ((float *)out)[k] = (float)q * sc;
        }
    }
    return true;
}

/* Element k of a window of size n (ONNX HannWindow, HammingWindow,
 * BlackmanWindow-17): with N = n (periodic) or n - 1 (symmetric),
 *   Hann      0.5 - 0.5 cos(2πk/N)
 *   Hamming   25/46 - 21/46 cos(2πk/N)
 *   Blackman  0.42 - 0.5 cos(2πk/N) + 0.08 cos(4πk/N)
 * A window of one element is 1. */
static double window_value(OpKind op, int64_t k, int64_t n, bool periodic)
{
    int64_t den = periodic ? n : n - 1;
    if (den == 0)
        return 1.0;
    double t = 2.0 * PI * (double)k / (double)den;
    switch (op) {
    case OP_HannWindow: return 0.5 - 0.5 * cos(t);
    case OP_HammingWindow: return 25.0 / 46.0 - 21.0 / 46.0 * cos(t);
    default: return 0.42 - 0.5 * cos(t) + 0.08 * cos(2.0 * t);
    }
}

bool fold_window(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *y = ir_out(g, n, 0);
    int64_t size = shape_numel(&y->shape);
    bool periodic = ir_attr_int(n, "periodic", 1) != 0;
    void *out = out_const(g, n, 0);
    for (int64_t k = 0; k < size; k++)
        tensor_set_f(y->dtype, out, k, window_value(n->op, k, size, periodic));
    return true;
}

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

/* MelWeightMatrix (opset 17), as the ONNX reference computes it: the mel
 * range [mel(lower), mel(upper)] is cut in num_mel_bins + 2 equal steps,
 * point i at bin floor((dft_length + 1) * hz(i) / sample_rate); column i
 * is a triangle rising from point i to point i + 1 and falling to i + 2
 * (a single 1 where the rise is empty). Y [dft_length / 2 + 1, bins]. */
bool fold_mel_matrix(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *lo_v = ir_in(g, n, 3), *hi_v = ir_in(g, n, 4), *y = ir_out(g, n, 0);
    int64_t bins = y->shape.dims[1], rows = y->shape.dims[0];
    int64_t len = tensor_get_i(ir_in(g, n, 1)->dtype, ir_in(g, n, 1)->data, 0);
    int64_t rate = tensor_get_i(ir_in(g, n, 2)->dtype, ir_in(g, n, 2)->data, 0);
    double lo = hz_to_mel(tensor_get_f(lo_v->dtype, lo_v->data, 0));
    double hi = hz_to_mel(tensor_get_f(hi_v->dtype, hi_v->data, 0));
    double step = (hi - lo) / (double)(bins + 2);
    int64_t *pt = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(bins + 2));
    for (int64_t i = 0; i < bins + 2; i++) {
        double hz = 700.0 * (pow(10.0, ((double)i * step + lo) / 2595.0) - 1.0);
        double bin = floor((double)(len + 1) * hz / (double)rate);
        pt[i] = !(bin >= -1.0) ? -1 : bin > (double)rows ? rows : (int64_t)bin; /* NaN → -1 */
    }
    void *out = out_const(g, n, 0);
    for (int64_t i = 0; i < bins; i++) {
        int64_t l = pt[i], c = pt[i + 1], r = pt[i + 2];
        for (int64_t j = l; j <= c && c > l; j++)
            if (j >= 0 && j < rows)
                tensor_set_f(y->dtype, out, j * bins + i, (double)(j - l) / (double)(c - l));
        if (c == l && c >= 0 && c < rows)
            tensor_set_f(y->dtype, out, c * bins + i, 1.0);
        for (int64_t j = c; j < r; j++)
            if (j >= 0 && j < rows)
                tensor_set_f(y->dtype, out, j * bins + i, (double)(r - j) / (double)(r - c));
    }
    return true;
}

/* Compress on a constant input: the kept slices, copied bytewise. */
bool fold_compress(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *c = ir_in(g, n, 1);
    const Attr *ax = ir_attr(n, "axis");
    int64_t axis = ax ? (ax->i < 0 ? ax->i + x->shape.rank : ax->i) : 0;
    int64_t outer = 1, len = ax ? x->shape.dims[axis] : shape_numel(&x->shape), inner = 1;
    for (int i = 0; ax && i < x->shape.rank; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    size_t row = (size_t)inner * dtype_size(x->dtype);
    unsigned char *out = out_const(g, n, 0);
    const unsigned char *src = x->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c->shape.dims[0]; k++)
            if (((const uint8_t *)c->data)[k]) {
                memcpy(out, src + (size_t)(o * len + k) * row, row);
                out += row;
            }
    return true;
}

/* NonZero of a constant: the indices of the nonzero elements, one row per
 * dim, in row-major order (shapes_misc.c sized Y). */
bool fold_nonzero(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t numel = shape_numel(&x->shape), count = y->shape.dims[1], m = 0;
    int64_t *out = out_const(g, n, 0);
    for (int64_t k = 0; k < numel; k++) {
        if (tensor_get_f(x->dtype, x->data, k) == 0)
            continue;
        int64_t rem = k; /* k's coordinates, last dim first */
        for (int i = x->shape.rank - 1; i >= 0; i--) {
            out[i * count + m] = rem % x->shape.dims[i];
            rem /= x->shape.dims[i];
        }
        m++;
    }
    return true;
}
