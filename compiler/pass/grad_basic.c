/* grad_basic.c — gradient rules of the MLP-family ops (named in ops.def):
 * elementwise arithmetic with broadcasting, activations, Gemm, MatMul,
 * reshapes and transposes, the softmax family and the losses. Each rule reads
 * dY with ad_grad and adds dX with ad_accumulate (autodiff.h). */
#include "autodiff.h"

#include <string.h>

/* Identity: dX = dY. */
bool grad_identity(GradCtx *c, const Node *n)
{
    ad_accumulate(c, n->in[0], ad_grad(c, n->out[0]));
    return !c->d->errors;
}

/* Elementwise activations: dX = UnaryGrad(dY, X, Y), the derivative's formula
 * picked by the forward op (k_train.c). */
bool grad_unary(GradCtx *c, const Node *n)
{
    int in[3] = {ad_grad(c, n->out[0]), n->in[0], n->out[0]};
    Node *g = ad_node(c, OP_UnaryGrad, in, 3, 1);
    ad_copy_attrs(c, g, n);
    ad_set_str(c, g, "of", op_info[n->op].name);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* Add, Sub, Mul, Div with numpy broadcasting: the elementwise derivative,
 * then summed back down to each operand's shape. */
bool grad_arith(GradCtx *c, const Node *n)
{
    int a = n->in[0], b = n->in[1], y = n->out[0], dy = ad_grad(c, y);
    DType dt = c->g->values[y]->dtype;
    int da = -1, db = -1;
    switch (n->op) {
    case OP_Add: da = dy, db = dy; break;
    case OP_Sub: da = dy, db = ad_wants(c, b) ? ad_op2(c, OP_Mul, dy, ad_scalar(c, dt, -1)) : -1; break;
    case OP_Mul:
        da = ad_wants(c, a) ? ad_op2(c, OP_Mul, dy, b) : -1;
        db = ad_wants(c, b) ? ad_op2(c, OP_Mul, dy, a) : -1;
        break;
    case OP_Div: /* y = a / b: da = dy / b, db = -dy * y / b */
        da = ad_wants(c, a) ? ad_op2(c, OP_Div, dy, b) : -1;
        if (ad_wants(c, b))
            db = ad_op2(c, OP_Mul, ad_op2(c, OP_Div, ad_op2(c, OP_Mul, dy, y), b),
                        ad_scalar(c, dt, -1));
        break;
    default: KILN_ASSERT(!"grad_arith: not an arithmetic op");
    }
    if (ad_wants(c, a))
        ad_accumulate(c, a, ad_unbroadcast(c, da, a));
    if (ad_wants(c, b))
        ad_accumulate(c, b, ad_unbroadcast(c, db, b));
    return !c->d->errors;
}

/* A Gemm node computing alpha * op(a) * op(b) with the given transposes. */
static int gemm(GradCtx *c, int a, int b, bool ta, bool tb, double alpha)
{
    int in[2] = {a, b};
    Node *g = ad_node(c, OP_Gemm, in, 2, 1);
    if (ta)
        ad_set_int(c, g, "transA", 1);
    if (tb)
        ad_set_int(c, g, "transB", 1);
    if (alpha != 1.0)
        ir_node_set_attr(c->g, g, "alpha", ATTR_FLOAT)->f = alpha;
    return ad_finish(c, g);
}

/* Gemm: Y = alpha * A' B' + beta * C with A' = A or Aᵀ (transA), B' likewise.
 * dA' = alpha dY B'ᵀ, dB' = alpha A'ᵀ dY, dC = beta dY summed to C's shape. */
bool grad_gemm(GradCtx *c, const Node *n)
{
    int a = n->in[0], b = n->in[1], cc = n->n_in > 2 ? n->in[2] : -1, dy = ad_grad(c, n->out[0]);
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    if (ad_wants(c, a))
        ad_accumulate(c, a, ta ? gemm(c, b, dy, tb, true, alpha) : gemm(c, dy, b, false, !tb, alpha));
    if (ad_wants(c, b))
        ad_accumulate(c, b, tb ? gemm(c, dy, a, true, ta, alpha) : gemm(c, a, dy, !ta, false, alpha));
    if (ad_wants(c, cc)) {
        int dc = beta == 1.0 ? dy : ad_op2(c, OP_Mul, dy, ad_scalar(c, c->g->values[dy]->dtype, beta));
        ad_accumulate(c, cc, ad_unbroadcast(c, dc, cc));
    }
    return !c->d->errors;
}

/* x with its last two dims swapped. */
static int swap_last(GradCtx *c, int x)
{
    int r = c->g->values[x]->shape.rank;
    int64_t perm[IR_MAX_RANK];
    for (int i = 0; i < r; i++)
        perm[i] = i;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    Node *t = ad_node(c, OP_Transpose, &x, 1, 1);
    ad_set_ints(c, t, "perm", perm, r);
    return ad_finish(c, t);
}

/* MatMul (rank >= 2 operands, batch dims broadcast): dA = dY Bᵀ, dB = Aᵀ dY,
 * each summed over the batch dims its operand was broadcast along. */
bool grad_matmul(GradCtx *c, const Node *n)
{
    int a = n->in[0], b = n->in[1], dy = ad_grad(c, n->out[0]);
    if (c->g->values[a]->shape.rank < 2 || c->g->values[b]->shape.rank < 2) {
        ir_node_error(c->d, n, "training through a MatMul with a 1-D operand is not supported; "
                               "reshape it to 2-D");
        return false;
    }
    if (ad_wants(c, a))
        ad_accumulate(c, a, ad_unbroadcast(c, ad_op2(c, OP_MatMul, dy, swap_last(c, b)), a));
    if (ad_wants(c, b))
        ad_accumulate(c, b, ad_unbroadcast(c, ad_op2(c, OP_MatMul, swap_last(c, a), dy), b));
    return !c->d->errors;
}

/* Reshape, Flatten (and Squeeze/Unsqueeze): dX = dY reshaped to X's shape. */
bool grad_reshape(GradCtx *c, const Node *n)
{
    ad_accumulate(c, n->in[0], ad_reshape_like(c, ad_grad(c, n->out[0]), n->in[0]));
    return !c->d->errors;
}

/* Transpose: dX = dY transposed by the inverse permutation. */
bool grad_transpose(GradCtx *c, const Node *n)
{
    int r = c->g->values[n->in[0]]->shape.rank, dy = ad_grad(c, n->out[0]);
    const Attr *perm = ir_attr(n, "perm");
    int64_t inv[IR_MAX_RANK];
    for (int i = 0; i < r; i++)
        inv[perm ? perm->ints[i] : r - 1 - i] = i;
    Node *t = ad_node(c, OP_Transpose, &dy, 1, 1);
    ad_set_ints(c, t, "perm", inv, r);
    ad_accumulate(c, n->in[0], ad_finish(c, t));
    return !c->d->errors;
}

/* Softmax: dX = Y (dY - sum(dY Y)); LogSoftmax: dX = dY - exp(Y) sum(dY),
 * both along the forward op's axis (SoftmaxGrad, k_train.c). */
bool grad_softmax(GradCtx *c, const Node *n)
{
    int in[2] = {ad_grad(c, n->out[0]), n->out[0]};
    Node *g = ad_node(c, OP_SoftmaxGrad, in, 2, 1);
    ad_copy_attrs(c, g, n);
    ad_set_int(c, g, "log", n->op == OP_LogSoftmax);
    ad_set_int(c, g, "opset", n->opset);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss: one fused rule for
 * the scores (softmax − one-hot, or −one-hot for NLL), scaled by the weights
 * and the reduction; never through a separate log of a softmax. */
bool grad_xent(GradCtx *c, const Node *n)
{
    for (int i = 1; i < n->n_out; i++)
        if (ad_grad(c, n->out[i]) >= 0) {
            ir_node_error(c->d, n, "training through the log_prob output is not supported");
            return false;
        }
    int in[4] = {ad_grad(c, n->out[0]), n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1};
    OpKind op = n->op == OP_SoftmaxCrossEntropyLoss ? OP_SoftmaxCrossEntropyLossGrad
                                                    : OP_NegativeLogLikelihoodLossGrad;
    Node *g = ad_node(c, op, in, in[3] >= 0 ? 4 : 3, 1);
    ad_copy_attrs(c, g, n);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}

/* kiln's own Loss (--loss): LossGrad(dLoss, prediction, labels). */
bool grad_loss(GradCtx *c, const Node *n)
{
    int in[3] = {ad_grad(c, n->out[0]), n->in[0], n->in[1]};
    Node *g = ad_node(c, OP_LossGrad, in, 3, 1);
    ad_copy_attrs(c, g, n);
    ad_accumulate(c, n->in[0], ad_finish(c, g));
    return !c->d->errors;
}
