/* k_train_rnn.c — kernels of the recurrent layers' backward ops RNNGrad,
 * GRUGrad and LSTMGrad (ops_train_rnn.def): backprop through time over every
 * direction, with sequence_lens, initial states and the gradients of all
 * three outputs, following the forward kernel's equations (emit/k_rnn.c,
 * ONNX RNN-14, GRU-14, LSTM-14).
 *
 * Saving versus recomputing: each kernel first re-runs its direction's
 * forward pass, keeping every step's pre-activations, gates and states in
 * its scratch, then walks the steps backwards. The forward node (k_rnn.c,
 * shared with inference) stays as it is and saves nothing; what backprop
 * needs (about 3·T·B·G·H values) lives only while this kernel runs instead
 * of across the whole backward pass in the workspace. The price is one more
 * forward pass: about a quarter of the layer's training time, since the
 * backward does twice the forward's multiply-adds.
 *
 * Per direction, with row = X's row of step t and batch b (t·B + b, or
 * b·T + t with layout 1) and pre = the gates' inputs before clip and
 * activation:
 *   forward   pre = X W^T + Wb + Rb for all rows at once, then per step the
 *             recurrent part and the gates, saving pre, the activated gates
 *             `act`, H_{t-1} (and C_{t-1}, C_t, h(C_t) for LSTM);
 *   backward  dH (dC) start from dY_h (dY_c) at each row's last step and
 *             collect dY per step; each cell turns them into dz, the
 *             gradient of pre, and the dH (dC) of the step before;
 *   weights   dW += dz^T X, dR += dz^T H_{t-1}, dB = column sums of dz,
 *             dX += dz W for all rows at once after the walk. */
#include "k_gemm.h"
#include "k_rnn.h"

#include <string.h>

/* Everything a backward kernel needs, read from the node once. */
typedef struct Cell {
    const Node *n;
    OpKind op;                     /* OP_RNNGrad, OP_GRUGrad or OP_LSTMGrad */
    DType dt;
    const char *t;                 /* C element type */
    int64_t T, B, I, H, G, D, N;   /* steps, batch, input, hidden, gates, directions, T*B */
    bool layout, reverse, lbr, input_forget;
    RnnActs acts;                  /* activations and clip, as k_rnn.c reads them */
    int64_t own_scratch;           /* bytes of scratch the buffers take (emit_scratch) */
    bool step_gemm;                /* each step's H_{t-1} R^T and dz R as GEMMs over the
                                    * batch (emit_walk_open, emit_bptt), not per row: LSTM,
                                    * RNN, GRU with linear_before_reset */
} Cell;

/* Inputs and outputs of the backward ops (ops_train_rnn.def). */
enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P, IN_DY, IN_DYH, IN_DYC };
enum { OUT_DX, OUT_DW, OUT_DR, OUT_DB, OUT_DH0, OUT_DC0, OUT_DP };

static void cell_parse(const Graph *g, const Node *n, Cell *c)
{
    const Value *x = ir_in(g, n, IN_X), *w = ir_in(g, n, IN_W), *r = ir_in(g, n, IN_R);
    memset(c, 0, sizeof *c);
    c->n = n;
    c->op = n->op;
    c->dt = x->dtype;
    c->t = dtype_ctype(x->dtype);
    c->layout = ir_attr_int(n, "layout", 0) != 0;
    c->T = x->shape.dims[c->layout ? 1 : 0];
    c->B = x->shape.dims[c->layout ? 0 : 1];
    c->I = x->shape.dims[2];
    c->H = r->shape.dims[2];
    c->G = n->op == OP_LSTMGrad ? 4 : n->op == OP_GRUGrad ? 3 : 1;
    c->D = w->shape.dims[0];
    c->N = c->T * c->B;
    c->reverse = rnn_same_name(ir_attr_str(n, "direction", "forward"), "reverse");
    c->lbr = n->op == OP_GRUGrad && ir_attr_int(n, "linear_before_reset", 0) != 0;
    c->input_forget = n->op == OP_LSTMGrad && ir_attr_int(n, "input_forget", 0) != 0;
    rnn_read_activations(n, c->op == OP_LSTMGrad ? 3 : c->op == OP_GRUGrad ? 2 : 1, (int)c->D,
                         &c->acts);
}

/* "p + off" or just "p". */
static const char *plus(Emitter *e, const char *p, int64_t off)
{
    return off ? arena_printf(e->arena, "%s + %lld", p, (long long)off) : p;
}

/* Prints `g *= act'(…);` for activation a of direction d at the saved
 * pre-activation `p` (before clip) whose activated value is `y`; with a
 * clip, g is 0 where p was clipped (torch's clamp passes the bounds). The
 * derivative is taken at p itself: where that differs from the clipped
 * value, g is 0 anyway. Kinks as torch (Relu'(0) = 0). */
static void emit_act_grad(Emitter *e, const Cell *c, int d, int a, const char *g, const char *p,
                          const char *y, bool clip)
{
    DType dt = c->dt;
    const char *name = c->acts.act[d][a];
    const char *zero = emit_flit(e, 0, dt), *one = emit_flit(e, 1, dt);
    const char *al = emit_flit(e, c->acts.alpha[d][a], dt), *be = emit_flit(e, c->acts.beta[d][a], dt);
#define P(...) arena_printf(e->arena, __VA_ARGS__)
    if (clip && c->acts.has_clip)
        emit_line(e, "%s = %s >= %s && %s <= %s ? %s : %s;", g, p, emit_flit(e, -c->acts.clip, dt), p,
                  emit_flit(e, c->acts.clip, dt), g, zero);
    const char *dv;
    if (rnn_same_name(name, "Relu"))
        dv = P("(%s > %s ? %s : %s)", p, zero, one, zero);
    else if (rnn_same_name(name, "Tanh"))
        dv = P("(%s - %s * %s)", one, y, y);
    else if (rnn_same_name(name, "Sigmoid"))
        dv = P("%s * (%s - %s)", y, one, y);
    else if (rnn_same_name(name, "Affine"))
        dv = al;
    else if (rnn_same_name(name, "LeakyRelu"))
        dv = P("(%s > %s ? %s : %s)", p, zero, one, al);
    else if (rnn_same_name(name, "ThresholdedRelu"))
        dv = P("(%s > %s ? %s : %s)", p, al, one, zero);
    else if (rnn_same_name(name, "ScaledTanh")) {
        const char *th = P("%s(%s * %s)", emit_math(e, dt, "tanh"), be, p);
        dv = P("%s * %s * (%s - %s * %s)", al, be, one, th, th);
    } else if (rnn_same_name(name, "HardSigmoid"))
        dv = P("(%s * %s + %s > %s && %s * %s + %s < %s ? %s : %s)", al, p, be, zero, al, p, be, one,
               al, zero);
    else if (rnn_same_name(name, "Elu"))
        dv = P("(%s > %s ? %s : %s + %s)", p, zero, one, y, al);
    else if (rnn_same_name(name, "Softsign"))
        dv = P("%s / ((%s + %s(%s)) * (%s + %s(%s)))", one, one, emit_math(e, dt, "fabs"), p, one,
               emit_math(e, dt, "fabs"), p);
    else if (rnn_same_name(name, "Softplus"))
        dv = P("%s / (%s + %s(-%s))", one, one, emit_math(e, dt, "exp"), p);
    else
        KILN_ASSERT(!"k_train_rnn: activation the shape rule should have rejected");
    emit_line(e, "%s *= %s;", g, dv);
#undef P
}

/* The scratch buffers, as pointers: pre, act, dz [N][G*H]; dzr [N][G*H]
 * (GRU with linear_before_reset: the gradient of the recurrent side, which
 * differs in the h gate; else it is dz's); hin [N][H] (H_{t-1}); for LSTM
 * cin, cout, hcell [N][H] (C_{t-1}, C_t, h(C_t)); for GRU hr [N][H]
 * (r (.) H_{t-1}, or H_{t-1}*Rh^T + Rbh with linear_before_reset); the
 * states h, c and their gradients dh, dc [B][H]; tmp [G*H]. */
/* n columns rounded up to whole panels of the target's GEMM kernel. */
static int64_t r_panels(const Emitter *e, int64_t n)
{
    int mr, nr;
    gemm_micro_tile(e->target, &mr, &nr);
    return (n + nr - 1) / nr * nr;
}

/* With step GEMMs, R is packed once per direction for all of them (it is
 * a run-time input here, which the GEMM would otherwise repack every step):
 * rtp = R^T [H][G*H] for the forward steps (not GRU's two products), rp =
 * R [G*H][H] for dz R, both as the micro-kernel's B panels. */
static void emit_pack_r(Emitter *e, const Cell *c)
{
    int mr, nr;
    gemm_micro_tile(e->target, &mr, &nr);
    long long GH = c->G * c->H, H = c->H;
    if (c->op != OP_GRUGrad)
        emit_line(e, "kiln_sgemm_pack_b(%d, %lld, %lld, rw, 1, %lld, rtp); /* R^T, once */", nr, H,
                  GH, H);
    emit_line(e, "kiln_sgemm_pack_b(%d, %lld, %lld, rw, %lld, 1, rp); /* R, once */", nr, GH, H, H);
}

static void emit_scratch(Emitter *e, Cell *c)
{
    int64_t GH = c->G * c->H, NG = c->N * GH, NH = c->N * c->H, BH = c->B * c->H, at = 0;
    bool lstm = c->op == OP_LSTMGrad, gru = c->op == OP_GRUGrad;
    const char *t = c->t;
    struct { const char *name; int64_t count; bool used; const char *what; } bufs[] = {
        {"pre", NG, true, "the gates' inputs before activation"},
        {"act", NG, true, "the activated gates"},
        {"dz", NG, true, "the gradient of pre"},
        {"dzr", NG, c->lbr, "the gradient of the recurrent side of pre"},
        {"hin", NH, true, "H_{t-1} of each row"},
        {"cin", NH, lstm, "C_{t-1} of each row"},
        {"cout", NH, lstm, "C_t of each row"},
        {"hcell", NH, lstm, "h(C_t) of each row"},
        {"hr", NH, gru, c->lbr ? "H_{t-1}*Rh^T + Rbh of each row" : "r (.) H_{t-1} of each row"},
        {"h", BH, true, "the hidden state"},
        {"c", BH, lstm, "the cell state"},
        {"dh", BH, true, "dH carried to the step before"},
        {"dc", BH, lstm, "dC carried to the step before"},
        {"tmp", GH, !c->step_gemm, "one step's sums over R"},
        {"rtp", r_panels(e, GH) * c->H, c->step_gemm && !gru, "R^T packed for the forward steps"},
        {"rp", r_panels(e, c->H) * GH, c->step_gemm, "R packed for the backward steps"},
    };
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) {
        if (!bufs[k].used)
            continue;
        emit_line(e, "%s *%s = (%s *)scratch + %lld; /* [%lld] %s */", t, bufs[k].name, t,
                  (long long)at, (long long)bufs[k].count, bufs[k].what);
        at += bufs[k].count;
    }
    e->scratch = at * (int64_t)dtype_size(c->dt);
    c->own_scratch = e->scratch;
}

/* The per-direction pointers into W, R, B and P. */
static void emit_dir_pointers(Emitter *e, const Cell *c, int d)
{
    int64_t GH = c->G * c->H;
    emit_line(e, "const %s *w = %s;  /* [%lld][%lld] */", c->t,
              plus(e, e->in_name[IN_W], d * GH * c->I), (long long)GH, (long long)c->I);
    emit_line(e, "const %s *rw = %s; /* [%lld][%lld] */", c->t,
              plus(e, e->in_name[IN_R], d * GH * c->H), (long long)GH, (long long)c->H);
    if (e->in_name[IN_B]) {
        emit_line(e, "const %s *wb = %s;", c->t, plus(e, e->in_name[IN_B], d * 2 * GH));
        emit_line(e, "const %s *rb = %s;", c->t, plus(e, e->in_name[IN_B], d * 2 * GH + GH));
    }
    if (c->op == OP_LSTMGrad && e->in_name[IN_P])
        emit_line(e, "const %s *p = %s; /* peepholes i, o, f */", c->t,
                  plus(e, e->in_name[IN_P], d * 3 * c->H));
}

/* Whether an f32 product of this size takes the blocked GEMM path. */
static bool rnn_gemm_pays(const Emitter *e, const Cell *c, int64_t M, int64_t N, int64_t K)
{
    return c->dt == DT_F32 && gemm_blocked_pays(e, M, N, K);
}

/* A matrix in memory, element (r, c) at p[r * rs + c * cs]. */
static GemmOperand rnn_matrix(const char *p, int64_t rs, int64_t cs)
{
    return (GemmOperand){.src = GEMM_RUNTIME, .expr = p, .rs = rs, .cs = cs};
}

/* pre[row][j] = X[row]*W[j]^T + Wb[j] + Rb[j] for every row at once (GRU
 * with linear_before_reset keeps Rbh out: it sits inside r (.) (…)). */
static void emit_projection(Emitter *e, const Cell *c)
{
    int64_t GH = c->G * c->H;
    const char *bias = emit_flit(e, 0, c->dt);
    if (e->in_name[IN_B] && c->lbr)
        bias = arena_printf(e->arena, "wb[j] + (j < %lld ? rb[j] : %s)", (long long)(2 * c->H), bias);
    else if (e->in_name[IN_B])
        bias = "wb[j] + rb[j]";
    emit_line(e, "/* pre[row][j] = X[row]*W[j]^T + Wb[j] + Rb[j]%s, every step at once */",
              c->lbr ? " (Rbh stays out)" : "");
    if (rnn_gemm_pays(e, c, c->N, GH, c->I)) { /* the biases, then += X W^T */
        emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)c->N);
        emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)GH);
        emit_line(e, "pre[row * %lld + j] = %s;", (long long)GH, bias);
        emit_close(e);
        emit_close(e);
        emit_gemm_product(e, c->N, GH, c->I, rnn_matrix(e->in_name[IN_X], c->I, 1),
                          rnn_matrix("w", 1, c->I), "pre", GH, true, c->own_scratch);
        return;
    }
    emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)c->N);
    emit_line(e, "const %s *x = %s + row * %lld;", c->t, e->in_name[IN_X], (long long)c->I);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)GH);
    emit_line(e, "const %s *wj = w + j * %lld;", c->t, (long long)c->I);
    emit_line(e, "%s acc = %s;", c->t, bias);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)c->I);
    emit_line(e, "acc += x[k] * wj[k];");
    emit_close(e);
    emit_line(e, "pre[row * %lld + j] = acc;", (long long)GH);
    emit_close(e);
    emit_close(e);
}

/* "off + j", or "j". */
static const char *at_off(Emitter *e, int64_t off)
{
    return off ? arena_printf(e->arena, "%lld + j", (long long)off) : "j";
}

/* Where batch b's row of a state tensor starts for direction d: [D,B,H], or
 * [B,D,H] with layout 1. */
static const char *state_row(Emitter *e, const Cell *c, int d)
{
    int64_t per_b = c->layout ? c->D * c->H : c->H, off = c->layout ? d * c->H : d * c->B * c->H;
    const char *s = arena_printf(e->arena, "b * %lld", (long long)per_b);
    return off ? arena_printf(e->arena, "%s + %lld", s, (long long)off) : s;
}

/* `const int len = …;` batch row b's sequence length, clamped to [0, T]. */
static void emit_len(Emitter *e, const Cell *c)
{
    const char *lens = e->in_name[IN_LENS];
    emit_line(e, "const int len = %s[b] < 0 ? 0 : (%s[b] > %lld ? %lld : (int)%s[b]);", lens, lens,
              (long long)c->T, (long long)c->T, lens);
}

/* The element stride between batch rows of one step in pre / dz, and
 * where step t's first row starts in buffer buf (no sequence_lens). */
static int64_t step_stride(const Cell *c)
{
    return c->layout ? c->T * c->G * c->H : c->G * c->H;
}

static const char *step_rows(Emitter *e, const Cell *c, const char *buf)
{
    return arena_printf(e->arena, "%s + t * %lld", buf,
                        (long long)(c->layout ? c->G * c->H : c->B * c->G * c->H));
}

/* Opens the loops over direction d's steps, in the order the layer ran
 * them or (backward) the opposite, and over the batch; defines t, b and
 * row. With sequence_lens, batch row b runs its own len steps. */
static void emit_walk_open(Emitter *e, const Cell *c, int d, bool backward)
{
    bool rev = c->reverse || d == 1;
    long long T = c->T;
    if (e->in_name[IN_LENS] && backward)
        emit_open(e, "for (int s = %lld; s >= 0; s--)", T - 1);
    else if (e->in_name[IN_LENS])
        emit_open(e, "for (int s = 0; s < %lld; s++)", T);
    else if (rev != backward)
        emit_open(e, "for (int t = %lld; t >= 0; t--)", T - 1);
    else
        emit_open(e, "for (int t = 0; t < %lld; t++)", T);
    if (c->step_gemm && !backward && c->op == OP_GRUGrad) {
        /* GRU (linear_before_reset): z, r into pre; the h gate's part into hr */
        emit_line(e, "/* pre_t += H_{t-1} R_{z,r}^T, hr_t = H_{t-1} Rh^T for the whole batch */");
        emit_gemm_product(e, c->B, 2 * c->H, c->H, rnn_matrix("h", c->H, 1),
                          rnn_matrix("rw", 1, c->H), step_rows(e, c, "pre"), step_stride(c),
                          true, c->own_scratch);
        emit_gemm_product(e, c->B, c->H, c->H, rnn_matrix("h", c->H, 1),
                          rnn_matrix(arena_printf(e->arena, "rw + %lld", (long long)(2 * c->H * c->H)),
                                     1, c->H),
                          arena_printf(e->arena, "hr + t * %lld",
                                       (long long)(c->layout ? c->H : c->B * c->H)),
                          c->layout ? c->T * c->H : c->H, false, c->own_scratch);
    } else if (c->step_gemm && !backward) {
        emit_line(e, "/* pre_t += H_{t-1} R^T for the whole batch (R^T packed in rtp) */");
        emit_gemm_product(e, c->B, c->G * c->H, c->H, rnn_matrix("h", c->H, 1),
                          (GemmOperand){.src = GEMM_PACKED, .expr = "rtp"},
                          step_rows(e, c, "pre"), step_stride(c), true, c->own_scratch);
    }
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)c->B);
    if (e->in_name[IN_LENS]) {
        emit_len(e, c);
        emit_line(e, "if (s >= len)");
        emit_line(e, "    continue;");
        emit_line(e, "const int t = %s;", rev ? "len - 1 - s" : "s");
    }
    if (c->layout)
        emit_line(e, "const int row = b * %lld + t;", T);
    else
        emit_line(e, "const int row = t * %lld + b;", (long long)c->B);
}

/* The row pointers a cell reads and writes: pr, ac (pre, act), hi
 * (H_{t-1}) and per cell type ci, co, hc (LSTM: C_{t-1}, C_t, h(C_t)), hrr
 * (GRU); forward also the states hb (cb); backward dzp, dzq (dz, dzr) and
 * the carried gradients dhb (dcb). Each only where the cell uses it. */
static void emit_row_pointers(Emitter *e, const Cell *c, bool grad)
{
    long long GH = c->G * c->H, H = c->H;
    const char *t = c->t;
    bool lstm = c->op == OP_LSTMGrad, gru = c->op == OP_GRUGrad;
    emit_line(e, "%s *pr = pre + row * %lld, *ac = act + row * %lld;", t, GH, GH);
    if (!grad || gru)
        emit_line(e, "%s *hi = hin + row * %lld;", t, H);
    if (lstm)
        emit_line(e, "%s *ci = cin + row * %lld, *co = cout + row * %lld, *hc = hcell + row * %lld;",
                  t, H, H, H);
    if (gru && (!grad || c->lbr))
        emit_line(e, "%s *hrr = hr + row * %lld;", t, H);
    if (!grad) {
        emit_line(e, "%s *hb = h + b * %lld;", t, H);
        if (lstm)
            emit_line(e, "%s *cb = c + b * %lld;", t, H);
        emit_line(e, "memcpy(hi, hb, %lld * sizeof(%s));", H, t);
        if (lstm)
            emit_line(e, "memcpy(ci, cb, %lld * sizeof(%s));", H, t);
        return;
    }
    emit_line(e, "(void)pr, (void)ac%s; /* some derivatives need only one of them */",
              lstm ? ", (void)co" : "");
    emit_line(e, "%s *dzp = dz + row * %lld;", t, GH);
    if (c->lbr)
        emit_line(e, "%s *dzq = dzr + row * %lld;", t, GH);
    emit_line(e, "%s *dhb = dh + b * %lld;", t, H);
    if (lstm)
        emit_line(e, "%s *dcb = dc + b * %lld;", t, H);
}

/* target[j] (=|+=) src·R[off + j] for j < rows, src a row of H values. */
static void emit_rec(Emitter *e, const Cell *c, int64_t rows, int64_t off, const char *src,
                     const char *target, bool add)
{
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)rows);
    emit_line(e, "const %s *rj = rw + %s * %lld;", c->t,
              off ? arena_printf(e->arena, "(%lld + j)", (long long)off) : "j", (long long)c->H);
    emit_line(e, "%s acc = %s;", c->t, add ? arena_printf(e->arena, "%s[j]", target)
                                            : emit_flit(e, 0, c->dt));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)c->H);
    emit_line(e, "acc += %s[k] * rj[k];", src);
    emit_close(e);
    emit_line(e, "%s[j] = acc;", target);
    emit_close(e);
}

/* tmp[k] = Σ_j g[j] R[off + j][k] over j < rows: what dz sends back to
 * H_{t-1} through R. */
static void emit_rec_back(Emitter *e, const Cell *c, int64_t rows, int64_t off, const char *g)
{
    emit_line(e, "memset(tmp, 0, %lld * sizeof(%s));", (long long)c->H, c->t);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)rows);
    emit_line(e, "const %s gj = %s[j], *rj = rw + %s * %lld;", c->t, g,
              off ? arena_printf(e->arena, "(%lld + j)", (long long)off) : "j", (long long)c->H);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)c->H);
    emit_line(e, "tmp[k] += gj * rj[k];");
    emit_close(e);
    emit_close(e);
}

/* ---- RNN: H_t = f(Xt*W^T + H_{t-1}*R^T + Wb + Rb) ---- */

static void emit_rnn_forward(Emitter *e, const Cell *c, int d)
{
    emit_line(e, "/* H_t = %s(Xt*W^T + H_{t-1}*R^T + Wb + Rb) */", c->acts.act[d][0]);
    if (!c->step_gemm)
        emit_rec(e, c, c->H, 0, "hi", "pr", true);
    const char *fn = rnn_vmath_fn(c->dt, &c->acts, d, 0, true);
    if (fn) { /* Tanh or Sigmoid on the target's vector loop (templates/kiln_vmath.h) */
        emit_line(e, "kiln_vmath_%s(%s, %lld, pr, ac);", emit_vmath(e, c->dt), fn, (long long)c->H);
        emit_line(e, "memcpy(hb, ac, %lld * sizeof(%s));", (long long)c->H, c->t);
        return;
    }
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)c->H);
    emit_line(e, "%s v = pr[j];", c->t);
    rnn_emit_activation(e, c->dt, &c->acts, d, 0, "v", true);
    emit_line(e, "ac[j] = hb[j] = v;");
    emit_close(e);
}

/* dz = dH (.) f'(pre); dH_{t-1} = dz R. */
static void emit_rnn_backward(Emitter *e, const Cell *c, int d)
{
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)c->H);
    emit_line(e, "%s g = dhb[j];", c->t);
    emit_act_grad(e, c, d, 0, "g", "pr[j]", "ac[j]", true);
    emit_line(e, "dzp[j] = g;");
    emit_close(e);
    if (c->step_gemm)
        return;
    emit_line(e, "/* dH_{t-1} = dz R */");
    emit_rec_back(e, c, c->H, 0, "dzp");
    emit_line(e, "memcpy(dhb, tmp, %lld * sizeof(%s));", (long long)c->H, c->t);
}

/* ---- GRU, gates z r h ---- */

/* The rest of emit_gru_forward (after the recurrent products) on the
 * target's vector loops (templates/kiln_vmath.h) for f = Sigmoid, g = Tanh
 * without clip; false (nothing printed) otherwise. */
static bool gru_forward_vec(Emitter *e, const Cell *c, int d)
{
    const char *f = rnn_vmath_fn(c->dt, &c->acts, d, 0, true);
    const char *g = rnn_vmath_fn(c->dt, &c->acts, d, 1, true);
    if (!f || !g || strcmp(f, "KILN_VMATH_SIGMOID") || strcmp(g, "KILN_VMATH_TANH"))
        return false;
    long long H = c->H;
    const char *vm = emit_vmath(e, c->dt);
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_SIGMOID, %lld, pr, ac); /* z, r */", vm, 2 * H);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    if (c->lbr) /* pre_h = Xt*Wh^T + Wbh + r (.) hr */
        emit_line(e, "pr[%lld + j] += ac[%lld + j] * hrr[j];", 2 * H, H);
    else
        emit_line(e, "hrr[j] = ac[%lld + j] * hi[j];", H);
    emit_close(e);
    if (!c->lbr) {
        emit_line(e, "/* pre_h += (r (.) H_{t-1})*Rh^T */");
        emit_rec(e, c, H, 2 * H, "hrr", arena_printf(e->arena, "(pr + %lld)", 2 * H), true);
    }
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_TANH, %lld, pr + %lld, ac + %lld); /* h~ */", vm, H,
              2 * H, 2 * H);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "hb[j] = (%s - ac[j]) * ac[%lld + j] + ac[j] * hi[j];", emit_flit(e, 1, c->dt),
              2 * H);
    emit_close(e);
    return true;
}

/*   z = f(Xt*Wz^T + H_{t-1}*Rz^T + Wbz + Rbz),  r likewise
 *   lbr 0: h~ = g(Xt*Wh^T + (r (.) H_{t-1})*Rh^T + Rbh + Wbh)
 *   lbr 1: h~ = g(Xt*Wh^T + r (.) (H_{t-1}*Rh^T + Rbh) + Wbh)
 *   H_t = (1 - z) (.) h~ + z (.) H_{t-1} */
static void emit_gru_forward(Emitter *e, const Cell *c, int d)
{
    long long H = c->H;
    const char *t = c->t, *one = emit_flit(e, 1, c->dt);
    if (!c->step_gemm) { /* else the step's GEMMs did these products */
        emit_line(e, "/* pre += H_{t-1}*R^T for z, r%s */",
                  c->lbr ? "; hr = H_{t-1}*Rh^T + Rbh" : "");
        emit_rec(e, c, 2 * H, 0, "hi", "pr", true);
        if (c->lbr)
            emit_rec(e, c, H, 2 * H, "hi", "hrr", false);
    }
    if (c->lbr) {
        if (e->in_name[IN_B]) {
            emit_open(e, "for (int j = 0; j < %lld; j++)", H);
            emit_line(e, "hrr[j] += rb[%lld + j];", 2 * H);
            emit_close(e);
        }
    }
    if (gru_forward_vec(e, c, d))
        return;
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "%s z = pr[j], r = pr[%lld + j];", t, H);
    rnn_emit_activation(e, c->dt, &c->acts, d, 0, "z", true);
    rnn_emit_activation(e, c->dt, &c->acts, d, 0, "r", true);
    emit_line(e, "ac[j] = z;");
    emit_line(e, "ac[%lld + j] = r;", H);
    if (!c->lbr) {
        emit_line(e, "hrr[j] = r * hi[j];");
        emit_close(e);
        emit_line(e, "/* pre_h += (r (.) H_{t-1})*Rh^T */");
        emit_rec(e, c, H, 2 * H, "hrr", arena_printf(e->arena, "(pr + %lld)", 2 * H), true);
        emit_open(e, "for (int j = 0; j < %lld; j++)", H);
        emit_line(e, "const %s z = ac[j];", t);
    } else {
        emit_line(e, "pr[%lld + j] += r * hrr[j];", 2 * H);
    }
    emit_line(e, "%s hh = pr[%lld + j];", t, 2 * H);
    rnn_emit_activation(e, c->dt, &c->acts, d, 1, "hh", true);
    emit_line(e, "ac[%lld + j] = hh;", 2 * H);
    emit_line(e, "hb[j] = (%s - z) * hh + z * hi[j];", one);
    emit_close(e);
}

/* dz_z = dH (.) (H_{t-1} - h~) f'; dz_h = dH (.) (1 - z) g';
 *   lbr 0: d(rh) = dz_h Rh, dz_r = d(rh) (.) H_{t-1} f';
 *          dH_{t-1} = dH (.) z + d(rh) (.) r + dz_{z,r} R_{z,r}
 *   lbr 1: dz_r = dz_h (.) hr f', dzr_h = dz_h (.) r;
 *          dH_{t-1} = dH (.) z + dzr R */
static void emit_gru_backward(Emitter *e, const Cell *c, int d)
{
    long long H = c->H;
    const char *t = c->t, *one = emit_flit(e, 1, c->dt);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "const %s g = dhb[j], z = ac[j], hh = ac[%lld + j];", t, 2 * H);
    emit_line(e, "%s gz = g * (hi[j] - hh), gh = g * (%s - z);", t, one);
    emit_act_grad(e, c, d, 0, "gz", "pr[j]", "z", true);
    emit_act_grad(e, c, d, 1, "gh", arena_printf(e->arena, "pr[%lld + j]", 2 * H), "hh", true);
    emit_line(e, "dzp[j] = gz;");
    emit_line(e, "dzp[%lld + j] = gh;", 2 * H);
    if (c->lbr) {
        emit_line(e, "const %s r = ac[%lld + j];", t, H);
        emit_line(e, "%s gr = gh * hrr[j];", t);
        emit_act_grad(e, c, d, 0, "gr", arena_printf(e->arena, "pr[%lld + j]", H), "r", true);
        emit_line(e, "dzp[%lld + j] = gr;", H);
        emit_line(e, "dzq[j] = gz;");
        emit_line(e, "dzq[%lld + j] = gr;", H);
        emit_line(e, "dzq[%lld + j] = gh * r;", 2 * H);
        if (c->step_gemm) /* dH_{t-1} = dH (.) z, then += dzr R by the step's GEMM */
            emit_line(e, "dhb[j] *= z;");
        emit_close(e);
        if (c->step_gemm)
            return;
        emit_line(e, "/* dH_{t-1} = dH (.) z + dzr R */");
        emit_rec_back(e, c, 3 * H, 0, "dzq");
        emit_open(e, "for (int k = 0; k < %lld; k++)", H);
        emit_line(e, "dhb[k] = dhb[k] * ac[k] + tmp[k];");
        emit_close(e);
        return;
    }
    emit_close(e);
    emit_line(e, "/* d(r (.) H_{t-1}) = dz_h Rh, into tmp, then dz_r */");
    emit_rec_back(e, c, H, 2 * H, arena_printf(e->arena, "(dzp + %lld)", 2 * H));
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "const %s r = ac[%lld + j];", t, H);
    emit_line(e, "%s gr = tmp[j] * hi[j];", t);
    emit_act_grad(e, c, d, 0, "gr", arena_printf(e->arena, "pr[%lld + j]", H), "r", true);
    emit_line(e, "dzp[%lld + j] = gr;", H);
    emit_line(e, "dhb[j] = dhb[j] * ac[j] + tmp[j] * r;");
    emit_close(e);
    emit_line(e, "/* dH_{t-1} += dz_{z,r} R_{z,r} */");
    emit_rec_back(e, c, 2 * H, 0, "dzp");
    emit_open(e, "for (int k = 0; k < %lld; k++)", H);
    emit_line(e, "dhb[k] += tmp[k];");
    emit_close(e);
}

/* ---- LSTM, gates i o f c (peepholes P in the order i o f) ---- */

/* emit_lstm_forward's gates on templates/kiln_vmath.h's vector loops, for
 * f = Sigmoid, g = h = Tanh without clip, peepholes or input_forget (what
 * torch exports); false (nothing printed) otherwise. */
static bool lstm_forward_vec(Emitter *e, const Cell *c, int d)
{
    const char *f = rnn_vmath_fn(c->dt, &c->acts, d, 0, true);
    const char *g = rnn_vmath_fn(c->dt, &c->acts, d, 1, true);
    const char *h = rnn_vmath_fn(c->dt, &c->acts, d, 2, false);
    if (!f || !g || !h || strcmp(f, "KILN_VMATH_SIGMOID") || strcmp(g, "KILN_VMATH_TANH") ||
        strcmp(h, "KILN_VMATH_TANH") || e->in_name[IN_P] || c->input_forget)
        return false;
    long long H = c->H;
    const char *vm = emit_vmath(e, c->dt);
    emit_line(e, "/* act: i, o, f = Sigmoid(pre), g = Tanh(pre) */");
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_SIGMOID, %lld, pr, ac);", vm, 3 * H);
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_TANH, %lld, pr + %lld, ac + %lld);", vm, H, 3 * H, 3 * H);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "co[j] = cb[j] = ac[%lld + j] * ci[j] + ac[j] * ac[%lld + j]; /* C_t */", 2 * H,
              3 * H);
    emit_close(e);
    emit_line(e, "kiln_vmath_%s(KILN_VMATH_TANH, %lld, co, hc); /* h(C_t) */", vm, H);
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "hb[j] = ac[%lld + j] * hc[j]; /* H_t = o (.) h(C_t) */", H);
    emit_close(e);
    return true;
}

/*   i = f(pre_i + Pi (.) C_{t-1}),  f = f(pre_f + Pf (.) C_{t-1})  (1 - i with
 *   input_forget),  g = g(pre_c),  C_t = f (.) C_{t-1} + i (.) g,
 *   o = f(pre_o + Po (.) C_t),  H_t = o (.) h(C_t); the peephole terms are
 *   added into pre so that pre is what the activation saw. */
static void emit_lstm_forward(Emitter *e, const Cell *c, int d)
{
    long long H = c->H;
    const char *t = c->t;
    bool peep = e->in_name[IN_P] != NULL;
    if (!c->step_gemm) {
        emit_line(e, "/* pre += H_{t-1}*R^T for i, o, f, c */");
        emit_rec(e, c, 4 * H, 0, "hi", "pr", true);
    }
    if (lstm_forward_vec(e, c, d))
        return;
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    if (peep)
        emit_line(e, "pr[j] += p[j] * ci[j];");
    emit_line(e, "%s i = pr[j];", t);
    rnn_emit_activation(e, c->dt, &c->acts, d, 0, "i", true);
    if (c->input_forget) {
        emit_line(e, "const %s f = %s - i; /* input_forget */", t, emit_flit(e, 1, c->dt));
    } else {
        if (peep)
            emit_line(e, "pr[%lld + j] += p[%lld + j] * ci[j];", 2 * H, 2 * H);
        emit_line(e, "%s f = pr[%lld + j];", t, 2 * H);
        rnn_emit_activation(e, c->dt, &c->acts, d, 0, "f", true);
    }
    emit_line(e, "%s cand = pr[%lld + j];", t, 3 * H);
    rnn_emit_activation(e, c->dt, &c->acts, d, 1, "cand", true);
    emit_line(e, "const %s cv = f * ci[j] + i * cand;", t);
    if (peep)
        emit_line(e, "pr[%lld + j] += p[%lld + j] * cv;", H, H);
    emit_line(e, "%s o = pr[%lld + j];", t, H);
    rnn_emit_activation(e, c->dt, &c->acts, d, 0, "o", true);
    emit_line(e, "%s hv = cv;", t);
    rnn_emit_activation(e, c->dt, &c->acts, d, 2, "hv", false);
    emit_line(e, "ac[j] = i;");
    emit_line(e, "ac[%lld + j] = o;", H);
    emit_line(e, "ac[%lld + j] = f;", 2 * H);
    emit_line(e, "ac[%lld + j] = cand;", 3 * H);
    emit_line(e, "co[j] = cb[j] = cv;");
    emit_line(e, "hc[j] = hv;");
    emit_line(e, "hb[j] = o * hv;");
    emit_close(e);
}

/*   dz_o = dH (.) h(C_t) f';  dC = dC_carried + dH (.) o (.) h'(C_t) + Po dz_o;
 *   dz_i = dC (.) g f' (minus dC (.) C_{t-1} with input_forget);
 *   dz_f = dC (.) C_{t-1} f';  dz_c = dC (.) i g';
 *   dC_{t-1} = dC (.) f + Pi dz_i + Pf dz_f;  dH_{t-1} = dz R;
 *   dP += dz_i C_{t-1}, dz_o C_t, dz_f C_{t-1} (into the kernel's dP). */
static void emit_lstm_backward(Emitter *e, const Cell *c, int d)
{
    long long H = c->H;
    const char *t = c->t;
    bool peep = e->in_name[IN_P] != NULL, dp = e->out_name[OUT_DP] != NULL;
    emit_open(e, "for (int j = 0; j < %lld; j++)", H);
    emit_line(e, "const %s gh = dhb[j], i = ac[j], o = ac[%lld + j], f = ac[%lld + j], "
                 "cand = ac[%lld + j];", t, H, 2 * H, 3 * H);
    emit_line(e, "%s go = gh * hc[j];", t);
    emit_act_grad(e, c, d, 0, "go", arena_printf(e->arena, "pr[%lld + j]", H), "o", true);
    emit_line(e, "%s gc = gh * o;", t);
    emit_act_grad(e, c, d, 2, "gc", "co[j]", "hc[j]", false);
    emit_line(e, "gc += dcb[j]%s;", peep ? arena_printf(e->arena, " + p[%lld + j] * go", H) : "");
    emit_line(e, "%s gi = gc * cand, gf = gc * ci[j], gcand = gc * i;", t);
    if (c->input_forget) {
        emit_line(e, "gi -= gf; /* f = 1 - i */");
    } else {
        emit_act_grad(e, c, d, 0, "gf", arena_printf(e->arena, "pr[%lld + j]", 2 * H), "f", true);
    }
    emit_act_grad(e, c, d, 0, "gi", "pr[j]", "i", true);
    emit_act_grad(e, c, d, 1, "gcand", arena_printf(e->arena, "pr[%lld + j]", 3 * H), "cand", true);
    emit_line(e, "dzp[j] = gi;");
    emit_line(e, "dzp[%lld + j] = go;", H);
    emit_line(e, "dzp[%lld + j] = %s;", 2 * H, c->input_forget ? emit_flit(e, 0, c->dt) : "gf");
    emit_line(e, "dzp[%lld + j] = gcand;", 3 * H);
    if (peep && !c->input_forget)
        emit_line(e, "dcb[j] = gc * f + p[j] * gi + p[%lld + j] * gf;", 2 * H);
    else if (peep)
        emit_line(e, "dcb[j] = gc * f + p[j] * gi;");
    else
        emit_line(e, "dcb[j] = gc * f;");
    if (dp) {
        emit_line(e, "dpp[j] += gi * ci[j];");
        emit_line(e, "dpp[%lld + j] += go * co[j];", H);
        if (!c->input_forget)
            emit_line(e, "dpp[%lld + j] += gf * ci[j];", 2 * H);
    }
    emit_close(e);
    if (c->step_gemm)
        return;
    emit_line(e, "/* dH_{t-1} = dz R */");
    emit_rec_back(e, c, 4 * H, 0, "dzp");
    emit_line(e, "memcpy(dhb, tmp, %lld * sizeof(%s));", H, t);
}

/* ---- the walk around the cells ---- */

typedef void (*CellEmit)(Emitter *e, const Cell *c, int d);

/* H_0 (C_0): initial_h (initial_c) or zeros. */
static void emit_state_init(Emitter *e, const Cell *c, int d)
{
    int states = c->op == OP_LSTMGrad ? 2 : 1;
    for (int s = 0; s < states; s++) {
        const char *buf = s ? "c" : "h", *init = e->in_name[s ? IN_C0 : IN_H0];
        if (!init) {
            emit_line(e, "memset(%s, 0, %lld * sizeof(%s)); /* %s_0 = 0 */", buf,
                      (long long)(c->B * c->H), c->t, s ? "C" : "H");
            continue;
        }
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)c->B);
        emit_line(e, "memcpy(%s + b * %lld, %s + %s, %lld * sizeof(%s));", buf, (long long)c->H,
                  init, state_row(e, c, d), (long long)c->H, c->t);
        emit_close(e);
    }
}

/* dH (dC) before the backward walk: dY_h (dY_c), or 0 without it or for a
 * row of length 0 (whose Y_h the forward set to 0, not to H_0). */
static void emit_grad_init(Emitter *e, const Cell *c, int d)
{
    int states = c->op == OP_LSTMGrad ? 2 : 1;
    for (int s = 0; s < states; s++) {
        const char *buf = s ? "dc" : "dh", *gy = e->in_name[s ? IN_DYC : IN_DYH];
        if (!gy) {
            emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", buf, (long long)(c->B * c->H), c->t);
            continue;
        }
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)c->B);
        const char *copy = arena_printf(e->arena, "memcpy(%s + b * %lld, %s + %s, %lld * sizeof(%s));",
                                        buf, (long long)c->H, gy, state_row(e, c, d),
                                        (long long)c->H, c->t);
        if (e->in_name[IN_LENS]) {
            emit_len(e, c);
            emit_line(e, "if (len == 0)");
            emit_line(e, "    memset(%s + b * %lld, 0, %lld * sizeof(%s));", buf, (long long)c->H,
                      (long long)c->H, c->t);
            emit_line(e, "else");
            emit_line(e, "    %s", copy);
        } else {
            emit_line(e, "%s", copy);
        }
        emit_close(e);
    }
}

/* dH += dY at (t, b) of direction d, when dY flows. */
static void emit_add_dy(Emitter *e, const Cell *c, int d)
{
    long long T = c->T, B = c->B, H = c->H, D = c->D;
    if (!e->in_name[IN_DY])
        return;
    if (c->layout)
        emit_line(e, "const %s *gy = %s + b * %lld + t * %lld;", c->t,
                  plus(e, e->in_name[IN_DY], d * H), T * D * H, D * H);
    else
        emit_line(e, "const %s *gy = %s + t * %lld + b * %lld;", c->t,
                  plus(e, e->in_name[IN_DY], d * B * H), D * B * H, H);
    emit_open(e, "for (int k = 0; k < %lld; k++)", H);
    emit_line(e, "dhb[k] += gy[k];");
    emit_close(e);
}

/* d(initial_h), d(initial_c): what reached H_0 (C_0). */
static void emit_state_grads(Emitter *e, const Cell *c, int d)
{
    for (int s = 0; s < 2; s++) {
        const char *out = e->out_name[s ? OUT_DC0 : OUT_DH0];
        if (!out)
            continue;
        emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)c->B);
        emit_line(e, "memcpy(%s + %s, %s + b * %lld, %lld * sizeof(%s));", out, state_row(e, c, d),
                  s ? "dc" : "dh", (long long)c->H, (long long)c->H, c->t);
        emit_close(e);
    }
}

/* Σ over all rows of the [N][G*H] gradient g into db + off. */
static void emit_bias_grad(Emitter *e, const Cell *c, const char *g, int64_t off)
{
    long long GH = c->G * c->H;
    emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)c->N);
    emit_open(e, "for (int j = 0; j < %lld; j++)", GH);
    emit_line(e, "%s[%s] += %s[row * %lld + j];", e->out_name[OUT_DB], at_off(e, off), g, GH);
    emit_close(e);
    emit_close(e);
}

/* emit_weight_grads as blocked GEMMs over all N rows at once:
 *   dW [GH, I] += dz^T X,  dX [N, I] += dz W,  dR [GH, H] += dzr^T H_{t-1}
 * (GRU without linear_before_reset: the h rows of dR against r (.) H_{t-1}),
 * and the bias gradients as column sums. */
static void emit_weight_grads_gemm(Emitter *e, const Cell *c, int d)
{
    int64_t GH = c->G * c->H, H = c->H, I = c->I, N = c->N, own = c->own_scratch;
    const char *dx = e->out_name[OUT_DX], *dw = e->out_name[OUT_DW];
    const char *dr = e->out_name[OUT_DR], *gr = c->lbr ? "dzr" : "dz";
    emit_line(e, "/* dW += dz^T X, dX += dz W, dR += %s^T H_{t-1}, dB += column sums */", gr);
    if (dw)
        emit_gemm_product(e, GH, I, N, rnn_matrix("dz", 1, GH),
                          rnn_matrix(e->in_name[IN_X], I, 1), plus(e, dw, d * GH * I), I, true,
                          own);
    if (dx)
        emit_gemm_product(e, N, I, GH, rnn_matrix("dz", GH, 1), rnn_matrix("w", I, 1), dx, I,
                          true, own);
    if (dr && c->op == OP_GRUGrad && !c->lbr) { /* z, r rows against H_{t-1}, h rows r (.) H_{t-1} */
        emit_gemm_product(e, 2 * H, H, N, rnn_matrix(gr, 1, GH), rnn_matrix("hin", H, 1),
                          plus(e, dr, d * GH * H), H, true, own);
        emit_gemm_product(e, H, H, N, rnn_matrix(arena_printf(e->arena, "%s + %lld", gr,
                                                              (long long)(2 * H)), 1, GH),
                          rnn_matrix("hr", H, 1), plus(e, dr, d * GH * H + 2 * H * H), H, true,
                          own);
    } else if (dr) {
        emit_gemm_product(e, GH, H, N, rnn_matrix(gr, 1, GH), rnn_matrix("hin", H, 1),
                          plus(e, dr, d * GH * H), H, true, own);
    }
    if (e->out_name[OUT_DB]) {
        emit_bias_grad(e, c, "dz", d * 2 * GH);
        emit_bias_grad(e, c, gr, d * 2 * GH + GH);
    }
}

/* dW += dz^T X, dX += dz W, dWb += Σ dz over all rows; dR += dzr^T H_{t-1}
 * (GRU without linear_before_reset: its h rows against r (.) H_{t-1}),
 * dRb += Σ dzr. */
static void emit_weight_grads(Emitter *e, const Cell *c, int d)
{
    long long GH = c->G * c->H, H = c->H, I = c->I;
    const char *t = c->t, *dx = e->out_name[OUT_DX], *dw = e->out_name[OUT_DW];
    const char *dr = e->out_name[OUT_DR], *db = e->out_name[OUT_DB];
    if (rnn_gemm_pays(e, c, GH, I, c->N) && rnn_gemm_pays(e, c, GH, H, c->N)) {
        emit_weight_grads_gemm(e, c, d);
        return;
    }
    if (dx || dw || db) {
        emit_line(e, "/* dW += dz^T X, dX += dz W, dWb += sum dz */");
        emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)c->N);
        emit_line(e, "const %s *g = dz + row * %lld%s;", t, GH,
                  dw ? arena_printf(e->arena, ", *x = %s + row * %lld", e->in_name[IN_X], I) : "");
        if (dx)
            emit_line(e, "%s *gx = %s + row * %lld;", t, dx, I);
        emit_open(e, "for (int j = 0; j < %lld; j++)", GH);
        if (db)
            emit_line(e, "%s[%s] += g[j];", db, at_off(e, d * 2 * GH));
        if (dw) {
            emit_line(e, "%s *gw = %s + j * %lld;", t, plus(e, dw, d * GH * I), I);
            emit_open(e, "for (int k = 0; k < %lld; k++)", I);
            emit_line(e, "gw[k] += g[j] * x[k];");
            emit_close(e);
        }
        if (dx) {
            emit_line(e, "const %s *wj = w + j * %lld;", t, I);
            emit_open(e, "for (int k = 0; k < %lld; k++)", I);
            emit_line(e, "gx[k] += g[j] * wj[k];");
            emit_close(e);
        }
        emit_close(e);
        emit_close(e);
    }
    if (!dr && !db)
        return;
    bool rh = c->op == OP_GRUGrad && !c->lbr;
    emit_line(e, "/* dR += %s^T H_{t-1}%s, dRb += sum %s */", c->lbr ? "dzr" : "dz",
              rh ? " (h rows: r (.) H_{t-1})" : "", c->lbr ? "dzr" : "dz");
    emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)c->N);
    emit_line(e, "const %s *g = %s + row * %lld;", t, c->lbr ? "dzr" : "dz", GH);
    if (dr)
        emit_line(e, "const %s *hp = hin + row * %lld%s;", t, H,
                  rh ? arena_printf(e->arena, ", *rhp = hr + row * %lld", H) : "");
    emit_open(e, "for (int j = 0; j < %lld; j++)", GH);
    if (db)
        emit_line(e, "%s[%s] += g[j];", db, at_off(e, d * 2 * GH + GH));
    if (dr) {
        emit_line(e, "%s *gr = %s + j * %lld;", t, plus(e, dr, d * GH * H), H);
        if (rh)
            emit_line(e, "const %s *in = j < %lld ? hp : rhp;", t, 2 * H);
        emit_open(e, "for (int k = 0; k < %lld; k++)", H);
        emit_line(e, "gr[k] += g[j] * %s[k];", rh ? "in" : "hp");
        emit_close(e);
    }
    emit_close(e);
    emit_close(e);
}

/* Zeroes the accumulated outputs (dX over both directions; dW, dR, dB, dP
 * per direction slice, all at once). */
static void emit_zero_outputs(Emitter *e, const Graph *g, const Node *n)
{
    static const int acc[] = {OUT_DX, OUT_DW, OUT_DR, OUT_DB, OUT_DP};
    for (size_t k = 0; k < sizeof acc / sizeof acc[0]; k++) {
        const Value *v = ir_out(g, n, acc[k]);
        if (v)
            emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[acc[k]],
                      (long long)shape_numel(&v->shape), dtype_ctype(v->dtype));
    }
}

/* One backward kernel: per direction, the forward walk saving what the
 * cell's backward needs, the backward walk, then the weight gradients. */
static bool emit_bptt(Emitter *e, const Graph *g, const Node *n, CellEmit fwd, CellEmit bwd)
{
    Cell c;
    cell_parse(g, n, &c);
    emit_line(e, "/* backprop through time: %lld steps, batch %lld, input %lld, hidden %lld, %s */",
              (long long)c.T, (long long)c.B, (long long)c.I, (long long)c.H,
              c.D == 2 ? "bidirectional" : c.reverse ? "reverse" : "forward");
    c.step_gemm = (c.op == OP_LSTMGrad || c.op == OP_RNNGrad || c.lbr) && !e->in_name[IN_LENS] &&
                  rnn_gemm_pays(e, &c, c.B, c.G * c.H, c.H) &&
                  rnn_gemm_pays(e, &c, c.B, c.H, c.G * c.H);
    emit_scratch(e, &c);
    emit_zero_outputs(e, g, n);
    if (e->in_name[IN_LENS]) /* rows past a sequence's end stay 0 in dz, hin, hr */
        emit_line(e, "memset(scratch, 0, %lld);", (long long)e->scratch);
    for (int d = 0; d < c.D; d++) {
        emit_line(e, "/* direction %d: %s */", d, d == 1 || c.reverse ? "reverse" : "forward");
        emit_line(e, "{");
        e->indent++;
        emit_dir_pointers(e, &c, d);
        if (c.op == OP_LSTMGrad && e->out_name[OUT_DP])
            emit_line(e, "%s *dpp = %s; /* dP of i, o, f */", c.t,
                      plus(e, e->out_name[OUT_DP], d * 3 * c.H));
        emit_projection(e, &c);
        if (c.step_gemm)
            emit_pack_r(e, &c);
        emit_state_init(e, &c, d);
        emit_line(e, "/* forward again, saving each step */");
        emit_walk_open(e, &c, d, false);
        emit_row_pointers(e, &c, false);
        fwd(e, &c, d);
        emit_close(e);
        emit_close(e);
        emit_line(e, "/* backward through the steps */");
        emit_grad_init(e, &c, d);
        emit_walk_open(e, &c, d, true);
        emit_row_pointers(e, &c, true);
        emit_add_dy(e, &c, d);
        bwd(e, &c, d);
        emit_close(e);
        if (c.step_gemm) {
            bool gru = c.op == OP_GRUGrad; /* dH_{t-1} = dH (.) z (done) + dzr R */
            emit_line(e, "/* dH_{t-1} %s %s_t R for the whole batch */", gru ? "+=" : "=",
                      gru ? "dzr" : "dz");
            emit_gemm_product(e, c.B, c.H, c.G * c.H,
                              rnn_matrix(step_rows(e, &c, gru ? "dzr" : "dz"), step_stride(&c), 1),
                              (GemmOperand){.src = GEMM_PACKED, .expr = "rp"}, "dh", c.H, gru,
                              c.own_scratch);
        }
        emit_close(e);
        emit_state_grads(e, &c, d);
        emit_weight_grads(e, &c, d);
        emit_close(e);
    }
    return true;
}

/* RNNGrad: the backward of RNN (ONNX RNN-14) — see the top of the file. */
bool k_rnn_grad(Emitter *e, const Graph *g, const Node *n)
{
    return emit_bptt(e, g, n, emit_rnn_forward, emit_rnn_backward);
}

/* GRUGrad: the backward of GRU (ONNX GRU-14, linear_before_reset 0 or 1). */
bool k_gru_grad(Emitter *e, const Graph *g, const Node *n)
{
    return emit_bptt(e, g, n, emit_gru_forward, emit_gru_backward);
}

/* LSTMGrad: the backward of LSTM (ONNX LSTM-14, peepholes, input_forget). */
bool k_lstm_grad(Emitter *e, const Graph *g, const Node *n)
{
    return emit_bptt(e, g, n, emit_lstm_forward, emit_lstm_backward);
}
