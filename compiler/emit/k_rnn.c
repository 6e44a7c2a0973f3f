/* k_rnn.c — kernels of the recurrent layers RNN, GRU and LSTM (ONNX spec,
 * opsets 1–14). Per direction: first the input projections of every time
 * step at once (xw = X*W^T + biases, one GEMM-like loop into scratch), then
 * the loop over time doing only the recurrent part H*R^T and the gates. The
 * shape rule (pass/shapes_rnn.c) has checked every shape and attribute. */
#include "k_gemm.h"
#include "k_rnn.h"

#include <ctype.h>
#include <string.h>

/* Everything a recurrent kernel needs, read from the node once. */
typedef struct Rnn {
    const Node *n;
    DType dt;
    const char *t;                 /* C element type */
    int64_t T, B, I, H, G, D;      /* steps, batch, input, hidden, gates, directions */
    bool layout;                   /* layout 1: batch-major X, Y, Y_h, … */
    bool reverse;                  /* direction "reverse" (D == 1) */
    bool lbr;                      /* GRU linear_before_reset */
    bool input_forget;             /* LSTM: f = 1 - i */
    RnnActs acts;                  /* activations and clip */
    const Value *w, *rv;           /* W and R, pre-packed for the GEMMs when constant */
    bool step_gemm;                /* each step's H_{t-1} R^T as one GEMM over the batch */
    bool vec_cell;                 /* LSTM / RNN cells on templates/kiln_vmath.h (lstm_vec_cell_ok) */
    int64_t own_scratch;           /* bytes of scratch the buffers take (emit_scratch) */
} Rnn;

bool rnn_same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* Whether an activation takes alpha / beta, and their defaults (those of
 * the ONNX op of the same name). */
static void act_params(const char *name, int *uses, double *alpha, double *beta)
{
    *uses = 0, *alpha = 1.0, *beta = 0.0;
    if (rnn_same_name(name, "Affine"))
        *uses = 2;
    else if (rnn_same_name(name, "ScaledTanh"))
        *uses = 2, *beta = 1.0;
    else if (rnn_same_name(name, "HardSigmoid"))
        *uses = 2, *alpha = 0.2, *beta = 0.5;
    else if (rnn_same_name(name, "LeakyRelu"))
        *uses = 1, *alpha = 0.01;
    else if (rnn_same_name(name, "ThresholdedRelu") || rnn_same_name(name, "Elu"))
        *uses = 1;
}

/* activations / activation_alpha / activation_beta: the functions per
 * direction (per = functions per direction); alpha and beta are consumed in
 * list order by the functions that take them, defaults when the lists run
 * out. */
void rnn_read_activations(const Node *n, int per, int D, RnnActs *r)
{
    static const char *const dflt[3] = {"Sigmoid", "Tanh", "Tanh"};
    const Attr *acts = ir_attr(n, "activations");
    const Attr *al = ir_attr(n, "activation_alpha"), *be = ir_attr(n, "activation_beta");
    int na = 0, nb = 0;
    r->has_clip = ir_attr(n, "clip") != NULL;
    r->clip = ir_attr_float(n, "clip", 0);
    for (int d = 0; d < D; d++)
        for (int a = 0; a < per; a++) {
            const char *name = acts ? acts->strings[d * per + a] : per == 1 ? "Tanh" : dflt[a];
            int uses;
            r->act[d][a] = name;
            act_params(name, &uses, &r->alpha[d][a], &r->beta[d][a]);
            if (uses >= 1 && al && al->type == ATTR_FLOATS && na < al->n)
                r->alpha[d][a] = al->floats[na++];
            if (uses >= 2 && be && be->type == ATTR_FLOATS && nb < be->n)
                r->beta[d][a] = be->floats[nb++];
        }
}

static void rnn_parse(const Graph *g, const Node *n, Rnn *r)
{
    const Value *x = ir_in(g, n, 0), *w = ir_in(g, n, 1), *rw = ir_in(g, n, 2);
    memset(r, 0, sizeof *r);
    r->n = n;
    r->dt = x->dtype;
    r->t = dtype_ctype(x->dtype);
    r->layout = ir_attr_int(n, "layout", 0) != 0;
    r->T = x->shape.dims[r->layout ? 1 : 0];
    r->B = x->shape.dims[r->layout ? 0 : 1];
    r->I = x->shape.dims[2];
    r->H = rw->shape.dims[2];
    r->G = n->op == OP_LSTM ? 4 : n->op == OP_GRU ? 3 : 1;
    r->D = w->shape.dims[0];
    r->w = w;
    r->rv = rw;
    const char *dir = ir_attr_str(n, "direction", "forward");
    r->reverse = rnn_same_name(dir, "reverse");
    r->lbr = n->op == OP_GRU && ir_attr_int(n, "linear_before_reset", 0) != 0;
    r->input_forget = n->op == OP_LSTM && ir_attr_int(n, "input_forget", 0) != 0;
    rnn_read_activations(n, (int)r->G == 4 ? 3 : (int)r->G == 3 ? 2 : 1, (int)r->D, &r->acts);
}

/* Opens a bare { } scope. */
static void emit_scope(Emitter *e)
{
    emit_line(e, "{");
    e->indent++;
}

/* "p + off" or just "p". */
static const char *plus(Emitter *e, const char *p, int64_t off)
{
    return off ? arena_printf(e->arena, "%s + %lld", p, (long long)off) : p;
}

/* Prints `v = act(v);` (one or two statements) for activation a of
 * direction d, clipping v to [-clip, clip] first when asked and the node has
 * a clip (gate inputs, not LSTM's h(C_t)). */
void rnn_emit_activation(Emitter *e, DType dt, const RnnActs *r, int d, int a, const char *v,
                         bool clip)
{
    const char *name = r->act[d][a];
    const char *zero = emit_flit(e, 0, dt), *one = emit_flit(e, 1, dt);
    const char *al = emit_flit(e, r->alpha[d][a], dt), *be = emit_flit(e, r->beta[d][a], dt);
    if (clip && r->has_clip) {
        const char *c = emit_flit(e, r->clip, dt), *mc = emit_flit(e, -r->clip, dt);
        emit_line(e, "%s = %s < %s ? %s : (%s > %s ? %s : %s);", v, v, mc, mc, v, c, c, v);
    }
    if (rnn_same_name(name, "Relu"))
        emit_line(e, "%s = %s > %s ? %s : %s;", v, v, zero, v, zero);
    else if (rnn_same_name(name, "Tanh"))
        emit_line(e, "%s = %s(%s);", v, emit_math(e, dt, "tanh"), v);
    else if (rnn_same_name(name, "Sigmoid"))
        emit_line(e, "%s = %s / (%s + %s(-%s));", v, one, one, emit_math(e, dt, "exp"), v);
    else if (rnn_same_name(name, "Affine"))
        emit_line(e, "%s = %s * %s + %s;", v, al, v, be);
    else if (rnn_same_name(name, "LeakyRelu"))
        emit_line(e, "%s = %s >= %s ? %s : %s * %s;", v, v, zero, v, al, v);
    else if (rnn_same_name(name, "ThresholdedRelu"))
        emit_line(e, "%s = %s >= %s ? %s : %s;", v, v, al, v, zero);
    else if (rnn_same_name(name, "ScaledTanh"))
        emit_line(e, "%s = %s * %s(%s * %s);", v, al, emit_math(e, dt, "tanh"), be, v);
    else if (rnn_same_name(name, "HardSigmoid")) {
        emit_line(e, "%s = %s * %s + %s;", v, al, v, be);
        emit_line(e, "%s = %s < %s ? %s : (%s > %s ? %s : %s);", v, v, zero, zero, v, one, one, v);
    } else if (rnn_same_name(name, "Elu"))
        emit_line(e, "%s = %s >= %s ? %s : %s * %s(%s);", v, v, zero, v, al,
                  emit_math(e, dt, "expm1"), v);
    else if (rnn_same_name(name, "Softsign"))
        emit_line(e, "%s = %s / (%s + %s(%s));", v, v, one, emit_math(e, dt, "fabs"), v);
    else if (rnn_same_name(name, "Softplus")) /* log(1 + e^v) without overflow */
        emit_line(e, "%s = %s > %s ? %s + %s(%s(-%s)) : %s(%s(%s));", v, v, zero, v,
                  emit_math(e, dt, "log1p"), emit_math(e, dt, "exp"), v,
                  emit_math(e, dt, "log1p"), emit_math(e, dt, "exp"), v);
    else
        KILN_ASSERT(!"k_rnn: activation the shape rule should have rejected");
}

const char *rnn_vmath_fn(DType dt, const RnnActs *r, int d, int a, bool clip)
{
    if (dt != DT_F32 || (clip && r->has_clip))
        return NULL;
    if (rnn_same_name(r->act[d][a], "Sigmoid"))
        return "KILN_VMATH_SIGMOID";
    if (rnn_same_name(r->act[d][a], "Tanh"))
        return "KILN_VMATH_TANH";
    return NULL;
}

/* The input projections of one direction for all T*B rows of X at once:
 *   xw[row][j] = X[row]*W[j]^T + Wb[j] + Rb[j]
 * (GRU with linear_before_reset keeps Rbh out: it goes inside r (.) (…)). */
static void emit_projection(Emitter *e, const Rnn *r, int d)
{
    int64_t GH = r->G * r->H, I = r->I;
    const char *bias = emit_flit(e, 0, r->dt);
    if (e->in_name[3] && r->lbr)
        bias = arena_printf(e->arena, "wb[j] + (j < %lld ? rb[j] : %s)", (long long)(2 * r->H),
                            emit_flit(e, 0, r->dt));
    else if (e->in_name[3])
        bias = "wb[j] + rb[j]";
    emit_line(e, "/* xw[row][j] = X[row]*W[j]^T + Wb[j] + Rb[j]%s, every step at once */",
              r->lbr ? " (Rbh stays out: linear_before_reset)" : "");
    if (r->dt == DT_F32 && gemm_blocked_pays(e, r->T * r->B, GH, I)) {
        /* the biases, then += X W^T on the blocked GEMM (W pre-packed when constant) */
        emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)(r->T * r->B));
        emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)GH);
        emit_line(e, "xw[row * %lld + j] = %s;", (long long)GH, bias);
        emit_close(e);
        emit_close(e);
        GemmOperand x = {.src = GEMM_RUNTIME, .expr = e->in_name[0], .rs = I, .cs = 1};
        GemmOperand w = {.src = GEMM_RUNTIME, .expr = "w", .rs = 1, .cs = I};
        if (r->w->kind == VAL_CONST && r->w->data && e->pack_constants) {
            w = (GemmOperand){.src = GEMM_CONST, .value = r->w, .offset = d * GH * I, .rs = 1,
                              .cs = I};
            emit_line(e, "(void)w; /* W is read pre-packed */");
        }
        emit_gemm_product(e, r->T * r->B, GH, I, x, w, "xw", GH, true, r->own_scratch);
        return;
    }
    emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)(r->T * r->B));
    emit_line(e, "const %s *x = %s + row * %lld;", r->t, e->in_name[0], (long long)I);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)GH);
    emit_line(e, "const %s *wj = w + j * %lld;", r->t, (long long)I);
    emit_line(e, "%s acc = %s;", r->t, bias);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)I);
    emit_line(e, "acc += x[k] * wj[k];");
    emit_close(e);
    emit_line(e, "xw[row * %lld + j] = acc;", (long long)GH);
    emit_close(e);
    emit_close(e);
}

/* Where batch b's row of a state tensor starts for direction d: initial_h,
 * initial_c, Y_h, Y_c are [D,B,H], or [B,D,H] with layout 1. */
static const char *state_row(Emitter *e, const Rnn *r, int d)
{
    int64_t per_b = r->layout ? r->D * r->H : r->H, off = r->layout ? d * r->H : d * r->B * r->H;
    const char *s = arena_printf(e->arena, "b * %lld", (long long)per_b);
    return off ? arena_printf(e->arena, "%s + %lld", s, (long long)off) : s;
}

/* The per-direction pointers into W, R, B and P. */
static void emit_dir_pointers(Emitter *e, const Rnn *r, int d)
{
    int64_t GH = r->G * r->H;
    emit_line(e, "const %s *w = %s;  /* [%lld][%lld] */", r->t,
              plus(e, e->in_name[1], d * GH * r->I), (long long)GH, (long long)r->I);
    emit_line(e, "const %s *rw = %s; /* [%lld][%lld] */", r->t,
              plus(e, e->in_name[2], d * GH * r->H), (long long)GH, (long long)r->H);
    if (e->in_name[3]) {
        emit_line(e, "const %s *wb = %s;", r->t, plus(e, e->in_name[3], d * 2 * GH));
        emit_line(e, "const %s *rb = %s;", r->t, plus(e, e->in_name[3], d * 2 * GH + GH));
    }
    if (r->n->op == OP_LSTM && e->in_name[7])
        emit_line(e, "const %s *p = %s; /* peepholes i, o, f */", r->t,
                  plus(e, e->in_name[7], d * 3 * r->H));
}

/* H_0 (and LSTM's C_0): initial_h / initial_c, or zeros. */
static void emit_state_init(Emitter *e, const Rnn *r, int d)
{
    const char *bytes = arena_printf(e->arena, "%lld * sizeof(%s)", (long long)r->H, r->t);
    int states = r->n->op == OP_LSTM ? 2 : 1;
    for (int s = 0; s < states; s++) {
        const char *buf = s ? "c" : "h", *init = e->in_name[s ? 6 : 5];
        if (!init) {
            emit_line(e, "memset(%s, 0, %lld * sizeof(%s)); /* %s_0 = 0 */", buf,
                      (long long)(r->B * r->H), r->t, s ? "C" : "H");
            continue;
        }
        emit_line(e, "/* %s_0 = %s */", s ? "C" : "H", s ? "initial_c" : "initial_h");
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)r->B);
        emit_line(e, "memcpy(%s + b * %lld, %s + %s, %s);", buf, (long long)r->H, init,
                  state_row(e, r, d), bytes);
        emit_close(e);
    }
}

/* Y_h (and Y_c): the last state of each batch row; 0 for a row whose
 * sequence_lens entry is 0, as onnxruntime does. */
static void emit_state_out(Emitter *e, const Rnn *r, int d)
{
    const char *bytes = arena_printf(e->arena, "%lld * sizeof(%s)", (long long)r->H, r->t);
    for (int s = 0; s < 2; s++) {
        const char *out = e->out_name[s + 1];
        if (!out)
            continue;
        emit_line(e, "/* %s = the last %s */", s ? "Y_c" : "Y_h", s ? "C_t" : "H_t");
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)r->B);
        if (e->in_name[4]) {
            emit_line(e, "if (%s[b] <= 0)", e->in_name[4]);
            emit_line(e, "    memset(%s + %s, 0, %s);", out, state_row(e, r, d), bytes);
            emit_line(e, "else");
            emit_line(e, "    memcpy(%s + %s, %s + b * %lld, %s);", out, state_row(e, r, d),
                      s ? "c" : "h", (long long)r->H, bytes);
        } else {
            emit_line(e, "memcpy(%s + %s, %s + b * %lld, %s);", out, state_row(e, r, d),
                      s ? "c" : "h", (long long)r->H, bytes);
        }
        emit_close(e);
    }
}

/* xw_t += H_{t-1} R^T for the whole batch of step t on the blocked GEMM
 * (R pre-packed when constant); the cells then take their rows as they are. */
static void emit_step_gemm(Emitter *e, const Rnn *r, int d)
{
    int64_t GH = r->G * r->H, H = r->H;
    GemmOperand h = {.src = GEMM_RUNTIME, .expr = "h", .rs = H, .cs = 1};
    GemmOperand rt = {.src = GEMM_RUNTIME, .expr = "rw", .rs = 1, .cs = H};
    if (r->rv->kind == VAL_CONST && r->rv->data && e->pack_constants) {
        rt = (GemmOperand){.src = GEMM_CONST, .value = r->rv, .offset = d * GH * H, .rs = 1,
                           .cs = H};
        emit_line(e, "(void)rw; /* R is read pre-packed */");
    }
    if (r->n->op == OP_GRU) { /* r (.) (H_{t-1} Rh^T + Rbh) needs the product apart */
        emit_line(e, "/* gates_all = H_{t-1} R^T for the whole batch */");
        emit_gemm_product(e, r->B, GH, H, h, rt, "gates_all", GH, false, r->own_scratch);
        return;
    }
    emit_line(e, "/* xw_t += H_{t-1} R^T for the whole batch */");
    emit_gemm_product(e, r->B, GH, H, h, rt,
                      arena_printf(e->arena, "xw + t * %lld", (long long)(r->layout ? GH : r->B * GH)),
                      r->layout ? r->T * GH : GH, true, r->own_scratch);
}

/* Opens the loops over time and batch; sets t (the time index of this
 * step), and the pointers xr (this row's projections), hb (and cb) (the
 * state row) and yt (Y's row). With sequence_lens, batch row b runs its own
 * len steps (reverse: from len - 1 down); the rest of Y stays 0. */
static void emit_steps_open(Emitter *e, const Rnn *r, int d)
{
    bool rev = r->reverse || d == 1;
    long long T = r->T, B = r->B, H = r->H, GH = r->G * r->H, D = r->D;
    const char *lens = e->in_name[4];
    if (lens)
        emit_open(e, "for (int s = 0; s < %lld; s++)", T);
    else if (rev)
        emit_open(e, "for (int t = %lld; t >= 0; t--)", T - 1);
    else
        emit_open(e, "for (int t = 0; t < %lld; t++)", T);
    if (r->step_gemm)
        emit_step_gemm(e, r, d);
    emit_open(e, "for (int b = 0; b < %lld; b++)", B);
    if (lens) {
        emit_line(e, "const int len = %s[b] < 0 ? 0 : (%s[b] > %lld ? %lld : (int)%s[b]);", lens,
                  lens, T, T, lens);
        emit_line(e, "if (s >= len)");
        emit_line(e, "    continue;");
        emit_line(e, "const int t = %s;", rev ? "len - 1 - s" : "s");
    }
    if (r->layout)
        emit_line(e, "const %s *xr = xw + (b * %lld + t) * %lld;", r->t, T, GH);
    else
        emit_line(e, "const %s *xr = xw + (t * %lld + b) * %lld;", r->t, B, GH);
    emit_line(e, "%s *hb = h + b * %lld;", r->t, H);
    if (r->n->op == OP_LSTM)
        emit_line(e, "%s *cb = c + b * %lld;", r->t, H);
    if (e->out_name[0] && r->layout)
        emit_line(e, "%s *yt = %s + b * %lld + t * %lld;", r->t, plus(e, e->out_name[0], d * H),
                  T * D * H, D * H);
    else if (e->out_name[0])
        emit_line(e, "%s *yt = %s + t * %lld + b * %lld;", r->t,
                  plus(e, e->out_name[0], d * B * H), D * B * H, H);
}

/* gates[j] = (xr[j] +) H_{t-1}*R[j]^T for j < rows, the gates `which`. */
static void emit_recurrence(Emitter *e, const Rnn *r, int64_t rows, bool add_x, const char *which)
{
    if (r->step_gemm && r->n->op == OP_GRU) { /* the step's GEMM wrote H_{t-1}*R^T */
        emit_line(e, "%s *gates = gates_all + b * %lld; /* H_{t-1}*R[j]^T for %s */", r->t,
                  (long long)(r->G * r->H), which);
        return;
    }
    if (r->step_gemm) { /* the step's GEMM has added H_{t-1}*R^T into xr */
        emit_line(e, "memcpy(gates, xr, %lld * sizeof(%s)); /* xr[j] + H_{t-1}*R[j]^T */",
                  (long long)rows, r->t);
        return;
    }
    emit_line(e, "/* gates[j] = %sH_{t-1}*R[j]^T for %s */", add_x ? "xr[j] + " : "", which);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)rows);
    emit_line(e, "const %s *rj = rw + j * %lld;", r->t, (long long)r->H);
    emit_line(e, "%s acc = %s;", r->t, add_x ? "xr[j]" : emit_flit(e, 0, r->dt));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)r->H);
    emit_line(e, "acc += hb[k] * rj[k];");
    emit_close(e);
    emit_line(e, "gates[j] = acc;");
    emit_close(e);
}

/* RNN: H_t = f(Xt*W^T + H_{t-1}*R^T + Wb + Rb). */
static void emit_rnn_cell(Emitter *e, const Rnn *r, int d)
{
    const char *fn = rnn_vmath_fn(r->dt, &r->acts, d, 0, true);
    if (r->vec_cell) { /* Tanh or Sigmoid on the target's vector loop (templates/kiln_vmath.h) */
        if (!r->step_gemm)
            emit_recurrence(e, r, r->H, true, "i");
        emit_line(e, "/* H_t = %s(Xt*W^T + H_{t-1}*R^T + Wb + Rb) */", r->acts.act[d][0]);
        emit_line(e, "kiln_vmath_%s(%s, %lld, %s, hb);", emit_vmath(e, r->dt), fn, (long long)r->H,
                  r->step_gemm ? "xr" : "gates");
        if (e->out_name[0])
            emit_line(e, "memcpy(yt, hb, %lld * sizeof(%s));", (long long)r->H, r->t);
        return;
    }
    emit_recurrence(e, r, r->H, true, "i");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)r->H);
    emit_line(e, "/* H_t = %s(Xt*W^T + H_{t-1}*R^T + Wb + Rb) */", r->acts.act[d][0]);
    emit_line(e, "%s ht = gates[j];", r->t);
    rnn_emit_activation(e, r->dt, &r->acts, d, 0, "ht", true);
    emit_line(e, "hb[j] = ht;");
    if (e->out_name[0])
        emit_line(e, "yt[j] = ht;");
    emit_close(e);
}

/* GRU, gates z r h:
 *   z = f(Xt*Wz^T + H_{t-1}*Rz^T + Wbz + Rbz),  r likewise
 *   linear_before_reset 0: h~ = g(Xt*Wh^T + (r (.) H_{t-1})*Rh^T + Rbh + Wbh)
 *   linear_before_reset 1: h~ = g(Xt*Wh^T + r (.) (H_{t-1}*Rh^T + Rbh) + Wbh)
 *   H_t = (1 - z) (.) h~ + z (.) H_{t-1} */
/* emit_gru_cell with f = Sigmoid, g = Tanh (no clip) on the target's vector
 * loops (templates/kiln_vmath.h): z and r at once, then h~; false (nothing
 * printed) for other activations. */
static bool emit_gru_cell_vec(Emitter *e, const Rnn *r, int d)
{
    const char *f = rnn_vmath_fn(r->dt, &r->acts, d, 0, true);
    const char *g = rnn_vmath_fn(r->dt, &r->acts, d, 1, true);
    if (!f || !g || strcmp(f, "KILN_VMATH_SIGMOID") || strcmp(g, "KILN_VMATH_TANH"))
        return false;
    long long H = r->H;
    const char *vm = emit_vmath(e, r->dt);
    emit_recurrence(e, r, (r->lbr ? 3 : 2) * r->H, false, r->lbr ? "z, r, h" : "z, r");
    emit_line(e, "/* z, r = Sigmoid(Xt*W^T + H_{t-1}*R^T + Wb + Rb) */");
    emit_open(e, "for (int j = 0; j < %lld; j++)", 2 * H);
    emit_line(e, "gates[j] += xr[j];");
    emit_close(e);
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_SIGMOID, %lld, gates, gates);", vm, 2 * H);
    if (!r->lbr) {
        emit_open(e, "for (int j = 0; j < %lld; j++)", H);
        emit_line(e, "rh[j] = gates[%lld + j] * hb[j];", H);
        emit_close(e);
        emit_line(e, "/* h~ = Tanh(Xt*Wh^T + (r (.) H_{t-1})*Rh^T + Rbh + Wbh) */");
        emit_open(e, "for (int j = 0; j < %lld; j++)", H);
        emit_line(e, "const %s *rj = rw + (%lld + j) * %lld;", r->t, 2 * H, H);
        emit_line(e, "%s hh = xr[%lld + j];", r->t, 2 * H);
        emit_open(e, "for (int k = 0; k < %lld; k++)", H);
        emit_line(e, "hh += rh[k] * rj[k];");
        emit_close(e);
        emit_line(e, "gates[%lld + j] = hh;", 2 * H);
        emit_close(e);
    } else {
        emit_line(e, "/* h~ = Tanh(Xt*Wh^T + Wbh + r (.) (H_{t-1}*Rh^T + Rbh)) */");
        emit_open(e, "for (int j = 0; j < %lld; j++)", H);
        emit_line(e, "gates[%lld + j] = xr[%lld + j] + gates[%lld + j] * (gates[%lld + j]%s);", 2 * H,
                  2 * H, H, 2 * H,
                  e->in_name[3] ? arena_printf(e->arena, " + rb[%lld + j]", 2 * H) : "");
        emit_close(e);
    }
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_TANH, %lld, gates + %lld, gates + %lld);", vm, H, 2 * H,
              2 * H);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "/* H_t = (1 - z) (.) h~ + z (.) H_{t-1} */");
    emit_line(e, "hb[j] = (%s - gates[j]) * gates[%lld + j] + gates[j] * hb[j];",
              emit_flit(e, 1, r->dt), 2 * H);
    if (e->out_name[0])
        emit_line(e, "yt[j] = hb[j];");
    emit_close(e);
    return true;
}

static void emit_gru_cell(Emitter *e, const Rnn *r, int d)
{
    if (emit_gru_cell_vec(e, r, d))
        return;
    long long H = r->H;
    const char *one = emit_flit(e, 1, r->dt);
    emit_recurrence(e, r, (r->lbr ? 3 : 2) * r->H, false, r->lbr ? "z, r, h" : "z, r");
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "/* z = %s(Xt*Wz^T + H_{t-1}*Rz^T + Wbz + Rbz) */", r->acts.act[d][0]);
    emit_line(e, "%s z = xr[j] + gates[j];", r->t);
    rnn_emit_activation(e, r->dt, &r->acts, d, 0, "z", true);
    emit_line(e, "/* r = %s(Xt*Wr^T + H_{t-1}*Rr^T + Wbr + Rbr) */", r->acts.act[d][0]);
    emit_line(e, "%s r = xr[%lld + j] + gates[%lld + j];", r->t, H, H);
    rnn_emit_activation(e, r->dt, &r->acts, d, 0, "r", true);
    if (!r->lbr) {
        emit_line(e, "gates[j] = z; /* kept for H_t below */");
        emit_line(e, "rh[j] = r * hb[j];");
        emit_close(e);
        emit_open(e, "for (int j = 0; j < %lld; j++)", H);
        emit_line(e, "/* h~ = %s(Xt*Wh^T + (r (.) H_{t-1})*Rh^T + Rbh + Wbh) */", r->acts.act[d][1]);
        emit_line(e, "const %s *rj = rw + (%lld + j) * %lld;", r->t, 2 * H, H);
        emit_line(e, "%s hh = xr[%lld + j];", r->t, 2 * H);
        emit_open(e, "for (int k = 0; k < %lld; k++)", H);
        emit_line(e, "hh += rh[k] * rj[k];");
        emit_close(e);
        rnn_emit_activation(e, r->dt, &r->acts, d, 1, "hh", true);
        emit_line(e, "/* H_t = (1 - z) (.) h~ + z (.) H_{t-1} */");
        emit_line(e, "hb[j] = (%s - gates[j]) * hh + gates[j] * hb[j];", one);
    } else {
        emit_line(e, "/* h~ = %s(Xt*Wh^T + Wbh + r (.) (H_{t-1}*Rh^T + Rbh)) */", r->acts.act[d][1]);
        if (e->in_name[3])
            emit_line(e, "%s hh = xr[%lld + j] + r * (gates[%lld + j] + rb[%lld + j]);", r->t,
                      2 * H, 2 * H, 2 * H);
        else
            emit_line(e, "%s hh = xr[%lld + j] + r * gates[%lld + j];", r->t, 2 * H, 2 * H);
        rnn_emit_activation(e, r->dt, &r->acts, d, 1, "hh", true);
        emit_line(e, "/* H_t = (1 - z) (.) h~ + z (.) H_{t-1} */");
        emit_line(e, "hb[j] = (%s - z) * hh + z * hb[j];", one);
    }
    if (e->out_name[0])
        emit_line(e, "yt[j] = hb[j];");
    emit_close(e);
}

/* "off + j", or "j". */
static const char *at_j(Emitter *e, int64_t off)
{
    return off ? arena_printf(e->arena, "%lld + j", (long long)off) : "j";
}

/* One LSTM gate's pre-activation: gates[off + j], plus the peephole
 * P[poff + j] (.) the cell state when the node has P and poff >= 0. */
static void emit_lstm_gate(Emitter *e, const Rnn *r, const char *v, int64_t off, int64_t poff)
{
    if (e->in_name[7] && poff >= 0)
        emit_line(e, "%s %s = gates[%s] + p[%s] * cb[j];", r->t, v, at_j(e, off), at_j(e, poff));
    else
        emit_line(e, "%s %s = gates[%s];", r->t, v, at_j(e, off));
}

/* Whether every direction's LSTM cell can run on kiln_lstm_cell_*
 * (templates/kiln_vmath.h): f = Sigmoid, g = h = Tanh (what torch exports),
 * f32, without clip, peepholes or input_forget; or every RNN cell on
 * kiln_vmath_* (emit_rnn_cell). */
static bool lstm_vec_cell_ok(const Emitter *e, const Rnn *r)
{
    if (r->n->op == OP_RNN) { /* emit_rnn_cell's vector path: Tanh or Sigmoid */
        for (int d = 0; d < r->D; d++)
            if (!rnn_vmath_fn(r->dt, &r->acts, d, 0, true))
                return false;
        return true;
    }
    if (r->n->op != OP_LSTM || e->in_name[7] || r->input_forget)
        return false;
    for (int d = 0; d < r->D; d++) {
        const char *f = rnn_vmath_fn(r->dt, &r->acts, d, 0, true);
        const char *g = rnn_vmath_fn(r->dt, &r->acts, d, 1, true);
        const char *h = rnn_vmath_fn(r->dt, &r->acts, d, 2, false);
        if (!f || !g || !h || strcmp(f, "KILN_VMATH_SIGMOID") || strcmp(g, "KILN_VMATH_TANH") ||
            strcmp(h, "KILN_VMATH_TANH"))
            return false;
    }
    return true;
}

/* The LSTM cell of emit_lstm_cell in one vector pass over the hidden units
 * (kiln_lstm_cell_*, templates/kiln_vmath.h) when r->vec_cell. */
static void emit_lstm_cell_vec(Emitter *e, const Rnn *r)
{
    if (!r->step_gemm)
        emit_recurrence(e, r, 4 * r->H, true, "i, o, f, c");
    emit_line(e, "/* i, o, f = Sigmoid(Xt*W^T + H_{t-1}*R^T + Wb + Rb), g = Tanh(…);");
    emit_line(e, " * C_t = f (.) C_{t-1} + i (.) g; H_t = o (.) Tanh(C_t) */");
    emit_line(e, "kiln_lstm_cell_%s(%lld, %s, cb, hb, %s);", emit_vmath(e, r->dt), (long long)r->H,
              r->step_gemm ? "xr" : "gates", e->out_name[0] ? "yt" : "NULL");
}

/* LSTM, gates i o f c (peepholes P in the order i o f):
 *   i = f(Xt*Wi^T + H_{t-1}*Ri^T + Pi (.) C_{t-1} + Wbi + Rbi)
 *   f = f(Xt*Wf^T + H_{t-1}*Rf^T + Pf (.) C_{t-1} + Wbf + Rbf)   (1 - i with input_forget)
 *   g = g(Xt*Wc^T + H_{t-1}*Rc^T + Wbc + Rbc)   (the cell candidate)
 *   C_t = f (.) C_{t-1} + i (.) g
 *   o = f(Xt*Wo^T + H_{t-1}*Ro^T + Po (.) C_t + Wbo + Rbo)
 *   H_t = o (.) h(C_t) */
static void emit_lstm_cell(Emitter *e, const Rnn *r, int d)
{
    if (r->vec_cell) {
        emit_lstm_cell_vec(e, r);
        return;
    }
    long long H = r->H;
    const char *f = r->acts.act[d][0];
    emit_recurrence(e, r, 4 * r->H, true, "i, o, f, c");
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "/* i = %s(Xt*Wi^T + H_{t-1}*Ri^T + Pi (.) C_{t-1} + Wbi + Rbi) */", f);
    emit_lstm_gate(e, r, "i", 0, 0);
    rnn_emit_activation(e, r->dt, &r->acts, d, 0, "i", true);
    if (r->input_forget) {
        emit_line(e, "/* f = 1 - i (input_forget) */");
        emit_line(e, "const %s f = %s - i;", r->t, emit_flit(e, 1, r->dt));
    } else {
        emit_line(e, "/* f = %s(Xt*Wf^T + H_{t-1}*Rf^T + Pf (.) C_{t-1} + Wbf + Rbf) */", f);
        emit_lstm_gate(e, r, "f", 2 * H, 2 * H);
        rnn_emit_activation(e, r->dt, &r->acts, d, 0, "f", true);
    }
    emit_line(e, "/* g = %s(Xt*Wc^T + H_{t-1}*Rc^T + Wbc + Rbc), the cell candidate */",
              r->acts.act[d][1]);
    emit_lstm_gate(e, r, "g", 3 * H, -1);
    rnn_emit_activation(e, r->dt, &r->acts, d, 1, "g", true);
    emit_line(e, "/* C_t = f (.) C_{t-1} + i (.) g */");
    emit_line(e, "cb[j] = f * cb[j] + i * g;");
    emit_line(e, "/* o = %s(Xt*Wo^T + H_{t-1}*Ro^T + Po (.) C_t + Wbo + Rbo) */", f);
    emit_lstm_gate(e, r, "o", H, H);
    rnn_emit_activation(e, r->dt, &r->acts, d, 0, "o", true);
    emit_line(e, "/* H_t = o (.) %s(C_t) */", r->acts.act[d][2]);
    emit_line(e, "%s hc = cb[j];", r->t);
    rnn_emit_activation(e, r->dt, &r->acts, d, 2, "hc", false);
    emit_line(e, "hb[j] = o * hc;");
    if (e->out_name[0])
        emit_line(e, "yt[j] = hb[j];");
    emit_close(e);
}

/* The scratch buffers: xw [T*B][G*H], h [B][H], c [B][H] (LSTM),
 * gates [G*H] (GRU with a step GEMM: gates_all [B][G*H]), rh [H] (GRU
 * without linear_before_reset). */
static void emit_scratch(Emitter *e, Rnn *r)
{
    int64_t GH = r->G * r->H, BH = r->B * r->H, rows = r->T * r->B;
    bool lstm = r->n->op == OP_LSTM, rh = r->n->op == OP_GRU && !r->lbr;
    bool gru_all = r->n->op == OP_GRU && r->step_gemm; /* gates of the whole batch */
    int64_t count = rows * GH + BH * (lstm ? 2 : 1) + GH * (gru_all ? r->B : 1) + (rh ? r->H : 0);
    e->scratch = count * (int64_t)dtype_size(r->dt);
    r->own_scratch = e->scratch;
    emit_line(e, "%s *xw = (%s *)scratch; /* [%lld][%lld] input projections of every step */", r->t,
              r->t, (long long)rows, (long long)GH);
    emit_line(e, "%s *h = xw + %lld; /* [%lld][%lld] hidden state */", r->t, (long long)(rows * GH),
              (long long)r->B, (long long)r->H);
    if (lstm)
        emit_line(e, "%s *c = h + %lld; /* [%lld][%lld] cell state */", r->t, (long long)BH,
                  (long long)r->B, (long long)r->H);
    if (gru_all)
        emit_line(e, "%s *gates_all = h + %lld; /* [%lld][%lld] H_{t-1} R^T of a step */", r->t,
                  (long long)BH, (long long)r->B, (long long)GH);
    else if (!(r->vec_cell && r->step_gemm)) /* else the cells read the step's GEMM output */
        emit_line(e, "%s *gates = %s + %lld; /* [%lld] one step's gates */", r->t,
                  lstm ? "c" : "h", (long long)BH, (long long)GH);
    if (rh)
        emit_line(e, "%s *rh = gates + %lld; /* [%lld] r (.) H_{t-1} */", r->t, (long long)GH,
                  (long long)r->H);
}

/* RNN, GRU, LSTM: X [T,B,I] (layout 1: [B,T,I]) → Y [T,D,B,H] ([B,T,D,H]),
 * Y_h, Y_c [D,B,H] ([B,D,H]). Per direction: the input projections of every
 * step into xw, then the time loop over the recurrent part. */
bool k_rnn(Emitter *e, const Graph *g, const Node *n)
{
    Rnn r;
    rnn_parse(g, n, &r);
    static const char *const gate_names[] = {"", "i", "", "z r h", "i o f c"};
    emit_line(e, "/* %lld steps, batch %lld, input %lld, hidden %lld, %s; gates %s */",
              (long long)r.T, (long long)r.B, (long long)r.I, (long long)r.H,
              r.D == 2 ? "bidirectional" : r.reverse ? "reverse" : "forward", gate_names[r.G]);
    r.step_gemm = (n->op == OP_LSTM || n->op == OP_RNN || r.lbr) && r.dt == DT_F32 &&
                  !e->in_name[4] && gemm_blocked_pays(e, r.B, r.G * r.H, r.H);
    r.vec_cell = lstm_vec_cell_ok(e, &r);
    emit_scratch(e, &r);
    if (e->in_name[4] && e->out_name[0]) /* steps past a row's length stay 0 */
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
                  (long long)(r.T * r.D * r.B * r.H), r.t);
    for (int d = 0; d < r.D; d++) {
        emit_line(e, "/* direction %d: %s */", d, d == 1 || r.reverse ? "reverse" : "forward");
        emit_scope(e);
        emit_dir_pointers(e, &r, d);
        emit_projection(e, &r, d);
        emit_state_init(e, &r, d);
        emit_steps_open(e, &r, d);
        switch (n->op) {
        case OP_LSTM: emit_lstm_cell(e, &r, d); break;
        case OP_GRU: emit_gru_cell(e, &r, d); break;
        default: emit_rnn_cell(e, &r, d); break;
        }
        emit_close(e);
        emit_close(e);
        emit_state_out(e, &r, d);
        emit_close(e);
    }
    return true;
}
