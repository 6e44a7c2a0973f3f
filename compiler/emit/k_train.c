/* k_train.c — kernels of kiln's own training ops (ops_train.def): activation
 * derivatives, sums undoing broadcasts, softmax and cross-entropy backward,
 * kiln's attached losses, gradient clipping and the optimizer step with
 * torch.optim's formulas. */
#include "emit.h"

#include <string.h>

/* The derivatives of the math ops and of the other activations (torch's
 * formulas and kinks; alpha, beta, gamma, lambd defaults as in ONNX; Clip
 * passes dy where it left x unchanged, bounds included, as torch's clamp). */
static const char *unary_grad_math(Emitter *e, const Node *n, OpKind op, DType dt)
{
#define F(fn) emit_math(e, dt, fn)
#define L(v) emit_flit(e, v, dt)
#define P(...) arena_printf(e->arena, __VA_ARGS__)
    const char *zero = L(0), *one = L(1);
    double dflt = op == OP_HardSigmoid ? 0.2 : op == OP_Selu ? 1.67326319217681884765625 : 1.0;
    const char *alpha = L(ir_attr_float(n, "alpha", dflt));
    switch (op) {
    case OP_Exp: return "dy * y";
    case OP_Log: return "dy / x";
    case OP_Sqrt: return P("dy / (%s * y)", L(2));
    case OP_Neg: return "-dy";
    case OP_Abs: return P("x > %s ? dy : (x < %s ? -dy : %s)", zero, zero, zero);
    case OP_Reciprocal: return "-dy * y * y";
    case OP_Erf: return P("dy * %s * %s(-x * x)", L(1.1283791670955126), F("exp")); /* 2/sqrt(pi) */
    case OP_Sin: return P("dy * %s(x)", F("cos"));
    case OP_Cos: return P("-dy * %s(x)", F("sin"));
    case OP_Tan: return P("dy * (%s + y * y)", one);
    case OP_Asin: return P("dy / %s(%s - x * x)", F("sqrt"), one);
    case OP_Acos: return P("-dy / %s(%s - x * x)", F("sqrt"), one);
    case OP_Atan: return P("dy / (%s + x * x)", one);
    case OP_Sinh: return P("dy * %s(x)", F("cosh"));
    case OP_Cosh: return P("dy * %s(x)", F("sinh"));
    case OP_Asinh: return P("dy / %s(x * x + %s)", F("sqrt"), one);
    case OP_Acosh: return P("dy / %s(x * x - %s)", F("sqrt"), one);
    case OP_Atanh: return P("dy / (%s - x * x)", one);
    case OP_Elu: return P("x > %s ? dy : dy * %s * %s(x)", zero, alpha, F("exp"));
    case OP_Selu: {
        const char *gamma = L(ir_attr_float(n, "gamma", 1.05070102214813232421875));
        return P("x > %s ? dy * %s : dy * %s * %s * %s(x)", zero, gamma, gamma, alpha, F("exp"));
    }
    case OP_Celu: return P("x > %s ? dy : dy * %s(x / %s)", zero, F("exp"), alpha);
    case OP_HardSigmoid: {
        const char *lin = P("%s * x + %s", alpha, L(ir_attr_float(n, "beta", 0.5)));
        return P("%s > %s && %s < %s ? dy * %s : %s", lin, zero, lin, one, alpha, zero);
    }
    case OP_HardSwish:
        return P("x < %s ? %s : (x <= %s ? dy * (x / %s + %s) : dy)", L(-3), zero, L(3), L(3), L(0.5));
    case OP_Softplus: return P("dy / (%s + %s(-x))", one, F("exp"));
    case OP_Softsign: return P("dy / ((%s + %s(x)) * (%s + %s(x)))", one, F("fabs"), one, F("fabs"));
    case OP_ThresholdedRelu: return P("x > %s ? dy : %s", alpha, zero);
    case OP_Shrink: {
        double l = ir_attr_float(n, "lambd", 0.5);
        return P("x < %s || x > %s ? dy : %s", L(-l), L(l), zero);
    }
    case OP_Clip: return P("x == y ? dy : %s", zero);
    default: return NULL;
    }
#undef F
#undef L
#undef P
}

/* The derivative dX of an elementwise op from dy, x, y (the forward op's
 * output); NULL if kiln has none. PyTorch's conventions at kinks (Relu'(0) = 0). */
static const char *unary_grad_expr(Emitter *e, const Node *n, DType dt)
{
    const char *of = ir_attr_str(n, "of", "");
    const char *zero = emit_flit(e, 0, dt), *one = emit_flit(e, 1, dt);
    OpKind op = op_from_name(of);
    switch (op) {
    case OP_Relu:
        return arena_printf(e->arena, "x > %s ? dy : %s", zero, zero);
    case OP_LeakyRelu:
        return arena_printf(e->arena, "x > %s ? dy : %s * dy", zero,
                            emit_flit(e, ir_attr_float(n, "alpha", 0.01), dt));
    case OP_Sigmoid:
        return arena_printf(e->arena, "dy * y * (%s - y)", one);
    case OP_Tanh:
        return arena_printf(e->arena, "dy * (%s - y * y)", one);
    default:
        return unary_grad_math(e, n, op, dt);
    }
}

bool k_unary_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 1);
    const char *expr = unary_grad_expr(e, n, x->dtype);
    if (!expr) {
        ir_node_error(e->d, n, "kiln has no derivative for op '%s'", ir_attr_str(n, "of", "?"));
        return false;
    }
    const char *t = dtype_ctype(x->dtype);
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)shape_numel(&x->shape));
    emit_line(e, "const %s dy = %s[i], x = %s[i], y = %s[i];", t, e->in_name[0], e->in_name[1],
              e->in_name[2] ? e->in_name[2] : e->in_name[1]);
    emit_line(e, "(void)x, (void)y;");
    emit_line(e, "%s[i] = %s;", e->out_name[0], expr);
    emit_close(e);
    return true;
}

/* Whether f32 y is x summed over some leading and some trailing dims
 * only (a bias gradient: [N, C, H, W] -> [1, C, 1, 1] or [C]): x viewed as
 * [outer, mid, inner] with y [mid] (shape_sum_split), inner long enough for
 * vectors. SumToShape and FusedOptimizer choose their summation by it. */
static bool sum_to_middle(DType dt, const Shape *x, const Shape *y, int64_t *outer, int64_t *mid,
                          int64_t *inner)
{
    return dt == DT_F32 && shape_sum_split(x, y, outer, mid, inner) &&
           *mid > 1 && *inner >= 16 && *outer * *mid * *inner < ((int64_t)1 << 31);
}

/* SumToShape: y (shape s) = the sum of x over the dims x was broadcast
 * along. A bias gradient (sum_to_middle) sums each contiguous inner run on
 * 4-lane vectors (kiln_norm_sum, templates/kiln_norm_grad.h) and the runs
 * in double; the rest as one loop nest adding into y. */
bool k_sum_to(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t outer, mid, inner;
    if (sum_to_middle(x->dtype, &x->shape, &y->shape, &outer, &mid, &inner)) {
        emit_prelude_once(e, "kiln_norm_grad.h", "#include \"kiln_norm_grad.h\"\n\n");
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)mid);
        emit_line(e, "double acc = 0.0;");
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
        emit_line(e, "acc += kiln_norm_sum(%s + (o * %lld + c) * %lld, %lld);", e->in_name[0],
                  (long long)mid, (long long)inner, (long long)inner);
        emit_close(e);
        emit_line(e, "%s[c] = (float)acc;", e->out_name[0]);
        emit_close(e);
        return true;
    }
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
              (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    EmitLoops l = {.rank = x->shape.rank, .n_ops = 2};
    memcpy(l.dims, x->shape.dims, sizeof l.dims);
    emit_bcast_strides(&x->shape, &x->shape, 1, l.strides[0]);
    emit_bcast_strides(&x->shape, &y->shape, 1, l.strides[1]);
    emit_loops_open(e, &l);
    emit_line(e, "%s[%s] += %s[%s];", e->out_name[0], l.idx[1], e->in_name[0], l.idx[0]);
    emit_loops_close(e, &l);
    return true;
}

/* outer x len x inner around the softmax axis, as the forward op had it. */
static void softmax_dims(const Node *n, const Shape *s, int64_t *outer, int64_t *len,
                         int64_t *inner)
{
    int opset = (int)ir_attr_int(n, "opset", 13), r = s->rank;
    int64_t axis = ir_attr_int(n, "axis", opset < 13 ? 1 : -1);
    if (axis < 0)
        axis += r;
    *outer = *len = *inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            *outer *= s->dims[i];
        else if (i == axis || opset < 13)
            *len *= s->dims[i];
        else
            *inner *= s->dims[i];
    }
}

/* SoftmaxGrad: dx = y (dy - sum dy y); with log=1, dx = dy - exp(y) sum dy. */
bool k_softmax_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_in(g, n, 1);
    DType dt = y->dtype;
    const char *t = dtype_ctype(dt);
    bool lg = ir_attr_int(n, "log", 0) != 0;
    int64_t outer, len, inner;
    softmax_dims(n, &y->shape, &outer, &len, &inner);
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    emit_line(e, "const %s *dy = %s + o * %lld + i, *y = %s + o * %lld + i;", t, e->in_name[0],
              (long long)(len * inner), e->in_name[1], (long long)(len * inner));
    emit_line(e, "%s *dx = %s + o * %lld + i;", t, e->out_name[0], (long long)(len * inner));
    emit_line(e, "%s s = %s;", t, emit_flit(e, 0, dt));
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
    emit_line(e, lg ? "s += dy[j * %lld];" : "s += dy[j * %lld] * y[j * %lld];", (long long)inner,
              (long long)inner);
    emit_close(e);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)len);
    if (lg)
        emit_line(e, "dx[j * %lld] = dy[j * %lld] - %s(y[j * %lld]) * s;", (long long)inner,
                  (long long)inner, emit_math(e, dt, "exp"), (long long)inner);
    else
        emit_line(e, "dx[j * %lld] = y[j * %lld] * (dy[j * %lld] - s);", (long long)inner,
                  (long long)inner, (long long)inner);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* The label weight of sample position p into variable w (0 when ignored or
 * out of range), for the cross-entropy gradients. */
static void emit_label_weight(Emitter *e, const Node *n, int64_t classes)
{
    const Attr *ig = ir_attr(n, "ignore_index");
    emit_line(e, "const int64_t l = (int64_t)%s[p];", e->in_name[2]);
    const char *w = e->in_name[3] ? arena_printf(e->arena, "%s[l]", e->in_name[3]) : "1";
    if (ig)
        emit_line(e, "const double w = (l == %lld || l < 0 || l >= %lld) ? 0.0 : (double)%s;",
                  (long long)ig->i, (long long)classes, w);
    else
        emit_line(e, "const double w = (l < 0 || l >= %lld) ? 0.0 : (double)%s;", (long long)classes, w);
}

/* SoftmaxCrossEntropyLossGrad / NegativeLogLikelihoodLossGrad. Scores x are
 * [N, C, D…] (D the product of the trailing dims), labels [N, D…]. With
 * w_p the weight of position p's label (0 if ignored), and g the incoming
 * gradient divided by sum w_p for "mean":
 *   SCE: dx[n,c,d] = (softmax(x[n,:,d])[c] - [c = l]) w g
 *   NLL: dx[n,c,d] = -[c = l] w g */
bool k_sce_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 1);
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt), *red = ir_attr_str(n, "reduction", "mean");
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], D = shape_numel(&x->shape) / (N * C);
    bool sce = n->op == OP_SoftmaxCrossEntropyLossGrad, none = strcmp(red, "none") == 0;
    /* a run-time batch nb (emit_batch): rows nb.. get a zero gradient */
    const char *rows = e->batch_rows ? arena_printf(e->arena, "nb * %lld", (long long)D)
                                     : arena_printf(e->arena, "%lld", (long long)(N * D));
    emit_batch_zero_tail(e, e->out_name[0], N, C * D, dt);
    emit_line(e, "double norm = 1.0;");
    if (strcmp(red, "mean") == 0) {
        emit_line(e, "double total = 0.0;");
        emit_open(e, "for (int p = 0; p < %s; p++)", rows);
        emit_label_weight(e, n, C);
        emit_line(e, "total += w;");
        emit_close(e);
        emit_line(e, "norm = total > 0.0 ? 1.0 / total : 0.0;");
    }
    emit_open(e, "for (int p = 0; p < %s; p++)", rows);
    emit_line(e, "const %s *x = %s + (p / %lld) * %lld + p %% %lld;", t, e->in_name[1], (long long)D,
              (long long)(C * D), (long long)D);
    emit_line(e, "%s *dx = %s + (p / %lld) * %lld + p %% %lld;", t, e->out_name[0], (long long)D,
              (long long)(C * D), (long long)D);
    emit_label_weight(e, n, C);
    emit_line(e, "const %s scale = (%s)(w * norm * (double)%s[%s]);", t, t, e->in_name[0],
              none ? "p" : "0");
    if (sce) {
        emit_line(e, "%s max = x[0], sum = %s;", t, emit_flit(e, 0, dt));
        emit_open(e, "for (int c = 1; c < %lld; c++)", (long long)C);
        emit_line(e, "max = x[c * %lld] > max ? x[c * %lld] : max;", (long long)D, (long long)D);
        emit_close(e);
        if (dt == DT_F32 && D == 1 && C < INT32_MAX) { /* templates/kiln_vmath.h */
            emit_line(e, "sum = kiln_vexpsum_%s(%lld, x, max, dx); /* dx = exp(x - max) */",
                      emit_vmath(e, dt), (long long)C);
            emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
            emit_line(e, "const %s prob = dx[c] / sum;", t);
        } else {
            /* f32/f64: each exp once, kept in dx until the sum is known (the
             * same values as computing it twice: half the exp calls) */
            bool keep = dt == DT_F32 || dt == DT_F64;
            emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
            if (keep) {
                emit_line(e, "const %s ex = %s(x[c * %lld] - max);", t, emit_math(e, dt, "exp"),
                          (long long)D);
                emit_line(e, "dx[c * %lld] = ex;", (long long)D);
                emit_line(e, "sum += ex;");
            } else {
                emit_line(e, "sum += %s(x[c * %lld] - max);", emit_math(e, dt, "exp"), (long long)D);
            }
            emit_close(e);
            emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
            if (keep)
                emit_line(e, "const %s prob = dx[c * %lld] / sum;", t, (long long)D);
            else
                emit_line(e, "const %s prob = %s(x[c * %lld] - max) / sum;", t,
                          emit_math(e, dt, "exp"), (long long)D);
        }
        emit_line(e, "dx[c * %lld] = (prob - (c == l ? %s : %s)) * scale;", (long long)D,
                  emit_flit(e, 1, dt), emit_flit(e, 0, dt));
    } else {
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
        emit_line(e, "dx[c * %lld] = c == l ? -scale : %s;", (long long)D, emit_flit(e, 0, dt));
    }
    emit_close(e);
    emit_close(e);
    return true;
}

/* Loss (--loss): a scalar from prediction p and labels t, per element
 *   mse (p-t)^2; l1 |p-t|; bce -(t log p + (1-t) log(1-p)), logs clamped at
 *   -100 as torch.nn.BCELoss does; bce_logits max(p,0) - p t + log(1+e^-|p|);
 *   softmax_ce -sum_c t_c log_softmax(p)_c over dim 1 (probability labels),
 * then summed, and for "mean" divided by the number of terms. Accumulates in
 * double. */
static int64_t loss_terms(const Node *n, const Shape *s)
{
    bool per_row = strcmp(ir_attr_str(n, "kind", ""), "softmax_ce") == 0;
    return per_row ? shape_numel(s) / s->dims[1] : shape_numel(s);
}

/* The loop bound over the elements (or softmax rows) of the first nb batch
 * rows of s, of `terms` in all: a literal, or "nb * K" on a run-time batch;
 * and as a double for "mean". */
static const char *loss_count(Emitter *e, const Shape *s, int64_t terms, bool as_double)
{
    if (!e->batch_rows)
        return arena_printf(e->arena, as_double ? "%lld.0" : "%lld", (long long)terms);
    int64_t per = terms / s->dims[0]; /* a run-time batch: s is batch-major */
    return arena_printf(e->arena, as_double ? "((double)nb * %lld.0)" : "nb * %lld", (long long)per);
}

/* The softmax_ce loops over prediction P: for each row q, its max and
 * log-sum-exp, then a loop over the classes c with element index i. */
static void emit_softmax_rows_open(Emitter *e, const Shape *s, const char *P)
{
    int64_t N = s->dims[0], C = s->dims[1], D = shape_numel(s) / (N * C);
    emit_open(e, "for (int q = 0; q < %s; q++)", loss_count(e, s, N * D, false));
    emit_line(e, "const int64_t base = (q / %lld) * %lld + q %% %lld;", (long long)D,
              (long long)(C * D), (long long)D);
    emit_line(e, "double max = %s[base], sum = 0.0;", P);
    emit_open(e, "for (int c = 1; c < %lld; c++)", (long long)C);
    emit_line(e, "max = %s[base + c * %lld] > max ? %s[base + c * %lld] : max;",
              P, (long long)D, P,
              (long long)D);
    emit_close(e);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "sum += exp(%s[base + c * %lld] - max);", P,
              (long long)D);
    emit_close(e);
    emit_line(e, "const double lse = max + log(sum);");
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "const int64_t i = base + c * %lld;", (long long)D);
}

bool k_loss_kiln(Emitter *e, const Graph *g, const Node *n)
{
    const Value *p = ir_in(g, n, 0);
    const char *kind = ir_attr_str(n, "kind", ""), *P = e->in_name[0], *T = e->in_name[1];
    bool mean = strcmp(ir_attr_str(n, "reduction", "mean"), "mean") == 0;
    emit_line(e, "double total = 0.0;");
    if (strcmp(kind, "softmax_ce") == 0) {
        emit_softmax_rows_open(e, &p->shape, P);
        emit_line(e, "total -= (double)%s[i] * ((double)%s[i] - lse);", T, P);
        emit_close(e);
        emit_close(e);
    } else {
        emit_open(e, "for (int i = 0; i < %s; i++)", loss_count(e, &p->shape, shape_numel(&p->shape), false));
        emit_line(e, "const double p = %s[i], t = %s[i];", P, T);
        if (strcmp(kind, "mse") == 0)
            emit_line(e, "total += (p - t) * (p - t);");
        else if (strcmp(kind, "l1") == 0)
            emit_line(e, "total += fabs(p - t);");
        else if (strcmp(kind, "bce") == 0)
            emit_line(e, "total -= t * fmax(log(p), -100.0) + (1.0 - t) * fmax(log(1.0 - p), -100.0);");
        else if (strcmp(kind, "bce_logits") == 0)
            emit_line(e, "total += fmax(p, 0.0) - p * t + log1p(exp(-fabs(p)));");
        else {
            ir_node_error(e->d, n, "unknown loss kind '%s'", kind);
            return false;
        }
        emit_close(e);
    }
    emit_line(e, "%s[0] = (%s)(total%s);", e->out_name[0], dtype_ctype(p->dtype),
              mean ? arena_printf(e->arena, " / %s", loss_count(e, &p->shape, loss_terms(n, &p->shape), true)) : "");
    return true;
}

/* LossGrad: d/dp of the loss above, times dLoss (and 1/terms for mean):
 *   mse 2(p-t); l1 sign(p-t); bce (p-t)/max(p(1-p), 1e-12) as torch;
 *   bce_logits sigmoid(p)-t; softmax_ce softmax(p)_c sum(t) - t_c. */
bool k_loss_kiln_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *p = ir_in(g, n, 1);
    const char *kind = ir_attr_str(n, "kind", ""), *P = e->in_name[1], *T = e->in_name[2];
    const char *t = dtype_ctype(p->dtype);
    bool mean = strcmp(ir_attr_str(n, "reduction", "mean"), "mean") == 0;
    if (e->batch_rows) /* p is batch-major */
        emit_batch_zero_tail(e, e->out_name[0], p->shape.dims[0],
                             shape_numel(&p->shape) / p->shape.dims[0], p->dtype);
    emit_line(e, "const double g = (double)%s[0]%s;", e->in_name[0],
              mean ? arena_printf(e->arena, " / %s", loss_count(e, &p->shape, loss_terms(n, &p->shape), true)) : "");
    if (strcmp(kind, "softmax_ce") == 0) {
        int64_t C = p->shape.dims[1], D = shape_numel(&p->shape) / (p->shape.dims[0] * C);
        emit_softmax_rows_open(e, &p->shape, P);
        emit_line(e, "(void)i;");
        emit_close(e);
        emit_line(e, "double tsum = 0.0;");
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
        emit_line(e, "tsum += %s[base + c * %lld];", T, (long long)D);
        emit_close(e);
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
        emit_line(e, "const int64_t i = base + c * %lld;", (long long)D);
        emit_line(e, "%s[i] = (%s)((exp((double)%s[i] - lse) * tsum - (double)%s[i]) * g);",
                  e->out_name[0], t, P, T);
        emit_close(e);
        emit_close(e);
        return true;
    }
    const char *d;
    if (strcmp(kind, "mse") == 0)
        d = "2.0 * (p - t)";
    else if (strcmp(kind, "l1") == 0)
        d = "(double)((p > t) - (p < t))";
    else if (strcmp(kind, "bce") == 0)
        d = "(p - t) / fmax(p * (1.0 - p), 1e-12)";
    else
        d = "(1.0 / (1.0 + exp(-p)) - t)";
    emit_open(e, "for (int i = 0; i < %s; i++)", loss_count(e, &p->shape, shape_numel(&p->shape), false));
    emit_line(e, "const double p = %s[i], t = %s[i];", P, T);
    emit_line(e, "%s[i] = (%s)(%s * g);", e->out_name[0], t, d);
    emit_close(e);
    return true;
}

/* ClipNorm: torch.nn.utils.clip_grad_norm_ — total = the L2 norm of all
 * inputs together; each is scaled by min(1, max_norm / (total + 1e-6)). */
bool k_clip_norm(Emitter *e, const Graph *g, const Node *n)
{
    double max_norm = ir_attr_float(n, "max_norm", 1.0);
    emit_line(e, "double total = 0.0;");
    for (int k = 0; k < n->n_in; k++) {
        const Value *x = ir_in(g, n, k);
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)shape_numel(&x->shape));
        emit_line(e, "total += (double)%s[i] * %s[i];", e->in_name[k], e->in_name[k]);
        emit_close(e);
    }
    emit_line(e, "double coef = %.17g / (sqrt(total) + 1e-6);", max_norm);
    emit_line(e, "if (coef > 1.0)");
    emit_line(e, "    coef = 1.0;");
    for (int k = 0; k < n->n_in; k++) {
        const Value *x = ir_in(g, n, k);
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)shape_numel(&x->shape));
        emit_line(e, "%s[i] = (%s)(%s[i] * coef);", e->out_name[k], dtype_ctype(x->dtype), e->in_name[k]);
        emit_close(e);
    }
    return true;
}

/* Optimizer: one step of torch.optim (torch 1.13 single-tensor code paths)
 * for one parameter p with gradient g, learning rate lr = x2[0] and step
 * t = x3[0] + 1. "l2" adds l2 p and "l1" adds l1 sign(p) to g first; then
 *   sgd      g += wd p; b = t>1 ? mom b + (1-damp) g : g; g = nesterov ? g + mom b : b;
 *            p -= lr g
 *   adam     g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
 *            p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   adamw    p *= 1 - lr wd, then adam without wd
 *   rmsprop  g += wd p; s = a s + (1-a) g²; d = sqrt(s) + eps;
 *            mom ? (b = mom b + g/d; p -= lr b) : p -= lr g/d
 *   adagrad  g += wd p; s += g²; p -= lr g / (sqrt(s) + eps)
 * The state tensors come in the order the training pass gives them. */
static void emit_opt_body(Emitter *e, const Node *n, const char *kind, DType dt)
{
    const char *t = dtype_ctype(dt), *sq = emit_math(e, dt, "sqrt");
    double mom = ir_attr_float(n, "momentum", 0), damp = ir_attr_float(n, "dampening", 0);
    double b1 = ir_attr_float(n, "beta1", 0.9), b2 = ir_attr_float(n, "beta2", 0.999);
    double eps = ir_attr_float(n, "eps", 1e-8), wd = ir_attr_float(n, "weight_decay", 0);
    double alpha = ir_attr_float(n, "alpha", 0.99);
#define L(v) emit_flit(e, v, dt)
    if (!strcmp(kind, "sgd")) {
        if (mom != 0) {
            emit_line(e, "const %s b = step > 1 ? %s * x4[i] + %s * g : g;", t, L(mom), L(1 - damp));
            emit_line(e, "y1[i] = b;");
            emit_line(e, ir_attr_int(n, "nesterov", 0) ? "g = g + %s * b;" : "g = b;%s",
                      ir_attr_int(n, "nesterov", 0) ? L(mom) : "");
        }
        emit_line(e, "y0[i] = p - lr * g;");
    } else if (!strcmp(kind, "adam") || !strcmp(kind, "adamw")) {
        emit_line(e, "const %s m = %s * x4[i] + %s * g;", t, L(b1), L(1 - b1));
        emit_line(e, "const %s v = %s * x5[i] + %s * g * g;", t, L(b2), L(1 - b2));
        emit_line(e, "y1[i] = m;");
        emit_line(e, "y2[i] = v;");
        emit_line(e, "y0[i] = p - step_size * m / (%s(v) / bc2_sqrt + %s);", sq, L(eps));
    } else if (!strcmp(kind, "rmsprop")) {
        emit_line(e, "const %s s = %s * x4[i] + %s * g * g;", t, L(alpha), L(1 - alpha));
        emit_line(e, "const %s avg = %s(s) + %s;", t, sq, L(eps));
        emit_line(e, "y1[i] = s;");
        if (mom != 0) {
            emit_line(e, "const %s b = %s * x5[i] + g / avg;", t, L(mom));
            emit_line(e, "y2[i] = b;");
            emit_line(e, "y0[i] = p - lr * b;");
        } else {
            emit_line(e, "y0[i] = p - lr * g / avg;");
        }
    } else { /* adagrad */
        emit_line(e, "const %s s = x4[i] + g * g;", t);
        emit_line(e, "y1[i] = s;");
        emit_line(e, "y0[i] = p - lr * g / (%s(s) + %s);", sq, L(eps));
    }
    (void)wd;
#undef L
}

/* ptr, or ptr + off when off is given (a block of the tensor). */
static const char *at(Emitter *e, const char *ptr, const char *off)
{
    return off ? arena_printf(e->arena, "%s + %s", ptr, off) : ptr;
}

/* The update of count elements of the parameter from element off (NULL: 0,
 * all of it), the gradient read from grad[0..count) (x1 when off is NULL).
 * Adam and AdamW on f32 go through kiln_optim.h's vectors, the rest as one
 * scalar loop; either way each element's operations are the same. */
static void emit_update(Emitter *e, const Node *n, DType dt, const char *count, const char *off,
                        const char *grad)
{
    const char *t = dtype_ctype(dt), *kind = ir_attr_str(n, "kind", "sgd");
    double wd = ir_attr_float(n, "weight_decay", 0), l1 = ir_attr_float(n, "l1", 0);
    double l2 = ir_attr_float(n, "l2", 0);
    bool adamw = !strcmp(kind, "adamw");
    if (dt == DT_F32 && (!strcmp(kind, "adam") || adamw) && l1 == 0 && l2 == 0) {
        /* the same update on 4-lane vectors (templates/kiln_optim.h) */
        double b1 = ir_attr_float(n, "beta1", 0.9), b2 = ir_attr_float(n, "beta2", 0.999);
        emit_prelude_once(e, "kiln_optim.h", "#include \"kiln_optim.h\"\n\n");
        bool v4 = e->target == TARGET_X86_64_V4; /* 16 lanes; P_init checks the CPU */
        e->needs_avx512 |= v4;
        emit_line(e, "kiln_adam_f32%s(%s, %s, %s, %s, %s, %s, %s, %s,", v4 ? "_avx512" : "", count,
                  at(e, "x0", off), grad, at(e, "x4", off), at(e, "x5", off), at(e, "y0", off),
                  at(e, "y1", off), at(e, "y2", off));
        emit_line(e, "              %s, %s, %s, %s, %s,", emit_flit(e, b1, dt), emit_flit(e, 1 - b1, dt),
                  emit_flit(e, b2, dt), emit_flit(e, 1 - b2, dt),
                  emit_flit(e, ir_attr_float(n, "eps", 1e-8), dt));
        emit_line(e, "              step_size, bc2_sqrt, %s, %s);", wd != 0 && adamw ? "p_scale" : "1.0f",
                  wd != 0 && !adamw ? emit_flit(e, wd, dt) : "0.0f");
        return;
    }
    if (off)
        emit_open(e, "for (int i = %s; i < %s + %s; i++)", off, off, count);
    else
        emit_open(e, "for (int i = 0; i < %s; i++)", count);
    emit_line(e, "%s p = x0[i], g = %s;", t, off ? arena_printf(e->arena, "%s[i - %s]", grad, off) : "x1[i]");
    if (l2 != 0)
        emit_line(e, "g += %s * p;", emit_flit(e, l2, dt));
    if (l1 != 0)
        emit_line(e, "g += %s * (%s)((p > 0) - (p < 0));", emit_flit(e, l1, dt), t);
    if (wd != 0 && adamw)
        emit_line(e, "p *= %s - lr * %s;", emit_flit(e, 1, dt), emit_flit(e, wd, dt));
    else if (wd != 0)
        emit_line(e, "g += %s * p;", emit_flit(e, wd, dt));
    emit_opt_body(e, n, kind, dt);
    emit_close(e);
}

/* Elements of a FusedOptimizer's gradient summed at a time, kept on the stack. */
#define GRAD_BLOCK 64

/* FusedOptimizer (pass/fuse_grad_update.c): the gradient is x1 = dY summed
 * to attribute "shape" ([outer, mid, inner] -> [mid], shape_sum_split),
 * GRAD_BLOCK elements at a time into a local block, each block updated at
 * once. Every gradient element is summed in SumToShape's order (k_sum_to:
 * runs in double when inner is long, else in float over dY's order), so
 * the step is the unfused one to the bit. */
static void emit_fused_update(Emitter *e, const Graph *g, const Node *n, DType dt)
{
    const Value *dy = ir_in(g, n, 1);
    const Attr *a = ir_attr(n, "shape");
    Shape s = {.rank = (int)a->n};
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    int64_t outer, mid, inner;
    bool runs = sum_to_middle(dy->dtype, &dy->shape, &s, &outer, &mid, &inner);
    KILN_ASSERT(runs || shape_sum_split(&dy->shape, &s, &outer, &mid, &inner)); /* shape_fused_optimizer */
    const char *t = dtype_ctype(dt);
    if (runs)
        emit_prelude_once(e, "kiln_norm_grad.h", "#include \"kiln_norm_grad.h\"\n\n");
    emit_open(e, "for (int c0 = 0; c0 < %lld; c0 += %d)", (long long)mid, GRAD_BLOCK);
    emit_line(e, "const int nc = %lld - c0 < %d ? %lld - c0 : %d;", (long long)mid, GRAD_BLOCK,
              (long long)mid, GRAD_BLOCK);
    emit_line(e, "%s gb[%d]; /* the gradient of elements c0 .. c0 + nc - 1 */", t, GRAD_BLOCK);
    if (runs) {
        emit_open(e, "for (int c = 0; c < nc; c++)");
        emit_line(e, "double acc = 0.0;");
        emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
        emit_line(e, "acc += kiln_norm_sum(x1 + (o * %lld + c0 + c) * %lld, %lld);", (long long)mid,
                  (long long)inner, (long long)inner);
        emit_close(e);
        emit_line(e, "gb[c] = (float)acc;");
        emit_close(e);
    } else {
        emit_open(e, "for (int c = 0; c < nc; c++)");
        emit_line(e, "gb[c] = %s;", emit_flit(e, 0, dt));
        emit_close(e);
        emit_open(e, "for (int64_t o = 0; o < %lld; o++)", (long long)outer);
        emit_open(e, "for (int c = 0; c < nc; c++)");
        if (inner == 1) {
            emit_line(e, "gb[c] += x1[o * %lld + c0 + c];", (long long)mid);
        } else {
            emit_open(e, "for (int64_t i = 0; i < %lld; i++)", (long long)inner);
            emit_line(e, "gb[c] += x1[(o * %lld + c0 + c) * %lld + i];", (long long)mid, (long long)inner);
            emit_close(e);
        }
        emit_close(e);
        emit_close(e);
    }
    emit_update(e, n, dt, "nc", "c0", "gb");
    emit_close(e);
}

/* Optimizer, and FusedOptimizer (the same update reading dY, see
 * emit_fused_update): learning rate and step, Adam's bias corrections,
 * then the update. */
bool k_optimizer(Emitter *e, const Graph *g, const Node *n)
{
    const Value *p = ir_in(g, n, 0);
    DType dt = p->dtype;
    const char *t = dtype_ctype(dt), *kind = ir_attr_str(n, "kind", "sgd");
    double wd = ir_attr_float(n, "weight_decay", 0);
    bool adam = !strcmp(kind, "adam") || !strcmp(kind, "adamw");
    emit_line(e, "const %s lr = (%s)x2[0];", t, t);
    emit_line(e, "const int64_t step = x3[0] + 1;");
    emit_line(e, "(void)step;");
    if (adam) {
        emit_line(e, "const %s step_size = (%s)((double)lr / (1.0 - pow(%.17g, (double)step)));", t, t,
                  ir_attr_float(n, "beta1", 0.9));
        emit_line(e, "const %s bc2_sqrt = (%s)sqrt(1.0 - pow(%.17g, (double)step));", t, t,
                  ir_attr_float(n, "beta2", 0.999));
    }
    if (dt == DT_F32 && adam && wd != 0 && !strcmp(kind, "adamw") && ir_attr_float(n, "l1", 0) == 0 &&
        ir_attr_float(n, "l2", 0) == 0)
        emit_line(e, "const float p_scale = %s - lr * %s;", emit_flit(e, 1, dt), emit_flit(e, wd, dt));
    if (n->op == OP_FusedOptimizer)
        emit_fused_update(e, g, n, dt);
    else
        emit_update(e, n, dt, arena_printf(e->arena, "%lld", (long long)shape_numel(&p->shape)), NULL,
                    "x1");
    return true;
}
