/* k_train_conv.c — kernels of the kiln-domain backward ops of the
 * convolution, pooling, normalization and dropout family
 * (ir/ops_train_conv.def, built by pass/grad_conv.c): plain loop nests
 * over statically known shapes. Window geometry comes from the canonical
 * attributes the forward shape rule wrote (pass/shapes_conv.c); reductions
 * accumulate in double. */
#include "emit.h"
#include "k_gemm.h"

#include <string.h>

static int64_t prod(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

static void emit_close_n(Emitter *e, int count)
{
    for (int i = 0; i < count; i++)
        emit_close(e);
}

/* ---- sliding windows ---- */

/* Windows sit at positions p (dY's spatial dims for the pools and Conv's
 * dW; X's for ConvTranspose's dW) and reach taps p*s - pb + k*d of an
 * extent (X, or ConvTranspose's dY). */
typedef struct Win {
    int nsp;
    int64_t pos[IR_MAX_RANK], ext[IR_MAX_RANK];
    int64_t k[IR_MAX_RANK], s[IR_MAX_RANK], d[IR_MAX_RANK], pb[IR_MAX_RANK], pe[IR_MAX_RANK];
} Win;

static void win_ints(const Node *n, const char *name, int count, int64_t *out)
{
    const Attr *a = ir_attr(n, name);
    KILN_ASSERT(a && a->type == ATTR_INTS && a->n == count); /* canonical form */
    memcpy(out, a->ints, sizeof(int64_t) * (size_t)count);
}

static void win_read(const Node *n, const Shape *pos, const Shape *ext, Win *w)
{
    int64_t pads[2 * IR_MAX_RANK];
    w->nsp = pos->rank - 2;
    win_ints(n, "kernel_shape", w->nsp, w->k);
    win_ints(n, "strides", w->nsp, w->s);
    win_ints(n, "dilations", w->nsp, w->d);
    win_ints(n, "pads", 2 * w->nsp, pads);
    for (int j = 0; j < w->nsp; j++) {
        w->pos[j] = pos->dims[j + 2];
        w->ext[j] = ext->dims[j + 2];
        w->pb[j] = pads[j];
        w->pe[j] = pads[j + w->nsp];
    }
}

/* "v * mul + add", leaving out a unit factor and a zero term. */
static const char *affine(Emitter *e, const char *v, int64_t mul, int64_t add)
{
    const char *t = mul == 1 ? v : arena_printf(e->arena, "%s * %lld", v, (long long)mul);
    if (add == 0)
        return t;
    return arena_printf(e->arena, "%s %c %lld", t, add < 0 ? '-' : '+',
                        (long long)(add < 0 ? -add : add));
}

/* Row-major flat index over dims of the coordinate expressions. */
static const char *flat(Emitter *e, int nsp, const char *const *coord, const int64_t *dims)
{
    StrBuf sb = {0};
    for (int j = 0; j < nsp; j++) {
        int64_t stride = prod(dims + j + 1, nsp - j - 1);
        if (sb.len)
            sb_append(&sb, " + ", 3);
        if (stride == 1)
            sb_printf(&sb, "%s", coord[j]);
        else
            sb_printf(&sb, strchr(coord[j], ' ') ? "(%s) * %lld" : "%s * %lld", coord[j],
                      (long long)stride);
    }
    const char *r = arena_strdup(e->arena, sb.len ? sb.buf : "0");
    sb_free(&sb);
    return r;
}

/* The flat index of "<v><j>" over dims (positions "o", taps "k", …). */
static const char *flat_vars(Emitter *e, int nsp, const char *v, const int64_t *dims)
{
    const char *coord[IR_MAX_RANK] = {0};
    for (int j = 0; j < nsp; j++)
        coord[j] = arena_printf(e->arena, "%s%d", v, j);
    return flat(e, nsp, coord, dims);
}

/* Index in the extent of tap k<j> of the window at position o<j>, whose
 * first tap is at<j> (declared, with_at) or o<j>*s - pb. */
static const char *tap_index(Emitter *e, const Win *w, bool with_at)
{
    const char *coord[IR_MAX_RANK] = {0};
    for (int j = 0; j < w->nsp; j++) {
        const char *at = with_at ? arena_printf(e->arena, "at%d", j)
                                 : affine(e, arena_printf(e->arena, "o%d", j), w->s[j], -w->pb[j]);
        const char *k = affine(e, arena_printf(e->arena, "k%d", j), w->d[j], 0);
        coord[j] = arena_printf(e->arena, "%s + %s", at, k);
    }
    return flat(e, w->nsp, coord, w->ext);
}

/* The loops over taps k<j> from lo<j> to hi<j> (or the whole kernel where
 * no window of dim j is cut by the extent's borders). */
static void emit_taps_open(Emitter *e, const Win *w, const bool *cut_lo, const bool *cut_hi)
{
    for (int j = 0; j < w->nsp; j++) {
        const char *lo = cut_lo[j] ? arena_printf(e->arena, "lo%d", j) : "0";
        const char *hi = cut_hi[j] ? arena_printf(e->arena, "hi%d", j)
                                   : arena_printf(e->arena, "%lld", (long long)w->k[j]);
        emit_open(e, "for (int k%d = %s; k%d < %s; k%d++)", j, lo, j, hi, j);
    }
}

/* Whether some window of dim j has taps before 0 / at or past end. */
static bool cuts_lo(const Win *w, int j)
{
    return w->pb[j] > 0;
}

static bool cuts_hi(const Win *w, int j, int64_t end)
{
    return (w->pos[j] - 1) * w->s[j] - w->pb[j] + (w->k[j] - 1) * w->d[j] >= end;
}

/* Declares, for the window at position o<j> (first tap at<j>), the taps
 * inside [0, end): lo<j> <= k<j> < hi<j>, where cut. */
static void emit_tap_range(Emitter *e, const Win *w, int j, int64_t end, const char *lo,
                           const char *hi)
{
    long long d = w->d[j], k = w->k[j];
    if (lo && d == 1)
        emit_line(e, "const int %s = at%d < 0 ? -at%d : 0;", lo, j, j);
    else if (lo)
        emit_line(e, "const int %s = at%d < 0 ? (%lld - at%d) / %lld : 0;", lo, j, d - 1, j, d);
    if (hi && d == 1)
        emit_line(e, "const int %s = %lld - at%d < %lld ? %lld - at%d : %lld;", hi, (long long)end,
                  j, k, (long long)end, j, k);
    else if (hi)
        emit_line(e, "const int %s = (%lld - at%d) / %lld < %lld ? (%lld - at%d) / %lld : %lld;", hi,
                  (long long)end + d - 1, j, d, k, (long long)end + d - 1, j, d, k);
}

/* The loops over window positions o<j>, declaring at<j> (the first tap)
 * and the tap range inside the extent where windows are cut. */
static void emit_positions_open(Emitter *e, const Win *w, bool *cut_lo, bool *cut_hi)
{
    for (int j = 0; j < w->nsp; j++) {
        cut_lo[j] = cuts_lo(w, j);
        cut_hi[j] = cuts_hi(w, j, w->ext[j]);
        emit_open(e, "for (int o%d = 0; o%d < %lld; o%d++)", j, j, (long long)w->pos[j], j);
        emit_line(e, "const int at%d = %s;", j,
                  affine(e, arena_printf(e->arena, "o%d", j), w->s[j], -w->pb[j]));
        emit_tap_range(e, w, j, w->ext[j], cut_lo[j] ? arena_printf(e->arena, "lo%d", j) : NULL,
                       cut_hi[j] ? arena_printf(e->arena, "hi%d", j) : NULL);
    }
}

/* ---- ConvWeightGrad ---- */

/* For tap k<j>: the positions p<j> whose tap lands inside the extent,
 * plo<j> <= p<j> < phi<j>, declared where some tap needs them; returns
 * the bound expressions through lo / hi. */
static void emit_position_range(Emitter *e, const Win *w, int j, const char **lo, const char **hi)
{
    long long s = w->s[j], pb = w->pb[j], P = w->pos[j], E = w->ext[j];
    const char *kd = affine(e, arena_printf(e->arena, "k%d", j), w->d[j], 0);
    const char *per_s = s == 1 ? "" : arena_printf(e->arena, " / %lld", s);
    *lo = "0";
    *hi = arena_printf(e->arena, "%lld", P);
    if (pb > 0) {
        emit_line(e, "const int plo%d = %s < %lld ? (%lld - %s)%s : 0;", j, kd, pb, pb + s - 1, kd,
                  per_s);
        *lo = arena_printf(e->arena, "plo%d", j);
    }
    /* the first position past the extent: ceil((E + pb - k d) / s), least at the last tap */
    if ((E + pb - (w->k[j] - 1) * w->d[j] + s - 1) / s < P) {
        emit_line(e, "int phi%d = (%lld - %s)%s; /* <= 0: no position */", j, E + pb + s - 1, kd,
                  per_s);
        emit_line(e, "phi%d = phi%d < %lld ? phi%d : %lld;", j, j, P, j, P);
        *hi = arena_printf(e->arena, "phi%d", j);
    }
}

/* Prints "const kiln_conv_geom NAME = {…};": the im2col geometry of w over
 * an extent of c channels (a 1-D window as height 1). */
static void emit_conv_geom(Emitter *e, const char *name, int64_t c, const Win *w)
{
    int j = w->nsp - 1; /* the width dim */
    bool two = w->nsp == 2;
    emit_line(e, "const kiln_conv_geom %s = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
                 "%lld, %lld, %lld, %lld, %lld};",
              name, (long long)c, (long long)(two ? w->ext[0] : 1), (long long)w->ext[j],
              (long long)(two ? w->k[0] : 1), (long long)w->k[j], (long long)(two ? w->s[0] : 1),
              (long long)w->s[j], (long long)(two ? w->d[0] : 1), (long long)w->d[j],
              (long long)(two ? w->pb[0] : 0), (long long)w->pb[j],
              (long long)(two ? w->pos[0] : 1), (long long)w->pos[j]);
}

/* ConvWeightGrad of group 1 in 1-D/2-D f32 as one blocked GEMM per image,
 * accumulated over the batch:
 *   dW [Ca, Cb*K] += A_n [Ca, P] x im2col(B_n)^T [P, Cb*K]
 * with im2col^T gathered from B_n into the micro-kernel's panels
 * (kiln_sgemm_pack_b_conv_t); the first image starts dW afresh. The
 * target's micro-kernel, --tuning's blocks for the node, --threads' split
 * of dW's tiles as for any blocked GEMM. */
static void emit_conv_weight_grad_blocked(Emitter *e, const Graph *g, const Node *n,
                                          const Win *w)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    int64_t ca = a->shape.dims[1], cb = b->shape.dims[1];
    int64_t psz = prod(w->pos, w->nsp), esz = prod(w->ext, w->nsp), ksz = prod(w->k, w->nsp);
    emit_conv_geom(e, "geom", cb, w);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)a->shape.dims[0]);
    emit_line(e, "const float *a = %s + n * %lld;", e->in_name[0], (long long)(ca * psz));
    emit_line(e, "const float *b = %s + n * %lld;", e->in_name[1], (long long)(cb * esz));
    /* --threads: every part takes its own tiles of dW through all images */
    BlockedGemm p = {.M = ca, .N = cb * ksz, .K = psz, .y = e->out_name[0], .ldy = cb * ksz,
                     .alpha = 1, .beta = 1, .fresh = "n == 0", .node = n->name,
                     .threads = gemm_threads(e, a->shape.dims[0] * ca * cb * ksz * psz)};
    p.a = (GemmOperand){.src = GEMM_RUNTIME, .expr = "a", .rs = psz, .cs = 1};
    p.b = (GemmOperand){.src = GEMM_CONV_BT, .expr = "b", .geom = "geom"};
    emit_gemm_blocked(e, &p);
    emit_close(e);
}

/* Whether ConvWeightGrad windows w take emit_conv_weight_grad_wide:
 * stride 1, the wide rows at most twice the real ones, and at least 64
 * positions a dot product, for the blocks' reductions to pay off
 * (kiln bench, LeNet's training step at batch 64, medians of 30: conv1's
 * 896 positions 270 -> 205 us on x86-64-v4, 278 -> 284 us on v3; conv2's
 * 140 (144 in whole vectors) 590 -> 527 us on v4, 772 -> 714 us on v3). */
static bool weight_grad_wide_pays(const Win *w)
{
    int j = w->nsp - 1;
    for (int i = 0; i < w->nsp; i++)
        if (w->s[i] != 1)
            return false;
    int64_t wp = w->pos[j] + w->d[j] * (w->k[j] - 1);
    return w->pos[j] * 2 >= wp && prod(w->pos, w->nsp - 1) * wp >= 64;
}

/* Copies, for image n, the [c, h, w] planes of src (rows of w) into
 * dst's planes of plane floats apart, each [hp, wp], at row/column offset
 * (pt, pl): as many rows and columns as fit. */
static void emit_copy_into_wide(Emitter *e, const char *dst, const char *src, int64_t c,
                                int64_t h, int64_t w, int64_t hp, int64_t wp, int64_t pt,
                                int64_t pl, int64_t plane)
{
    int64_t rows = h < hp - pt ? h : hp - pt, cols = w < wp - pl ? w : wp - pl;
    emit_open(e, "for (int r = 0; r < %lld; r++)", (long long)(c * rows));
    emit_line(e, "memcpy(%s + r / %lld * %lld + (r %% %lld + %lld) * %lld + %lld, %s + n * %lld + "
                 "(r / %lld * %lld + r %% %lld) * %lld, %lld * sizeof(float));",
              dst, (long long)rows, (long long)plane, (long long)rows, (long long)pt,
              (long long)wp, (long long)pl, src, (long long)(c * h * w), (long long)rows,
              (long long)h, (long long)rows, (long long)w, (long long)cols);
    emit_close(e);
}

/* ConvWeightGrad of group 1 and stride 1 in 1-D/2-D f32 on wide rows: a
 * few images at a time, each B_n padded into xp [Cb, hp, wp] and A_n laid
 * into ap [Ca, P], P = oh * wp rounded up to whole vectors (zeros past
 * the ow real columns of each row and past oh * wp), then
 *   dW [Ca, Cb*K] += the images' ap x (the taps' runs of xp)^T
 * by kiln_conv_wgrad_wide (templates/kiln_conv_grad.h), whose dot
 * products run along contiguous rows with no im2col gathered at all. */
static void emit_conv_weight_grad_wide(Emitter *e, const Graph *g, const Node *n, const Win *w)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    int64_t ca = a->shape.dims[1], cb = b->shape.dims[1], ksz = prod(w->k, w->nsp);
    int64_t batch = a->shape.dims[0];
    int j = w->nsp - 1;
    bool two = w->nsp == 2;
    int64_t wp = w->pos[j] + w->d[j] * (w->k[j] - 1);
    int64_t oh = two ? w->pos[0] : 1, hp = two ? w->pos[0] + w->d[0] * (w->k[0] - 1) : 1;
    /* the dot products run over oh * wp positions rounded up to whole
     * vectors (zeros in ap, the reads of xp past it in its slack) */
    int lanes = e->target == TARGET_X86_64_V4 ? 16 : e->target == TARGET_X86_64_V3 ? 8 : 4;
    const char *isa = e->target == TARGET_X86_64_V4 ? "_avx512"
                      : e->target == TARGET_X86_64_V3 ? "_avx2" : "";
    int64_t p = (oh * wp + lanes - 1) / lanes * lanes;
    int64_t xp_bytes = ((cb * hp * wp + w->d[j] * (w->k[j] - 1) + p - oh * wp) * 4 + 63) / 64 * 64;
    int64_t ap_bytes = (ca * p * 4 + 63) / 64 * 64;
    /* images per call: as many as keep their xp and ap within 32 KiB (the
     * L1 the blocks reread), at most 4, so that one reduction of the
     * accumulators serves them all */
    int64_t group = 32768 / (xp_bytes + ap_bytes);
    group = group < 1 ? 1 : group > 4 ? 4 : group > batch ? batch : group;
    if (group * (xp_bytes + ap_bytes) > e->scratch)
        e->scratch = group * (xp_bytes + ap_bytes);
    if (e->target == TARGET_X86_64_V4)
        e->needs_avx512 = true;
    else if (e->target == TARGET_X86_64_V3)
        e->needs_avx2 = true;
    emit_prelude_once(e, "kiln_conv_grad.h", "#include \"kiln_conv_grad.h\"\n\n");
    emit_line(e, "/* stride 1 on wide rows, %lld images at a time: xp each image padded to "
                 "[%lld, %lld, %lld], ap its dY on those rows (zeros past column %lld) */",
              (long long)group, (long long)cb, (long long)hp, (long long)wp, (long long)w->pos[j]);
    emit_line(e, "float *xp = (float *)scratch;");
    emit_line(e, "float *ap = (float *)((unsigned char *)scratch + %lld);",
              (long long)(group * xp_bytes));
    emit_line(e, "const kiln_conv_geom geom = {%lld, %lld, %lld, %lld, %lld, 1, 1, %lld, %lld, 0, "
                 "0, %lld, %lld};",
              (long long)cb, (long long)hp, (long long)wp, (long long)(two ? w->k[0] : 1),
              (long long)w->k[j], (long long)(two ? w->d[0] : 1), (long long)w->d[j],
              (long long)oh, (long long)wp);
    emit_line(e, "memset(xp, 0, %lld);", (long long)(group * (xp_bytes + ap_bytes)));
    emit_line(e, "memset(%s, 0, %lld * sizeof(float));", e->out_name[0], (long long)(ca * cb * ksz));
    emit_open(e, "for (int n0 = 0; n0 < %lld; n0 += %lld)", (long long)batch, (long long)group);
    emit_line(e, "const int images = %lld - n0 < %lld ? %lld - n0 : %lld;", (long long)batch,
              (long long)group, (long long)batch, (long long)group);
    emit_open(e, "for (int i = 0; i < images; i++)");
    emit_line(e, "const int n = n0 + i;");
    emit_line(e, "float *xpi = xp + i * %lld, *api = ap + i * %lld;", (long long)(xp_bytes / 4),
              (long long)(ap_bytes / 4));
    emit_copy_into_wide(e, "xpi", e->in_name[1], cb, two ? w->ext[0] : 1, w->ext[j], hp, wp,
                        two ? w->pb[0] : 0, w->pb[j], hp * wp);
    emit_copy_into_wide(e, "api", e->in_name[0], ca, oh, w->pos[j], oh, wp, 0, 0, p);
    emit_close(e);
    emit_line(e, "kiln_conv_wgrad_wide%s(%lld, %lld, images, %lld, %lld, ap, xp, &geom, %s);", isa,
              (long long)ca, (long long)p, (long long)(ap_bytes / 4), (long long)(xp_bytes / 4),
              e->out_name[0]);
    emit_close(e);
}

/* ConvWeightGrad: A = x0 [N, Ca, P...], B = x1 [N, Cb, E...] →
 * dW = y0 [Ca, Cb/group, K...],
 *   dW[ca, cb, k] = sum over n, p of A[n, ca, p] * B[n, g*Cb/group + cb, p*s - pb + k*d]
 * with g = ca's group and taps outside B skipped (zero padding). Dense
 * f32 1-D/2-D ones big enough run as GEMMs (emit_conv_weight_grad_blocked);
 * the rest as loops ca, cb, k..., then n and the positions whose tap k
 * lies inside B, accumulating in double. */
bool k_conv_weight_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *dw = ir_out(g, n, 0);
    const char *t = dtype_ctype(dw->dtype);
    Win w;
    win_read(n, &a->shape, &b->shape, &w);
    int64_t group = ir_attr_int(n, "group", 1), N = a->shape.dims[0];
    int64_t ca = a->shape.dims[1], cb = b->shape.dims[1], cag = ca / group, cbg = cb / group;
    int64_t psz = prod(w.pos, w.nsp), esz = prod(w.ext, w.nsp), ksz = prod(w.k, w.nsp);
    if (dw->dtype == DT_F32 && group == 1 && w.nsp <= 2 && w.nsp >= 1 &&
        gemm_blocked_pays(e, ca, cb * ksz, psz)) {
        if (weight_grad_wide_pays(&w))
            emit_conv_weight_grad_wide(e, g, n, &w);
        else
            emit_conv_weight_grad_blocked(e, g, n, &w);
        return true;
    }
    emit_open(e, "for (int ca = 0; ca < %lld; ca++)", (long long)ca);
    if (group > 1)
        emit_line(e, "const int cb0 = ca / %lld * %lld; /* the group's first B channel */",
                  (long long)cag, (long long)cbg);
    emit_open(e, "for (int cb = 0; cb < %lld; cb++)", (long long)cbg);
    emit_line(e, "%s *dw = %s + (ca * %lld + cb) * %lld;", t, e->out_name[0], (long long)cbg,
              (long long)ksz);
    const char *lo[IR_MAX_RANK], *hi[IR_MAX_RANK];
    for (int j = 0; j < w.nsp; j++) {
        emit_open(e, "for (int k%d = 0; k%d < %lld; k%d++)", j, j, (long long)w.k[j], j);
        emit_position_range(e, &w, j, &lo[j], &hi[j]);
    }
    emit_line(e, "double acc = 0.0;");
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_line(e, "const %s *a = %s + (n * %lld + ca) * %lld;", t, e->in_name[0], (long long)ca,
              (long long)psz);
    emit_line(e, "const %s *b = %s + (n * %lld + %s) * %lld;", t, e->in_name[1], (long long)cb,
              group > 1 ? "cb0 + cb" : "cb", (long long)esz);
    for (int j = 0; j < w.nsp; j++)
        emit_open(e, "for (int o%d = %s; o%d < %s; o%d++)", j, lo[j], j, hi[j], j);
    emit_line(e, "acc += %sa[%s] * b[%s];", dw->dtype == DT_F64 ? "" : "(double)",
              flat_vars(e, w.nsp, "o", w.pos), tap_index(e, &w, false));
    emit_close_n(e, w.nsp + 1);
    emit_line(e, dw->dtype == DT_F64 ? "dw[%s] = acc;%s" : "dw[%s] = (%s)acc;",
              flat_vars(e, w.nsp, "k", w.k), dw->dtype == DT_F64 ? "" : t);
    emit_close_n(e, w.nsp + 2);
    return true;
}

/* ---- PoolGrad ---- */

/* AveragePool's divisor for the window at at<j>: the taps inside X, or with
 * count_include_pad those inside the padded X (as the forward kernel,
 * emit/k_conv.c pool_count; keep in step). */
static const char *pool_count(Emitter *e, const Node *n, const Win *w, const bool *cut_lo,
                              const bool *cut_hi, DType dt)
{
    bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
    StrBuf sb = {0};
    int64_t constant = 1;
    for (int j = 0; j < w->nsp; j++) {
        const char *sep = sb.len ? " * " : "";
        if (include_pad && cuts_hi(w, j, w->ext[j] + w->pe[j])) {
            const char *name = arena_printf(e->arena, "phi%d", j);
            emit_tap_range(e, w, j, w->ext[j] + w->pe[j], NULL, name);
            sb_printf(&sb, "%s%s", sep, name);
        } else if (!include_pad && (cut_lo[j] || cut_hi[j])) {
            sb_printf(&sb, "%s(%s - %s)", sep,
                      cut_hi[j] ? arena_printf(e->arena, "hi%d", j)
                                : arena_printf(e->arena, "%lld", (long long)w->k[j]),
                      cut_lo[j] ? arena_printf(e->arena, "lo%d", j) : "0");
        } else {
            constant *= w->k[j];
        }
    }
    const char *r;
    if (!sb.len)
        r = emit_flit(e, (double)constant, dt);
    else if (constant > 1)
        r = arena_printf(e->arena, "(%s)(%s * %lld)", dtype_ctype(dt), sb.buf, (long long)constant);
    else
        r = arena_printf(e->arena, "(%s)(%s)", dtype_ctype(dt), sb.buf);
    sb_free(&sb);
    return r;
}

/* GlobalMaxPool / GlobalAveragePool backward: per (n, c) of S values, dX is
 * dY at the first maximum (zeros elsewhere), or dY / S everywhere. */
static void emit_global_pool_grad(Emitter *e, const Graph *g, const Node *n, bool is_max)
{
    const Value *x = ir_in(g, n, 1);
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt);
    int64_t nc = x->shape.dims[0] * x->shape.dims[1], size = shape_numel(&x->shape) / nc;
    emit_open(e, "for (int nc = 0; nc < %lld; nc++)", (long long)nc);
    emit_line(e, "%s *dx = %s + nc * %lld;", t, e->out_name[0], (long long)size);
    if (is_max) {
        emit_line(e, "const %s *x = %s + nc * %lld;", t, e->in_name[1], (long long)size);
        emit_line(e, "int best = 0;");
        emit_open(e, "for (int i = 1; i < %lld; i++)", (long long)size);
        emit_line(e, "if (x[i] > x[best])");
        emit_line(e, "    best = i;");
        emit_close(e);
        emit_line(e, "memset(dx, 0, %lld * sizeof(%s));", (long long)size, t);
        emit_line(e, "dx[best] = %s[nc];", e->in_name[0]);
    } else {
        emit_line(e, "const %s v = %s[nc] / %s;", t, e->in_name[0], emit_flit(e, (double)size, dt));
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)size);
        emit_line(e, "dx[i] = v;");
        emit_close(e);
    }
    emit_close(e);
}

/* Whether pooling windows w are 2x2 of stride 2 that tile X exactly: each
 * tap in exactly one window (LeNet's and most CNNs' max pools). */
static bool pool_2x2_tiles(const Win *w)
{
    bool tiles = w->nsp == 2;
    for (int j = 0; j < w->nsp && tiles; j++)
        tiles = w->k[j] == 2 && w->s[j] == 2 && w->d[j] == 1 && w->pb[j] == 0 &&
                w->pos[j] * 2 == w->ext[j];
    return tiles;
}

static const char keep_if[] =
    "/* g where keep is 1 and +0.0f where it is 0, selected on the bits: a\n"
    " * branch on pooled data would mispredict half the time. */\n"
    "static float kiln_keep_if(int keep, float g)\n"
    "{\n"
    "    uint32_t bits;\n"
    "    memcpy(&bits, &g, sizeof bits);\n"
    "    bits &= 0u - (uint32_t)keep;\n"
    "    memcpy(&g, &bits, sizeof g);\n"
    "    return g;\n"
    "}\n\n";

/* MaxPool's gradient over 2x2 windows of stride 2 tiling X (pool_2x2_tiles)
 * without branches: each window's taps a, b, c, d (scan order) get dY at
 * the first maximum, as the general loop picks it (a later tap wins only
 * when greater than all before it; NaN never wins), and zeros elsewhere,
 * every tap written once. */
static void emit_max_pool_grad_2x2(Emitter *e, const Shape *xs, const Win *w)
{
    long long oh = w->pos[0], ow = w->pos[1], iw = w->ext[1];
    emit_prelude_once(e, "kiln_keep_if", keep_if);
    emit_open(e, "for (int nc = 0; nc < %lld; nc++)", (long long)(xs->dims[0] * xs->dims[1]));
    emit_line(e, "const float *dy = %s + nc * %lld;", e->in_name[0], oh * ow);
    emit_open(e, "for (int o0 = 0; o0 < %lld; o0++)", oh);
    emit_open(e, "for (int o1 = 0; o1 < %lld; o1++)", ow);
    emit_line(e, "const int at = (nc * %lld + o0 * 2) * %lld + o1 * 2;", (long long)w->ext[0], iw);
    emit_line(e, "const float *x = %s + at;", e->in_name[1]);
    emit_line(e, "float *dx = %s + at;", e->out_name[0]);
    emit_line(e, "const float a = x[0], b = x[1], c = x[%lld], d = x[%lld];", iw, iw + 1);
    emit_line(e, "const int sb = b > a;");
    emit_line(e, "const float m1 = sb ? b : a;");
    emit_line(e, "const int sc = c > m1;");
    emit_line(e, "const float m2 = sc ? c : m1;");
    emit_line(e, "const int sd = d > m2;");
    emit_line(e, "const float g = dy[o0 * %lld + o1];", ow);
    emit_line(e, "dx[0] = kiln_keep_if(!(sb | sc | sd), g);");
    emit_line(e, "dx[1] = kiln_keep_if(sb & !sc & !sd, g);");
    emit_line(e, "dx[%lld] = kiln_keep_if(sc & !sd, g);", iw);
    emit_line(e, "dx[%lld] = kiln_keep_if(sd, g);", iw + 1);
    emit_close_n(e, 3);
}

/* PoolGrad: dY = x0 [N, C, O...], X = x1 [N, C, D...] → dX = y0 like X.
 *   MaxPool:     dX[first max tap of window o] += dY[o] (ties: the first in
 *                scan order, as the forward kernel and torch pick it)
 *   AveragePool: dX[each tap of window o inside X] += dY[o] / count(o)
 *   LpPool:      dX[each tap of window o inside X] += dY[o] (the window sum's
 *                adjoint; grad_lp_pool scales dY and X's part around it)
 * "of" names the forward op (ONNX MaxPool 1–12, AveragePool 1–19, LpPool
 * 1–18 and the global pools). */
bool k_pool_grad(Emitter *e, const Graph *g, const Node *n)
{
    OpKind of = op_from_name(ir_attr_str(n, "of", ""));
    if (of == OP_GlobalMaxPool || of == OP_GlobalAveragePool) {
        emit_global_pool_grad(e, g, n, of == OP_GlobalMaxPool);
        return true;
    }
    if (of != OP_MaxPool && of != OP_AveragePool && of != OP_LpPool) {
        ir_node_error(e->d, n, "kiln has no pooling gradient for '%s'", ir_attr_str(n, "of", "?"));
        return false;
    }
    const Value *dy = ir_in(g, n, 0), *x = ir_in(g, n, 1);
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt);
    Win w;
    win_read(n, &dy->shape, &x->shape, &w);
    int64_t insz = prod(w.ext, w.nsp), outsz = prod(w.pos, w.nsp);
    bool is_max = of == OP_MaxPool, cut_lo[IR_MAX_RANK] = {false}, cut_hi[IR_MAX_RANK] = {false};
    if (is_max && dt == DT_F32 && pool_2x2_tiles(&w)) {
        emit_max_pool_grad_2x2(e, &x->shape, &w);
        return true;
    }
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
              (long long)shape_numel(&x->shape), t);
    emit_open(e, "for (int nc = 0; nc < %lld; nc++)",
              (long long)(x->shape.dims[0] * x->shape.dims[1]));
    if (is_max)
        emit_line(e, "const %s *x = %s + nc * %lld;", t, e->in_name[1], (long long)insz);
    emit_line(e, "const %s *dy = %s + nc * %lld;", t, e->in_name[0], (long long)outsz);
    emit_line(e, "%s *dx = %s + nc * %lld;", t, e->out_name[0], (long long)insz);
    emit_positions_open(e, &w, cut_lo, cut_hi);
    const char *tap = tap_index(e, &w, true), *at = flat_vars(e, w.nsp, "o", w.pos);
    if (is_max) {
        const char *first[IR_MAX_RANK] = {0};
        for (int j = 0; j < w.nsp; j++)
            first[j] = cut_lo[j] ? arena_printf(e->arena, "at%d + %s", j,
                                                affine(e, arena_printf(e->arena, "lo%d", j), w.d[j], 0))
                                 : arena_printf(e->arena, "at%d", j);
        emit_line(e, "int best = %s;", flat(e, w.nsp, first, w.ext));
        emit_taps_open(e, &w, cut_lo, cut_hi);
        emit_line(e, "const int i = %s;", tap);
        emit_line(e, "if (x[i] > x[best])");
        emit_line(e, "    best = i;");
        emit_close_n(e, w.nsp);
        emit_line(e, "dx[best] += dy[%s];", at);
    } else {
        if (of == OP_LpPool)
            emit_line(e, "const %s v = dy[%s];", t, at);
        else
            emit_line(e, "const %s v = dy[%s] / %s;", t, at,
                      pool_count(e, n, &w, cut_lo, cut_hi, dt));
        emit_taps_open(e, &w, cut_lo, cut_hi);
        emit_line(e, "dx[%s] += v;", tap);
        emit_close_n(e, w.nsp);
    }
    emit_close_n(e, w.nsp + 1);
    return true;
}

/* ---- normalization backward ---- */

/* Opens loops n, s over the values of channel c of X [N, C, S] and
 * declares i, their index. */
static void emit_channel_open(Emitter *e, const char *N, int64_t C, int64_t S)
{
    emit_open(e, "for (int n = 0; n < %s; n++)", N);
    emit_open(e, "for (int s = 0; s < %lld; s++)", (long long)S);
    emit_line(e, "const int i = (n * %lld + c) * %lld + s;", (long long)C, (long long)S);
}

/* Declares mean and inv_std of x[base + j], j < count (biased variance, eps). */
static void emit_stats(Emitter *e, const char *x, const char *at, int64_t count, double eps)
{
    emit_line(e, "double sum = 0.0, sq = 0.0;");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)count);
    emit_line(e, "sum += %s[%s];", x, at);
    emit_close(e);
    emit_line(e, "const double mean = sum / %lld.0;", (long long)count);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)count);
    emit_line(e, "const double v = %s[%s] - mean;", x, at);
    emit_line(e, "sq += v * v;");
    emit_close(e);
    emit_line(e, "const double inv_std = 1.0 / sqrt(sq / %lld.0 + %.17g);", (long long)count, eps);
}

/* BatchNormGrad in training mode over f32: the formulas below on the
 * vector loops of templates/kiln_norm_grad.h, one call per image's
 * contiguous S values of channel c, the totals accumulated in double; dX
 * as a dY + b x + c0 with the coefficients worked out in double. rows: the
 * images walked ("nb" on a run-time batch, whose padded rows the caller
 * zeroed), count: the C expression of their values per channel. */
static void emit_batchnorm_grad_vector(Emitter *e, const char *rows, const char *count, int64_t C,
                                       int64_t S, double eps)
{
    const char **in = e->in_name, **out = e->out_name;
    emit_prelude_once(e, "kiln_norm_grad.h", "#include \"kiln_norm_grad.h\"\n\n");
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "/* the batch statistics of channel c */");
    emit_line(e, "double sum = 0.0, sq = 0.0, sum_dy = 0.0, sum_dy_xhat = 0.0;");
    emit_open(e, "for (int n = 0; n < %s; n++)", rows);
    emit_line(e, "sum += kiln_norm_sum(%s + (n * %lld + c) * %lld, %lld);", in[1], (long long)C,
              (long long)S, (long long)S);
    emit_close(e);
    emit_line(e, "const double mean = sum / %s;", count);
    emit_open(e, "for (int n = 0; n < %s; n++)", rows);
    emit_line(e, "sq += kiln_norm_sum_sq(%s + (n * %lld + c) * %lld, %lld, (float)-mean);", in[1],
              (long long)C, (long long)S, (long long)S);
    emit_close(e);
    emit_line(e, "const double inv_std = 1.0 / sqrt(sq / %s + %.17g);", count, eps);
    emit_open(e, "for (int n = 0; n < %s; n++)", rows);
    emit_line(e, "const int at = (n * %lld + c) * %lld;", (long long)C, (long long)S);
    emit_line(e, "float dy_n;");
    emit_line(e, "sum_dy_xhat += kiln_norm_sum_dy_dev(%s + at, %s + at, %lld, (float)-mean, &dy_n);",
              in[0], in[1], (long long)S);
    emit_line(e, "sum_dy += dy_n;");
    emit_close(e);
    emit_line(e, "sum_dy_xhat *= inv_std;");
    if (out[1])
        emit_line(e, "%s[c] = (float)sum_dy_xhat;", out[1]);
    if (out[2])
        emit_line(e, "%s[c] = (float)sum_dy;", out[2]);
    emit_line(e, "/* dX = k (dY - sum_dy / M - xhat sum_dy_xhat / M) = k dY + kx x + k0 */");
    emit_line(e, "const double k = %s[c] * inv_std, kx = -k * inv_std * sum_dy_xhat / %s;",
              in[2], count);
    emit_line(e, "const double k0 = -k * sum_dy / %s - kx * mean;", count);
    emit_open(e, "for (int n = 0; n < %s; n++)", rows);
    emit_line(e, "const int at = (n * %lld + c) * %lld;", (long long)C, (long long)S);
    emit_line(e, "kiln_norm_affine2(%s + at, %s + at, %s + at, %lld, (float)k, (float)kx, "
                 "(float)k0);", out[0], in[0], in[1], (long long)S);
    emit_close(e);
    emit_close(e);
}

/* BatchNormGrad: dY = x0, X = x1 [N, C, S...], scale = x2 [C] (mean = x3,
 * var = x4 in inference mode) → dX = y0, dScale = y1, dBias = y2 [C]; per
 * channel over its M = N*S values, with xhat = (x - mean) inv_std:
 *   dBias = sum dY, dScale = sum dY xhat,
 *   dX = scale inv_std (dY - dBias / M - xhat dScale / M)   (training_mode)
 *   dX = scale inv_std dY                                     (inference)
 * the batch statistics recomputed from X as the forward pass made them
 * (f32 in training mode: emit_batchnorm_grad_vector). */
bool k_batchnorm_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 1);
    const char *t = dtype_ctype(x->dtype), **in = e->in_name, **out = e->out_name;
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], S = shape_numel(&x->shape) / (N * C);
    bool training = ir_attr_int(n, "training_mode", 0) != 0;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    /* a run-time batch (emit_batch): statistics and sums over the first nb
     * rows, dX zero in the padded ones */
    const char *rows = emit_batch(e, N);
    const char *count = e->batch_rows ? arena_printf(e->arena, "((double)nb * %lld.0)", (long long)S)
                                      : arena_printf(e->arena, "%lld.0", (long long)(N * S));
    emit_batch_zero_tail(e, out[0], N, C * S, x->dtype);
    if (training && x->dtype == DT_F32 && N * S < ((int64_t)1 << 30) / C) {
        emit_batchnorm_grad_vector(e, rows, count, C, S, eps);
        return true;
    }
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    if (training) {
        emit_line(e, "/* the batch statistics of channel c */");
        emit_line(e, "double sum = 0.0, sq = 0.0;");
        emit_channel_open(e, rows, C, S);
        emit_line(e, "sum += %s[i];", in[1]);
        emit_close_n(e, 2);
        emit_line(e, "const double mean = sum / %s;", count);
        emit_channel_open(e, rows, C, S);
        emit_line(e, "sq += (%s[i] - mean) * (%s[i] - mean);", in[1], in[1]);
        emit_close_n(e, 2);
        emit_line(e, "const double inv_std = 1.0 / sqrt(sq / %s + %.17g);", count, eps);
    } else {
        emit_line(e, "const double mean = %s[c];", in[3]);
        emit_line(e, "const double inv_std = 1.0 / sqrt((double)%s[c] + %.17g);", in[4], eps);
    }
    emit_line(e, "double sum_dy = 0.0, sum_dy_xhat = 0.0;");
    emit_channel_open(e, rows, C, S);
    emit_line(e, "sum_dy += %s[i];", in[0]);
    emit_line(e, "sum_dy_xhat += %s[i] * (%s[i] - mean) * inv_std;", in[0], in[1]);
    emit_close_n(e, 2);
    if (out[1])
        emit_line(e, "%s[c] = (%s)sum_dy_xhat;", out[1], t);
    if (out[2])
        emit_line(e, "%s[c] = (%s)sum_dy;", out[2], t);
    emit_line(e, "const double k = %s[c] * inv_std;", in[2]);
    emit_channel_open(e, rows, C, S);
    if (training)
        emit_line(e, "%s[i] = (%s)(k * (%s[i] - sum_dy / %s - (%s[i] - mean) * inv_std * "
                     "sum_dy_xhat / %s));",
                  out[0], t, in[0], count, in[1], count);
    else
        emit_line(e, "%s[i] = (%s)(k * %s[i]);", out[0], t, in[0]);
    emit_close_n(e, 3);
    return true;
}

/* InstanceNormGrad: dY = x0, X = x1 [N, C, S...], scale = x2 [C] → dX = y0,
 * dScale = y1, dBias = y2 [C]: BatchNormGrad's training formula per (n, c)
 * over the S values, dScale and dBias summed over n. */
bool k_instancenorm_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 1);
    const char *t = dtype_ctype(x->dtype), **in = e->in_name, **out = e->out_name;
    int64_t N = x->shape.dims[0], C = x->shape.dims[1], S = shape_numel(&x->shape) / (N * C);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)C);
    emit_line(e, "double dscale = 0.0, dbias = 0.0;");
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_line(e, "const int base = (n * %lld + c) * %lld;", (long long)C, (long long)S);
    emit_stats(e, in[1], "base + j", S, ir_attr_float(n, "epsilon", 1e-5));
    emit_line(e, "double sum_dy = 0.0, sum_dy_xhat = 0.0;");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)S);
    emit_line(e, "sum_dy += %s[base + j];", in[0]);
    emit_line(e, "sum_dy_xhat += %s[base + j] * (%s[base + j] - mean) * inv_std;", in[0], in[1]);
    emit_close(e);
    emit_line(e, "dscale += sum_dy_xhat;");
    emit_line(e, "dbias += sum_dy;");
    emit_line(e, "const double k = %s[c] * inv_std;", in[2]);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)S);
    emit_line(e, "%s[base + j] = (%s)(k * (%s[base + j] - sum_dy / %lld.0 - (%s[base + j] - mean) "
                 "* inv_std * sum_dy_xhat / %lld.0));",
              out[0], t, in[0], (long long)S, in[1], (long long)S);
    emit_close_n(e, 2);
    if (out[1])
        emit_line(e, "%s[c] = (%s)dscale;", out[1], t);
    if (out[2])
        emit_line(e, "%s[c] = (%s)dbias;", out[2], t);
    emit_close(e);
    return true;
}

/* LayerNormGrad: dY = x0, X = x1 viewed as [R, D] (D: the dims from axis
 * on), scale = x2 [D] → dX = y0, dScale = y1, dBias = y2 [D]; per row,
 * with g_j = dY_j scale_j and xhat as the forward pass made it,
 *   dX_j = inv_std (g_j - mean(g) - xhat_j mean(g xhat)),
 * and dScale, dBias the sums over rows of dY xhat and dY (accumulated in
 * the outputs, row by row). */
bool k_layernorm_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 1);
    const char *t = dtype_ctype(x->dtype), **in = e->in_name, **out = e->out_name;
    int r = x->shape.rank, axis = (int)ir_attr_int(n, "axis", -1);
    axis = axis < 0 ? axis + r : axis;
    int64_t D = prod(x->shape.dims + axis, r - axis), R = shape_numel(&x->shape) / D;
    for (int i = 1; i < 3; i++)
        if (out[i])
            emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", out[i], (long long)D, t);
    emit_open(e, "for (int row = 0; row < %lld; row++)", (long long)R);
    emit_line(e, "const int base = row * %lld;", (long long)D);
    emit_stats(e, in[1], "base + j", D, ir_attr_float(n, "epsilon", 1e-5));
    emit_line(e, "double sum_g = 0.0, sum_g_xhat = 0.0;");
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)D);
    emit_line(e, "const double dy = %s[base + j], xhat = (%s[base + j] - mean) * inv_std;", in[0],
              in[1]);
    emit_line(e, "sum_g += dy * %s[j];", in[2]);
    emit_line(e, "sum_g_xhat += dy * %s[j] * xhat;", in[2]);
    if (out[1])
        emit_line(e, "%s[j] += (%s)(dy * xhat);", out[1], t);
    if (out[2])
        emit_line(e, "%s[j] += (%s)dy;", out[2], t);
    emit_close(e);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)D);
    emit_line(e, "const double xhat = (%s[base + j] - mean) * inv_std;", in[1]);
    emit_line(e, "%s[base + j] = (%s)(inv_std * (%s[base + j] * %s[j] - sum_g / %lld.0 - xhat * "
                 "sum_g_xhat / %lld.0));",
              out[0], t, in[0], in[2], (long long)D, (long long)D);
    emit_close_n(e, 2);
    return true;
}

/* ---- TrainDropout ---- */

static const char splitmix64[] =
    "/* SplitMix64's output function: a well-mixed 64-bit hash of z. */\n"
    "static uint64_t kiln_splitmix64(uint64_t z)\n"
    "{\n"
    "    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;\n"
    "    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;\n"
    "    return z ^ (z >> 31);\n"
    "}\n\n";

/* TrainDropout: X = x0, step = x1 (int64 scalar), ratio = x2 (or the
 * attribute) → Y = y0, mask = y1. Element k is kept when u_k >= ratio, u_k
 * uniform in [0, 1) from a counter-based generator keyed by (seed, step):
 * u_k = splitmix64(stream + k * golden) / 2^64 with stream = splitmix64(seed
 * ^ splitmix64(step)), so each training step draws a fresh mask and a run
 * replays exactly. Kept elements are scaled by 1 / (1 - ratio). */
bool k_train_dropout(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    const char *t = dtype_ctype(x->dtype);
    emit_prelude_once(e, "kiln_splitmix64", splitmix64);
    if (e->in_name[2])
        emit_line(e, "const double ratio = %s[0];", e->in_name[2]);
    else
        emit_line(e, "const double ratio = %.17g;", ir_attr_float(n, "ratio", 0.5));
    emit_line(e, "const %s scale = (%s)(ratio < 1.0 ? 1.0 / (1.0 - ratio) : 0.0);", t, t);
    emit_line(e, "const uint64_t stream = kiln_splitmix64(%lluu ^ kiln_splitmix64((uint64_t)%s[0]));",
              (unsigned long long)ir_attr_int(n, "seed", 0), e->in_name[1]);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)shape_numel(&x->shape));
    emit_line(e, "const uint64_t z = kiln_splitmix64(stream + (uint64_t)k * 0x9e3779b97f4a7c15u);");
    emit_line(e, "const int keep = (double)(z >> 11) / 9007199254740992.0 >= ratio;");
    emit_line(e, "%s[k] = keep ? %s[k] * scale : %s;", e->out_name[0], e->in_name[0],
              emit_flit(e, 0, x->dtype));
    if (e->out_name[1])
        emit_line(e, "%s[k] = (uint8_t)keep;", e->out_name[1]);
    emit_close(e);
    return true;
}
