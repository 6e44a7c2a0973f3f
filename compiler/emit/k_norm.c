/* k_norm.c — kernels of the normalization ops (BatchNormalization,
 * InstanceNormalization, LayerNormalization, LRN, MeanVarianceNormalization)
 * and Dropout. Statistics are two-pass (the mean, then the mean squared
 * deviation), accumulated in the op's dtype. Shapes and attributes were
 * checked by the shape rules in pass/shapes_norm.c. */
#include "emit.h"

#include <string.h>

/* ---- x split into kept dims (outer loops) and reduced dims (inner) ---- */

/* The kept dims of x, walked by loops o0, o1, … (merged where contiguous). */
typedef struct Outer {
    int n;
    int64_t dims[IR_MAX_RANK];
    int64_t xs[IR_MAX_RANK];  /* x's element strides */
    int64_t ks[IR_MAX_RANK];  /* strides of the flat index over the kept dims */
} Outer;

/* Splits x's dims: those with reduce[i] go to red (operand 0 walks x), the
 * others to out. Returns the number of elements per reduction. */
static int64_t split_dims(const Shape *x, const bool *reduce, Outer *out, EmitLoops *red)
{
    int64_t xs[IR_MAX_RANK], ks[IR_MAX_RANK], s = 1, k = 1, count = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        xs[i] = s;
        s *= x->dims[i];
        ks[i] = reduce[i] ? 0 : k;
        k *= reduce[i] ? 1 : x->dims[i];
    }
    memset(out, 0, sizeof *out);
    red->rank = 0;
    red->n_ops = 1;
    for (int i = 0; i < x->rank; i++) {
        if (reduce[i]) {
            red->dims[red->rank] = x->dims[i];
            red->strides[0][red->rank++] = xs[i];
            count *= x->dims[i];
        } else if (x->dims[i] != 1) {
            int j = out->n - 1;
            if (j >= 0 && out->xs[j] == xs[i] * x->dims[i] && out->ks[j] == ks[i] * x->dims[i]) {
                out->dims[j] *= x->dims[i];
                out->xs[j] = xs[i];
                out->ks[j] = ks[i];
                continue;
            }
            out->dims[out->n] = x->dims[i];
            out->xs[out->n] = xs[i];
            out->ks[out->n++] = ks[i];
        }
    }
    return count;
}

/* Σ var_i * stride_i over the outer loops, "0" when there are none. */
static const char *outer_expr(Emitter *e, const Outer *o, const int64_t *strides)
{
    StrBuf sb = {0};
    for (int i = 0; i < o->n; i++) {
        if (sb.len)
            sb_append(&sb, " + ", 3);
        if (strides[i] == 1)
            sb_printf(&sb, "o%d", i);
        else
            sb_printf(&sb, "o%d * %lld", i, (long long)strides[i]);
    }
    const char *s = arena_strdup(e->arena, sb.len ? sb.buf : "0");
    sb_free(&sb);
    return s;
}

/* Opens the outer loops and declares `base` (x's offset) and, with want_k,
 * `k` (the flat index over the kept dims). */
static void outer_open(Emitter *e, const Outer *o, bool want_k)
{
    for (int i = 0; i < o->n; i++)
        emit_open(e, "for (int o%d = 0; o%d < %lld; o%d++)", i, i, (long long)o->dims[i], i);
    emit_line(e, "const int base = %s;", outer_expr(e, o, o->xs));
    if (want_k)
        emit_line(e, "const int k = %s;", outer_expr(e, o, o->ks));
}

static void outer_close(Emitter *e, const Outer *o)
{
    for (int i = 0; i < o->n; i++)
        emit_close(e);
}

/* "base + idx", or "base" when idx is "0". */
static const char *at_base(Emitter *e, const char *idx)
{
    return strcmp(idx, "0") == 0 ? "base" : arena_printf(e->arena, "base + %s", idx);
}

/* Declares `mean` and `var` (biased) of x0 over the reduced dims at base,
 * computed in ct (two passes). */
static void emit_moments(Emitter *e, DType ct, const char *x, EmitLoops *red, int64_t count)
{
    const char *t = dtype_ctype(ct), *zero = emit_flit(e, 0, ct);
    emit_line(e, "%s sum = %s;", t, zero);
    emit_loops_open(e, red);
    emit_line(e, "sum += %s[%s];", x, at_base(e, red->idx[0]));
    emit_loops_close(e, red);
    emit_line(e, "const %s mean = sum / %s;", t, emit_flit(e, (double)count, ct));
    emit_line(e, "%s sq = %s;", t, zero);
    emit_loops_open(e, red);
    emit_line(e, "const %s dx = %s[%s] - mean;", t, x, at_base(e, red->idx[0]));
    emit_line(e, "sq += dx * dx;");
    emit_loops_close(e, red);
    emit_line(e, "const %s var = sq / %s;", t, emit_flit(e, (double)count, ct));
}

/* ---- BatchNormalization ---- */

/* Training (BatchNormalization-14/15 with training_mode=1, opsets 7–13 with
 * the extra outputs, opset 6 with is_test=0): Y uses the batch statistics over N and the spatial
 * dims; running_mean = mean * momentum + batch_mean * (1 - momentum), the
 * same for var with the biased batch variance (as the ONNX reference does).
 * Opsets < 14 also give saved_mean / saved_var: the batch mean and biased
 * variance. */
static void emit_batchnorm_train(Emitter *e, const Node *n, DType dt, const Shape *xs,
                                 bool spatial)
{
    const char **in = e->in_name, **out = e->out_name;
    bool reduce[IR_MAX_RANK] = {true};
    for (int i = 2; i < xs->rank; i++)
        reduce[i] = spatial;
    Outer o;
    EmitLoops red;
    int64_t count = split_dims(xs, reduce, &o, &red);
    const char *t = dtype_ctype(dt);
    double momentum = ir_attr_float(n, "momentum", 0.9);
    outer_open(e, &o, true);
    emit_moments(e, dt, in[0], &red, count);
    emit_line(e, "const %s a = %s[k] / %s(var + %s);", t, in[1], emit_math(e, dt, "sqrt"),
              emit_flit(e, ir_attr_float(n, "epsilon", 1e-5), dt));
    emit_line(e, "const %s b = %s[k];", t, in[2]);
    emit_loops_open(e, &red);
    const char *at = at_base(e, red.idx[0]);
    emit_line(e, "%s[%s] = (%s[%s] - mean) * a + b;", out[0], at, in[0], at);
    emit_loops_close(e, &red);
    const char *m = emit_flit(e, momentum, dt), *m1 = emit_flit(e, 1 - momentum, dt);
    /* kiln's training step asks for torch's running variance: the unbiased
     * batch variance, count / (count - 1) times the biased one */
    bool unbiased = ir_attr_int(n, "kiln_unbiased_running_var", 0) != 0 && count > 1;
    const char *v1 = unbiased ? emit_flit(e, (1 - momentum) * (double)count / (double)(count - 1), dt) : m1;
    if (n->n_out > 1 && out[1])
        emit_line(e, "%s[k] = %s[k] * %s + mean * %s;", out[1], in[3], m, m1);
    if (n->n_out > 2 && out[2])
        emit_line(e, "%s[k] = %s[k] * %s + var * %s;", out[2], in[4], m, v1);
    if (n->n_out > 3 && out[3])
        emit_line(e, "%s[k] = mean;", out[3]);
    if (n->n_out > 4 && out[4])
        emit_line(e, "%s[k] = var;", out[4]);
    outer_close(e, &o);
}

/* Training BatchNormalization on a run-time batch (e->batch_rows): the
 * statistics of each channel over the first nb rows only (count nb * S);
 * every row, padding included, is normalized with them. Running statistics
 * and saved mean / var as emit_batchnorm_train. */
static void emit_batchnorm_train_rows(Emitter *e, const Node *n, DType dt, const Shape *xs,
                                      bool spatial)
{
    const char **in = e->in_name, **out = e->out_name, *t = dtype_ctype(dt);
    int64_t N = xs->dims[0], C = xs->dims[1], S = shape_numel(xs) / (N * C);
    if (!spatial)
        C *= S, S = 1;
    double momentum = ir_attr_float(n, "momentum", 0.9);
    const char *zero = emit_flit(e, 0, dt);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const %s count = (%s)nb * %s;", t, t, emit_flit(e, (double)S, dt));
    emit_line(e, "%s sum = %s, sq = %s;", t, zero, zero);
    for (int pass = 0; pass < 2; pass++) {
        emit_open(e, "for (int n = 0; n < nb; n++)");
        emit_open(e, "for (int s = 0; s < %lld; s++)", (long long)S);
        const char *x = arena_printf(e->arena, "%s[(n * %lld + c) * %lld + s]", in[0], (long long)C,
                                     (long long)S);
        if (pass == 0)
            emit_line(e, "sum += %s;", x);
        else
            emit_line(e, "sq += (%s - mean) * (%s - mean);", x, x);
        emit_close(e);
        emit_close(e);
        if (pass == 0)
            emit_line(e, "const %s mean = sum / count;", t);
    }
    emit_line(e, "const %s var = sq / count;", t);
    emit_line(e, "const %s a = %s[c] / %s(var + %s), b = %s[c];", t, in[1], emit_math(e, dt, "sqrt"),
              emit_flit(e, ir_attr_float(n, "epsilon", 1e-5), dt), in[2]);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_open(e, "for (int s = 0; s < %lld; s++)", (long long)S);
    emit_line(e, "const int i = (n * %lld + c) * %lld + s;", (long long)C, (long long)S);
    emit_line(e, "%s[i] = (%s[i] - mean) * a + b;", out[0], in[0]);
    emit_close(e);
    emit_close(e);
    const char *m = emit_flit(e, momentum, dt), *m1 = emit_flit(e, 1 - momentum, dt);
    bool unbiased = ir_attr_int(n, "kiln_unbiased_running_var", 0) != 0;
    if (n->n_out > 1 && out[1])
        emit_line(e, "%s[c] = %s[c] * %s + mean * %s;", out[1], in[3], m, m1);
    if (n->n_out > 2 && out[2] && unbiased)
        emit_line(e, "%s[c] = %s[c] * %s + var * (count > %s ? %s * count / (count - %s) : %s);",
                  out[2], in[4], m, emit_flit(e, 1, dt), m1, emit_flit(e, 1, dt), m1);
    else if (n->n_out > 2 && out[2])
        emit_line(e, "%s[c] = %s[c] * %s + var * %s;", out[2], in[4], m, m1);
    if (n->n_out > 3 && out[3])
        emit_line(e, "%s[c] = mean;", out[3]);
    if (n->n_out > 4 && out[4])
        emit_line(e, "%s[c] = var;", out[4]);
    emit_close(e);
}

/* BatchNormalization: X [N,C,D1..]; per channel c (per (c, d) with
 * spatial=0, opset < 9) y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps)
 * + B[c], with the given statistics in inference mode. */
bool k_batchnorm(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    if (shape_numel(&x->shape) == 0)
        return true;
    DType dt = x->dtype;
    bool spatial = n->opset >= 9 || ir_attr_int(n, "spatial", 1) != 0;
    /* keep in step with shape_batchnorm (pass/shapes_norm.c) */
    bool training = n->opset >= 14 ? ir_attr_int(n, "training_mode", 0) != 0
                    : n->opset < 7 ? ir_attr_int(n, "is_test", 0) == 0
                                   : false;
    for (int i = 1; i < n->n_out && n->opset >= 7 && n->opset < 14; i++)
        training = training || e->out_name[i];
    if (training && e->batch_rows) {
        emit_batchnorm_train_rows(e, n, dt, &x->shape, spatial);
        return true;
    }
    if (training) {
        emit_batchnorm_train(e, n, dt, &x->shape, spatial);
        return true;
    }
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], S = shape_numel(&x->shape) / (N * C);
    if (!spatial)
        C *= S, S = 1;
    const char *t = dtype_ctype(dt), **in = e->in_name;
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const %s a = %s[c] / %s(%s[c] + %s);", t, in[1], emit_math(e, dt, "sqrt"), in[4],
              emit_flit(e, ir_attr_float(n, "epsilon", 1e-5), dt));
    emit_line(e, "const %s mean = %s[c], b = %s[c];", t, in[3], in[2]);
    emit_line(e, "const %s *x = %s + (n * %lld + c) * %lld;", t, in[0], (long long)C, (long long)S);
    emit_line(e, "%s *y = %s + (n * %lld + c) * %lld;", t, e->out_name[0], (long long)C,
              (long long)S);
    emit_open(e, "for (int s = 0; s < %lld; s++)", (long long)S);
    emit_line(e, "y[s] = (x[s] - mean) * a + b;");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- InstanceNormalization, LayerNormalization, MeanVarianceNormalization ---- */

/* InstanceNormalization (opset 6): per (n, c), over the spatial dims,
 * y = (x - mean) * scale[c] / sqrt(var + epsilon) + B[c]. */
bool k_instancenorm(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    if (shape_numel(&x->shape) == 0)
        return true;
    DType dt = x->dtype;
    bool reduce[IR_MAX_RANK] = {false};
    for (int i = 2; i < x->shape.rank; i++)
        reduce[i] = true;
    Outer o;
    EmitLoops red;
    int64_t count = split_dims(&x->shape, reduce, &o, &red);
    const char *t = dtype_ctype(dt), **in = e->in_name;
    outer_open(e, &o, true);
    emit_moments(e, dt, in[0], &red, count);
    emit_line(e, "const int c = k %% %lld;", (long long)x->shape.dims[1]);
    emit_line(e, "const %s a = %s[c] / %s(var + %s);", t, in[1], emit_math(e, dt, "sqrt"),
              emit_flit(e, ir_attr_float(n, "epsilon", 1e-5), dt));
    emit_loops_open(e, &red);
    const char *at = at_base(e, red.idx[0]);
    emit_line(e, "%s[%s] = (%s[%s] - mean) * a + %s[c];", e->out_name[0], at, in[0], at, in[2]);
    emit_loops_close(e, &red);
    outer_close(e, &o);
    return true;
}

/* LayerNormalization (opset 17): per index of X's dims before axis, over the
 * dims from axis on: y = (x - mean) * inv_std * Scale + B with inv_std =
 * 1 / sqrt(var + epsilon), the statistics in stash_type; Mean and InvStdDev
 * optional outputs. Scale and B broadcast over the normalized dims. */
bool k_layernorm(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *sc = ir_in(g, n, 1), *b = ir_in(g, n, 2);
    if (shape_numel(&x->shape) == 0)
        return true;
    int r = x->shape.rank, axis = (int)ir_attr_int(n, "axis", -1);
    if (axis < 0)
        axis += r;
    DType ct = (DType)ir_attr_int(n, "stash_type", 1);
    bool reduce[IR_MAX_RANK] = {false};
    for (int i = axis; i < r; i++)
        reduce[i] = true;
    Outer o;
    EmitLoops red;
    int64_t count = split_dims(&x->shape, reduce, &o, &red);
    /* operands 1 and 2: Scale and B broadcast over the normalized dims */
    Shape norm = {.rank = r - axis};
    memcpy(norm.dims, x->shape.dims + axis, sizeof(int64_t) * (size_t)norm.rank);
    red.n_ops = 3;
    emit_bcast_strides(&norm, &sc->shape, 1, red.strides[1]);
    if (b)
        emit_bcast_strides(&norm, &b->shape, 1, red.strides[2]);
    else
        memset(red.strides[2], 0, sizeof red.strides[2]);
    const char *t = dtype_ctype(ct), **in = e->in_name, **out = e->out_name;
    bool stats = (n->n_out > 1 && out[1]) || (n->n_out > 2 && out[2]);
    outer_open(e, &o, stats);
    emit_moments(e, ct, in[0], &red, count);
    emit_line(e, "const %s inv_std = %s / %s(var + %s);", t, emit_flit(e, 1, ct),
              emit_math(e, ct, "sqrt"), emit_flit(e, ir_attr_float(n, "epsilon", 1e-5), ct));
    emit_loops_open(e, &red);
    const char *at = at_base(e, red.idx[0]);
    emit_line(e, "%s[%s] = (%s[%s] - mean) * inv_std * %s[%s]%s;", out[0], at, in[0], at, in[1],
              red.idx[1], b ? arena_printf(e->arena, " + %s[%s]", in[2], red.idx[2]) : "");
    emit_loops_close(e, &red);
    if (n->n_out > 1 && out[1])
        emit_line(e, "%s[k] = mean;", out[1]);
    if (n->n_out > 2 && out[2])
        emit_line(e, "%s[k] = inv_std;", out[2]);
    outer_close(e, &o);
    return true;
}

/* MeanVarianceNormalization (opsets 9, 13): over `axes` (default [0,2,3]),
 * y = (x - mean) / (sqrt(var) + 1e-9), the spec's function body with the
 * variance taken as the mean squared deviation (never negative). */
bool k_mvn(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    if (shape_numel(&x->shape) == 0)
        return true;
    DType dt = x->dtype;
    const Attr *a = ir_attr(n, "axes");
    static const int64_t dflt[] = {0, 2, 3};
    bool reduce[IR_MAX_RANK] = {false};
    for (int i = 0; i < (a ? a->n : 3); i++) {
        int64_t ax = a ? a->ints[i] : dflt[i];
        reduce[ax < 0 ? ax + x->shape.rank : ax] = true;
    }
    Outer o;
    EmitLoops red;
    int64_t count = split_dims(&x->shape, reduce, &o, &red);
    outer_open(e, &o, false);
    emit_moments(e, dt, e->in_name[0], &red, count);
    emit_line(e, "const %s div = %s(var) + %s;", dtype_ctype(dt), emit_math(e, dt, "sqrt"),
              emit_flit(e, 1e-9, dt));
    emit_loops_open(e, &red);
    const char *at = at_base(e, red.idx[0]);
    emit_line(e, "%s[%s] = (%s[%s] - mean) / div;", e->out_name[0], at, e->in_name[0], at);
    emit_loops_close(e, &red);
    outer_close(e, &o);
    return true;
}

/* ---- LRN ---- */

/* LRN (opsets 1, 13): X [N,C,D1..]; over the channels c - floor((size-1)/2)
 * … c + ceil((size-1)/2) clipped to [0, C), square_sum = Σ x², and
 * y = x / (bias + alpha / size * square_sum)^beta. */
bool k_lrn(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    if (shape_numel(&x->shape) == 0)
        return true;
    DType dt = x->dtype;
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], S = shape_numel(&x->shape) / (N * C);
    int64_t size = ir_attr_int(n, "size", 1), lo = (size - 1) / 2, hi = size / 2;
    double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75);
    double bias = ir_attr_float(n, "bias", 1.0);
    const char *t = dtype_ctype(dt);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_line(e, "const %s *x = %s + n * %lld;", t, e->in_name[0], (long long)(C * S));
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const int lo = c > %lld ? c - %lld : 0;", (long long)lo, (long long)lo);
    emit_line(e, "const int hi = c + %lld < %lld ? c + %lld : %lld;", (long long)(hi + 1),
              (long long)C, (long long)(hi + 1), (long long)C);
    emit_line(e, "%s *y = %s + (n * %lld + c) * %lld;", t, e->out_name[0], (long long)C,
              (long long)S);
    emit_open(e, "for (int s = 0; s < %lld; s++)", (long long)S);
    emit_line(e, "%s sum = %s;", t, emit_flit(e, 0, dt));
    emit_open(e, "for (int j = lo; j < hi; j++)");
    emit_line(e, "const %s v = x[j * %lld + s];", t, (long long)S);
    emit_line(e, "sum += v * v;");
    emit_close(e);
    emit_line(e, "y[s] = x[c * %lld + s] / %s(%s + %s * sum, %s);", (long long)S,
              emit_math(e, dt, "pow"), emit_flit(e, bias, dt),
              emit_flit(e, alpha / (double)size, dt), emit_flit(e, beta, dt));
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* ---- Dropout ---- */

/* Whether the node drops at all: 0 never, 1 always, -1 decided at run time
 * by the training_mode input. */
static int dropout_training(const Graph *g, const Node *n)
{
    if (n->opset < 7)
        return ir_attr_int(n, "is_test", 0) == 0;
    if (n->opset < 12)
        return 0;
    const Value *t = ir_in(g, n, 2);
    if (!t)
        return 0;
    if (t->kind == VAL_CONST && t->data)
        return tensor_get_i(t->dtype, t->data, 0) != 0;
    return -1;
}

/* Inference: y = x, the mask all true. */
static void emit_dropout_identity(Emitter *e, const Node *n, DType dt, int64_t numel)
{
    emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
              (long long)numel, dtype_ctype(dt));
    if (n->n_out > 1 && e->out_name[1]) {
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)numel);
        emit_line(e, "%s[i] = 1;", e->out_name[1]);
        emit_close(e);
    }
}

/* The MT19937 generator seeded with seed (init_genrand) in 624 words of
 * scratch; next32 tempers the next word. */
static void emit_mt19937_seed(Emitter *e, uint32_t seed)
{
    e->scratch = 624 * 4;
    emit_line(e, "uint32_t *mt = (uint32_t *)scratch;");
    emit_line(e, "int next = 624;");
    emit_line(e, "mt[0] = %luu;", (unsigned long)seed);
    emit_open(e, "for (int i = 1; i < 624; i++)");
    emit_line(e, "mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;");
    emit_close(e);
}

static void emit_mt19937_draw(Emitter *e, const char *var)
{
    emit_open(e, "if (next == 624)");
    emit_open(e, "for (int i = 0; i < 624; i++)");
    emit_line(e, "const uint32_t v = (mt[i] & 0x80000000u) | (mt[(i + 1) %% 624] & 0x7fffffffu);");
    emit_line(e, "mt[i] = mt[(i + 397) %% 624] ^ (v >> 1) ^ (v & 1u ? 0x9908b0dfu : 0u);");
    emit_close(e);
    emit_line(e, "next = 0;");
    emit_close(e);
    emit_line(e, "uint32_t %s = mt[next++];", var);
    emit_line(e, "%s ^= %s >> 11;", var, var);
    emit_line(e, "%s ^= (%s << 7) & 0x9d2c5680u;", var, var);
    emit_line(e, "%s ^= (%s << 15) & 0xefc60000u;", var, var);
    emit_line(e, "%s ^= %s >> 18;", var, var);
}

/* Training: element i is kept when u_i >= ratio, u_i uniform in [0, 1) with
 * 53 bits from two MT19937 words (the generator and the conversion of
 * numpy's RandomState, so a given seed gives the mask numpy.random.seed
 * gives), and kept elements are scaled by 1 / (1 - ratio). The generator
 * restarts from `seed` on every call: the mask is a function of the seed. */
static void emit_dropout_train(Emitter *e, const Node *n, DType dt, int64_t numel)
{
    const char *t = dtype_ctype(dt);
    const char *ratio = emit_flit(e, ir_attr_float(n, "ratio", 0.5), dt);
    if (n->opset >= 12 && e->in_name[1]) /* the ratio input */
        ratio = arena_printf(e->arena, "%s[0]", e->in_name[1]);
    else if (n->opset >= 12)
        ratio = emit_flit(e, 0.5, dt);
    emit_line(e, "const double ratio = %s;", ratio);
    emit_line(e, "const %s scale = (%s)(1.0 / (1.0 - ratio));", t, t);
    emit_mt19937_seed(e, (uint32_t)ir_attr_int(n, "seed", 0));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)numel);
    emit_mt19937_draw(e, "a");
    emit_mt19937_draw(e, "b");
    emit_line(e, "const double u = ((a >> 5) * 67108864.0 + (b >> 6)) / 9007199254740992.0;");
    emit_line(e, "const int keep = u >= ratio;");
    emit_line(e, "%s[k] = keep ? %s[k] * scale : %s;", e->out_name[0], e->in_name[0],
              emit_flit(e, 0, dt));
    if (n->n_out > 1 && e->out_name[1])
        emit_line(e, "%s[k] = (uint8_t)keep;", e->out_name[1]);
    emit_close(e);
}

/* Dropout: the identity (mask all true) in inference; in training (opset
 * 12+ training_mode input, opsets < 7 is_test=0) the seeded dropout above. */
bool k_dropout(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    if (shape_numel(&x->shape) == 0)
        return true;
    int64_t numel = shape_numel(&x->shape);
    int training = dropout_training(g, n);
    if (training == 0) {
        emit_dropout_identity(e, n, x->dtype, numel);
        return true;
    }
    if (training < 0)
        emit_open(e, "if (%s[0])", e->in_name[2]);
    emit_dropout_train(e, n, x->dtype, numel);
    if (training < 0) {
        e->indent--;
        emit_line(e, "} else {");
        e->indent++;
        emit_dropout_identity(e, n, x->dtype, numel);
        emit_close(e);
    }
    return true;
}
