/* k_preview.c — kernels of ONNX's training optimizers (domain
 * ai.onnx.preview.training, opset 1): Adagrad, Momentum and Adam, one loop
 * per updated tensor following the spec's pseudo code, which differs from
 * torch.optim's (kept by kiln's own Optimizer op, k_train.c). The shape rule
 * (pass/shapes_preview.c) checked the operand layout and the attributes. */
#include "emit.h"

#include <string.h>

/* Output i's store, left out when the model omits that output. */
static void store(Emitter *e, int i, const char *expr)
{
    if (e->out_name[i])
        emit_line(e, "%s[i] = %s;", e->out_name[i], expr);
}

/* The element update of tensor k of count, inside its loop: x, the
 * regularized gradient g = norm_coefficient x + G, then per op
 *   Adagrad   h = H + g²; X_new = x - r g / (sqrt(h) + epsilon)
 *   Momentum  v = alpha V + beta_adjusted g;
 *             X_new = x - r v (standard) or x - r (g + alpha v) (nesterov)
 *   Adam      v = alpha V + (1 - alpha) g; h = beta H + (1 - beta) g²;
 *             X_new = (1 - norm_coefficient_post) (x - r v / (sqrt(h) + epsilon))
 * with the scalar r (and beta_adjusted) computed once before the loops. */
static void emit_update(Emitter *e, const Node *n, int k, int count, DType dt)
{
    const char *t = dtype_ctype(dt), *sq = emit_math(e, dt, "sqrt");
    const char *x = e->in_name[2 + k], *gr = e->in_name[2 + count + k];
    const char *s1 = e->in_name[2 + 2 * count + k];
    double eps = ir_attr_float(n, "epsilon", 1e-6), alpha = ir_attr_float(n, "alpha", 0.9);
    double beta = ir_attr_float(n, "beta", 0.999), post = ir_attr_float(n, "norm_coefficient_post", 0);
#define L(v) emit_flit(e, v, dt)
    emit_line(e, "const %s x = %s[i];", t, x);
    emit_line(e, "const %s g = %s * x + %s[i];", t, L(ir_attr_float(n, "norm_coefficient", 0)), gr);
    switch (n->op) {
    case OP_Adagrad:
        emit_line(e, "const %s h = %s[i] + g * g;", t, s1);
        store(e, count + k, "h");
        store(e, k, arena_printf(e->arena, "x - (%s)r * g / (%s(h) + %s)", t, sq, L(eps)));
        break;
    case OP_Momentum:
        emit_line(e, "const %s v = %s * %s[i] + (%s)beta_adjusted * g;", t, L(alpha), s1, t);
        store(e, count + k, "v");
        if (strcmp(ir_attr_str(n, "mode", ""), "nesterov") == 0)
            store(e, k, arena_printf(e->arena, "x - (%s)r * (g + %s * v)", t, L(alpha)));
        else
            store(e, k, arena_printf(e->arena, "x - (%s)r * v", t));
        break;
    case OP_Adam: {
        const char *step = arena_printf(e->arena, "x - (%s)r * v / (%s(h) + %s)", t, sq, L(eps));
        emit_line(e, "const %s v = %s * %s[i] + %s * g;", t, L(alpha), s1, L(1 - alpha));
        emit_line(e, "const %s h = %s * %s[i] + %s * g * g;", t, L(beta),
                  e->in_name[2 + 3 * count + k], L(1 - beta));
        store(e, count + k, "v");
        store(e, 2 * count + k, "h");
        store(e, k, post == 0 ? step : arena_printf(e->arena, "%s * (%s)", L(1 - post), step));
        break;
    }
    default:
        KILN_ASSERT(!"k_preview: not an optimizer of ai.onnx.preview.training");
    }
#undef L
}

/* The loops over each updated tensor, after the scalars. */
static bool emit_tensors(Emitter *e, const Graph *g, const Node *n)
{
    int count = (n->n_in - 2) / (n->op == OP_Adam ? 4 : 3);
    for (int k = 0; k < count; k++) {
        const Value *x = ir_in(g, n, 2 + k);
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)shape_numel(&x->shape));
        emit_update(e, n, k, count, x->dtype);
        emit_close(e);
    }
    return true;
}

/* Adagrad (ai.onnx.preview.training opset 1): the learning rate decays as
 * r = R / (1 + T decay_factor). */
bool k_adagrad(Emitter *e, const Graph *g, const Node *n)
{
    emit_line(e, "const double r = (double)%s[0] / (1.0 + (double)%s[0] * %.17g);", e->in_name[0],
              e->in_name[1], ir_attr_float(n, "decay_factor", 0));
    return emit_tensors(e, g, n);
}

/* Momentum (ai.onnx.preview.training opset 1): r = R; the gradient's
 * coefficient is beta after the first update (T > 0), 1 at T = 0. */
bool k_momentum(Emitter *e, const Graph *g, const Node *n)
{
    emit_line(e, "const double r = (double)%s[0];", e->in_name[0]);
    emit_line(e, "const double beta_adjusted = %s[0] > 0 ? %.17g : 1.0;", e->in_name[1],
              ir_attr_float(n, "beta", 0));
    return emit_tensors(e, g, n);
}

/* Adam (ai.onnx.preview.training opset 1): bias correction of the learning
 * rate, r = R sqrt(1 - beta^T) / (1 - alpha^T), once T > 0; r = R at T = 0. */
bool k_adam(Emitter *e, const Graph *g, const Node *n)
{
    const char *rr = e->in_name[0], *tt = e->in_name[1];
    emit_line(e, "const double t = (double)%s[0];", tt);
    emit_line(e, "const double r = t > 0 ? (double)%s[0] * sqrt(1.0 - pow(%.17g, t)) / "
                 "(1.0 - pow(%.17g, t)) : (double)%s[0];",
              rr, ir_attr_float(n, "beta", 0.999), ir_attr_float(n, "alpha", 0.9), rr);
    return emit_tensors(e, g, n);
}
