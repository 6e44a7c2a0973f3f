/* grad_norm.c — gradient rules (named in ops.def) of LRN,
 * MeanVarianceNormalization, LpPool and GlobalLpPool, built from ordinary
 * ops (AveragePool for LRN's channel windows, ReduceMean, PoolGrad's window
 * sum for LpPool), each formula derived from the forward kernel's (emit/k_norm.c,
 * k_conv.c) so that the two agree to rounding. */
#include "autodiff.h"

#include <string.h>

/* ReduceMean of x over axes, keepdims 1 (opset 13's attribute form). */
static int mean_kept(GradCtx *c, int x, const int64_t *axes, int n_axes)
{
    Node *r = ad_node13(c, OP_ReduceMean, &x, 1);
    ad_set_ints(c, r, "axes", axes, n_axes);
    ad_set_int(c, r, "keepdims", 1);
    return ad_finish(c, r);
}

/* MeanVarianceNormalization over axes (default [0, 2, 3]): with
 * m = mean(X), σ = sqrt(mean((X - m)²)), D = σ + 1e-9 and Y = (X - m) / D
 * (k_mvn),
 *   dX = (dY - mean(dY)) / D - Y mean(dY Y) / σ
 * (the second term from σ's dependence on X: dσ/dX = (X - m) / (n σ)). */
bool grad_mvn(GradCtx *c, const Node *n)
{
    int x = n->in[0], y = n->out[0], dy = ad_grad(c, y);
    const Value *xv = c->g->values[x];
    DType dt = xv->dtype;
    const Attr *a = ir_attr(n, "axes");
    int64_t axes[IR_MAX_RANK] = {0, 2, 3};
    int na = a ? a->n : 3;
    for (int i = 0; i < na && a; i++)
        axes[i] = a->ints[i] < 0 ? a->ints[i] + xv->shape.rank : a->ints[i];
    int xc = ad_op13_2(c, OP_Sub, x, mean_kept(c, x, axes, na));
    int sigma = ad_op13_1(c, OP_Sqrt, mean_kept(c, ad_op13_2(c, OP_Mul, xc, xc), axes, na));
    int div = ad_op13_2(c, OP_Add, sigma, ad_scalar(c, dt, 1e-9));
    int centered = ad_op13_2(c, OP_Div, ad_op13_2(c, OP_Sub, dy, mean_kept(c, dy, axes, na)), div);
    int spread = ad_op13_2(c, OP_Div, ad_op13_2(c, OP_Mul, y, mean_kept(c, ad_op13_2(c, OP_Mul, dy, y), axes, na)),
                     sigma);
    ad_accumulate(c, x, ad_op13_2(c, OP_Sub, centered, spread));
    return !c->d->errors;
}

/* z [N, C, ...] viewed as [N, 1, C, S], summed over LRN's channel windows
 * (pads lo before, hi after, size taps) and divided by size: an AveragePool
 * over [size, 1] that counts the padding, so its divisor is always size. */
static int channel_window_mean(GradCtx *c, int z, const Shape *s, int64_t size, int64_t lo,
                               int64_t hi)
{
    Shape v = {.rank = 4, .dims = {s->dims[0], 1, s->dims[1], 1}};
    for (int i = 2; i < s->rank; i++)
        v.dims[3] *= s->dims[i];
    int zv = ad_reshape_to(c, z, &v);
    Node *p = ad_node13(c, OP_AveragePool, &zv, 1);
    int64_t kernel[2] = {size, 1}, pads[4] = {lo, 0, hi, 0};
    ad_set_ints(c, p, "kernel_shape", kernel, 2);
    ad_set_ints(c, p, "pads", pads, 4);
    ad_set_int(c, p, "count_include_pad", 1);
    return ad_reshape_to(c, ad_finish(c, p), s);
}

/* LRN (size n, alpha, beta, bias): with the window sum over channels
 * c - lo … c + hi (lo = (n-1)/2, hi = n/2, clipped), D = bias + alpha / n
 * sum(X²) and Y = X D^-β (k_lrn),
 *   dX = dY D^-β - 2 alpha β X · wmean'(dY X D^(-β-1))
 * where wmean' is the window mean's adjoint: the mirrored window (hi before,
 * lo after). */
bool grad_lrn(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    const Value *xv = c->g->values[x];
    DType dt = xv->dtype;
    int64_t size = ir_attr_int(n, "size", 1), lo = (size - 1) / 2, hi = size / 2;
    double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75);
    double bias = ir_attr_float(n, "bias", 1.0);
    int sq = channel_window_mean(c, ad_op13_2(c, OP_Mul, x, x), &xv->shape, size, lo, hi);
    int den = ad_op13_2(c, OP_Add, ad_scalar(c, dt, bias), ad_op13_2(c, OP_Mul, ad_scalar(c, dt, alpha), sq));
    int scale = ad_op13_2(c, OP_Pow, den, ad_scalar(c, dt, -beta));
    int direct = ad_op13_2(c, OP_Mul, dy, scale);
    int g = ad_op13_2(c, OP_Div, ad_op13_2(c, OP_Mul, direct, x), den);
    int back = channel_window_mean(c, g, &xv->shape, size, hi, lo);
    int cross = ad_op13_2(c, OP_Mul, ad_op13_2(c, OP_Mul, x, back), ad_scalar(c, dt, 2 * alpha * beta));
    ad_accumulate(c, x, ad_op13_2(c, OP_Sub, direct, cross));
    return !c->d->errors;
}

/* LpPool and GlobalLpPool (p, default 2): Y = (sum over the window of
 * |X|^p)^(1/p), so with G = dY Y^(1-p) (0 where Y = 0: every tap is 0)
 *   dX = window-sum'(G) sign(X) |X|^(p-1)
 * window-sum' adding each window's G to its taps: PoolGrad of LpPool
 * (k_train_conv.c) or, for the global pool, G broadcast. */
bool grad_lp_pool(GradCtx *c, const Node *n)
{
    int x = n->in[0], y = n->out[0], dy = ad_grad(c, y);
    DType dt = c->g->values[x]->dtype;
    double p = ir_attr_float(n, "p", 2.0);
    int zero = ad_scalar(c, dt, 0), g = dy;
    if (p != 1.0) {
        int pw = ad_op13_2(c, OP_Pow, y, ad_scalar(c, dt, 1 - p));
        g = ad_op13_3(c, OP_Where, ad_op13_2(c, OP_Equal, y, zero), zero, ad_op13_2(c, OP_Mul, dy, pw));
    }
    if (n->op == OP_LpPool) {
        int in[2] = {g, x};
        Node *pg = ad_node(c, OP_PoolGrad, in, 2, 1);
        ad_copy_attrs(c, pg, n);
        ad_set_str(c, pg, "of", "LpPool");
        g = ad_finish(c, pg);
    }
    int slope = p == 2.0 ? x
                : p == 1.0 ? ad_op13_1(c, OP_Sign, x)
                : ad_op13_2(c, OP_Mul, ad_op13_1(c, OP_Sign, x),
                      ad_op13_2(c, OP_Pow, ad_op13_1(c, OP_Abs, x), ad_scalar(c, dt, p - 1)));
    ad_accumulate(c, x, ad_op13_2(c, OP_Mul, slope, g));
    return !c->d->errors;
}
