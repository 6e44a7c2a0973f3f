/* grad_linalg.c — gradient rules (named in ops.def) of ReduceProd, Einsum,
 * float Mod, DFT and STFT, built from ordinary ops: ReduceProd's "product of the
 * others" without dividing by zero, Einsum's gradients as Einsums themselves
 * (with identity and ones operands where a label is repeated or summed
 * alone), Mod's from its quotient, DFT's as the transform the other way and
 * STFT's as that per frame, overlap-added. */
#include "autodiff.h"

#include <stdio.h>
#include <string.h>

/* op (ReduceProd, ReduceSum) of x over axes, keepdims 1, axes as an
 * attribute (the canonical form shape_reduce leaves). */
static int reduce_kept(GradCtx *c, OpKind op, int x, const Attr *axes)
{
    Node *r = ad_node13(c, op, &x, 1);
    ad_set_ints(c, r, "axes", axes->ints, axes->n);
    ad_set_int(c, r, "keepdims", 1);
    ad_set_int(c, r, "noop_with_empty_axes", 1);
    return ad_finish(c, r);
}

/* ReduceProd over the canonical axes: dX_i = dY · (the product of the other
 * elements of X_i's group), as torch's prod_backward:
 *   X_i != 0:            Y / X_i (0 when another element is 0)
 *   X_i == 0, the only:  the product of the group's non-zero elements
 *   X_i == 0, not alone: 0
 * computed with Where so nothing divides by zero. */
bool grad_reduce_prod(GradCtx *c, const Node *n)
{
    int x = n->in[0], y = n->out[0], dy = ad_grad(c, y);
    const Value *xv = c->g->values[x];
    DType dt = xv->dtype;
    const Attr *axes = ir_attr(n, "axes");
    if (!axes || axes->type != ATTR_INTS) {
        ir_node_error(c->d, n, "training through this reduction needs its axes resolved");
        return false;
    }
    Shape kept = xv->shape;
    for (int k = 0; k < axes->n; k++)
        kept.dims[axes->ints[k]] = 1;
    int dyk = ad_reshape_to(c, dy, &kept), yk = ad_reshape_to(c, y, &kept);
    if (axes->n == 0) { /* nothing reduced: Y = X */
        ad_accumulate(c, x, dyk);
        return !c->d->errors;
    }
    int zero = ad_scalar(c, dt, 0), one = ad_scalar(c, dt, 1);
    int is0 = ad_op13_2(c, OP_Equal, x, zero), nz = ad_op13_3(c, OP_Where, is0, one, x);
    Node *cast = ad_node13(c, OP_Cast, &is0, 1);
    ad_set_int(c, cast, "to", dt);
    int zeros = reduce_kept(c, OP_ReduceSum, ad_finish(c, cast), axes);
    int others = ad_op13_3(c, OP_Where, ad_op13_2(c, OP_Equal, zeros, one),
                     reduce_kept(c, OP_ReduceProd, nz, axes), zero);
    int d = ad_op13_3(c, OP_Where, is0, others, ad_op13_2(c, OP_Div, yk, nz));
    ad_accumulate(c, x, ad_op13_2(c, OP_Mul, dyk, d));
    return !c->d->errors;
}

/* ---- Einsum ---- */

#define EQ_MAX 16 /* inputs of an Einsum (EIN_MAX_IN of shapes_reduce.c) */

/* The canonical equation (shape_einsum: explicit, letters only, no spaces)
 * split into its terms: term[0..n) the inputs, term[n] the output. */
typedef struct EinEq {
    int n;
    char term[EQ_MAX + 1][IR_MAX_RANK + 1];
    int64_t size[128]; /* by letter: the label's size (size-1 dims broadcast) */
    bool used[128];
} EinEq;

static bool ein_split(GradCtx *c, const Node *n, EinEq *q)
{
    const char *s = ir_attr_str(n, "equation", "");
    memset(q, 0, sizeof *q);
    int k = 0, len = 0;
    for (; *s; s++) {
        if (*s == ',' || *s == '-') {
            k++, len = 0;
            s += *s == '-';
        } else if (k <= EQ_MAX && len < IR_MAX_RANK && (unsigned char)*s < 128) {
            q->term[k][len++] = *s;
            q->used[(unsigned char)*s] = true;
        }
    }
    q->n = k;
    if (k != n->n_in || k > EQ_MAX)
        return false;
    for (int i = 0; i < n->n_in; i++) {
        const Shape *sh = &c->g->values[n->in[i]]->shape;
        for (int j = 0; q->term[i][j]; j++) {
            int64_t *z = &q->size[(unsigned char)q->term[i][j]];
            if (*z <= 1)
                *z = sh->dims[j];
        }
    }
    return true;
}

/* A constant of dtype dt: the identity [m, m] (eye) or ones [m]. */
static int ein_const(GradCtx *c, DType dt, int64_t m, bool eye)
{
    Shape s = {.rank = eye ? 2 : 1, .dims = {m, m}};
    int64_t count = eye ? m * m : m;
    void *data = arena_alloc(c->g->arena, (size_t)count * dtype_size(dt) + 1);
    for (int64_t k = 0; k < count; k++)
        tensor_set_f(dt, data, k, !eye || k % (m + 1) == 0 ? 1.0 : 0.0);
    Value *v = ir_graph_add_temp(c->g, eye ? "grad/eye" : "grad/ones");
    ir_value_set_const(c->g, v, dt, &s, data);
    return v->id;
}

static char fresh_letter(EinEq *q)
{
    for (int l = 0; l < 52; l++) {
        char ch = (char)(l < 26 ? 'a' + l : 'A' + l - 26);
        if (!q->used[(unsigned char)ch]) {
            q->used[(unsigned char)ch] = true;
            return ch;
        }
    }
    return 0;
}

/* The gradient of input i: Einsum(dY, the other inputs → term i), where a
 * label repeated in term i (a diagonal) is renamed and tied to its first
 * place by an identity operand, and a label of term i found nowhere else
 * (summed alone) comes from a ones operand; then summed to input i's shape
 * where it broadcast a size-1 dim. -1 on error (reported). */
static int ein_grad_input(GradCtx *c, const Node *n, EinEq *q, int i, int dy)
{
    DType dt = c->g->values[dy]->dtype;
    int in[EQ_MAX + 1], n_in = 0;
    char eq[256] = "", out[IR_MAX_RANK + 1] = "";
    size_t len = 0;
    in[n_in++] = dy;
    len += (size_t)snprintf(eq + len, sizeof eq - len, "%s", q->term[q->n]);
    for (int k = 0; k < q->n; k++)
        if (k != i) {
            in[n_in++] = n->in[k];
            len += (size_t)snprintf(eq + len, sizeof eq - len, ",%s", q->term[k]);
        }
    for (int j = 0; q->term[i][j]; j++) {
        char l = q->term[i][j];
        bool repeated = strchr(q->term[i], l) < q->term[i] + j;
        bool elsewhere = strchr(eq, l) != NULL;
        char name = repeated ? fresh_letter(q) : l;
        if ((repeated || !elsewhere) && (n_in >= EQ_MAX || name == 0)) {
            ir_node_error(c->d, n, "training through this Einsum needs more than %d inputs or "
                                   "52 labels", EQ_MAX);
            return -1;
        }
        if (repeated) {
            in[n_in++] = ein_const(c, dt, q->size[(unsigned char)l], true);
            len += (size_t)snprintf(eq + len, sizeof eq - len, ",%c%c", l, name);
        } else if (!elsewhere) {
            in[n_in++] = ein_const(c, dt, q->size[(unsigned char)l], false);
            len += (size_t)snprintf(eq + len, sizeof eq - len, ",%c", l);
        }
        out[j] = name;
    }
    snprintf(eq + len, sizeof eq - len, "->%s", out);
    Node *g = ad_node(c, OP_Einsum, in, n_in, 1);
    if (g->opset < 12)
        g->opset = 12;
    ad_set_str(c, g, "equation", eq);
    return ad_unbroadcast(c, ad_finish(c, g), n->in[i]);
}

/* Einsum: Y = sum over the labels missing from the output of the product of
 * the inputs' elements; for input i, dX_i is the same sum of dY times the
 * other inputs, over the labels missing from term i (ein_grad_input). */
bool grad_einsum(GradCtx *c, const Node *n)
{
    EinEq q;
    int dy = ad_grad(c, n->out[0]);
    if (!ein_split(c, n, &q)) {
        ir_node_error(c->d, n, "training through this Einsum: its equation is not canonical");
        return false;
    }
    for (int i = 0; i < n->n_in && !c->d->errors; i++)
        if (ad_wants(c, n->in[i])) {
            EinEq qi = q;
            ad_accumulate(c, n->in[i], ein_grad_input(c, n, &qi, i, dy));
        }
    return !c->d->errors;
}

/* ---- Mod ---- */

/* Mod of floats (fmod 1: C's fmod; fmod 0: the divisor's sign): both are
 * Y = A - q B with q an integer constant between the jumps, so
 *   dA = dY,   dB = -q dY = -dY (A - Y) / B
 * each summed to its operand's shape (torch's fmod / remainder). */
bool grad_mod(GradCtx *c, const Node *n)
{
    int a = n->in[0], b = n->in[1], y = n->out[0], dy = ad_grad(c, y);
    if (ad_wants(c, a))
        ad_accumulate(c, a, ad_unbroadcast(c, dy, a));
    if (ad_wants(c, b)) {
        int q = ad_op13_2(c, OP_Div, ad_op13_2(c, OP_Sub, a, y), b);
        int db = ad_op13_2(c, OP_Mul, ad_op13_2(c, OP_Mul, dy, q), ad_scalar(c, c->g->values[y]->dtype, -1));
        ad_accumulate(c, b, ad_unbroadcast(c, db, b));
    }
    return !c->d->errors;
}

/* ---- DFT ---- */

/* x with its dim axis cut to its first len entries (len smaller) or padded
 * with zeros at the end up to len. */
static int fit_axis(GradCtx *c, int x, int axis, int64_t len)
{
    const Shape *s = &c->g->values[x]->shape;
    int64_t have = s->dims[axis], ax = axis, zero = 0;
    if (have == len)
        return x;
    if (have > len) {
        int in[4] = {x, ad_ints(c, &zero, 1), ad_ints(c, &len, 1), ad_ints(c, &ax, 1)};
        return ad_finish(c, ad_node13(c, OP_Slice, in, 4));
    }
    int64_t pads[2 * IR_MAX_RANK] = {0};
    pads[s->rank + axis] = len - have;
    return ad_op13_2(c, OP_Pad, x, ad_ints(c, pads, 2 * s->rank));
}

/* DFT (opset 17; axis, inverse, onesided, dft_length L): Y = F X̃, X̃ the
 * signal cut or zero-padded to L samples (complex; real when its last dim
 * is 1), F the L-point transform, with the bins past L/2 dropped when
 * onesided. As a real-linear map its adjoint is F's conjugate transpose:
 *   forward:  dX̃ = L · IDFT(dY) = Σ_k dY_k e^{+2πi kt/L}
 *   inverse:  dX̃ = DFT(dY) / L
 * with onesided's missing bins as zeros; then the real part for a real
 * signal, and cut or padded back to X's length. */
bool grad_dft(GradCtx *c, const Node *n)
{
    int x = n->in[0], dy = ad_grad(c, n->out[0]);
    const Shape *xs = &c->g->values[x]->shape;
    DType dt = c->g->values[x]->dtype;
    int r = xs->rank;
    int axis = (int)ir_attr_int(n, "axis", 1);
    axis += axis < 0 ? r : 0;
    bool inverse = ir_attr_int(n, "inverse", 0) != 0;
    int64_t len = c->g->values[n->out[0]]->shape.dims[axis];
    if (ir_attr_int(n, "onesided", 0) != 0) {
        const Value *lv = n->n_in > 1 && n->in[1] >= 0 ? c->g->values[n->in[1]] : NULL;
        len = lv ? tensor_get_i(lv->dtype, lv->data, 0) : xs->dims[axis];
    }
    int full = fit_axis(c, dy, axis, len);
    Node *t = ad_node(c, OP_DFT, &full, 1, 1);
    t->opset = 17;
    ad_set_int(c, t, "axis", axis);
    ad_set_int(c, t, "inverse", !inverse);
    double scale = inverse ? 1.0 / (double)len : (double)len;
    int g = ad_op13_2(c, OP_Mul, ad_finish(c, t), ad_scalar(c, dt, scale));
    if (xs->dims[r - 1] == 1)
        g = fit_axis(c, g, r - 1, 1);
    ad_accumulate(c, x, fit_axis(c, g, axis, xs->dims[axis]));
    return !c->d->errors;
}

/* ---- STFT ---- */

/* The constant [frames, flen] of sample positions f * step + t. */
static int frame_positions(GradCtx *c, int64_t frames, int64_t flen, int64_t step)
{
    Shape s = {.rank = 2, .dims = {frames, flen}};
    int64_t *at = arena_alloc(c->g->arena, sizeof(int64_t) * (size_t)(frames * flen + 1));
    for (int64_t f = 0; f < frames; f++)
        for (int64_t t = 0; t < flen; t++)
            at[f * flen + t] = f * step + t;
    Value *v = ir_graph_add_temp(c->g, "grad/frames");
    ir_value_set_const(c->g, v, DT_I64, &s, at);
    return v->id;
}

/* STFT (opset 17; signal [B, len, 1|2], a constant frame_step, window w or
 * frame_length flen, onesided): frame f is the flen samples from
 * f * step, times w; Y[b, f] = its flen-point DFT (the first bins). Per
 * frame the adjoint of the DFT (grad_dft: flen · IDFT of dY with the
 * missing bins as zeros; the real part for a real signal) gives dFrame;
 *   dSignal = the frames overlap-added: dFrame · w added at the samples
 *             each frame read (GatherGrad over the positions)
 *   dw      = dFrame · (the frames of the signal), summed over b, f. */
bool grad_stft(GradCtx *c, const Node *n)
{
    int x = n->in[0], w = n->n_in > 2 ? n->in[2] : -1, dy = ad_grad(c, n->out[0]);
    const Shape *xs = &c->g->values[x]->shape, *ys = &c->g->values[n->out[0]]->shape;
    DType dt = c->g->values[x]->dtype;
    const Value *sv = c->g->values[n->in[1]];
    int64_t step = tensor_get_i(sv->dtype, sv->data, 0), frames = ys->dims[1], flen;
    if (w >= 0)
        flen = c->g->values[w]->shape.dims[0];
    else
        flen = tensor_get_i(c->g->values[n->in[3]]->dtype, c->g->values[n->in[3]]->data, 0);
    int full = fit_axis(c, dy, 2, flen);
    Node *t = ad_node(c, OP_DFT, &full, 1, 1);
    t->opset = 17;
    ad_set_int(c, t, "axis", 2);
    ad_set_int(c, t, "inverse", 1);
    int dframe = ad_op13_2(c, OP_Mul, ad_finish(c, t), ad_scalar(c, dt, (double)flen));
    dframe = fit_axis(c, dframe, 3, xs->dims[2]); /* [B, frames, flen, cin] */
    int pos = frame_positions(c, frames, flen, step);
    int64_t wcol[2] = {flen, 1};
    if (ad_wants(c, w)) {
        int in[2] = {x, pos};
        Node *gather = ad_node13(c, OP_Gather, in, 2);
        ad_set_int(c, gather, "axis", 1);
        int prod = ad_op13_2(c, OP_Mul, dframe, ad_finish(c, gather));
        Node *sum = ad_node13(c, OP_SumToShape, &prod, 1);
        ad_set_ints(c, sum, "shape", wcol, 2);
        ad_accumulate(c, w, ad_reshape_to(c, ad_finish(c, sum), &c->g->values[w]->shape));
    }
    if (ad_wants(c, x)) {
        if (w >= 0)
            dframe = ad_op13_2(c, OP_Mul, dframe, ad_op13_2(c, OP_Reshape, w, ad_ints(c, wcol, 2)));
        int in[2] = {dframe, pos};
        Node *g = ad_node(c, OP_GatherGrad, in, 2, 1);
        ad_set_int(c, g, "axis", 1);
        ad_set_ints(c, g, "shape", xs->dims, xs->rank);
        ad_accumulate(c, x, ad_finish(c, g));
    }
    return !c->d->errors;
}
