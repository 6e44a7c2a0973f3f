/* k_gemm.c — kernels of Gemm, MatMul and MatMulInteger (ONNX spec:
 * Y = alpha * A' * B' + beta * C; the MatMuls as numpy.matmul). f32 products
 * big enough to pay for packing go through the blocked path below: a
 * BLIS-style loop nest around the target's micro-kernel (templates/), with
 * constant operands pre-packed at compile time and the bias fused into the
 * epilogue. Everything else runs plain loop nests ordered so the inner loop
 * walks contiguous memory; tests/kernels checks the micro-kernels against
 * such naive loops. */
#include "k_gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tile.h"
#include "tune.h"

/* ---- fused activations (the kiln Fused* ops) ---- */

GemmAct gemm_act_of(const Node *n)
{
    GemmAct a = {GEMM_ACT_NONE, -INFINITY, INFINITY};
    const char *name = ir_attr_str(n, "activation", NULL);
    if (!name)
        return a;
    switch (op_from_name(name)) {
    case OP_Relu: a.code = GEMM_ACT_RELU; break;
    case OP_LeakyRelu: a.code = GEMM_ACT_LEAKY, a.alpha = ir_attr_float(n, "activation_alpha", 0.01); break;
    case OP_Clip:
        a.code = GEMM_ACT_CLIP;
        a.alpha = ir_attr_float(n, "activation_alpha", -INFINITY);
        a.beta = ir_attr_float(n, "activation_beta", INFINITY);
        break;
    case OP_Sigmoid: a.code = GEMM_ACT_SIGMOID; break;
    case OP_Tanh: a.code = GEMM_ACT_TANH; break;
    case OP_HardSwish: a.code = GEMM_ACT_HARDSWISH; break;
    default: KILN_ASSERT(!"a fused op names an activation the fusion pass never makes");
    }
    return a;
}

const char *gemm_act_expr(Emitter *e, const GemmAct *a, DType dt, const char *x)
{
    const char *zero = emit_flit(e, 0, dt), *one = emit_flit(e, 1, dt);
#define P(...) arena_printf(e->arena, __VA_ARGS__)
    switch (a->code) {
    case GEMM_ACT_RELU: return P("%s > %s ? %s : %s", x, zero, x, zero);
    case GEMM_ACT_LEAKY:
        return P("%s >= %s ? %s : %s * %s", x, zero, x, emit_flit(e, a->alpha, dt), x);
    case GEMM_ACT_CLIP: {
        const char *lo = emit_flit(e, a->alpha, dt), *hi = emit_flit(e, a->beta, dt), *t = x;
        if (a->alpha != -INFINITY)
            t = P("(%s < %s ? %s : %s)", x, lo, lo, x);
        return a->beta == INFINITY ? t : P("%s > %s ? %s : %s", t, hi, hi, t);
    }
    case GEMM_ACT_SIGMOID: { /* no overflow of exp for large |x| */
        const char *ex = emit_math(e, dt, "exp");
        return P("%s >= %s ? %s / (%s + %s(-%s)) : %s(%s) / (%s + %s(%s))", x, zero, one, one, ex,
                 x, ex, x, one, ex, x);
    }
    case GEMM_ACT_TANH: return P("%s(%s)", emit_math(e, dt, "tanh"), x);
    case GEMM_ACT_HARDSWISH:
        return P("%s * %s(%s, %s(%s, %s * %s + %s))", x, emit_math(e, dt, "fmax"), zero,
                 emit_math(e, dt, "fmin"), one, x, emit_flit(e, 1.0 / 6, dt), emit_flit(e, 0.5, dt));
    default: return x;
    }
#undef P
}

void emit_act_loop(Emitter *e, const GemmAct *a, DType dt, const char *y, int64_t count)
{
    if (a->code == GEMM_ACT_NONE)
        return;
    emit_line(e, "/* the fused activation */");
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)count);
    emit_line(e, "const %s v = %s[i];", dtype_ctype(dt), y);
    emit_line(e, "%s[i] = %s;", y, gemm_act_expr(e, a, dt, "v"));
    emit_close(e);
}

/* ---- the blocked path ---- */

/* A target's micro-kernel (templates/kiln_gemm_*.h). */
typedef struct GemmIsa {
    const char *desc, *header, *block;
    int mr, nr;
    const char *gemv;   /* the batch-1 kernel (templates/kiln_gemv.h), or NULL: the
                         * micro-kernel's single-row path does better */
    int gemv_w, gemv_s; /* its panel and strip widths */
} GemmIsa;

/* x86-64-v4 CPUs run the AVX2 GEMV: it streams B at the memory's pace
 * already, wider vectors would not read it faster. SSE2 and NEON keep their
 * micro-kernels' 1xNR single-row kernels (bench/: 784->128 at batch 1 on
 * SSE2 took 3x longer through the plain-C GEMV); generic takes the plain-C
 * GEMV, faster than its 6x4 micro-kernel there. */
static const GemmIsa isa_avx2 = {"AVX2+FMA", "kiln_gemm_avx2.h", "kiln_sgemm_avx2_block", 6, 16,
                                 "kiln_sgemv_avx2", 64, 8};
static const GemmIsa isa_avx512 = {"AVX-512F", "kiln_gemm_avx512.h", "kiln_sgemm_avx512_block",
                                   8, 32, "kiln_sgemv_avx2", 64, 8};
static const GemmIsa isa_sse2 = {"SSE2", "kiln_gemm_sse2.h", "kiln_sgemm_sse2_block", 6, 8,
                                 NULL, 0, 0};
static const GemmIsa isa_neon = {"NEON", "kiln_gemm_neon.h", "kiln_sgemm_neon_block", 8, 12,
                                 NULL, 0, 0};
static const GemmIsa isa_generic = {"plain C", "kiln_gemm_generic.h", "kiln_sgemm_generic_block",
                                    6, 4, "kiln_sgemv_generic", 16, 4};

static const GemmIsa *gemm_isa(const Emitter *e)
{
    switch (e->target) {
    case TARGET_X86_64_V4:
        return &isa_avx512;
    case TARGET_X86_64_V3:
        return &isa_avx2;
    case TARGET_X86_64:
        return &isa_sse2;
    case TARGET_AARCH64:
        return &isa_neon;
    case TARGET_GENERIC:
        break;
    }
    return &isa_generic;
}

void gemm_micro_tile(Target target, int *mr, int *nr)
{
    const Emitter e = {.target = target};
    *mr = gemm_isa(&e)->mr;
    *nr = gemm_isa(&e)->nr;
}

bool gemm_blocked_pays(const Emitter *e, int64_t M, int64_t N, int64_t K)
{
    const int64_t limit = (int64_t)1 << 30; /* keeps every index in an int */
    if (M * K >= limit || K * N >= limit || M * N >= limit)
        return false;
    /* a product of a few thousand FMAs, or a B narrower than half a panel
     * (at most 8 columns), is faster without packing: the plain loops run
     * at a few GFLOPS, so even a mostly empty 32-wide AVX-512 panel wins
     * (the MLP's 64x10x128 output layer: 21.6 us in plain loops, kiln bench) */
    const int nr = gemm_isa(e)->nr;
    return M * N * K >= 4096 && N * 2 >= (nr < 16 ? nr : 16) && K >= 4;
}

/* One float of packed data as a C literal, exact (%.9g round-trips f32). */
static void float_literal(float x, char *buf, size_t n)
{
    if (x != x) {
        snprintf(buf, n, "NAN");
    } else if (isinf(x)) {
        snprintf(buf, n, x < 0 ? "-INFINITY" : "INFINITY");
    } else {
        snprintf(buf, n, "%.9g", (double)x);
        if (!strpbrk(buf, ".en"))
            strcat(buf, ".0");
        strcat(buf, "f");
    }
}

/* The name of constant operand o of p packed whole into panels of r (A:
 * rows of p->M, B: columns of p->N; strip > 0: B in the GEMV layout of
 * panel width r and strip width strip), printed into the prelude once per
 * layout. */
static const char *emit_packed_const(Emitter *e, const BlockedGemm *p, bool is_a, int r,
                                     int strip)
{
    const GemmOperand *o = is_a ? &p->a : &p->b;
    int64_t rows = is_a ? p->M : p->N;
    int64_t numel = strip ? sched_packed_gemv_numel(p->K, rows, r, strip)
                          : sched_packed_numel(rows, p->K, r);
    const char *key = arena_printf(e->arena, "packed %d %c %lld %lld %lld %lld %lld %d %d",
                                   o->value->id, is_a ? 'a' : 'b', (long long)o->offset,
                                   (long long)o->rs, (long long)o->cs, (long long)rows,
                                   (long long)p->K, r, strip);
    int slot = e->n_prelude_keys;
    for (int i = 0; i < e->n_prelude_keys; i++)
        if (strcmp(e->prelude_keys[i], key) == 0)
            slot = i;
    const char *name = arena_printf(e->arena, "kiln_packed_%s_%d",
                                    emit_ident(e->arena, o->value->name), slot);
    if (slot < e->n_prelude_keys)
        return name;
    float *data = arena_alloc(e->arena, sizeof(float) * (size_t)numel);
    const float *src = (const float *)o->value->data + o->offset;
    StrBuf sb = {0};
    if (strip) {
        sched_pack_b_gemv(src, o->rs, o->cs, p->K, p->N, r, strip, data);
        sb_printf(&sb, "/* %s as B panels of %d columns for the GEMV kernel, the last one "
                       "%lld wide: %lld x [%lld][...] */\n",
                  emit_ident(e->arena, o->value->name), r,
                  (long long)(numel / p->K - p->N / r * r), (long long)((p->N + r - 1) / r),
                  (long long)p->K);
    } else {
        if (is_a)
            sched_pack_a(src, o->rs, o->cs, p->M, p->K, r, data);
        else
            sched_pack_b(src, o->rs, o->cs, p->K, p->N, r, data);
        sb_printf(&sb, "/* %s as %s panels of %d %s: [%lld][%lld][%d] */\n",
                  emit_ident(e->arena, o->value->name), is_a ? "A" : "B", r,
                  is_a ? "rows" : "columns", (long long)(numel / (p->K * r)), (long long)p->K, r);
    }
    sb_printf(&sb, "static const float %s[%lld] = {\n", name, (long long)numel);
    char lit[48];
    for (int64_t k = 0; k < numel; k++) {
        float_literal(data[k], lit, sizeof lit);
        sb_printf(&sb, "%s%s%s", k % 6 == 0 ? "    " : "", lit,
                  k + 1 == numel ? "\n" : (k % 6 == 5 ? ",\n" : ", "));
    }
    sb_printf(&sb, "};\n\n");
    emit_prelude_once(e, key, sb.buf);
    sb_free(&sb);
    return name;
}

/* "base + v1 * m1 + v2 * m2" leaving out zero terms and unit factors. */
static const char *offset_expr(Emitter *e, const char *base, const char *v1, int64_t m1,
                               const char *v2, int64_t m2)
{
    const char *r = base;
    const char *v[2] = {v1, v2};
    int64_t m[2] = {m1, m2};
    for (int i = 0; i < 2; i++) {
        if (m[i] == 0)
            continue;
        r = m[i] == 1 ? arena_printf(e->arena, "%s + %s", r, v[i])
                      : arena_printf(e->arena, "%s + %s * %lld", r, v[i], (long long)m[i]);
    }
    return r;
}

/* Opens "for (int v = 0; v < total; v += step)" and declares the block's
 * extent ext (a constant when step divides total). */
static void emit_block_loop(Emitter *e, const char *v, const char *ext, int64_t total,
                            int64_t step)
{
    if (step > total)
        step = total;
    emit_open(e, "for (int %s = 0; %s < %lld; %s += %lld)", v, v, (long long)total, v,
              (long long)step);
    if (total % step == 0)
        emit_line(e, "const int %s = %lld;", ext, (long long)step);
    else
        emit_line(e, "const int %s = %lld - %s < %lld ? %lld - %s : %lld;", ext, (long long)total,
                  v, (long long)step, (long long)total, v, (long long)step);
}

/* The comment above the loop nest: shape, kernel, blocks, packing. */
static void emit_blocked_comment(Emitter *e, const BlockedGemm *p, const GemmIsa *isa,
                                 const GemmTiles *t, const char *pa, const char *pb,
                                 bool a_direct)
{
    emit_line(e, "/* %lldx%lldx%lld (M x N x K) on the %dx%d %s micro-kernel;", (long long)p->M,
              (long long)p->N, (long long)p->K, isa->mr, isa->nr, isa->desc);
    if (e->tuning && sched_tune_find(e->tuning, p->node))
        emit_line(e, " * cache blocks mc %lld, nc %lld, kc %lld (measured by kiln tune).",
                  (long long)t->mc, (long long)t->nc, (long long)t->kc);
    else
        emit_line(e, " * cache blocks mc %lld, nc %lld, kc %lld (L1d %lld KiB, L2 %lld KiB).",
                  (long long)t->mc, (long long)t->nc, (long long)t->kc,
                  (long long)(sched_cache_default.l1d / 1024),
                  (long long)(sched_cache_default.l2 / 1024));
    emit_line(e, " * A: %s; B: %s. */",
              pa ? arena_printf(e->arena, "pre-packed (%s)", pa)
                 : a_direct ? "read in place" : "packed per block",
              pb ? arena_printf(e->arena, "pre-packed (%s)", pb)
                 : (p->b.src == GEMM_CONV_B    ? "gathered from the image per block"
                    : p->b.src == GEMM_CONV_BT ? "im2col^T gathered from the image per block"
                    : p->b.src == GEMM_CONV_WIDE && isa == &isa_avx512
                        ? "read in place from the padded image"
                    : p->b.src == GEMM_CONV_WIDE ? "rows of the padded image copied per block"
                                               : "packed per block"));
}
/* Where the micro-kernel finds an operand's panels for the block at (row
 * or column) r0 and k offset pc: *ptr and the panel stride *ps; packed
 * names the pre-packed constant, or NULL for the scratch block. */
static void operand_panels(Emitter *e, const char *packed,
                           const char *scratch, int r, int64_t K, const char *r0,
                           const char **ptr, const char **ps)
{
    if (packed) { /* panel r0 / r of the whole packed operand, at row pc */
        *ptr = arena_printf(e->arena, "%s + %s * %lld + pc * %d", packed, r0, (long long)K, r);
        *ps = arena_printf(e->arena, "%lld", (long long)(K * r));
    } else {
        *ptr = scratch;
        *ps = arena_printf(e->arena, "kc * %d", r);
    }
}

GemmThreads gemm_threads(const Emitter *e, int64_t flops)
{
    /* waking the pool costs some microseconds: 2^18 multiply-adds take
     * about as long on one core */
    return e->threads > 1 && flops >= ((int64_t)1 << 18) ? GEMM_SPLIT : GEMM_ONE;
}

static const char *const act_name[] = {"KILN_ACT_NONE", "KILN_ACT_RELU", "KILN_ACT_LEAKY",
                                       "KILN_ACT_CLIP", "KILN_ACT_SIGMOID", "KILN_ACT_TANH",
                                       "KILN_ACT_HARDSWISH"};

/* Declares ep, p's epilogue (bias: the C expression of its origin). */
static void emit_epilogue(Emitter *e, const BlockedGemm *p, const char *bias, bool is_const)
{
    emit_line(e, "%skiln_sgemm_epi ep = {%s, %s, %s, %lld, %lld, %s, %s, %s, NULL, %lld};",
              is_const ? "const " : "", emit_flit(e, p->alpha, DT_F32),
              emit_flit(e, p->beta, DT_F32), bias ? bias : "NULL", (long long)p->bias_rs,
              (long long)p->bias_cs, act_name[p->act.code],
              emit_flit(e, p->act.code == GEMM_ACT_NONE ? 0 : p->act.alpha, DT_F32),
              emit_flit(e, p->act.code == GEMM_ACT_NONE ? 0 : p->act.beta, DT_F32),
              (long long)p->mask_rs);
}

/* GEMM_SPLIT: splits the output over the pool's parts by columns (or,
 * when it has more row tiles, by rows) in whole micro-tiles, so every part
 * sees the same tile grid (and sums in the same order) as one thread would;
 * declares the part's share v_lo, v_hi of the split extent. *split_n or
 * *split_m says which. */
static void emit_split(Emitter *e, const BlockedGemm *p, const GemmIsa *isa, bool *split_n,
                       bool *split_m)
{
    *split_n = *split_m = false;
    if (p->threads != GEMM_SPLIT)
        return;
    int64_t tiles_n = (p->N + isa->nr - 1) / isa->nr, tiles_m = (p->M + isa->mr - 1) / isa->mr;
    *split_n = tiles_n >= tiles_m;
    *split_m = !*split_n;
    e->parts = emit_parts(e, *split_n ? tiles_n : tiles_m);
    const char *v = *split_n ? "jc" : "ic";
    int r = *split_n ? isa->nr : isa->mr;
    emit_line(e, "int %s_lo, %s_hi; /* this part's share, in whole tiles of %d */", v, v, r);
    emit_line(e, "kiln_pool_range(%lld, %d, part, parts, &%s_lo, &%s_hi);",
              (long long)(*split_n ? p->N : p->M), r, v, v);
}

/* Opens the block loop v by step over [v_lo, v_hi) (emit_split) and
 * declares the block's extent ext. */
static void emit_part_loop(Emitter *e, const char *v, const char *ext, int64_t step)
{
    emit_open(e, "for (int %s = %s_lo; %s < %s_hi; %s += %lld)", v, v, v, v, v, (long long)step);
    emit_line(e, "const int %s = %s_hi - %s < %lld ? %s_hi - %s : %lld;", ext, v, v,
              (long long)step, v, v, (long long)step);
}

/* The scratch pointers pa and pb (for the operands not pre-packed), past
 * the caller's first off bytes. On the pool every thread gets its own
 * scratch (model.c). */
static void emit_scratch(Emitter *e, int64_t off, bool pa, bool pb, int64_t a_bytes,
                         int64_t b_bytes)
{
    int64_t bytes = off + (a_bytes + b_bytes + 63) / 64 * 64;
    if (bytes > e->scratch)
        e->scratch = bytes;
    if (!pa && off)
        emit_line(e, "float *pa = (float *)((unsigned char *)scratch + %lld);", (long long)off);
    else if (!pa)
        emit_line(e, "float *pa = (float *)scratch;");
    if (!pb && off + a_bytes)
        emit_line(e, "float *pb = (float *)((unsigned char *)scratch + %lld);",
                  (long long)(off + a_bytes));
    else if (!pb)
        emit_line(e, "float *pb = (float *)scratch;");
}

/* The batch-1 path: one row of A times a constant B, which is pre-packed
 * for the target's GEMV kernel and streamed once with no k blocks; the
 * epilogue (bias, activation) as the blocked path's. GEMM_SPLIT: each part
 * streams its own whole panels of B (the last part the narrower one). */
static void emit_gemv(Emitter *e, const BlockedGemm *p, const GemmIsa *isa)
{
    bool avx2 = strcmp(isa->gemv, "kiln_sgemv_avx2") == 0;
    emit_prelude_once(e, "kiln_gemv.h", "#include \"kiln_gemv.h\"\n\n");
    if (avx2)
        e->needs_avx2 = true;
    const char *pb = emit_packed_const(e, p, false, isa->gemv_w, isa->gemv_s);
    emit_line(e, "/* 1x%lldx%lld (M x N x K) GEMV on the %s kernel: B pre-packed (%s) in panels",
              (long long)p->N, (long long)p->K, avx2 ? "AVX2+FMA" : "plain C", pb);
    emit_line(e, " * of %d columns, streamed once. */", isa->gemv_w);
    int64_t panels = (p->N + isa->gemv_w - 1) / isa->gemv_w;
    if (p->threads != GEMM_SPLIT || panels < 2) {
        emit_epilogue(e, p, p->bias, true);
        emit_line(e, "%s(%lld, %lld, %s, %s, %s, &ep);", isa->gemv, (long long)p->N,
                  (long long)p->K, p->a.expr, pb, p->y);
        return;
    }
    e->parts = emit_parts(e, panels);
    emit_line(e, "int jc_lo, jc_hi; /* this part's share, in whole panels of %d */", isa->gemv_w);
    emit_line(e, "kiln_pool_range(%lld, %d, part, parts, &jc_lo, &jc_hi);", (long long)p->N,
              isa->gemv_w);
    emit_epilogue(e, p, p->bias ? offset_expr(e, p->bias, "jc_lo", p->bias_cs, "", 0) : NULL,
                  true);
    emit_line(e, "%s(jc_hi - jc_lo, %lld, %s, %s + jc_lo * %lld, %s + jc_lo, &ep);", isa->gemv,
              (long long)p->K, p->a.expr, pb, (long long)p->K, p->y);
}

/* --tuning: the file's blocks for this GEMM replace the analytical ones,
 * when they fit its shape and the micro-kernel (else the entry records the
 * problem, reported after emission with the file's line). */
static void tune_apply(Emitter *e, const BlockedGemm *p, const GemmIsa *isa, GemmTiles *t)
{
    TuneEntry *te = sched_tune_find(e->tuning, p->node);
    if (!te)
        return;
    if (te->M != p->M || te->N != p->N || te->K != p->K)
        te->problem = arena_printf(e->tuning->arena, "node '%s' is %lldx%lldx%lld (M x N x K) in this "
                                   "model, not %lldx%lldx%lld", p->node, (long long)p->M,
                                   (long long)p->N, (long long)p->K, (long long)te->M,
                                   (long long)te->N, (long long)te->K);
    else if (te->mc % isa->mr || te->nc % isa->nr)
        te->problem = arena_printf(e->tuning->arena, "node '%s': mc=%lld and nc=%lld must be multiples "
                                   "of the %dx%d micro-kernel's %d and %d", p->node,
                                   (long long)te->mc, (long long)te->nc, isa->mr, isa->nr,
                                   isa->mr, isa->nr);
    else if (te->kc > p->K)
        te->problem = arena_printf(e->tuning->arena, "node '%s': kc=%lld is more than K=%lld", p->node,
                                   (long long)te->kc, (long long)p->K);
    if (te->problem)
        return;
    te->used = true;
    t->mc = te->mc;
    t->kc = te->kc;
    t->nc = te->nc;
}

void emit_gemm_blocked(Emitter *e, const BlockedGemm *p)
{
    const GemmIsa *isa = gemm_isa(e);
    if (isa->gemv && p->M == 1 && p->a.src == GEMM_RUNTIME && p->a.cs == 1 && p->b.src == GEMM_CONST &&
        !p->fresh && !p->accumulate && !p->mask) { /* no cache blocks to tune */
        emit_gemv(e, p, isa);
        return;
    }
    /* AVX-512 reads the B of a convolution on wide rows straight from the
     * padded image (kiln_sgemm_avx512_block_x: no packing, so no column
     * blocks), A then packed; else a runtime A with unit row or column
     * stride in place (kiln_sgemm_avx512_block_a), unless it has fewer rows
     * than a tile */
    bool b_direct = isa == &isa_avx512 && p->b.src == GEMM_CONV_WIDE;
    bool a_direct = isa == &isa_avx512 && p->a.src == GEMM_RUNTIME && p->M >= isa->mr &&
                    (p->a.cs == 1 || p->a.rs == 1) && !b_direct;
    GemmTiles t;
    sched_tile_gemm(&sched_cache_default, isa->mr, isa->nr, p->M, p->N, p->K, &t);
    if (b_direct)
        t.nc = p->N;
    /* then a B stored transposed is packed one panel at a time, used from
     * L1 right after its transposition, when A (read again for every panel)
     * stays in L2: the MLP's 64x128x784 training layer, 59.8-60.3 -> 58.2-58.7
     * us (kiln bench, three runs alternated) */
    if (a_direct && p->b.src == GEMM_RUNTIME && p->b.rs == 1 && p->b.cs != 1 &&
        p->M * p->K * (int64_t)sizeof(float) <= sched_cache_default.l2 / 2)
        t.nc = isa->nr;
    if (e->tuning && p->node)
        tune_apply(e, p, isa, &t);
    if (e->tuning && e->tuning->collect && p->node)
        sched_tune_record(e->tuning, p->node, p->M, p->N, p->K, &t);
    emit_prelude_once(e, isa->header, arena_printf(e->arena, "#include \"%s\"\n\n", isa->header));
    if (isa == &isa_avx2)
        e->needs_avx2 = true;
    if (isa == &isa_avx512)
        e->needs_avx512 = true;
    if (p->b.src == GEMM_CONV_BT)
        emit_prelude_once(e, "kiln_conv_grad.h", "#include \"kiln_conv_grad.h\"\n\n");
    const char *pa = p->a.src == GEMM_CONST ? emit_packed_const(e, p, true, isa->mr, 0) : NULL;
    const char *pb = p->b.src == GEMM_CONST    ? emit_packed_const(e, p, false, isa->nr, 0)
                     : p->b.src == GEMM_PACKED ? p->b.expr
                                               : NULL;
    /* scratch past the caller's: the A block, then the B block, each 64-byte aligned */
    int64_t a_bytes = pa || a_direct ? 0 : (t.mc * t.kc * 4 + 63) / 64 * 64;
    int64_t b_bytes = pb ? 0 : b_direct ? t.kc * 4 : t.kc * t.nc * 4;
    bool split_n, split_m;
    emit_blocked_comment(e, p, isa, &t, pa, pb, a_direct);
    emit_scratch(e, p->scratch_off, pa || a_direct, pb != NULL || b_direct, a_bytes, b_bytes);
    if (b_direct)
        emit_line(e, "int *koff = (int *)((unsigned char *)scratch + %lld); /* B's rows in the "
                     "image */", (long long)(p->scratch_off + a_bytes));
    emit_split(e, p, isa, &split_n, &split_m);
    emit_epilogue(e, p, NULL, false);
    if (split_n)
        emit_part_loop(e, "jc", "nc", t.nc);
    else
        emit_block_loop(e, "jc", "nc", p->N, t.nc);
    emit_block_loop(e, "pc", "kc", p->K, t.kc);
    if (p->accumulate)
        emit_line(e, "const int flags = pc + kc == %lld ? KILN_SGEMM_LAST : 0; /* y += A * B */",
                  (long long)p->K);
    else
        emit_line(e, "const int flags = (pc == 0%s%s ? KILN_SGEMM_FIRST : 0) | (pc + kc == %lld ? "
                     "KILN_SGEMM_LAST : 0);", p->fresh ? " && " : "", p->fresh ? p->fresh : "",
                  (long long)p->K);
    if (p->b.src == GEMM_RUNTIME && isa == &isa_avx512 && p->b.rs == 1 && p->b.cs != 1)
        emit_line(e, "kiln_sgemm_avx512_pack_bt(kc, nc, %s, %lld, pb); /* B stored transposed */",
                  offset_expr(e, p->b.expr, "pc", 1, "jc", p->b.cs), (long long)p->b.cs);
    else if (p->b.src == GEMM_RUNTIME && isa == &isa_avx512 && p->b.cs == 1)
        emit_line(e, "kiln_sgemm_avx512_pack_b(kc, nc, %s, %lld, pb);",
                  offset_expr(e, p->b.expr, "pc", p->b.rs, "jc", 1), (long long)p->b.rs);
    else if (p->b.src == GEMM_RUNTIME)
        emit_line(e, "kiln_sgemm_pack_b(%d, kc, nc, %s, %lld, %lld, pb);", isa->nr,
                  offset_expr(e, p->b.expr, "pc", p->b.rs, "jc", p->b.cs), (long long)p->b.rs,
                  (long long)p->b.cs);
    else if (b_direct)
        emit_line(e, "kiln_conv_wide_offsets(kc, pc, &%s, koff);", p->b.geom);
    else if (p->b.src == GEMM_CONV_B || p->b.src == GEMM_CONV_BT || p->b.src == GEMM_CONV_WIDE)
        emit_line(e, "kiln_sgemm_pack_b_conv%s(%d, kc, nc, pc, jc, %s, &%s, pb);",
                  p->b.src == GEMM_CONV_BT ? "_t" : p->b.src == GEMM_CONV_WIDE ? "_wide" : "",
                  isa->nr, p->b.expr, p->b.geom);
    if (split_m)
        emit_part_loop(e, "ic", "mc", t.mc);
    else
        emit_block_loop(e, "ic", "mc", p->M, t.mc);
    if (!pa && !a_direct)
        emit_line(e, "kiln_sgemm_pack_a(%d, mc, kc, %s, %lld, %lld, pa);", isa->mr,
                  offset_expr(e, p->a.expr, "ic", p->a.rs, "pc", p->a.cs), (long long)p->a.rs,
                  (long long)p->a.cs);
    if (p->bias)
        emit_line(e, "ep.bias = %s;", offset_expr(e, p->bias, "ic", p->bias_rs, "jc", p->bias_cs));
    if (p->mask)
        emit_line(e, "ep.mask = %s;", offset_expr(e, p->mask, "ic", p->mask_rs, "jc", 1));
    const char *ap, *aps, *bp, *bps;
    operand_panels(e, pa, "pa", isa->mr, p->K, "ic", &ap, &aps);
    operand_panels(e, pb, "pb", isa->nr, p->K, "jc", &bp, &bps);
    if (b_direct)
        emit_line(e, "kiln_sgemm_avx512_block_x(mc, nc, kc, %s, %s, %s, koff, %s, %lld, &ep, flags);",
                  ap, aps, offset_expr(e, p->b.expr, "jc", 1, "", 0),
                  offset_expr(e, p->y, "ic", p->ldy, "jc", 1), (long long)p->ldy);
    else if (a_direct)
        emit_line(e, "kiln_sgemm_avx512_block_a(mc, nc, kc, %s, %lld, %lld, %s, %s, %s, %lld, &ep, "
                     "flags);", offset_expr(e, p->a.expr, "ic", p->a.rs, "pc", p->a.cs),
                  (long long)p->a.rs, (long long)p->a.cs, bp, bps,
                  offset_expr(e, p->y, "ic", p->ldy, "jc", 1), (long long)p->ldy);
    else
        emit_line(e, "%s(mc, nc, kc, %s, %s, %s, %s, %s, %lld, &ep, flags);", isa->block, ap, aps,
                  bp, bps, offset_expr(e, p->y, "ic", p->ldy, "jc", 1), (long long)p->ldy);
    emit_close(e);
    emit_close(e);
    emit_close(e);
}

void emit_gemm_product(Emitter *e, int64_t M, int64_t N, int64_t K, GemmOperand a,
                       GemmOperand b, const char *y, int64_t ldy, bool accumulate,
                       int64_t own_scratch)
{
    BlockedGemm p = {.M = M, .N = N, .K = K, .a = a, .b = b, .y = y, .ldy = ldy, .alpha = 1,
                     .beta = 1, .accumulate = accumulate,
                     .scratch_off = (own_scratch + 63) / 64 * 64};
    emit_line(e, "{");
    e->indent++;
    emit_gemm_blocked(e, &p);
    emit_close(e);
}

/* ---- plain loops ---- */

/* One [M,K] x [K,N] product at offsets a_off, b_off, y_off (C expressions),
 * accumulating into y which the caller initialised. trans_b: B is [N,K]. */
static void emit_matmul_block(Emitter *e, DType dt, int64_t M, int64_t N, int64_t K,
                              bool trans_a, bool trans_b, const char *a, const char *b,
                              const char *y, const char *alpha)
{
    const char *t = dtype_ctype(dt);
    const char *a_mk = trans_a ? arena_printf(e->arena, "%s[k * %lld + m]", a, (long long)M)
                               : arena_printf(e->arena, "%s[m * %lld + k]", a, (long long)K);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)M);
    if (trans_b) {
        /* B is [N,K]: a dot product per output along contiguous K */
        emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
        emit_line(e, "%s acc = %s;", t, emit_lit(e, 0, dt));
        emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
        emit_line(e, "acc += %s * %s[n * %lld + k];", a_mk, b, (long long)K);
        emit_close(e);
        emit_line(e, "%s[m * %lld + n] += %sacc;", y, (long long)N, alpha);
        emit_close(e);
    } else {
        /* B is [K,N]: rank-1 updates along contiguous N */
        emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
        emit_line(e, "const %s a_mk = %s%s;", t, alpha, a_mk);
        emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
        emit_line(e, "%s[m * %lld + n] += a_mk * %s[k * %lld + n];", y, (long long)N, b,
                  (long long)N);
        emit_close(e);
        emit_close(e);
    }
    emit_close(e);
}

/* Operand i of n as the blocked path reads it: a constant (pre-packed) or
 * the parameter, element (r, c) at r * rs + c * cs. */
static void gemm_operand(Emitter *e, const Graph *g, const Node *n, int i, int64_t rs,
                         int64_t cs, GemmOperand *o)
{
    const Value *v = ir_in(g, n, i);
    *o = (GemmOperand){.src = GEMM_RUNTIME, .expr = e->in_name[i], .rs = rs, .cs = cs};
    if (v->kind == VAL_CONST && v->data && e->pack_constants) {
        o->src = GEMM_CONST;
        o->value = v;
    }
}

/* Whether a product with one row of A (M = 1) goes through the GEMV path
 * of the blocked code: B (input 1 of n) a constant to pre-pack. */
static bool gemv_pays(const Emitter *e, const Graph *g, const Node *n, int64_t M, int64_t K)
{
    const Value *b = ir_in(g, n, 1);
    return gemm_isa(e)->gemv && M == 1 && K >= 4 && shape_numel(&b->shape) < ((int64_t)1 << 30) &&
           b->kind == VAL_CONST && b->data && e->pack_constants;
}

/* Gemm (opset 1–13): Y [M,N] = alpha * A' * B' + beta * C with A [M,K] or
 * [K,M] (transA), B [K,N] or [N,K] (transB), C broadcast to [M,N] (dropped
 * by the shape rule when beta is 0). FusedGemm: then its activation, or
 * with a fourth input X [M,N] (pass/fuse_grad_mask.c) Relu's gradient:
 * Y = X > 0 ? Y : 0. */
bool k_gemm(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *c = ir_in(g, n, 2), *y = ir_out(g, n, 0);
    DType dt = y->dtype;
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = y->shape.dims[0], N = y->shape.dims[1], K = a->shape.dims[ta ? 0 : 1];
    if (dt == DT_F32 && (gemm_blocked_pays(e, M, N, K) || gemv_pays(e, g, n, M, K))) {
        BlockedGemm p = {.M = M, .N = N, .K = K, .y = e->out_name[0], .ldy = N,
                         .alpha = alpha, .beta = beta, .act = gemm_act_of(n),
                         .threads = gemm_threads(e, M * N * K), .node = n->name};
        gemm_operand(e, g, n, 0, ta ? 1 : K, ta ? M : 1, &p.a);
        gemm_operand(e, g, n, 1, tb ? 1 : N, tb ? K : 1, &p.b);
        if (c && beta != 0) {
            int64_t st[IR_MAX_RANK];
            emit_bcast_strides(&y->shape, &c->shape, 1, st);
            p.bias = e->in_name[2], p.bias_rs = st[0], p.bias_cs = st[1];
        }
        if (n->n_in > 3 && n->in[3] >= 0)
            p.mask = e->in_name[3], p.mask_rs = N;
        emit_gemm_blocked(e, &p);
        return true;
    }
    /* y = beta * C (broadcast), or 0 */
    EmitLoops l = {.rank = 2, .dims = {M, N}, .n_ops = 2};
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    if (c && beta != 0)
        emit_bcast_strides(&y->shape, &c->shape, 1, l.strides[1]);
    emit_loops_open(e, &l);
    if (c && beta != 0) {
        const char *scale =
            beta == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_lit(e, beta, dt));
        emit_line(e, "%s[%s] = %s%s[%s];", e->out_name[0], l.idx[0], scale, e->in_name[2],
                  l.idx[1]);
    } else {
        emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], emit_lit(e, 0, dt));
    }
    emit_loops_close(e, &l);
    const char *al = alpha == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_lit(e, alpha, dt));
    emit_matmul_block(e, dt, M, N, K, ta, tb, e->in_name[0], e->in_name[1], e->out_name[0], al);
    GemmAct act = gemm_act_of(n);
    emit_act_loop(e, &act, dt, e->out_name[0], M * N);
    if (n->n_in > 3 && n->in[3] >= 0) {
        emit_line(e, "/* the fused Relu gradient: zero where the Relu's input was not positive */");
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)(M * N));
        emit_line(e, "%s[i] = %s[i] > %s ? %s[i] : %s;", e->out_name[0], e->in_name[3],
                  emit_lit(e, 0, dt), e->out_name[0], emit_lit(e, 0, dt));
        emit_close(e);
    }
    return true;
}

/* numpy.matmul's operands as [batch…, M, K] x [batch…, K, N]: 1-D A is
 * [1,K], 1-D B is [K,1]. */
static void matmul_dims(const Value *a, const Value *b, Shape *sa, Shape *sb, int64_t *M,
                        int64_t *K, int64_t *N)
{
    *sa = a->shape, *sb = b->shape;
    if (sa->rank == 1) {
        sa->rank = 2;
        sa->dims[1] = sa->dims[0];
        sa->dims[0] = 1;
    }
    if (sb->rank == 1) {
        sb->rank = 2;
        sb->dims[1] = 1;
    }
    *M = sa->dims[sa->rank - 2], *K = sa->dims[sa->rank - 1], *N = sb->dims[sb->rank - 1];
}

/* Zeroes y (when zero) and opens the loops over the broadcast batch dims;
 * *pa, *pb, *py name the current [M,K], [K,N] and [M,N] blocks. */
static void emit_batch_open(Emitter *e, const Graph *g, const Node *n, bool zero, EmitLoops *l,
                            const char **pa, const char **pb, const char **py)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(a, b, &sa, &sb, &M, &K, &N);
    if (zero)
        emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
                  (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    /* batch dims: the output's leading dims, with A and B broadcast */
    Shape batch = y->shape, ba = sa, bb = sb;
    batch.rank = sa.rank > sb.rank ? sa.rank - 2 : sb.rank - 2;
    ba.rank -= 2;
    bb.rank -= 2;
    *l = (EmitLoops){.rank = batch.rank, .n_ops = 3};
    memcpy(l->dims, batch.dims, sizeof l->dims);
    emit_bcast_strides(&batch, &batch, M * N, l->strides[0]);
    emit_bcast_strides(&batch, &ba, M * K, l->strides[1]);
    emit_bcast_strides(&batch, &bb, K * N, l->strides[2]);
    emit_loops_open(e, l);
    *pa = e->in_name[0], *pb = e->in_name[1], *py = e->out_name[0];
    if (l->depth > 0) {
        emit_line(e, "const %s *a = %s + %s;", dtype_ctype(a->dtype), *pa, l->idx[1]);
        emit_line(e, "const %s *b = %s + %s;", dtype_ctype(b->dtype), *pb, l->idx[2]);
        emit_line(e, "%s *y = %s + %s;", dtype_ctype(y->dtype), *py, l->idx[0]);
        *pa = "a", *pb = "b", *py = "y";
    }
}

/* MatMul's blocked path. When B has no batch of its own (a weight), A's
 * batch folds into M: one product of [batch*M, K] x [K, N]. Otherwise one
 * blocked product per batch, a constant operand pre-packed only when every
 * batch shares it. */
static void emit_matmul_blocked(Emitter *e, const Graph *g, const Node *n, int64_t M, int64_t N,
                                int64_t K)
{
    int64_t ba = shape_numel(&ir_in(g, n, 0)->shape) / (M * K);
    int64_t bb = shape_numel(&ir_in(g, n, 1)->shape) / (K * N);
    BlockedGemm p = {.M = M, .N = N, .K = K, .y = e->out_name[0], .ldy = N, .alpha = 1, .beta = 1,
                     .act = gemm_act_of(n),
                     .threads = gemm_threads(e, (ba > bb ? ba : bb) * M * N * K),
                     .node = n->name};
    gemm_operand(e, g, n, 0, K, 1, &p.a);
    gemm_operand(e, g, n, 1, N, 1, &p.b);
    if (bb == 1) {
        p.M = ba * M;
        emit_gemm_blocked(e, &p);
        return;
    }
    EmitLoops l;
    const char *pa, *pb, *py;
    emit_batch_open(e, g, n, false, &l, &pa, &pb, &py);
    p.y = py;
    if (ba > 1)
        p.a = (GemmOperand){.src = GEMM_RUNTIME, .expr = pa, .rs = K, .cs = 1};
    p.b = (GemmOperand){.src = GEMM_RUNTIME, .expr = pb, .rs = N, .cs = 1};
    emit_gemm_blocked(e, &p);
    emit_loops_close(e, &l);
}

/* MatMul (opset 1–13): numpy.matmul with 1-D promotion and broadcast batch
 * dims. FusedMatMul: then its activation. */
bool k_matmul(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(ir_in(g, n, 0), ir_in(g, n, 1), &sa, &sb, &M, &K, &N);
    int64_t rows = shape_numel(&y->shape) / N; /* M with A's batch folded in */
    bool b_batched = shape_numel(&ir_in(g, n, 1)->shape) > K * N;
    if (y->dtype == DT_F32 &&
        (gemm_blocked_pays(e, M, N, K) || (!b_batched && gemv_pays(e, g, n, rows, K)))) {
        emit_matmul_blocked(e, g, n, M, N, K);
        return true;
    }
    EmitLoops l;
    const char *pa, *pb, *py;
    emit_batch_open(e, g, n, true, &l, &pa, &pb, &py);
    emit_matmul_block(e, y->dtype, M, N, K, false, false, pa, pb, py, "");
    emit_loops_close(e, &l);
    GemmAct act = gemm_act_of(n);
    emit_act_loop(e, &act, y->dtype, e->out_name[0], shape_numel(&y->shape));
    return true;
}

/* MatMulInteger (opset 10): Y (int32) = (A - a_zero_point) x (B - b_zero_point), as
 * numpy.matmul; zero points are scalars, per row of A or per column of B. */
bool k_matmul_integer(Emitter *e, const Graph *g, const Node *n)
{
    const Value *azp = ir_in(g, n, 2), *bzp = ir_in(g, n, 3);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(ir_in(g, n, 0), ir_in(g, n, 1), &sa, &sb, &M, &K, &N);
    const char *za = "", *zb = "";
    if (azp)
        za = arena_printf(e->arena, " - (int32_t)%s[%s]", e->in_name[2],
                          shape_numel(&azp->shape) == 1 ? "0" : "m");
    if (bzp)
        zb = arena_printf(e->arena, " - (int32_t)%s[%s]", e->in_name[3],
                          shape_numel(&bzp->shape) == 1 ? "0" : "n");
    EmitLoops l;
    const char *pa, *pb, *py;
    emit_batch_open(e, g, n, true, &l, &pa, &pb, &py);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)M);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
    emit_line(e, "const int32_t a_mk = (int32_t)%s[m * %lld + k]%s;", pa, (long long)K, za);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_line(e, "%s[m * %lld + n] += a_mk * ((int32_t)%s[k * %lld + n]%s);", py, (long long)N, pb,
              (long long)N, zb);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_loops_close(e, &l);
    return true;
}
