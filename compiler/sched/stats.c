/* stats.c — the `kiln compile --stats` table: per layer (scheduled node) the
 * op, output shapes, estimated FLOPs, parameters, workspace and scratch bytes, then
 * the totals checked before flashing (parameters, weight bytes, workspace).
 * Reads a shaped Graph, Schedule and MemPlan; changes nothing. */
#include "stats.h"

#include <stdio.h>
#include <string.h>

static int64_t numel(const Value *v)
{
    int64_t n = v ? shape_numel(&v->shape) : 0;
    return n < 0 ? 0 : n;
}

static int64_t bytes(const Value *v)
{
    return numel(v) * (int64_t)dtype_size(v->dtype);
}

static int64_t outputs_numel(const Graph *g, const Node *n)
{
    int64_t total = 0;
    for (int i = 0; i < n->n_out; i++)
        total += numel(ir_out(g, n, i));
    return total;
}

/* Elements of W per output channel (Conv: [M, C/group, k...]) or per input
 * channel (ConvTranspose: [C, M/group, k...]): the multiply-adds behind one
 * output (input) element. */
static int64_t per_channel(const Value *w)
{
    return w && w->shape.rank > 0 && w->shape.dims[0] > 0 ? numel(w) / w->shape.dims[0] : 0;
}

static int64_t window_size(const Node *n)
{
    const Attr *k = ir_attr(n, "kernel_shape"); /* written back by shapes_conv.c */
    int64_t size = 1;
    for (int i = 0; k && i < k->n; i++)
        size *= k->ints[i];
    return size;
}

/* Gemm: A [M,K] or [K,M] (transA), Y [M,N]: 2·M·N·K, plus M·N for C. */
static int64_t gemm_flops(const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0);
    if (a->shape.rank != 2)
        return -1;
    int64_t k = a->shape.dims[ir_attr_int(n, "transA", 0) ? 0 : 1];
    return numel(ir_out(g, n, 0)) * (2 * k + (ir_in(g, n, 2) ? 1 : 0));
}

/* RNN/GRU/LSTM: X [seq,batch,input] (or [batch,seq,input]), W [dirs,G·H,input],
 * R [dirs,G·H,H]: each (step, batch) row multiplies by W and R in every
 * direction; the gate arithmetic is small beside it and left out. */
static int64_t rnn_flops(const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *w = ir_in(g, n, 1), *r = ir_in(g, n, 2);
    if (x->shape.rank != 3 || x->shape.dims[2] <= 0)
        return -1;
    int64_t rows = numel(x) / x->shape.dims[2];
    return 2 * rows * (numel(w) + numel(r));
}

int64_t sched_node_flops(const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    int64_t out = outputs_numel(g, n);
    switch (n->op) {
    case OP_Gemm:
    case OP_FusedGemm: /* the epilogue's activation: not counted, as for the others */
        return gemm_flops(g, n);
    case OP_MatMul:
    case OP_FusedMatMul:
    case OP_MatMulInteger: /* A [..., M, K] (or [K]) · B: K multiply-adds per output */
        return x->shape.rank ? 2 * out * x->shape.dims[x->shape.rank - 1] : -1;
    case OP_Conv:
    case OP_FusedConv:
    case OP_ConvInteger:
        return out * (2 * per_channel(ir_in(g, n, 1)) + (ir_in(g, n, 2) ? 1 : 0));
    case OP_ConvTranspose:
        return 2 * numel(x) * per_channel(ir_in(g, n, 1)) + (ir_in(g, n, 2) ? out : 0);
    case OP_ConvWeightGrad: /* A [N, Ca, positions...] (dY of a Conv, X of a ConvTranspose):
                               each element of A meets one dW row of per_channel elements */
        return 2 * numel(x) * per_channel(ir_out(g, n, 0));
    case OP_MaxPool:
    case OP_AveragePool:
    case OP_LpPool:
        return numel(ir_out(g, n, 0)) * window_size(n);
    case OP_RNN:
    case OP_GRU:
    case OP_LSTM:
        return rnn_flops(g, n);
    case OP_Einsum:
        return -1;
    /* data movement, copies and casts: no arithmetic */
    case OP_Identity: case OP_Constant: case OP_Reshape: case OP_Flatten: case OP_Squeeze:
    case OP_Unsqueeze: case OP_Transpose: case OP_Concat: case OP_Split: case OP_Slice:
    case OP_Expand: case OP_Tile: case OP_Pad: case OP_DepthToSpace: case OP_SpaceToDepth:
    case OP_EyeLike: case OP_ConstantOfShape: case OP_Trilu: case OP_Shape: case OP_Size:
    case OP_Gather: case OP_GatherElements: case OP_GatherND: case OP_ScatterElements:
    case OP_Scatter: case OP_ScatterND: case OP_OneHot: case OP_ReverseSequence:
    case OP_Cast: case OP_CastLike: case OP_Dropout:
        return 0;
    /* a few operations per input element */
    case OP_BatchNormalization:
        return 2 * numel(x);
    case OP_Softmax: case OP_LogSoftmax: case OP_SoftmaxCrossEntropyLoss:
    case OP_NegativeLogLikelihoodLoss:
        return 4 * numel(x);
    case OP_InstanceNormalization: case OP_LayerNormalization: case OP_MeanVarianceNormalization:
        return 5 * numel(x);
    case OP_LRN:
        return numel(x) * (ir_attr_int(n, "size", 1) + 3);
    /* one per input element: reductions, global pooling, scans */
    case OP_GlobalMaxPool: case OP_GlobalAveragePool: case OP_GlobalLpPool:
    case OP_ReduceSum: case OP_ReduceMean: case OP_ReduceMax: case OP_ReduceMin:
    case OP_ReduceProd: case OP_ReduceL1: case OP_ReduceL2: case OP_ReduceLogSum:
    case OP_ReduceLogSumExp: case OP_ReduceSumSquare: case OP_ArgMax: case OP_ArgMin:
    case OP_TopK: case OP_CumSum: case OP_Hardmax:
        return numel(x);
    default: /* elementwise: one per output element */
        return out;
    }
}

/* Whether the binary carries v's first value: constants always; state only
 * when its data is not all zeros (emit/model.c zeroes those in P_init
 * instead; keep the two in step). */
static bool carried(const Value *v)
{
    if (v->kind == VAL_CONST)
        return true;
    for (int64_t b = 0; v->data && b < bytes(v); b++)
        if (((const unsigned char *)v->data)[b] != 0)
            return true;
    return false;
}

/* Marks v as counted; true the first time. */
static bool first_time(bool *seen, const Value *v)
{
    if (seen[v->id])
        return false;
    seen[v->id] = true;
    return true;
}

static void layer_stats(const Graph *g, const Node *n, const MemPlan *mp, bool *seen,
                        LayerStats *l, ModelStats *st)
{
    l->node = n->id;
    l->flops = sched_node_flops(g, n);
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v || (v->kind != VAL_CONST && v->kind != VAL_STATE) || !first_time(seen, v))
            continue;
        if (carried(v))
            st->const_bytes += bytes(v);
        if (v->kind == VAL_STATE)
            st->state_bytes += bytes(v);
        if (v->is_param || v->trainable) {
            l->params += numel(v);
            l->param_bytes += bytes(v);
        }
    }
    for (int i = 0; i < n->n_out; i++) {
        const Value *v = ir_out(g, n, i);
        if (v && mp && mp->offset[v->id] >= 0)
            l->workspace += bytes(v);
    }
    if (l->flops < 0)
        st->flops_partial = true;
    else
        st->flops += l->flops;
    st->params += l->params;
    st->param_bytes += l->param_bytes;
}

void sched_stats(const Graph *g, const Schedule *s, const MemPlan *mp, Arena *a, ModelStats *st)
{
    memset(st, 0, sizeof *st);
    st->n_layers = s->n;
    st->layers = arena_alloc(a, sizeof(LayerStats) * (size_t)(s->n + 1));
    bool *seen = arena_alloc(a, (size_t)g->n_values + 1);
    for (int k = 0; k < s->n; k++)
        layer_stats(g, g->nodes[s->order[k]], mp, seen, &st->layers[k], st);
    for (int k = 0; k < g->n_outputs; k++) { /* a folded output is a constant too */
        const Value *v = g->values[g->outputs[k]];
        if (v->kind == VAL_CONST && first_time(seen, v))
            st->const_bytes += bytes(v);
    }
    st->workspace = mp ? mp->size : 0;
    st->lower_bound = mp ? mp->lower_bound : 0;
}

/* ---- printing ---- */

/* "1,234,567" into buf; "?" for a negative (unknown) count. */
static const char *grouped(int64_t v, char *buf, size_t n)
{
    if (v < 0) {
        snprintf(buf, n, "?");
        return buf;
    }
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)v), o = 0;
    for (int i = 0; i < len && o + 2 < (int)n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* "407,080 bytes (397.5 KiB)" */
static const char *size_text(int64_t v, char *buf, size_t n)
{
    char g[40];
    grouped(v, g, sizeof g);
    if (v >= 1024 * 1024)
        snprintf(buf, n, "%s bytes (%.1f MiB)", g, (double)v / (1024.0 * 1024.0));
    else if (v >= 1024)
        snprintf(buf, n, "%s bytes (%.1f KiB)", g, (double)v / 1024.0);
    else
        snprintf(buf, n, "%s bytes", g);
    return buf;
}

/* The first output's dtype[shape], "+N" for more outputs. */
static const char *output_text(const Graph *g, const Node *n, char *buf, size_t size)
{
    int count = 0;
    buf[0] = '\0';
    for (int i = 0; i < n->n_out; i++) {
        const Value *v = ir_out(g, n, i);
        if (!v)
            continue;
        if (count++ == 0) {
            char s[160];
            snprintf(buf, size, "%s[%s]", dtype_name(v->dtype), shape_str(&v->shape, s, sizeof s));
        }
    }
    if (count > 1) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, " +%d", count - 1);
    }
    return buf;
}

static void print_layer(StrBuf *out, const Graph *g, int k, const LayerStats *l)
{
    const Node *n = g->nodes[l->node];
    char shape[200], f[32], p[32], w[32], s[32];
    sb_printf(out, "%5d  %-24.24s %-20.20s %-24.24s %15s %12s %12s %10s\n", k, n->name,
              n->op_name ? n->op_name : op_info[n->op].name, output_text(g, n, shape, sizeof shape),
              grouped(l->flops, f, sizeof f), grouped(l->params, p, sizeof p),
              grouped(l->workspace, w, sizeof w), grouped(l->scratch, s, sizeof s));
}

void sched_stats_print(const Graph *g, const ModelStats *st, StrBuf *out)
{
    char a[64], b[64];
    if (st->entry)
        sb_printf(out, "%s:\n", st->entry);
    sb_printf(out, "%5s  %-24s %-20s %-24s %15s %12s %12s %10s\n", "layer", "node", "op", "output",
              "FLOPs", "params", "workspace B", "scratch B");
    for (int k = 0; k < st->n_layers; k++)
        print_layer(out, g, k, &st->layers[k]);
    sb_printf(out, "total: %d layers, %s%s FLOPs\n", st->n_layers, grouped(st->flops, a, sizeof a),
              st->flops_partial ? "+?" : "");
    sb_printf(out, "parameters: %s = %s\n", grouped(st->params, a, sizeof a),
              size_text(st->param_bytes, b, sizeof b));
    sb_printf(out, "weights: %s (constants and first values: rodata, or P.bin with "
                   "--weights file)\n", size_text(st->const_bytes, a, sizeof a));
    if (st->state_bytes > 0)
        sb_printf(out, "state: %s at the start of the workspace (trained parameters, optimizer "
                       "moments, running statistics)\n", size_text(st->state_bytes, a, sizeof a));
    /* the lower bound: the most bytes live at one step of this entry's schedule */
    sb_printf(out, "workspace: %s of tensors, liveness lower bound %s", size_text(st->workspace, a,
              sizeof a), grouped(st->lower_bound, b, sizeof b));
    if (st->lower_bound > 0)
        sb_printf(out, " (%.2fx the bound)", (double)st->workspace / (double)st->lower_bound);
    sb_printf(out, "\n");
    if (st->workspace_total > 0)
        sb_printf(out, "workspace to allocate (P_WORKSPACE_SIZE): %s%s\n",
                  size_text(st->workspace_total, a, sizeof a),
                  st->plus_pool ? " + sizeof(kiln_pool) (--threads)" : "");
}
