/* shapes_train_rnn.c — shape rules of kiln's backward ops for the recurrent
 * layers (ops_train_rnn.def) and for data movement and Gather
 * (ops_train_misc.def). autodiff builds these nodes itself; the rules check
 * what a hand-written .kir could get wrong before a kernel trusts it. */
#include "pass.h"

#include <string.h>

#include "move.h"

/* Whether value v (may be NULL) has dtype dt and the given dims. */
static bool has_dims(const Value *v, DType dt, int rank, const int64_t *dims)
{
    if (!v || v->dtype != dt || v->shape.rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (v->shape.dims[i] != dims[i])
            return false;
    return true;
}

/* RNNGrad, GRUGrad, LSTMGrad: inputs X, W, R, B, sequence_lens, initial_h,
 * initial_c, P as the forward layer had them (ONNX RNN-14/GRU-14/LSTM-14,
 * shapes as pass/shapes_rnn.c checks), then dY [T,D,B,H] (layout 1:
 * [B,T,D,H]), dY_h and dY_c [D,B,H] ([B,D,H]), each optional. Outputs dX,
 * dW, dR, dB, d(initial_h), d(initial_c), dP are shaped like the input they
 * belong to, which must be present. */
bool shape_rnn_grad(Graph *g, Node *n, Diag *d)
{
    static const char *const names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h",
                                        "initial_c", "P"};
    static const int of[7] = {0, 1, 2, 3, 5, 6, 7};
    const Value *x = ir_in(g, n, 0), *w = ir_in(g, n, 1), *r = ir_in(g, n, 2);
    DType dt = x->dtype;
    bool layout = ir_attr_int(n, "layout", 0) != 0;
    int64_t G = n->op == OP_LSTMGrad ? 4 : n->op == OP_GRUGrad ? 3 : 1;
    if ((dt != DT_F32 && dt != DT_F64) || x->shape.rank != 3 || r->shape.rank != 3 ||
        w->shape.rank != 3) {
        ir_node_error(d, n, "X, W and R must be 3-D f32 or f64 tensors");
        return false;
    }
    int64_t D = w->shape.dims[0], H = r->shape.dims[2], I = x->shape.dims[2];
    int64_t T = x->shape.dims[layout ? 1 : 0], B = x->shape.dims[layout ? 0 : 1];
    const int64_t st[3] = {layout ? B : D, layout ? D : B, H};
    const int64_t want[8][3] = {{0}, {D, G * H, I}, {D, G * H, H}, {D, 2 * G * H}, {B}, {st[0], st[1], H},
                                {st[0], st[1], H}, {D, 3 * H}};
    const int rank[8] = {3, 3, 3, 2, 1, 3, 3, 2};
    for (int i = 1; i < 8 && i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (v && i != 4 && !has_dims(v, dt, rank[i], want[i])) {
            ir_node_error(d, n, "input '%s' does not fit the layer's sizes", names[i]);
            return false;
        }
    }
    const int64_t dy[4] = {layout ? B : T, layout ? T : D, layout ? D : B, H};
    for (int i = 8; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (v && !(i == 8 ? has_dims(v, dt, 4, dy) : has_dims(v, dt, 3, st))) {
            ir_node_error(d, n, "gradient input %d does not match the layer's outputs", i);
            return false;
        }
    }
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0)
            continue;
        const Value *v = ir_in(g, n, of[k]);
        if (!v) {
            ir_node_error(d, n, "output %d is the gradient of input '%s', which is omitted", k,
                          names[of[k]]);
            return false;
        }
        rule_set_out(g, n, k, v->dtype, &v->shape);
    }
    return true;
}

/* MoveGrad: the output has attribute "shape" and the gradients' dtype; the
 * forward op (attribute "of") rebuilt around it must be a data-movement op
 * whose outputs have the gradients' shapes. */
bool shape_move_grad(Graph *g, Node *n, Diag *d)
{
    const Attr *a = ir_attr(n, "shape");
    int m = (int)ir_attr_int(n, "n_dy", 1);
    OpKind of = op_from_name(ir_attr_str(n, "of", ""));
    bool movable = of == OP_Split || of == OP_Slice || of == OP_Pad || of == OP_DepthToSpace ||
                   of == OP_SpaceToDepth;
    const Value *dy0 = NULL;
    for (int j = 0; j < m && j < n->n_in && !dy0; j++)
        dy0 = ir_in(g, n, j);
    if (!a || a->type != ATTR_INTS || a->n > IR_MAX_RANK || !movable || m < 1 || m > n->n_in + 1 ||
        !dy0) {
        ir_node_error(d, n, "needs attributes 'of' (a data-movement op), 'n_dy' and 'shape', "
                            "and at least one gradient");
        return false;
    }
    Shape s = {.rank = a->n};
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    rule_set_out(g, n, 0, dy0->dtype, &s);
    Node fwd;
    int *in = arena_alloc(g->arena, sizeof(int) * (size_t)(n->n_in + 2));
    int *out = arena_alloc(g->arena, sizeof(int) * (size_t)(m + 1));
    move_grad_forward(n, &fwd, in, out);
    MoveParams p;
    char err[MOVE_ERR_LEN];
    if (!move_params(g, &fwd, g->arena, &p, err)) {
        ir_node_error(d, n, "the forward %s: %s", op_info[of].name, err);
        return false;
    }
    for (int j = 0; j < m; j++) {
        const Value *v = ir_in(g, n, j);
        if (v && (v->dtype != dy0->dtype || !shape_equal(&v->shape, &p.out[j]))) {
            ir_node_error(d, n, "gradient %d does not have the forward output's shape", j);
            return false;
        }
    }
    return true;
}

/* GatherGrad: dY [x0..x(axis-1), indices…, x(axis+1)..] and integer
 * indices give dX of attribute "shape" (ONNX Gather-13 run backwards). */
bool shape_gather_grad(Graph *g, Node *n, Diag *d)
{
    const Value *dy = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    const Attr *a = ir_attr(n, "shape");
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (!a || a->type != ATTR_INTS || a->n > IR_MAX_RANK || axis < 0 || axis >= a->n ||
        (ind->dtype != DT_I32 && ind->dtype != DT_I64) || !dtype_is_float(dy->dtype)) {
        ir_node_error(d, n, "needs attributes 'shape' and 'axis', float dY and integer indices");
        return false;
    }
    Shape want = {0}, s = {.rank = a->n};
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    for (int i = 0; i < a->n; i++) {
        if (i != axis)
            want.dims[want.rank++] = s.dims[i];
        for (int k = 0; i == axis && k < ind->shape.rank && want.rank < IR_MAX_RANK; k++)
            want.dims[want.rank++] = ind->shape.dims[k];
    }
    if (a->n - 1 + ind->shape.rank > IR_MAX_RANK || !shape_equal(&want, &dy->shape)) {
        ir_node_error(d, n, "dY does not have Gather's output shape");
        return false;
    }
    rule_set_out(g, n, 0, dy->dtype, &s);
    return true;
}
