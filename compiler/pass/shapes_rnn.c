/* shapes_rnn.c — shape rule of the recurrent layers RNN, GRU and LSTM (ONNX
 * spec, opsets 1–14: directions, layout, optional inputs and outputs,
 * activation lists). The kernels (emit/k_rnn.c) trust what this checks. */
#include "pass.h"

#include <ctype.h>

/* Gates per op: RNN 1 (i), GRU 3 (z r h), LSTM 4 (i o f c); also the number
 * of activation functions per direction (RNN f; GRU f g; LSTM f g h). */
static int rnn_gates(OpKind op)
{
    return op == OP_LSTM ? 4 : op == OP_GRU ? 3 : 1;
}
static int rnn_acts(OpKind op)
{
    return op == OP_LSTM ? 3 : op == OP_GRU ? 2 : 1;
}

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* The activation functions the spec lists for RNN, GRU and LSTM. */
static bool known_activation(const char *s)
{
    static const char *const names[] = {"Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu",
                                        "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu",
                                        "Softsign", "Softplus"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (same_name(s, names[i]))
            return true;
    return false;
}

/* Checks a shape against the expected dims; the message names the input. */
static bool want_shape(Node *n, Diag *d, const Value *v, const char *what, int rank,
                       const int64_t *dims)
{
    bool ok = v->shape.rank == rank;
    for (int i = 0; ok && i < rank; i++)
        ok = v->shape.dims[i] == dims[i];
    if (!ok) {
        char got[128], want[128];
        Shape s = {.rank = rank};
        for (int i = 0; i < rank; i++)
            s.dims[i] = dims[i];
        ir_node_error(d, n, "input '%s' has shape %s, expected %s", what,
                      shape_str(&v->shape, got, sizeof got), shape_str(&s, want, sizeof want));
    }
    return ok;
}

/* Attributes: direction, layout, activations, clip, input_forget. Sets
 * *dirs (1 or 2) and *layout. */
static bool check_attrs(Node *n, Diag *d, int *dirs, int *layout)
{
    const char *dir = ir_attr_str(n, "direction", "forward");
    if (!same_name(dir, "forward") && !same_name(dir, "reverse") &&
        !same_name(dir, "bidirectional")) {
        ir_node_error(d, n, "direction '%s' is not forward, reverse or bidirectional", dir);
        return false;
    }
    *dirs = same_name(dir, "bidirectional") ? 2 : 1;
    int64_t lay = ir_attr_int(n, "layout", 0);
    if (lay != 0 && lay != 1) {
        ir_node_error(d, n, "layout %lld is not 0 or 1", (long long)lay);
        return false;
    }
    *layout = (int)lay;
    const Attr *acts = ir_attr(n, "activations");
    if (acts) {
        int per = rnn_acts(n->op);
        if (acts->type != ATTR_STRINGS || acts->n != per * *dirs) {
            ir_node_error(d, n, "activations lists %d functions, expected %d", acts->n,
                          per * *dirs);
            return false;
        }
        for (int i = 0; i < acts->n; i++)
            if (!known_activation(acts->strings[i])) {
                ir_node_error(d, n, "unsupported activation function '%s'", acts->strings[i]);
                return false;
            }
    }
    if (ir_attr(n, "clip") && !(ir_attr_float(n, "clip", 0) > 0)) {
        ir_node_error(d, n, "clip %g must be positive", ir_attr_float(n, "clip", 0));
        return false;
    }
    int64_t lbr = ir_attr_int(n, "linear_before_reset", 0), inf = ir_attr_int(n, "input_forget", 0);
    if ((lbr != 0 && lbr != 1) || (inf != 0 && inf != 1)) {
        ir_node_error(d, n, "linear_before_reset and input_forget must be 0 or 1");
        return false;
    }
    return true;
}

/* Inputs 1..7 against X's dtype and the sizes: W [D,G*H,I], R [D,G*H,H],
 * B [D,2*G*H], sequence_lens [B] (int32), initial_h/initial_c [D,B,H]
 * ([B,D,H] with layout 1), P [D,3*H]. */
static bool check_inputs(const Graph *g, Node *n, Diag *d, int64_t D, int64_t Bt, int64_t H,
                         int64_t I, int layout)
{
    static const char *const names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h",
                                        "initial_c", "P"};
    int64_t G = rnn_gates(n->op);
    int64_t state[3] = {D, Bt, H};
    if (layout)
        state[0] = Bt, state[1] = D;
    const int64_t dims[8][3] = {
        {0}, {D, G * H, I}, {D, G * H, H}, {D, 2 * G * H}, {Bt}, {state[0], state[1], H},
        {state[0], state[1], H}, {D, 3 * H}};
    const int rank[8] = {3, 3, 3, 2, 1, 3, 3, 2};
    DType dt = ir_in(g, n, 0)->dtype;
    for (int i = 1; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v)
            continue;
        if (i == 4 ? (v->dtype != DT_I32 && v->dtype != DT_I64) : v->dtype != dt) {
            ir_node_error(d, n, "input '%s' has type %s, expected %s", names[i],
                          dtype_name(v->dtype), i == 4 ? "i32" : dtype_name(dt));
            return false;
        }
        if (!want_shape(n, d, v, names[i], rank[i], dims[i]))
            return false;
    }
    return true;
}

/* RNN, GRU, LSTM (ONNX RNN-1/7/14, GRU-1/3/7/14, LSTM-1/7/14).
 *   X [T,B,I] (layout 1: [B,T,I]), W, R, optional B, sequence_lens,
 *   initial_h, initial_c and P (LSTM) as in check_inputs.
 *   Y [T,D,B,H] (layout 1: [B,T,D,H]); Y_h and Y_c [D,B,H] ([B,D,H]).
 * hidden_size comes from the attribute, else from R. */
bool shape_rnn(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *r = ir_in(g, n, 2);
    if (x->dtype != DT_F32 && x->dtype != DT_F64) {
        ir_node_error(d, n, "input 'X' has type %s; kiln supports f32 and f64 here",
                      dtype_name(x->dtype));
        return false;
    }
    if (x->shape.rank != 3 || r->shape.rank != 3) {
        ir_node_error(d, n, "X and R must be 3-D, got rank %d and %d", x->shape.rank,
                      r->shape.rank);
        return false;
    }
    int dirs, layout;
    if (!check_attrs(n, d, &dirs, &layout))
        return false;
    int64_t H = ir_attr_int(n, "hidden_size", r->shape.dims[2]);
    if (H <= 0 || H > (INT32_MAX / 16)) {
        ir_node_error(d, n, "hidden_size %lld is out of range", (long long)H);
        return false;
    }
    int64_t T = x->shape.dims[layout ? 1 : 0], Bt = x->shape.dims[layout ? 0 : 1];
    int64_t I = x->shape.dims[2], rows, proj;
    if (!size_mul_ok(T, Bt, &rows) || !size_mul_ok(rows, rnn_gates(n->op) * H, &proj) ||
        proj > INT32_MAX / 2) {
        ir_node_error(d, n, "the input projections (%lld x %lld x %lld) are too large",
                      (long long)T, (long long)Bt, (long long)(rnn_gates(n->op) * H));
        return false;
    }
    if (!check_inputs(g, n, d, dirs, Bt, H, I, layout))
        return false;
    Shape y = {.rank = 4, .dims = {T, dirs, Bt, H}};
    Shape yh = {.rank = 3, .dims = {dirs, Bt, H}};
    if (layout) {
        y = (Shape){.rank = 4, .dims = {Bt, T, dirs, H}};
        yh = (Shape){.rank = 3, .dims = {Bt, dirs, H}};
    }
    rule_set_out(g, n, 0, x->dtype, &y);
    rule_set_out(g, n, 1, x->dtype, &yh);
    rule_set_out(g, n, 2, x->dtype, &yh);
    return true;
}
