/* batch_rows.c — the run-time batch. With --batch N on a symbolic first dim,
 * the generated entry points take the actual batch nb <= N and pad rows
 * nb..N-1 (emit/model.c). This pass finds each value's batch axis, marks the
 * nodes that reduce over it (they get nb and use only the first nb rows) and
 * falls back to a fixed batch where rows mix in a way kiln doesn't handle. */
#include "pass.h"

#include <string.h>

/* Per value: its batch axis (-1 none) and whether its padded rows are known
 * to be zero (gradients: the loss gradients zero them, and backprop is
 * linear in the upstream gradient). A reduction over the batch axis is
 * exact when one factor of each term is such a zero-padded value. */
typedef struct Rows {
    Graph *g;
    signed char *ax;
    bool *zero;
    const char *why;
} Rows;

static int ax_of(const Rows *r, const Node *n, int i)
{
    return (i < n->n_in && n->in[i] >= 0) ? r->ax[n->in[i]] : -1;
}

static bool zero_of(const Rows *r, const Node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 && r->ax[n->in[i]] >= 0 && r->zero[n->in[i]];
}

/* A constant whose every byte is zero (a gradient's "nothing flows here"). */
static bool zero_const(const Graph *g, const Node *n, int i)
{
    const Value *v = ir_in(g, n, i);
    if (!v || v->kind != VAL_CONST || !v->data)
        return false;
    int64_t bytes = shape_numel(&v->shape) * (int64_t)dtype_size(v->dtype);
    for (int64_t b = 0; b < bytes; b++)
        if (((const unsigned char *)v->data)[b])
            return false;
    return true;
}

static void set_out(Rows *r, const Node *n, int i, int ax, bool zero)
{
    if (i < n->n_out && n->out[i] >= 0) {
        r->ax[n->out[i]] = (signed char)ax;
        r->zero[n->out[i]] = ax >= 0 && zero;
    }
}

/* A fused activation (sigmoid(0) = 0.5) need not keep zero rows zero. */
static bool unzero(Rows *r, const Node *n)
{
    if (n->out[0] >= 0)
        r->zero[n->out[0]] = false;
    return true;
}

static bool refuse(Rows *r, const Node *n, const char *what)
{
    r->why = arena_printf(r->g->arena, "node '%s' (%s) %s", n->name, n->op_name, what);
    return false;
}

/* Elementwise with numpy broadcasting: the batch inputs must line up on one
 * output axis. Zero padding survives a product with any finite factor, and a
 * sum or a select whose every term is zero-padded (or a zero constant). */
static bool rows_elementwise(Rows *r, const Node *n)
{
    const Value *y = ir_out(r->g, n, 0);
    int oax = -1;
    bool any_zero = false, all_zero = true;
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(r->g, n, i);
        if (!v)
            continue;
        int a = ax_of(r, n, i);
        if (a < 0) {
            all_zero = all_zero && zero_const(r->g, n, i);
            continue;
        }
        a += y->shape.rank - v->shape.rank;
        if (oax >= 0 && a != oax)
            return refuse(r, n, "combines values whose batch axes differ");
        oax = a;
        any_zero = any_zero || zero_of(r, n, i);
        all_zero = all_zero && zero_of(r, n, i);
    }
    bool zero;
    switch (n->op) {
    case OP_Mul:
    case OP_And:
        zero = any_zero;
        break;
    case OP_Div:
    case OP_Neg:
    case OP_UnaryGrad:
    case OP_Cast:
    case OP_Identity:
        zero = zero_of(r, n, 0);
        break;
    case OP_Where:
        zero = (zero_of(r, n, 1) || zero_const(r->g, n, 1)) &&
               (zero_of(r, n, 2) || zero_const(r->g, n, 2));
        break;
    case OP_Add:
    case OP_Sub:
    case OP_Sum:
        zero = all_zero;
        break;
    default:
        zero = false;
    }
    for (int i = 0; i < n->n_out; i++)
        set_out(r, n, i, oax, zero);
    return true;
}

/* Whether a step of op keeps zero rows zero, given whether its operands'
 * rows are (b unused for a unary step): the rules of rows_elementwise, and
 * the unary ops with f(0) = 0. */
static bool step_keeps_zero(OpKind op, bool a, bool b)
{
    switch (op) {
    case OP_Mul:
        return a || b;
    case OP_Add:
    case OP_Sub:
    case OP_Max:
    case OP_Min:
        return a && b;
    case OP_Div:
    case OP_Neg:
    case OP_Abs:
    case OP_Sign:
    case OP_Relu:
    case OP_LeakyRelu:
    case OP_Sqrt:
    case OP_Tanh:
    case OP_Sin:
    case OP_Erf:
    case OP_Floor:
    case OP_Ceil:
    case OP_Elu:
    case OP_Selu:
    case OP_Celu:
    case OP_HardSwish:
    case OP_Softsign:
        return a;
    default: /* Exp, Sigmoid, Log, Pow, ...: f(0) != 0 or not always 0 */
        return false;
    }
}

/* FusedElementwise (pass/fuse_elementwise.c): rows as rows_elementwise; its
 * rows stay zero when they would through its steps one by one (a gradient
 * times BatchRows' zero padding, say). */
static bool rows_fused_elementwise(Rows *r, const Node *n)
{
    if (!rows_elementwise(r, n))
        return false;
    const Attr *ops = ir_attr(n, "ops"), *args = ir_attr(n, "args");
    const int n_in = n->n_in, n_steps = ops ? ops->n : 0;
    bool z[128]; /* per input, then per step: its rows past the batch are zero */
    if (n->out[0] < 0 || r->ax[n->out[0]] < 0 || !args || n_steps < 1 ||
        n_in + n_steps > 128 || args->n < 2 * n_steps)
        return true; /* (shape_fused_elementwise checked the program) */
    for (int i = 0; i < n_in; i++)
        z[i] = zero_of(r, n, i) || zero_const(r->g, n, i);
    for (int s = 0; s < n_steps; s++) {
        int64_t a = args->ints[2 * s], b = args->ints[2 * s + 1];
        bool za = a >= 0 && a < n_in + s && z[a], zb = b >= 0 && b < n_in + s && z[b];
        z[n_in + s] = step_keeps_zero(op_lookup("", ops->strings[s]), za, zb);
    }
    r->zero[n->out[0]] = z[n_in + n_steps - 1];
    return true;
}

/* Gemm: rows of A (the batch on A's row axis) stay rows of Y; the batch on
 * the contracted axis of both A and B is a sum over the batch, exact when A
 * or B is zero-padded (a weight gradient X^T dY). */
static bool rows_gemm(Rows *r, const Node *n)
{
    int a = ax_of(r, n, 0), b = ax_of(r, n, 1), c = ax_of(r, n, 2);
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    int a_row = ta ? 1 : 0, b_col = tb ? 0 : 1;
    if (a == a_row && b < 0 && (c < 0 || c == 0)) {
        set_out(r, n, 0, 0, zero_of(r, n, 0) && !ir_in(r->g, n, 2));
        return true;
    }
    if (a < 0 && b == b_col && (c < 0 || c == 1)) {
        set_out(r, n, 0, 1, zero_of(r, n, 1) && !ir_in(r->g, n, 2));
        return true;
    }
    if (a == 1 - a_row && b == 1 - b_col && c < 0) {
        if (!zero_of(r, n, 0) && !zero_of(r, n, 1))
            return refuse(r, n, "sums over the batch axis");
        set_out(r, n, 0, -1, false);
        return true;
    }
    return refuse(r, n, "mixes batch rows");
}

/* MatMul [.., M, K] x [.., K, P]: A's batch on a leading or the M axis
 * (B without one), or both on the same leading dim, stays on that axis of
 * Y; both on K is a sum over the batch, exact when one side is zero-padded. */
static bool rows_matmul(Rows *r, const Node *n)
{
    const Value *A = ir_in(r->g, n, 0), *B = ir_in(r->g, n, 1), *y = ir_out(r->g, n, 0);
    int a = ax_of(r, n, 0), b = ax_of(r, n, 1), ra = A->shape.rank, rb = B->shape.rank;
    if (ra >= 2 && a >= 0 && a < ra - 1 && b < 0) {
        set_out(r, n, 0, a + y->shape.rank - ra, zero_of(r, n, 0));
        return true;
    }
    if (ra >= 2 && rb >= 2 && a >= 0 && a < ra - 2 && b >= 0 && b < rb - 2) {
        /* both batched on the same broadcast dim (attention's Q K^T) */
        int oa = a + y->shape.rank - ra;
        if (oa != b + y->shape.rank - rb)
            return refuse(r, n, "multiplies values whose batch axes differ");
        set_out(r, n, 0, oa, zero_of(r, n, 0) || zero_of(r, n, 1));
        return true;
    }
    if (ra >= 2 && rb >= 2 && a == ra - 1 && b == rb - 2) {
        if (!zero_of(r, n, 0) && !zero_of(r, n, 1))
            return refuse(r, n, "sums over the batch axis");
        set_out(r, n, 0, -1, false);
        return true;
    }
    return refuse(r, n, "mixes batch rows");
}

/* Ops over [N, C, spatial…] that keep samples apart (convolution, pooling,
 * instance and local-response normalization, their data gradients), with
 * every other input free of the batch. in0 is the batch-major operand;
 * zero padding passes through the linear ones (Conv, ConvTranspose without
 * bias, PoolGrad). */
static bool rows_per_sample(Rows *r, const Node *n, int in0, bool linear)
{
    if (ax_of(r, n, in0) != 0)
        return refuse(r, n, "has its batch on an axis other than 0");
    for (int i = 0; i < n->n_in; i++)
        if (i != in0 && ax_of(r, n, i) >= 0 && !(n->op == OP_PoolGrad && ax_of(r, n, i) == 0))
            return refuse(r, n, "takes a second batch operand");
    bool zero = linear && zero_of(r, n, in0) && !(n->op != OP_PoolGrad && ir_in(r->g, n, 2));
    for (int i = 0; i < n->n_out; i++)
        set_out(r, n, i, 0, zero);
    return true;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: rows stay rows when the leading
 * dim stays N (row-major order is kept, so each row's elements are too). */
static bool rows_reshape(Rows *r, const Node *n)
{
    const Value *x = ir_in(r->g, n, 0), *y = ir_out(r->g, n, 0);
    if (ax_of(r, n, 0) != 0 || y->shape.rank == 0 || y->shape.dims[0] != x->shape.dims[0])
        return refuse(r, n, "moves the batch axis");
    set_out(r, n, 0, 0, zero_of(r, n, 0));
    return true;
}

static bool rows_transpose(Rows *r, const Node *n)
{
    const Attr *perm = ir_attr(n, "perm");
    const Value *x = ir_in(r->g, n, 0);
    int a = ax_of(r, n, 0), oax = -1;
    for (int i = 0; i < x->shape.rank; i++) {
        int p = perm && i < perm->n ? (int)perm->ints[i] : x->shape.rank - 1 - i;
        if (p == a)
            oax = i;
    }
    set_out(r, n, 0, oax, zero_of(r, n, 0));
    return oax >= 0 || refuse(r, n, "has an unexpected perm");
}

/* Softmax family: the normalized axes must not include the batch axis
 * (opsets < 13 flatten at `axis`, so every axis from it on is normalized). */
static bool rows_softmax(Rows *r, const Node *n, int xin)
{
    const Value *x = ir_in(r->g, n, xin);
    int opset = n->op == OP_SoftmaxGrad ? (int)ir_attr_int(n, "opset", 13) : n->opset;
    int64_t axis = ir_attr_int(n, "axis", opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += x->shape.rank;
    int a = ax_of(r, n, xin);
    if (opset >= 13 ? axis == a : a >= axis)
        return refuse(r, n, "normalizes over the batch axis");
    set_out(r, n, 0, a, n->op == OP_SoftmaxGrad && zero_of(r, n, 0));
    return true;
}

/* BatchNormalization in training mode, as k_batchnorm decides it. */
static bool bn_training(const Node *n)
{
    if (n->opset >= 14)
        return ir_attr_int(n, "training_mode", 0) != 0;
    if (n->opset < 7)
        return ir_attr_int(n, "is_test", 0) == 0;
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return true;
    return false;
}

/* The ops that reduce over the batch and were taught nb (k_loss.c,
 * k_train.c, k_norm.c, k_train_conv.c). Scores, predictions and labels
 * must be batch-major on axis 0. */
static bool rows_reducing(Rows *r, Node *n, int xin)
{
    if (ax_of(r, n, xin) != 0)
        return refuse(r, n, "has its batch on an axis other than 0");
    if (n->op != OP_BatchNormalization && n->op != OP_BatchNormGrad && ax_of(r, n, xin + 1) != 0)
        return refuse(r, n, "has labels without the batch rows");
    r->g->batch.rows[n->id] = true;
    bool loss = n->op == OP_Loss || n->op == OP_SoftmaxCrossEntropyLoss ||
                n->op == OP_NegativeLogLikelihoodLoss;
    /* the gradients (dX) come out zero in the padded rows */
    set_out(r, n, 0, loss ? -1 : 0, !loss && n->op != OP_BatchNormalization);
    for (int i = 1; i < n->n_out; i++) /* log_prob; running stats; dScale, dBias */
        set_out(r, n, i, n->op == OP_SoftmaxCrossEntropyLoss ? 0 : -1, false);
    return true;
}

/* The losses with reduction "none" keep rows apart. */
static bool loss_per_row(const Node *n)
{
    return n->op != OP_Loss && n->op != OP_LossGrad &&
           strcmp(ir_attr_str(n, "reduction", "mean"), "none") == 0;
}

/* RNN, GRU, LSTM: X [T, N, I] (layout 1: [N, T, I]); the batch axis goes to
 * Y [T, D, N, H] / [N, T, D, H] and Y_h, Y_c [D, N, H] / [N, D, H]. Samples
 * never meet. Their backprop through time is linear in the upstream
 * gradients dY, dY_h, dY_c (inputs 8-10): zero-padded there, dX and the
 * initial-state gradients are too, and the weight gradients (sums over the
 * batch) are exact. */
static bool rows_rnn(Rows *r, const Node *n, bool grad)
{
    bool batch_first = ir_attr_int(n, "layout", 0) != 0;
    int xax = batch_first ? 0 : 1, yax = batch_first ? 0 : 2;
    if (ax_of(r, n, 0) != xax)
        return refuse(r, n, "has its batch on an unexpected axis");
    for (int i = 1; i < 8 && i < n->n_in; i++) {
        int want = i == 4 ? 0 : (i == 5 || i == 6) ? xax : -1;
        if (ax_of(r, n, i) >= 0 && ax_of(r, n, i) != want)
            return refuse(r, n, "has an input with the batch on an unexpected axis");
    }
    if (!grad) {
        set_out(r, n, 0, yax, false);
        set_out(r, n, 1, xax, false);
        set_out(r, n, 2, xax, false);
        return true;
    }
    for (int i = 8; i < n->n_in; i++)
        if (n->in[i] >= 0 && !zero_of(r, n, i) && !zero_const(r->g, n, i))
            return refuse(r, n, "sums over the batch axis");
    for (int i = 0; i < n->n_out; i++)
        set_out(r, n, i, (i == 0 || i == 4 || i == 5) ? xax : -1, true);
    return true;
}

/* Gather along an axis other than the batch axis, with indices free of the
 * batch: the batch axis moves by the indices' rank minus one past it. */
static bool rows_gather(Rows *r, const Node *n)
{
    const Value *x = ir_in(r->g, n, 0), *idx = ir_in(r->g, n, 1);
    int64_t axis = ir_attr_int(n, "axis", 0);
    int a = ax_of(r, n, 0);
    if (axis < 0)
        axis += x->shape.rank;
    if (a < 0 || ax_of(r, n, 1) >= 0 || axis == a)
        return refuse(r, n, "gathers along the batch axis");
    set_out(r, n, 0, a < axis ? a : a + idx->shape.rank - 1, zero_of(r, n, 0));
    return true;
}

/* GatherGrad (dY, indices → dX of attribute "shape"): Gather's batch axis
 * mapped back; the rows not gathered are zero. */
static bool rows_gather_grad(Rows *r, const Node *n)
{
    const Value *idx = ir_in(r->g, n, 1);
    const Value *y = ir_out(r->g, n, 0);
    int64_t axis = ir_attr_int(n, "axis", 0);
    int a = ax_of(r, n, 0);
    if (axis < 0)
        axis += y->shape.rank;
    int oax = a < axis ? a : a - (idx->shape.rank - 1);
    if (a < 0 || ax_of(r, n, 1) >= 0 || oax == axis || oax < 0)
        return refuse(r, n, "scatters along the batch axis");
    set_out(r, n, 0, oax, zero_of(r, n, 0));
    return true;
}

/* LayerNormalization normalizes axes axis..rank-1; the batch must come
 * before them. Mean and inverse deviation keep it. LayerNormGrad (dY, X,
 * scale → dX, dScale, dBias) and InstanceNormGrad (batch on axis 0) are
 * linear in dY: zero-padded dY makes dX zero-padded and the sums exact. */
static bool rows_layernorm(Rows *r, const Node *n, bool grad)
{
    const Value *x = ir_in(r->g, n, grad ? 1 : 0);
    int64_t axis = ir_attr_int(n, "axis", -1);
    int a = ax_of(r, n, grad ? 1 : 0);
    if (axis < 0)
        axis += x->shape.rank;
    if (n->op == OP_InstanceNormGrad)
        axis = 2;
    if (a < 0 || a >= axis || ax_of(r, n, grad ? 2 : 1) >= 0 || ax_of(r, n, 2 + !grad) >= 0)
        return refuse(r, n, "normalizes over the batch axis");
    if (!grad) {
        for (int i = 0; i < n->n_out; i++)
            set_out(r, n, i, a, false);
        return true;
    }
    if (ax_of(r, n, 0) != a || !zero_of(r, n, 0))
        return refuse(r, n, "sums over the batch axis");
    set_out(r, n, 0, a, true);
    set_out(r, n, 1, -1, false);
    set_out(r, n, 2, -1, false);
    return true;
}

/* Concat and Split along an axis other than the batch axis. */
static bool rows_concat_split(Rows *r, const Node *n)
{
    const Value *y = ir_out(r->g, n, 0);
    int64_t axis = ir_attr_int(n, "axis", 0);
    int a = -1;
    bool zero = true;
    if (axis < 0)
        axis += y->shape.rank;
    for (int i = 0; i < (n->op == OP_Concat ? n->n_in : 1); i++) {
        int ai = ax_of(r, n, i);
        if (ai < 0 || (a >= 0 && ai != a))
            return refuse(r, n, "joins values whose batch axes differ");
        a = ai;
        zero = zero && zero_of(r, n, i);
    }
    for (int i = 1; n->op == OP_Split && i < n->n_in; i++)
        if (ax_of(r, n, i) >= 0)
            return refuse(r, n, "splits by a batch-shaped value");
    if (a == axis)
        return refuse(r, n, "joins or splits along the batch axis");
    for (int i = 0; i < n->n_out; i++)
        set_out(r, n, i, a, zero);
    return true;
}

/* Reduce*: over other axes the batch axis stays (shifted past removed
 * axes without keepdims). Over the batch: exact for a ReduceSum of a
 * zero-padded value; a ReduceSum or ReduceMean of batch axis 0 takes nb
 * (k_reduce.c), its gradient BatchRows (grad_misc.c). */
static bool rows_reduce(Rows *r, Node *n)
{
    const Attr *axes = ir_attr(n, "axes");
    int a = ax_of(r, n, 0), removed = 0;
    bool over = false, keep = ir_attr_int(n, "keepdims", 1) != 0;
    if (!axes || axes->type != ATTR_INTS || ax_of(r, n, 1) >= 0)
        return refuse(r, n, "reduces over axes kiln can't see");
    for (int k = 0; k < axes->n; k++) {
        over = over || axes->ints[k] == a;
        removed += axes->ints[k] < a;
    }
    if (!over) {
        set_out(r, n, 0, keep ? a : a - removed, false);
        return true;
    }
    set_out(r, n, 0, -1, false);
    if (n->op == OP_ReduceSum && zero_of(r, n, 0))
        return true;
    if ((n->op != OP_ReduceSum && n->op != OP_ReduceMean) || a != 0 || zero_of(r, n, 0))
        return refuse(r, n, "reduces over the batch axis");
    r->g->batch.rows[n->id] = true;
    return true;
}

/* One node: its outputs' batch axes, or false with r->why. */
static bool rows_node(Rows *r, Node *n)
{
    if (n->op == OP_BatchRows) { /* the gradient of a sum over X's batch axis 0 */
        if (ax_of(r, n, 1) != 0)
            return refuse(r, n, "sums over the batch axis");
        r->g->batch.rows[n->id] = true;
        set_out(r, n, 0, 0, true);
        return true;
    }
    bool any = false;
    for (int i = 0; i < n->n_in; i++)
        any = any || ax_of(r, n, i) >= 0;
    if (!any) { /* weights, constants, optimizer state: no batch */
        for (int i = 0; i < n->n_out; i++)
            set_out(r, n, i, -1, false);
        return true;
    }
    switch (n->op) {
#define OP(name, ...) case OP_##name: /* the elementwise families */
#include "ops_unary.def"
#include "ops_binary.def"
#undef OP
    case OP_Identity:
    case OP_Dropout:
    case OP_TrainDropout:
    case OP_UnaryGrad:
        return rows_elementwise(r, n);
    case OP_Gemm:
        return rows_gemm(r, n);
    case OP_MatMul:
        return rows_matmul(r, n);
    case OP_Conv:
    case OP_ConvTranspose:
        return rows_per_sample(r, n, 0, true);
    case OP_FusedGemm: /* an activation on the op's rows: padding stays padding, not zero;
                          a Relu-gradient mask (input 3) keeps zero rows zero */
        return rows_gemm(r, n) && (ir_attr(n, "activation") ? unzero(r, n) : true);
    case OP_FusedMatMul:
        return rows_matmul(r, n) && unzero(r, n);
    case OP_FusedConv:
        return rows_per_sample(r, n, 0, true) && unzero(r, n);
    case OP_FusedElementwise:
        return rows_fused_elementwise(r, n);
    case OP_MaxPool:
    case OP_AveragePool:
    case OP_LpPool:
    case OP_GlobalMaxPool:
    case OP_GlobalAveragePool:
    case OP_GlobalLpPool:
    case OP_InstanceNormalization:
    case OP_LRN:
        return rows_per_sample(r, n, 0, false);
    case OP_PoolGrad:
        return rows_per_sample(r, n, 0, true);
    case OP_ConvWeightGrad:
        if (ax_of(r, n, 0) != 0 || ax_of(r, n, 1) != 0 || (!zero_of(r, n, 0) && !zero_of(r, n, 1)))
            return refuse(r, n, "sums over the batch axis");
        set_out(r, n, 0, -1, false);
        return true;
    case OP_SumToShape: {
        const Value *x = ir_in(r->g, n, 0), *y = ir_out(r->g, n, 0);
        int a = ax_of(r, n, 0), k = a - (x->shape.rank - y->shape.rank);
        if (a >= 0 && k >= 0 && y->shape.dims[k] == x->shape.dims[a]) {
            set_out(r, n, 0, k, zero_of(r, n, 0));
            return true;
        }
        if (!zero_of(r, n, 0))
            return refuse(r, n, "sums over the batch axis");
        set_out(r, n, 0, -1, false);
        return true;
    }
    case OP_FusedOptimizer: { /* a SumToShape of dY (input 1), then the update */
        const Value *x = ir_in(r->g, n, 1);
        const Attr *s = ir_attr(n, "shape");
        int a = ax_of(r, n, 1), k = a - (x->shape.rank - (int)s->n);
        if (a < 0 || (k >= 0 && s->ints[k] == x->shape.dims[a]))
            return refuse(r, n, "keeps a batch axis in the state");
        if (!zero_of(r, n, 1))
            return refuse(r, n, "sums over the batch axis");
        for (int i = 0; i < n->n_out; i++)
            set_out(r, n, i, -1, false);
        return true;
    }
    case OP_RNN:
    case OP_GRU:
    case OP_LSTM:
        return rows_rnn(r, n, false);
    case OP_RNNGrad:
    case OP_GRUGrad:
    case OP_LSTMGrad:
        return rows_rnn(r, n, true);
    case OP_LayerNormalization:
        return rows_layernorm(r, n, false);
    case OP_LayerNormGrad:
    case OP_InstanceNormGrad:
        return rows_layernorm(r, n, true);
    case OP_Concat:
    case OP_Split:
        return rows_concat_split(r, n);
    case OP_ReduceSum:
    case OP_ReduceMean:
    case OP_ReduceMax:
    case OP_ReduceMin:
    case OP_ReduceProd:
    case OP_ReduceL1:
    case OP_ReduceL2:
    case OP_ReduceLogSum:
    case OP_ReduceLogSumExp:
    case OP_ReduceSumSquare:
        return rows_reduce(r, n);
    case OP_Gather:
        return rows_gather(r, n);
    case OP_GatherGrad:
        return rows_gather_grad(r, n);
    case OP_Reshape:
    case OP_Flatten:
    case OP_Squeeze:
    case OP_Unsqueeze:
        return rows_reshape(r, n);
    case OP_Transpose:
        return rows_transpose(r, n);
    case OP_Softmax:
    case OP_LogSoftmax:
    case OP_Hardmax:
        return rows_softmax(r, n, 0);
    case OP_SoftmaxGrad:
        return rows_softmax(r, n, 1);
    case OP_BatchNormalization:
        return bn_training(n) ? rows_reducing(r, n, 0) : rows_per_sample(r, n, 0, false);
    case OP_BatchNormGrad:
        if (ir_attr_int(n, "training_mode", 0) != 0)
            return rows_reducing(r, n, 1);
        if (ax_of(r, n, 1) != 0 || !zero_of(r, n, 0)) /* dX = k dY; dScale, dBias sums */
            return refuse(r, n, "sums over the batch axis");
        set_out(r, n, 0, 0, true);
        set_out(r, n, 1, -1, false);
        set_out(r, n, 2, -1, false);
        return true;
    case OP_SoftmaxCrossEntropyLoss:
    case OP_NegativeLogLikelihoodLoss:
    case OP_Loss:
        if (loss_per_row(n))
            return rows_elementwise(r, n);
        return rows_reducing(r, n, 0);
    case OP_SoftmaxCrossEntropyLossGrad:
    case OP_NegativeLogLikelihoodLossGrad:
    case OP_LossGrad:
        if (loss_per_row(n))
            return refuse(r, n, "is a per-row loss gradient kiln doesn't pad");
        return rows_reducing(r, n, 1);
    default:
        return refuse(r, n, "is not known to keep batch rows apart");
    }
}

/* Requires: shapes inferred, the training graph built, dead nodes removed;
 * g->batch.max set by the driver (0: nothing to do). Sets g->batch.axis,
 * .rows and, when the graph mixes batch rows in a way kiln doesn't handle
 * (or the loss or a new state depends on padded rows), .fallback: the
 * generated code then refuses any batch but N. Never fails. */
bool pass_batch_rows(Graph *g, Diag *d)
{
    (void)d;
    BatchInfo *b = &g->batch;
    if (b->max <= 0)
        return true;
    Rows r = {.g = g};
    r.ax = arena_alloc(g->arena, (size_t)g->n_values + 1);
    r.zero = arena_alloc(g->arena, (size_t)g->n_values + 1);
    b->axis = r.ax;
    b->rows = arena_alloc(g->arena, (size_t)g->n_nodes + 1);
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        r.ax[i] = v->batch_major ? 0 : -1;
    }
    /* labels kiln added (--loss) are shaped after the prediction: batch first */
    for (int k = 0; k < g->n_train_inputs; k++) {
        const Value *v = g->values[g->train_inputs[k]];
        bool model_input = false;
        for (int j = 0; j < g->n_inputs; j++)
            model_input = model_input || g->inputs[j] == v->id;
        if (!model_input && v->shape.rank > 0 && v->shape.dims[0] == b->max)
            r.ax[v->id] = 0;
    }
    int *order, n;
    KILN_ASSERT(ir_graph_topo(g, &order, &n));
    for (int k = 0; k < n && !r.why; k++)
        rows_node(&r, g->nodes[order[k]]);
    if (!r.why && g->train_loss >= 0 && r.ax[g->train_loss] >= 0)
        r.why = "the loss keeps a batch axis";
    for (int k = 0; k < g->n_assigns && !r.why; k++)
        if (r.ax[g->assigns[k].value] >= 0)
            r.why = arena_printf(g->arena, "state '%s' has a batch axis",
                                 g->values[g->assigns[k].state]->name);
    b->fallback = r.why;
    if (r.why)
        memset(b->rows, 0, (size_t)g->n_nodes + 1);
    return true;
}
