/* k_loss.c — kernels of SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss
 * (ONNX opsets 12/13). Scores [N,C,D1..] are walked as [N,C,D] with D the
 * product of the trailing dims; labels [N,D]. Sums are accumulated in the
 * scores' dtype. Shapes and attributes were checked in pass/shapes_norm.c. */
#include "emit.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* SoftmaxCrossEntropyLoss only: declares `lse`, log Σ_c exp(x[c]) (max
 * subtracted first), and writes the optional log_prob output. */
static void emit_log_softmax(Emitter *e, DType dt, int64_t C, int64_t D)
{
    const char *t = dtype_ctype(dt);
    emit_line(e, "%s max = x[0];", t);
    emit_open(e, "for (int c = 1; c < %lld; c++)", (long long)C);
    emit_line(e, "max = x[c * %lld] > max ? x[c * %lld] : max;", (long long)D, (long long)D);
    emit_close(e);
    if (dt == DT_F32 && D == 1 && C < INT32_MAX) { /* templates/kiln_vmath.h */
        emit_line(e, "const float sum = kiln_vexpsum_%s(%lld, x, max, NULL);", emit_vmath(e, dt),
                  (long long)C);
    } else {
        emit_line(e, "%s sum = %s;", t, emit_flit(e, 0, dt));
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
        emit_line(e, "sum += %s(x[c * %lld] - max);", emit_math(e, dt, "exp"), (long long)D);
        emit_close(e);
    }
    emit_line(e, "const %s lse = max + %s(sum);", t, emit_math(e, dt, "log"));
    if (e->out_name[1]) {
        emit_line(e, "%s *lp = %s + n * %lld + d;", t, e->out_name[1], (long long)(C * D));
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
        emit_line(e, "lp[c * %lld] = x[c * %lld] - lse;", (long long)D, (long long)D);
        emit_close(e);
    }
}

/* No scores: every loss is 0 with weight 0 (the log_prob output is empty). */
static void emit_empty_loss(Emitter *e, const Graph *g, const Node *n, bool none, bool mean)
{
    const Value *y = ir_out(g, n, 0);
    if (none)
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
                  (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    else
        emit_line(e, "%s[0] = %s;", e->out_name[0], emit_flit(e, mean ? NAN : 0, y->dtype));
}

/* Both losses. For each (n, d) with label l = labels[n, d]: the log
 * probability of l is x[n, l, d] (NLL: the scores are log probabilities) or
 * x[n, l, d] - lse (SCE); loss = -weight[l] * logp, weight 1 without the
 * weights input. A label equal to ignore_index gets weight 0 and loss 0, as
 * does a label outside [0, C) (undefined in ONNX; kiln doesn't read outside
 * the tensor). reduction none writes each loss, sum their sum, mean their
 * sum divided by the sum of the applied weights (the count of labels not
 * ignored when unweighted). */
bool k_loss(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    int64_t N = x->shape.dims[0], C = x->shape.dims[1];
    const char *red = ir_attr_str(n, "reduction", "mean");
    bool none = strcmp(red, "none") == 0, mean = strcmp(red, "mean") == 0;
    if (N == 0 || C == 0) {
        emit_empty_loss(e, g, n, none, mean);
        return true;
    }
    int64_t D = shape_numel(&x->shape) / (N * C);
    const Attr *ii = ir_attr(n, "ignore_index");
    const char *t = dtype_ctype(dt), **in = e->in_name, **out = e->out_name;
    const char *zero = emit_flit(e, 0, dt);
    if (!none) {
        emit_line(e, "%s total = %s;", t, zero);
        if (mean)
            emit_line(e, "%s total_weight = %s;", t, zero);
    }
    /* a run-time batch nb (emit_batch): the padded rows don't count */
    emit_open(e, "for (int n = 0; n < %s; n++)", emit_batch(e, N));
    emit_open(e, "for (int d = 0; d < %lld; d++)", (long long)D);
    emit_line(e, "const %s *x = %s + n * %lld + d;", t, in[0], (long long)(C * D));
    if (n->op == OP_SoftmaxCrossEntropyLoss)
        emit_log_softmax(e, dt, C, D);
    emit_line(e, "const int64_t label = %s[n * %lld + d];", in[1], (long long)D);
    emit_line(e, "%s loss = %s, weight = %s;", t, zero, zero);
    const char *cond = arena_printf(e->arena, "label >= 0 && label < %lld", (long long)C);
    if (ii && ii->i >= 0 && ii->i < C) /* outside [0, C) the range check covers it */
        cond = arena_printf(e->arena, "label != %lld && %s", (long long)ii->i, cond);
    emit_open(e, "if (%s)", cond);
    if (in[2])
        emit_line(e, "weight = %s[label];", in[2]);
    else
        emit_line(e, "weight = %s;", emit_flit(e, 1, dt));
    emit_line(e, "loss = -weight * (x[label * %lld]%s);", (long long)D,
              n->op == OP_SoftmaxCrossEntropyLoss ? " - lse" : "");
    emit_close(e);
    if (none) {
        emit_line(e, "%s[n * %lld + d] = loss;", out[0], (long long)D);
    } else {
        emit_line(e, "total += loss;");
        if (mean)
            emit_line(e, "total_weight += weight;");
    }
    emit_close(e);
    emit_close(e);
    if (!none)
        emit_line(e, "%s[0] = total%s;", out[0], mean ? " / total_weight" : "");
    return true;
}
