/* k_conv.c — kernels of the convolution and pooling family: Conv,
 * ConvInteger, ConvTranspose, MaxPool, AveragePool, LpPool and the global
 * pools. One generic N-d emitter prints the sliding-window loops for any
 * number of spatial dims. The geometry comes from the canonical attributes
 * the shape rule wrote (pass/shapes_conv.c: kernel_shape, strides,
 * dilations and pads all explicit); keep the two in step. */
#include "k_gemm.h"

#include <string.h>

/* The sliding windows of one node. A window sits at each position p (the
 * output for Conv and the pools, the input for ConvTranspose); its taps k
 * reach p*s - pb + k*d in an extent ext (the input, or ConvTranspose's
 * output). Taps outside ext are skipped (zero or -inf padding). */
typedef struct Geom {
    int nsp;
    int64_t pos[IR_MAX_RANK], ext[IR_MAX_RANK];
    int64_t k[IR_MAX_RANK], s[IR_MAX_RANK], d[IR_MAX_RANK], pb[IR_MAX_RANK], pe[IR_MAX_RANK];
    bool clip_lo[IR_MAX_RANK]; /* some window of this dim starts before ext */
    bool clip_hi[IR_MAX_RANK]; /* some window of this dim ends past ext */
    const char *pv;            /* the position loop variables' prefix: "o" or "i" */
    const char *ext_name;      /* "x" or "y", for comments */
} Geom;

static int64_t prod(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

static void attr_ints(const Node *n, const char *name, int count, int64_t *out)
{
    const Attr *a = ir_attr(n, name);
    KILN_ASSERT(a && a->type == ATTR_INTS && a->n == count); /* written by the shape rule */
    memcpy(out, a->ints, sizeof(int64_t) * (size_t)count);
}

/* pos, ext: the shapes [N, C, spatial...] of the positions and the extent. */
static void geom_read(const Node *n, const Shape *pos, const Shape *ext, bool transposed, Geom *g)
{
    int64_t pads[2 * IR_MAX_RANK];
    g->nsp = pos->rank - 2;
    g->pv = transposed ? "i" : "o";
    g->ext_name = transposed ? "y" : "x";
    attr_ints(n, "kernel_shape", g->nsp, g->k);
    attr_ints(n, "strides", g->nsp, g->s);
    attr_ints(n, "dilations", g->nsp, g->d);
    attr_ints(n, "pads", 2 * g->nsp, pads);
    for (int j = 0; j < g->nsp; j++) {
        g->pos[j] = pos->dims[j + 2];
        g->ext[j] = ext->dims[j + 2];
        g->pb[j] = pads[j];
        g->pe[j] = pads[j + g->nsp];
        int64_t last = (g->pos[j] - 1) * g->s[j] - g->pb[j] + (g->k[j] - 1) * g->d[j];
        g->clip_lo[j] = g->pb[j] > 0;
        g->clip_hi[j] = last >= g->ext[j];
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

/* The name of window j's first tap: the position itself when s = 1 and no
 * start padding, else at<j>. */
static const char *at_name(Emitter *e, const Geom *g, int j)
{
    if (g->s[j] == 1 && g->pb[j] == 0)
        return arena_printf(e->arena, "%s%d", g->pv, j);
    return arena_printf(e->arena, "at%d", j);
}

/* One loop per spatial dim over the window positions, declaring each
 * window's first tap and, where windows cross the border, the range of taps
 * inside the extent: lo<j> <= k<j> < hi<j>. */
static void emit_positions_open(Emitter *e, const Geom *g)
{
    bool said = false;
    for (int j = 0; j < g->nsp; j++) {
        const char *p = arena_printf(e->arena, "%s%d", g->pv, j), *at = at_name(e, g, j);
        emit_open(e, "for (int %s = 0; %s < %lld; %s++)", p, p, (long long)g->pos[j], p);
        if (strcmp(at, p) != 0)
            emit_line(e, "const int %s = %s;", at, affine(e, p, g->s[j], -g->pb[j]));
        if (!g->clip_lo[j] && !g->clip_hi[j])
            continue;
        long long ext = g->ext[j], k = g->k[j], d = g->d[j];
        if (!said)
            emit_line(e, "/* the taps inside %s: lo <= k < hi where 0 <= at + k * dilation < size */",
                      g->ext_name);
        said = true;
        if (g->clip_lo[j] && d == 1)
            emit_line(e, "const int lo%d = %s < 0 ? -%s : 0;", j, at, at);
        else if (g->clip_lo[j])
            emit_line(e, "const int lo%d = %s < 0 ? (%lld - %s) / %lld : 0;", j, at, d - 1, at, d);
        if (g->clip_hi[j] && d == 1)
            emit_line(e, "const int hi%d = %lld - %s < %lld ? %lld - %s : %lld;", j, ext, at, k,
                      ext, at, k);
        else if (g->clip_hi[j])
            emit_line(e, "const int hi%d = (%lld - %s) / %lld < %lld ? (%lld - %s) / %lld : %lld;",
                      j, ext + d - 1, at, d, k, ext + d - 1, at, d, k);
    }
}

/* The bounds of tap loop j: lo<j> / hi<j> where windows get clipped. */
static const char *tap_lo(Emitter *e, const Geom *g, int j)
{
    return g->clip_lo[j] ? arena_printf(e->arena, "lo%d", j) : "0";
}

static const char *tap_hi(Emitter *e, const Geom *g, int j)
{
    return g->clip_hi[j] ? arena_printf(e->arena, "hi%d", j)
                         : arena_printf(e->arena, "%lld", (long long)g->k[j]);
}

static void emit_taps_open(Emitter *e, const Geom *g)
{
    for (int j = 0; j < g->nsp; j++)
        emit_open(e, "for (int k%d = %s; k%d < %s; k%d++)", j, tap_lo(e, g, j), j, tap_hi(e, g, j),
                  j);
}

static void emit_close_n(Emitter *e, int count)
{
    for (int i = 0; i < count; i++)
        emit_close(e);
}

/* Flat index sum over dims of coord[j] * stride, row-major over dims (or
 * column-major when col_major: ONNX MaxPool storage_order 1). */
static const char *flat_index(Emitter *e, int nsp, const char *const *coord,
                              const int64_t *dims, bool col_major)
{
    StrBuf sb = {0};
    for (int j = 0; j < nsp; j++) {
        int64_t stride = col_major ? prod(dims, j) : prod(dims + j + 1, nsp - j - 1);
        bool simple = strchr(coord[j], ' ') == NULL;
        if (sb.len)
            sb_append(&sb, " + ", 3);
        if (stride == 1)
            sb_printf(&sb, "%s", coord[j]);
        else
            sb_printf(&sb, simple ? "%s * %lld" : "(%s) * %lld", coord[j], (long long)stride);
    }
    const char *r = arena_strdup(e->arena, sb.len ? sb.buf : "0");
    sb_free(&sb);
    return r;
}

/* Index in the extent of tap k<j> (kv "k") or of each window's first tap
 * inside the extent (kv "lo"). */
static const char *tap_index(Emitter *e, const Geom *g, const char *kv, bool col_major)
{
    const char *coord[IR_MAX_RANK] = {0};
    for (int j = 0; j < g->nsp; j++) {
        const char *at = at_name(e, g, j);
        if (strcmp(kv, "lo") == 0 && !g->clip_lo[j])
            coord[j] = at;
        else
            coord[j] = arena_printf(e->arena, "%s + %s", at,
                                    affine(e, arena_printf(e->arena, "%s%d", kv, j), g->d[j], 0));
    }
    return flat_index(e, g->nsp, coord, g->ext, col_major);
}

/* Index of the window position (o0, o1, …) among the positions. */
static const char *pos_index(Emitter *e, const Geom *g)
{
    const char *coord[IR_MAX_RANK] = {0};
    for (int j = 0; j < g->nsp; j++)
        coord[j] = arena_printf(e->arena, "%s%d", g->pv, j);
    return flat_index(e, g->nsp, coord, g->pos, false);
}

/* Index of tap (k0, k1, …) in one kernel. */
static const char *kernel_index(Emitter *e, const Geom *g)
{
    const char *coord[IR_MAX_RANK] = {0};
    for (int j = 0; j < g->nsp; j++)
        coord[j] = arena_printf(e->arena, "k%d", j);
    return flat_index(e, g->nsp, coord, g->k, false);
}

/* "c * stride + " when there is more than one channel per group, else "". */
static const char *chan_term(Emitter *e, int64_t channels, int64_t stride)
{
    return channels > 1 ? arena_printf(e->arena, "c * %lld + ", (long long)stride) : "";
}

/* Opens the loops over batch n, group g (when group > 1) and the output
 * channel m within the group, declaring oc (the output channel) and the
 * pointers x (the group's first input channel of image n) and y (output
 * channel oc of image n). Returns the loops opened; *oc is its name. */
static int emit_channels_open(Emitter *e, const Node *n, int64_t batch, int64_t c_in,
                              int64_t m_out, int64_t insz, int64_t outsz, const char **oc)
{
    int64_t group = ir_attr_int(n, "group", 1), cg = c_in / group, mg = m_out / group;
    const char *t = dtype_ctype(e->g->values[n->out[0]]->dtype);
    const char *xt = dtype_ctype(e->g->values[n->in[0]]->dtype);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)batch);
    if (group > 1)
        emit_open(e, "for (int g = 0; g < %lld; g++)", (long long)group);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)mg);
    *oc = "m";
    if (group > 1) {
        emit_line(e, "const int oc = g * %lld + m;", (long long)mg);
        *oc = "oc";
        emit_line(e, "const %s *x = %s + (n * %lld + g * %lld) * %lld;", xt, e->in_name[0],
                  (long long)c_in, (long long)cg, (long long)insz);
    } else {
        emit_line(e, "const %s *x = %s + n * %lld;", xt, e->in_name[0], (long long)(c_in * insz));
    }
    emit_line(e, "%s *y = %s + (n * %lld + %s) * %lld;", t, e->out_name[0], (long long)m_out, *oc,
              (long long)outsz);
    return group > 1 ? 3 : 2;
}

/* Prints "const kiln_conv_geom geom = {…};" for a Conv-style gm (windows
 * at the output positions, reaching into the input ext) over c input
 * channels; a 1-D conv has height 1. */
static void emit_geom_decl(Emitter *e, int64_t c, const Geom *gm)
{
    int j = gm->nsp - 1; /* the width dim */
    bool two = gm->nsp == 2;
    emit_line(e, "const kiln_conv_geom geom = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
                 "%lld, %lld, %lld, %lld, %lld};",
              (long long)c, (long long)(two ? gm->ext[0] : 1), (long long)gm->ext[j],
              (long long)(two ? gm->k[0] : 1), (long long)gm->k[j], (long long)(two ? gm->s[0] : 1),
              (long long)gm->s[j], (long long)(two ? gm->d[0] : 1), (long long)gm->d[j],
              (long long)(two ? gm->pb[0] : 0), (long long)gm->pb[j],
              (long long)(two ? gm->pos[0] : 1), (long long)gm->pos[j]);
}

/* Whether a Conv-style gm (windows at the output positions) takes the
 * wide implicit GEMM (emit_conv_wide): stride 1 in every dim, and the
 * discarded columns of the wide output rows at most half of them. */
static bool conv_wide_pays(const Geom *gm)
{
    int j = gm->nsp - 1; /* the width dim */
    for (int i = 0; i < gm->nsp; i++)
        if (gm->s[i] != 1)
            return false;
    return gm->pos[j] * 2 >= gm->pos[j] + gm->d[j] * (gm->k[j] - 1);
}

/* A dense stride-1 f32 convolution (gm: Conv-style windows over c input
 * channels, m outputs) as implicit GEMM on "wide" output rows: per image
 * (the loop the caller opened, x and y its pointers), the image is copied
 * into xp with its padding made explicit, [c, hp, wp]; then
 *   yw [m, oh * wp] = A [m, c*K] x B + bias,  B(k, j) = xp[off(k) + j]
 * (its columns rounded up to whole micro-tiles, the extra ones discarded)
 * (kiln_sgemm_pack_b_conv_wide: each B row is one contiguous copy, where
 * the gathering packer walks short runs), and yw's first ow columns of each
 * wp-wide row are the output. xp, yw: scratch past the caller's first off
 * bytes, xp's padding zeroed once before the images (zero_xp, emitted by
 * the caller before its image loop through emit_conv_wide_begin). */
typedef struct ConvWide {
    int64_t hp, wp, nr_cols, xp_bytes, yw_off, gemm_off;
} ConvWide;

static ConvWide conv_wide_plan(const Emitter *e, const Geom *gm, int64_t c, int64_t m, int64_t off)
{
    int j = gm->nsp - 1, mr, nr;
    ConvWide w;
    w.wp = gm->pos[j] + gm->d[j] * (gm->k[j] - 1);
    w.hp = gm->nsp == 2 ? gm->pos[0] + gm->d[0] * (gm->k[0] - 1) : 1;
    /* the GEMM's columns: oh * wp rounded up to whole micro-tiles (no
     * scalar edge tiles along them), all but the first oh * wp discarded */
    gemm_micro_tile(e->target, &mr, &nr);
    int64_t n = (gm->nsp == 2 ? gm->pos[0] : 1) * w.wp;
    w.nr_cols = (n + nr - 1) / nr * nr;
    /* the packer reads up to (kw - 1) * dw + nr_cols - n floats past the image */
    w.xp_bytes = ((c * w.hp * w.wp + gm->d[j] * (gm->k[j] - 1) + w.nr_cols - n) * 4 + 63) / 64 * 64;
    w.yw_off = off + w.xp_bytes;
    w.gemm_off = w.yw_off + (m * w.nr_cols * 4 + 63) / 64 * 64;
    return w;
}

/* Zeroes what the image copies leave of xp, [c, hp, wp] then slack up to
 * xp_bytes: all but rows [pt, pt + rows) x columns [pl, pl + cols) of each
 * channel (zeroing the whole of conv3x3_64's 861 KB was a memset of as
 * much again as the copy). */
static void emit_zero_padding(Emitter *e, int64_t c, int64_t hp, int64_t wp, int64_t pt,
                              int64_t pl, int64_t rows, int64_t cols, int64_t xp_bytes)
{
    int64_t right = wp - pl - cols;
    bool top = pt > 0, bottom = pt + rows < hp;
    if (!top && !bottom && pl == 0 && right == 0) {
        emit_line(e, "memset(xp + %lld, 0, %lld); /* the slack read past the image */",
                  (long long)(c * hp * wp), (long long)(xp_bytes - c * hp * wp * 4));
        return;
    }
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of xp: zeros around the image */",
              (long long)(c * hp));
    emit_line(e, "float *d = xp + r * %lld;", (long long)wp);
    if (top || bottom) {
        const char *t = arena_printf(e->arena, "r %% %lld < %lld", (long long)hp, (long long)pt);
        const char *b = arena_printf(e->arena, "r %% %lld >= %lld", (long long)hp,
                                     (long long)(pt + rows));
        emit_open(e, "if (%s%s%s)", top ? t : "", top && bottom ? " || " : "", bottom ? b : "");
        emit_line(e, "memset(d, 0, %lld * sizeof(float));", (long long)wp);
        emit_line(e, "continue;");
        emit_close(e);
    }
    if (pl > 0)
        emit_line(e, "memset(d, 0, %lld * sizeof(float));", (long long)pl);
    if (right > 0)
        emit_line(e, "memset(d + %lld, 0, %lld * sizeof(float));", (long long)(pl + cols),
                  (long long)right);
    emit_close(e);
    emit_line(e, "memset(xp + %lld, 0, %lld); /* the slack read past the image */",
              (long long)(c * hp * wp), (long long)(xp_bytes - c * hp * wp * 4));
}

/* Declares xp, yw and geom (the padded image's) and zeroes xp. */
static void emit_conv_wide_begin(Emitter *e, const Geom *gm, int64_t c, int64_t off,
                                 const ConvWide *w)
{
    int j = gm->nsp - 1;
    emit_line(e, "/* stride 1 on wide rows: xp the image padded to [%lld, %lld, %lld], yw the "
                 "output at every column of xp's rows */",
              (long long)c, (long long)w->hp, (long long)w->wp);
    emit_line(e, "float *xp = (float *)((unsigned char *)scratch + %lld);", (long long)off);
    emit_line(e, "float *yw = (float *)((unsigned char *)scratch + %lld);", (long long)w->yw_off);
    emit_line(e, "const kiln_conv_geom geom = {%lld, %lld, %lld, %lld, %lld, 1, 1, %lld, %lld, 0, "
                 "0, %lld, %lld};",
              (long long)c, (long long)w->hp, (long long)w->wp,
              (long long)(gm->nsp == 2 ? gm->k[0] : 1), (long long)gm->k[j],
              (long long)(gm->nsp == 2 ? gm->d[0] : 1), (long long)gm->d[j],
              (long long)(gm->nsp == 2 ? gm->pos[0] : 1), (long long)w->wp);
    int64_t ih = gm->nsp == 2 ? gm->ext[0] : 1, iw = gm->ext[j];
    int64_t pt = gm->nsp == 2 ? gm->pb[0] : 0, pl = gm->pb[j];
    emit_zero_padding(e, c, w->hp, w->wp, pt, pl, ih < w->hp - pt ? ih : w->hp - pt,
                      iw < w->wp - pl ? iw : w->wp - pl, w->xp_bytes);
}

/* Inside the image loop: copies image x into xp, runs the GEMM p (its b,
 * y, ldy, N and scratch filled in here) into yw and copies the output
 * columns of yw to y. */
static void emit_conv_wide_image(Emitter *e, const Geom *gm, int64_t c, int64_t m,
                                 const ConvWide *w, BlockedGemm *p)
{
    int j = gm->nsp - 1;
    int64_t ih = gm->nsp == 2 ? gm->ext[0] : 1, iw = gm->ext[j];
    int64_t pt = gm->nsp == 2 ? gm->pb[0] : 0, pl = gm->pb[j];
    int64_t oh = gm->nsp == 2 ? gm->pos[0] : 1, ow = gm->pos[j];
    /* rows and columns of x inside xp (a ConvTranspose's end padding may cut some) */
    int64_t rows = ih < w->hp - pt ? ih : w->hp - pt, cols = iw < w->wp - pl ? iw : w->wp - pl;
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of x */", (long long)(c * rows));
    emit_line(e, "memcpy(xp + (r / %lld * %lld + r %% %lld + %lld) * %lld + %lld, x + (r / %lld * "
                 "%lld + r %% %lld) * %lld, %lld * sizeof(float));",
              (long long)rows, (long long)w->hp, (long long)rows, (long long)pt, (long long)w->wp,
              (long long)pl, (long long)rows, (long long)ih, (long long)rows, (long long)iw,
              (long long)cols);
    emit_close(e);
    p->N = w->nr_cols;
    p->b = (GemmOperand){.src = GEMM_CONV_WIDE, .expr = "xp", .geom = "geom"};
    p->y = "yw";
    p->ldy = p->N;
    p->scratch_off = w->gemm_off;
    emit_gemm_blocked(e, p);
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of y */", (long long)(m * oh));
    emit_line(e, "memcpy(y + r * %lld, yw + r / %lld * %lld + r %% %lld * %lld, %lld * "
                 "sizeof(float));",
              (long long)ow, (long long)oh, (long long)w->nr_cols, (long long)oh,
              (long long)w->wp, (long long)ow);
    emit_close(e);
}

/* Whether a dense f32 Conv (gm: Conv-style windows, m outputs) takes the
 * direct 16-channel kernel (emit_conv_oc16): x86-64-v4, stride 1, m a
 * multiple of 16, and wide rows would discard more than a fifth of their
 * columns (LeNet's conv2: 4 of 14), which the direct kernel doesn't
 * compute. */
static bool conv_oc16_pays(const Emitter *e, const Geom *gm, int64_t m)
{
    int j = gm->nsp - 1; /* the width dim */
    if (e->target != TARGET_X86_64_V4 || m % 16 != 0)
        return false;
    for (int i = 0; i < gm->nsp; i++)
        if (gm->s[i] != 1)
            return false;
    return gm->pos[j] * 5 < (gm->pos[j] + gm->d[j] * (gm->k[j] - 1)) * 4;
}

/* A dense stride-1 f32 Conv with 16 output channels in the vector lanes
 * (kiln_conv_avx512_oc16_2x5, templates/kiln_gemm_avx512.h): xp the image
 * padded to [c, hp, wp] (plus a row and 4 floats read past it by tiles
 * cut by the edges), w16 the weight [m/16, c*K, 16], koff the image
 * offset of each (ci, tap); per image, tiles of 2 output rows x 5 columns
 * x 16 channels. Images n_lo..n_hi (the caller's loop bounds, C
 * expressions); the scratch is the part's own. */
static void emit_conv_oc16(Emitter *e, const Graph *g, const Node *n, const Geom *gm,
                           const char *n_lo, const char *n_hi)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int j = gm->nsp - 1;
    bool two = gm->nsp == 2;
    int64_t c = x->shape.dims[1], m = y->shape.dims[1], ksz = prod(gm->k, gm->nsp), k = c * ksz;
    int64_t ih = two ? gm->ext[0] : 1, iw = gm->ext[j], pt = two ? gm->pb[0] : 0, pl = gm->pb[j];
    int64_t oh = two ? gm->pos[0] : 1, ow = gm->pos[j];
    int64_t hp = oh + (two ? gm->d[0] * (gm->k[0] - 1) : 0), wp = ow + gm->d[j] * (gm->k[j] - 1);
    int64_t rows = ih < hp - pt ? ih : hp - pt, cols = iw < wp - pl ? iw : wp - pl;
    int64_t xp_bytes = ((c * hp * wp + wp + 4) * 4 + 63) / 64 * 64;
    int64_t w_bytes = (m * k * 4 + 63) / 64 * 64, o_bytes = (k * 4 + 63) / 64 * 64;
    if (xp_bytes + w_bytes + o_bytes > e->scratch)
        e->scratch = xp_bytes + w_bytes + o_bytes;
    e->needs_avx512 = true;
    emit_prelude_once(e, "kiln_gemm_avx512.h", "#include \"kiln_gemm_avx512.h\"\n\n");
    emit_line(e, "/* direct, 16 output channels a vector: xp the image padded to [%lld, %lld, "
                 "%lld], w16 the weight [%lld, %lld, 16], koff the image offset of each (channel, "
                 "tap) */", (long long)c, (long long)hp, (long long)wp, (long long)(m / 16),
              (long long)k);
    emit_line(e, "float *xp = (float *)scratch;");
    emit_line(e, "float *w16 = (float *)((unsigned char *)scratch + %lld);", (long long)xp_bytes);
    emit_line(e, "int *koff = (int *)((unsigned char *)scratch + %lld);",
              (long long)(xp_bytes + w_bytes));
    emit_line(e, "const kiln_conv_geom geom = {%lld, %lld, %lld, %lld, %lld, 1, 1, %lld, %lld, 0, "
                 "0, %lld, %lld};", (long long)c, (long long)hp, (long long)wp,
              (long long)(two ? gm->k[0] : 1), (long long)gm->k[j], (long long)(two ? gm->d[0] : 1),
              (long long)gm->d[j], (long long)oh, (long long)wp);
    emit_zero_padding(e, c, hp, wp, pt, pl, rows, cols, xp_bytes);
    emit_line(e, "kiln_conv_pack_oc16(%lld, %lld, %s, w16);", (long long)m, (long long)k,
              e->in_name[1]);
    emit_line(e, "kiln_conv_wide_offsets(%lld, 0, &geom, koff);", (long long)k);
    emit_open(e, "for (int n = %s; n < %s; n++)", n_lo, n_hi);
    emit_line(e, "float *y = %s + n * %lld;", e->out_name[0], (long long)(m * oh * ow));
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of x */", (long long)(c * rows));
    emit_line(e, "memcpy(xp + (r / %lld * %lld + r %% %lld + %lld) * %lld + %lld, %s + n * %lld + "
                 "(r / %lld * %lld + r %% %lld) * %lld, %lld * sizeof(float));",
              (long long)rows, (long long)hp, (long long)rows, (long long)pt, (long long)wp,
              (long long)pl, e->in_name[0], (long long)(c * ih * iw), (long long)rows,
              (long long)ih, (long long)rows, (long long)iw, (long long)cols);
    emit_close(e);
    emit_open(e, "for (int ob = 0; ob < %lld; ob++) /* 16 output channels */", (long long)(m / 16));
    emit_open(e, "for (int oy = 0; oy < %lld; oy += 2)", (long long)oh);
    emit_open(e, "for (int ox = 0; ox < %lld; ox += 5)", (long long)ow);
    emit_line(e, "kiln_conv_avx512_oc16_2x5(%lld, w16 + ob * %lld, xp + oy * %lld + ox, %lld, koff, "
                 "%lld - oy < 2 ? %lld - oy : 2, %lld - ox < 5 ? %lld - ox : 5, %s, y + ob * %lld + "
                 "oy * %lld + ox, %lld, %lld);", (long long)k, (long long)(k * 16), (long long)wp,
              (long long)wp, (long long)oh, (long long)oh, (long long)ow, (long long)ow,
              e->in_name[2] ? arena_printf(e->arena, "%s + ob * 16", e->in_name[2]) : "NULL",
              (long long)(16 * oh * ow), (long long)ow, (long long)(oh * ow), (long long)ow);
    emit_close_n(e, 3);
    GemmAct act = gemm_act_of(n); /* FusedConv: on the image just written */
    emit_act_loop(e, &act, DT_F32, "y", m * oh * ow);
    emit_close(e);
}

/* A dense f32 Conv (group 1, 1-D or 2-D) as implicit GEMM: per image,
 * Y [M, O] = W [M, C*K] x im2col(X) [C*K, O] + bias, the im2col blocks
 * gathered straight from the image into the micro-kernel's panels
 * (kiln_sgemm_pack_b_conv), W pre-packed when it is a constant. A 1x1
 * conv of stride 1 without padding is the plain GEMM W x X_n; stride-1
 * ones run on wide rows (emit_conv_wide_image), or on x86-64-v4 with 16
 * output channels a vector where wide rows would waste many columns
 * (emit_conv_oc16). */
static void emit_conv_blocked(Emitter *e, const Graph *g, const Node *n, const Geom *gm)
{
    const Value *x = ir_in(g, n, 0), *wt = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    int64_t c = x->shape.dims[1], m = y->shape.dims[1];
    int64_t insz = prod(gm->ext, gm->nsp), outsz = prod(gm->pos, gm->nsp);
    int64_t k = c * prod(gm->k, gm->nsp);
    bool pointwise = true; /* a 1x1 conv of stride 1 without padding: a plain GEMM on NCHW */
    for (int j = 0; j < gm->nsp; j++)
        pointwise &= gm->k[j] == 1 && gm->s[j] == 1 && gm->pb[j] == 0 && gm->pe[j] == 0;
    /* --threads: whole images per part when there are enough of them, else
     * each image's output split over the parts (then not on wide rows,
     * whose copies are per image) */
    int64_t batch = x->shape.dims[0];
    GemmThreads th = gemm_threads(e, batch * m * outsz * k);
    if (!pointwise && conv_oc16_pays(e, gm, m) && th != GEMM_SPLIT) {
        emit_conv_oc16(e, g, n, gm, "0", arena_printf(e->arena, "%lld", (long long)batch));
        return;
    }
    if (!pointwise && conv_oc16_pays(e, gm, m) && batch >= e->threads) { /* images per part */
        e->parts = emit_parts(e, batch);
        emit_line(e, "int n_lo, n_hi; /* this part's images */");
        emit_line(e, "kiln_pool_range(%lld, 1, part, parts, &n_lo, &n_hi);", (long long)batch);
        emit_conv_oc16(e, g, n, gm, "n_lo", "n_hi");
        return;
    }
    bool wide = !pointwise && conv_wide_pays(gm) && (th != GEMM_SPLIT || batch >= e->threads);
    ConvWide cw = conv_wide_plan(e, gm, c, m, 0);
    if (!pointwise && !wide)
        emit_geom_decl(e, c, gm);
    if (th == GEMM_SPLIT && batch >= e->threads) {
        th = GEMM_IN_PART;
        e->parts = emit_parts(e, batch);
        emit_line(e, "int n_lo, n_hi; /* this part's images */");
        emit_line(e, "kiln_pool_range(%lld, 1, part, parts, &n_lo, &n_hi);", (long long)batch);
        if (wide)
            emit_conv_wide_begin(e, gm, c, 0, &cw);
        emit_open(e, "for (int n = n_lo; n < n_hi; n++)");
    } else {
        if (wide)
            emit_conv_wide_begin(e, gm, c, 0, &cw);
        emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)batch);
    }
    emit_line(e, "const float *x = %s + n * %lld;", e->in_name[0], (long long)(c * insz));
    emit_line(e, "float *y = %s + n * %lld;", e->out_name[0], (long long)(m * outsz));
    BlockedGemm p = {.M = m, .N = outsz, .K = k, .y = "y", .ldy = outsz, .alpha = 1, .beta = 1,
                     .act = gemm_act_of(n), .threads = th, .node = n->name};
    p.a = (GemmOperand){.src = GEMM_RUNTIME, .expr = e->in_name[1], .rs = k, .cs = 1};
    if (wt->kind == VAL_CONST && wt->data && e->pack_constants)
        p.a = (GemmOperand){.src = GEMM_CONST, .value = wt, .rs = k, .cs = 1};
    p.b = (GemmOperand){.src = GEMM_CONV_B, .expr = "x", .geom = "geom"};
    if (pointwise) /* im2col(X) is X itself: [C, H*W], packed like any matrix */
        p.b = (GemmOperand){.src = GEMM_RUNTIME, .expr = "x", .rs = insz, .cs = 1};
    if (e->in_name[2])
        p.bias = e->in_name[2], p.bias_rs = 1, p.bias_cs = 0;
    if (wide)
        emit_conv_wide_image(e, gm, c, m, &cw, &p);
    else
        emit_gemm_blocked(e, &p);
    emit_close(e);
}

/* A depthwise f32 Conv (group = C, M = C * mult, 1-D or 2-D): per image
 * and output channel oc, kiln_dwconv2d_plane (templates/kiln_dwconv.h)
 * over input channel oc / mult and filter oc; FusedConv: then its activation
 * on the plane. --threads: the planes split over the parts. */
static void emit_conv_depthwise(Emitter *e, const Graph *g, const Node *n, const Geom *gm)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t c = x->shape.dims[1], m = y->shape.dims[1];
    int64_t insz = prod(gm->ext, gm->nsp), outsz = prod(gm->pos, gm->nsp), ksz = prod(gm->k, gm->nsp);
    int64_t planes = x->shape.dims[0] * m;
    /* x86-64-v4 CPUs run the AVX2 variant too (16 outputs a block) */
    bool avx2 = e->target == TARGET_X86_64_V3 || e->target == TARGET_X86_64_V4;
    emit_prelude_once(e, "kiln_dwconv.h", "#include \"kiln_dwconv.h\"\n\n");
    emit_geom_decl(e, 1, gm);
    if (gemm_threads(e, planes * outsz * ksz) == GEMM_SPLIT) { /* --threads: planes per part */
        e->parts = emit_parts(e, planes);
        emit_line(e, "int q_lo, q_hi; /* this part's planes (image, channel) */");
        emit_line(e, "kiln_pool_range(%lld, 1, part, parts, &q_lo, &q_hi);", (long long)planes);
        emit_open(e, "for (int q = q_lo; q < q_hi; q++)");
    } else {
        emit_open(e, "for (int q = 0; q < %lld; q++)", (long long)planes);
    }
    emit_line(e, "const int n = q / %lld, oc = q %% %lld;", (long long)m, (long long)m);
    emit_line(e, "float *y = %s + (ptrdiff_t)q * %lld;", e->out_name[0], (long long)outsz);
    if (avx2)
        e->needs_avx2 = true;
    emit_line(e, "kiln_dwconv2d_plane%s(%s + (n * %lld + oc%s) * %lld, %s + oc * %lld, %s, y, "
                 "&geom);",
              avx2 ? "_avx2" : "", e->in_name[0], (long long)c,
              m == c ? "" : arena_printf(e->arena, " / %lld", (long long)(m / c)), (long long)insz,
              e->in_name[1], (long long)ksz,
              e->in_name[2] ? arena_printf(e->arena, "%s[oc]", e->in_name[2]) : "0.0f");
    GemmAct act = gemm_act_of(n); /* FusedConv: on the plane just written */
    emit_act_loop(e, &act, DT_F32, "y", outsz);
    emit_close(e);
}

/* Conv (opset 1, 11): X [N, C, D...], W [M, C/group, K...], B [M] →
 * Y [N, M, O...] with
 *   y[n, oc, o] = b[oc] + sum over c in oc's group and taps k of
 *                 x[n, c, o*s - pb + k*d] * w[oc, c, k]
 * and taps outside x skipped (zero padding). ConvInteger (opset 10): the
 * same over int32 with the zero points subtracted (padding is the zero
 * point, so skipping stays right). Dense f32 1-D/2-D convs big enough run
 * as implicit GEMM on the micro-kernels (emit_conv_blocked), depthwise ones
 * on register-blocked direct loops (emit_conv_depthwise); the rest as
 * loops n, g, m, o..., c, k..., the inner tap loop walking x and w
 * contiguously. FusedConv: then its activation, before the store. */
bool k_conv(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *wt = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    bool integer = n->op == OP_ConvInteger;
    Geom gm;
    geom_read(n, &y->shape, &x->shape, false, &gm);
    int64_t group = ir_attr_int(n, "group", 1), cg = x->shape.dims[1] / group;
    int64_t insz = prod(gm.ext, gm.nsp), outsz = prod(gm.pos, gm.nsp), ksz = prod(gm.k, gm.nsp);
    if (!integer && y->dtype == DT_F32 && group == 1 && gm.nsp <= 2 &&
        gemm_blocked_pays(e, y->shape.dims[1], outsz, cg * ksz)) {
        emit_conv_blocked(e, g, n, &gm);
        return true;
    }
    if (!integer && y->dtype == DT_F32 && cg == 1 && group > 1 && gm.nsp <= 2 &&
        outsz * ksz * (y->shape.dims[1] / group) >= 64) {
        emit_conv_depthwise(e, g, n, &gm);
        return true;
    }
    const char *t = dtype_ctype(y->dtype), *oc;
    int depth = emit_channels_open(e, n, x->shape.dims[0], x->shape.dims[1], y->shape.dims[1],
                                   insz, outsz, &oc);
    emit_line(e, "const %s *w = %s + %s * %lld;", dtype_ctype(wt->dtype), e->in_name[1], oc,
              (long long)(cg * ksz));
    const char *xz = NULL, *wz = NULL; /* ConvInteger's zero points */
    if (integer && e->in_name[2]) {
        emit_line(e, "const int32_t xz = %s[0];", e->in_name[2]);
        xz = "xz";
    }
    if (integer && e->in_name[3]) {
        bool per_channel = shape_numel(&ir_in(g, n, 3)->shape) > 1;
        emit_line(e, "const int32_t wz = %s[%s];", e->in_name[3], per_channel ? oc : "0");
        wz = "wz";
    }
    emit_positions_open(e, &gm);
    if (!integer && e->in_name[2])
        emit_line(e, "%s acc = %s[%s];", t, e->in_name[2], oc);
    else
        emit_line(e, "%s acc = %s;", t, emit_lit(e, 0, y->dtype));
    if (cg > 1)
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)cg);
    emit_taps_open(e, &gm);
    const char *xi = arena_printf(e->arena, "x[%s%s]", chan_term(e, cg, insz),
                                  tap_index(e, &gm, "k", false));
    const char *wi = arena_printf(e->arena, "w[%s%s]", chan_term(e, cg, ksz), kernel_index(e, &gm));
    if (integer) {
        xi = xz ? arena_printf(e->arena, "((int32_t)%s - %s)", xi, xz)
                : arena_printf(e->arena, "(int32_t)%s", xi);
        wi = wz ? arena_printf(e->arena, "((int32_t)%s - %s)", wi, wz)
                : arena_printf(e->arena, "(int32_t)%s", wi);
    }
    emit_line(e, "acc += %s * %s;", xi, wi);
    emit_close_n(e, gm.nsp + (cg > 1));
    GemmAct act = gemm_act_of(n);
    emit_line(e, "y[%s] = %s;", pos_index(e, &gm), gemm_act_expr(e, &act, y->dtype, "acc"));
    emit_close_n(e, gm.nsp + depth);
    return true;
}

/* A ConvTranspose of group 1 and stride 1 in 1-D/2-D f32 (gm: its windows,
 * positions in X, extent Y) as the Conv it equals, on the implicit-GEMM
 * path:
 *   y[n, oc, o] = b[oc] + sum over c, k' of x[n, c, o - pb' + k'*d] * wf[oc, c, k']
 * with pb' = d*(K-1) - pb and wf[oc, c, k'] = w[c, oc, K-1-k'] (every
 * spatial dim flipped), wf built in scratch on each call. */
static void emit_conv_transpose_blocked(Emitter *e, const Graph *g, const Node *n, const Geom *gm)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int64_t c = x->shape.dims[1], m = y->shape.dims[1];
    int64_t insz = prod(gm->pos, gm->nsp), outsz = prod(gm->ext, gm->nsp);
    int64_t ksz = prod(gm->k, gm->nsp);
    Geom conv = *gm; /* as a Conv: positions Y, extent X */
    for (int j = 0; j < gm->nsp; j++) {
        conv.pos[j] = gm->ext[j];
        conv.ext[j] = gm->pos[j];
        conv.pb[j] = gm->d[j] * (gm->k[j] - 1) - gm->pb[j];
    }
    emit_line(e, "float *wf = (float *)scratch; /* wf[oc][c][k'] = w[c][oc][K-1-k'] */");
    emit_open(e, "for (int oc = 0; oc < %lld; oc++)", (long long)m);
    emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)c);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)ksz);
    emit_line(e, "wf[(oc * %lld + c) * %lld + k] = %s[(c * %lld + oc) * %lld + %lld - k];",
              (long long)c, (long long)ksz, e->in_name[1], (long long)m, (long long)ksz,
              (long long)(ksz - 1));
    emit_close_n(e, 3);
    int64_t wf_bytes = (m * c * ksz * 4 + 63) / 64 * 64;
    bool wide = conv_wide_pays(&conv);
    ConvWide cw = conv_wide_plan(e, &conv, c, m, wf_bytes);
    if (wide)
        emit_conv_wide_begin(e, &conv, c, wf_bytes, &cw);
    else
        emit_geom_decl(e, c, &conv);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)x->shape.dims[0]);
    emit_line(e, "const float *x = %s + n * %lld;", e->in_name[0], (long long)(c * insz));
    emit_line(e, "float *y = %s + n * %lld;", e->out_name[0], (long long)(m * outsz));
    BlockedGemm p = {.M = m, .N = outsz, .K = c * ksz, .y = "y", .ldy = outsz, .alpha = 1,
                     .beta = 1, .scratch_off = wf_bytes};
    p.a = (GemmOperand){.src = GEMM_RUNTIME, .expr = "wf", .rs = c * ksz, .cs = 1};
    p.b = (GemmOperand){.src = GEMM_CONV_B, .expr = "x", .geom = "geom"};
    if (e->in_name[2])
        p.bias = e->in_name[2], p.bias_rs = 1, p.bias_cs = 0;
    if (wide)
        emit_conv_wide_image(e, &conv, c, m, &cw, &p);
    else
        emit_gemm_blocked(e, &p);
    emit_close(e);
}

/* Whether ConvTranspose n (windows gm) takes emit_conv_transpose_blocked. */
static bool conv_transpose_blocked(const Emitter *e, const Graph *g, const Node *n, const Geom *gm)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    if (y->dtype != DT_F32 || ir_attr_int(n, "group", 1) != 1 || gm->nsp < 1 || gm->nsp > 2)
        return false;
    for (int j = 0; j < gm->nsp; j++)
        if (gm->s[j] != 1 || gm->pb[j] > gm->d[j] * (gm->k[j] - 1))
            return false;
    return gemm_blocked_pays(e, y->shape.dims[1], prod(gm->ext, gm->nsp),
                             x->shape.dims[1] * prod(gm->k, gm->nsp));
}

/* The sizes of a stride-1 ConvTranspose (gm: positions X, extent Y) on
 * wide rows: the whole, uncropped output is [hp, wp] = X + d (K - 1); X
 * is laid on rows of wp (P = ih * wp positions). Returns false where that
 * doesn't fit (group, stride, Y larger than the uncropped output) or the
 * columns would take more than 1 MiB of scratch. */
static bool conv_transpose_col2im_fits(const Emitter *e, const Graph *g, const Node *n,
                                       const Geom *gm, int64_t *hp, int64_t *wp)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    if (y->dtype != DT_F32 || ir_attr_int(n, "group", 1) != 1 || gm->nsp < 1 || gm->nsp > 2)
        return false;
    int j = gm->nsp - 1;
    *hp = gm->nsp == 2 ? gm->pos[0] + gm->d[0] * (gm->k[0] - 1) : 1;
    *wp = gm->pos[j] + gm->d[j] * (gm->k[j] - 1);
    for (int i = 0; i < gm->nsp; i++)
        if (gm->s[i] != 1 || gm->pb[i] < 0 || gm->ext[i] + gm->pb[i] > (i == j ? *wp : *hp))
            return false;
    int64_t mk = y->shape.dims[1] * prod(gm->k, gm->nsp), p = (gm->nsp == 2 ? gm->pos[0] : 1) * *wp;
    return mk * p * 4 <= ((int64_t)1 << 20) &&
           gemm_blocked_pays(e, mk, p, x->shape.dims[1]);
}

/* A stride-1 ConvTranspose of group 1 in 1-D/2-D f32 as a GEMM and a
 * col2im on wide rows: per image, X laid on rows of wp into xw [C, P]
 * (P rounded up to whole micro-tiles, zeros past it),
 *   col [M*K, P] = W^T [M*K, C] x xw            (blocked GEMM)
 *   yp[m, r*dh*wp + s*dw + j] += col[(m, r, s), j]  (contiguous runs)
 * and Y = yp cropped by the pads, + bias. Only the products of the
 * convolution itself, where the equivalent Conv (emit_conv_transpose_
 * blocked) also multiplies the zeros of its padding. */
static void emit_conv_transpose_col2im(Emitter *e, const Graph *g, const Node *n, const Geom *gm,
                                       int64_t hp, int64_t wp)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int j = gm->nsp - 1;
    bool two = gm->nsp == 2;
    int64_t c = x->shape.dims[1], m = y->shape.dims[1], ksz = prod(gm->k, gm->nsp);
    int64_t ih = two ? gm->pos[0] : 1, iw = gm->pos[j], oh = two ? gm->ext[0] : 1, ow = gm->ext[j];
    int64_t kw = gm->k[j], p = ih * wp, slack = gm->d[j] * (kw - 1);
    /* the GEMM's columns rounded up to whole micro-tiles (zeros in xw): no
     * scalar edge tiles along them */
    int mr, nr;
    gemm_micro_tile(e->target, &mr, &nr);
    int64_t pr = (p + nr - 1) / nr * nr;
    int64_t xw_bytes = (c * pr * 4 + 63) / 64 * 64, yp_bytes = ((m * hp * wp + slack) * 4 + 63) / 64 * 64;
    int64_t col_bytes = (m * ksz * pr * 4 + 63) / 64 * 64;
    emit_line(e, "/* X on rows of %lld (xw), the products of each tap (col), the uncropped "
                 "output [%lld, %lld, %lld] (yp) */",
              (long long)wp, (long long)m, (long long)hp, (long long)wp);
    emit_line(e, "float *xw = (float *)scratch;");
    emit_line(e, "float *yp = (float *)((unsigned char *)scratch + %lld);", (long long)xw_bytes);
    emit_line(e, "float *col = (float *)((unsigned char *)scratch + %lld);",
              (long long)(xw_bytes + yp_bytes));
    emit_line(e, "memset(xw, 0, %lld);", (long long)xw_bytes);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)x->shape.dims[0]);
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of x */", (long long)(c * ih));
    emit_line(e, "memcpy(xw + r / %lld * %lld + r %% %lld * %lld, %s + (n * %lld + r) * %lld, %lld "
                 "* sizeof(float));",
              (long long)ih, (long long)pr, (long long)ih, (long long)wp, e->in_name[0],
              (long long)(c * ih), (long long)iw, (long long)iw);
    emit_close(e);
    BlockedGemm q = {.M = m * ksz, .N = pr, .K = c, .y = "col", .ldy = pr, .alpha = 1, .beta = 1,
                     .scratch_off = xw_bytes + yp_bytes + col_bytes};
    q.a = (GemmOperand){.src = GEMM_RUNTIME, .expr = e->in_name[1], .rs = 1, .cs = m * ksz};
    q.b = (GemmOperand){.src = GEMM_RUNTIME, .expr = "xw", .rs = pr, .cs = 1};
    emit_gemm_blocked(e, &q);
    emit_line(e, "memset(yp, 0, %lld);", (long long)yp_bytes);
    emit_open(e, "for (int q = 0; q < %lld; q++) /* (channel, tap) of col */", (long long)(m * ksz));
    emit_line(e, "const int t = q %% %lld;", (long long)ksz);
    emit_line(e, "float *d = yp + q / %lld * %lld + t / %lld * %lld + t %% %lld * %lld;",
              (long long)ksz, (long long)(hp * wp), (long long)kw,
              (long long)((two ? gm->d[0] : 1) * wp), (long long)kw, (long long)gm->d[j]);
    emit_line(e, "kiln_add_run(%lld, d, col + q * %lld);", (long long)p, (long long)pr);
    emit_close(e);
    emit_open(e, "for (int r = 0; r < %lld; r++) /* (channel, row) of y */", (long long)(m * oh));
    emit_line(e, "const float *src = yp + (r / %lld * %lld + r %% %lld + %lld) * %lld + %lld;",
              (long long)oh, (long long)hp, (long long)oh, (long long)(two ? gm->pb[0] : 0),
              (long long)wp, (long long)gm->pb[j]);
    emit_line(e, "float *dst = %s + (n * %lld + r) * %lld;", e->out_name[0], (long long)(m * oh),
              (long long)ow);
    emit_line(e, "const float b = %s;",
              e->in_name[2] ? arena_printf(e->arena, "%s[r / %lld]", e->in_name[2], (long long)oh)
                            : "0.0f");
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)ow);
    emit_line(e, "dst[i] = src[i] + b;");
    emit_close_n(e, 3);
}

/* ConvTranspose (opset 1, 11): X [N, C, D...], W [C, M/group, K...], B [M]
 * → Y [N, M, O...], the adjoint of Conv: y starts at the bias, then
 *   y[n, oc, i*s - pb + k*d] += x[n, c, i] * w[c, m, k]
 * over c in oc's group, taps outside y skipped (pads cut the output; a
 * negative end pad from output_shape leaves zeros). Dense stride-1 f32
 * ones big enough run as a GEMM and a col2im on wide rows when their
 * columns fit in 1 MiB (emit_conv_transpose_col2im), else as the
 * equivalent Conv on the implicit-GEMM path (emit_conv_transpose_blocked);
 * the rest as loops n, g, m, c, i..., k..., the inner tap loop walking y
 * and w contiguously. */
bool k_conv_transpose(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    Geom gm;
    geom_read(n, &x->shape, &y->shape, true, &gm);
    int64_t group = ir_attr_int(n, "group", 1), cg = x->shape.dims[1] / group;
    int64_t mg = y->shape.dims[1] / group;
    int64_t insz = prod(gm.pos, gm.nsp), outsz = prod(gm.ext, gm.nsp), ksz = prod(gm.k, gm.nsp);
    int64_t hp, wp;
    if (conv_transpose_col2im_fits(e, g, n, &gm, &hp, &wp)) {
        emit_conv_transpose_col2im(e, g, n, &gm, hp, wp);
        return true;
    }
    if (conv_transpose_blocked(e, g, n, &gm)) {
        emit_conv_transpose_blocked(e, g, n, &gm);
        return true;
    }
    const char *t = dtype_ctype(y->dtype), *oc;
    int depth = emit_channels_open(e, n, x->shape.dims[0], x->shape.dims[1], y->shape.dims[1],
                                   insz, outsz, &oc);
    /* w[g*cg + c, m, k] */
    emit_line(e, "const %s *w = %s + %s * %lld;", t, e->in_name[1],
              group > 1 ? arena_printf(e->arena, "(g * %lld + m)", (long long)(cg * mg)) : "m",
              (long long)ksz);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)outsz);
    if (e->in_name[2])
        emit_line(e, "y[j] = %s[%s];", e->in_name[2], oc);
    else
        emit_line(e, "y[j] = %s;", emit_flit(e, 0, y->dtype));
    emit_close(e);
    if (cg > 1)
        emit_open(e, "for (int c = 0; c < %lld; c++)", (long long)cg);
    emit_positions_open(e, &gm);
    emit_line(e, "const %s v = x[%s%s];", t, chan_term(e, cg, insz), pos_index(e, &gm));
    emit_taps_open(e, &gm);
    emit_line(e, "y[%s] += v * w[%s%s];", tap_index(e, &gm, "k", false),
              chan_term(e, cg, mg * ksz), kernel_index(e, &gm));
    emit_close_n(e, 2 * gm.nsp + (cg > 1) + depth);
    return true;
}

/* ---- pooling ---- */

typedef enum PoolKind { POOL_MAX, POOL_AVG, POOL_LP } PoolKind;

static PoolKind pool_kind(const Node *n)
{
    switch (n->op) {
    case OP_MaxPool:
    case OP_GlobalMaxPool:
        return POOL_MAX;
    case OP_AveragePool:
    case OP_GlobalAveragePool:
        return POOL_AVG;
    default:
        return POOL_LP;
    }
}

/* The statement folding tap v into acc. */
static const char *pool_update(Emitter *e, const Node *n, DType dt)
{
    double p = ir_attr_float(n, "p", 2.0);
    const char *fabs_ = emit_math(e, dt, "fabs");
    switch (pool_kind(n)) {
    case POOL_MAX:
        return "if (v > acc) acc = v;";
    case POOL_AVG:
        return "acc += v;";
    case POOL_LP:
        if (p == 1.0)
            return arena_printf(e->arena, "acc += %s(v);", fabs_);
        if (p == 2.0)
            return "acc += v * v;";
        return arena_printf(e->arena, "acc += %s(%s(v), %s);", emit_math(e, dt, "pow"), fabs_,
                            emit_flit(e, p, dt));
    }
    return NULL;
}

/* The pooled value from acc; count: the average's divisor (a C expression). */
static const char *pool_finish(Emitter *e, const Node *n, DType dt, const char *count)
{
    double p = ir_attr_float(n, "p", 2.0);
    switch (pool_kind(n)) {
    case POOL_MAX:
        return "acc";
    case POOL_AVG:
        return arena_printf(e->arena, "acc / %s", count);
    case POOL_LP:
        if (p == 1.0)
            return "acc";
        if (p == 2.0)
            return arena_printf(e->arena, "%s(acc)", emit_math(e, dt, "sqrt"));
        return arena_printf(e->arena, "%s(acc, %s)", emit_math(e, dt, "pow"),
                            emit_flit(e, 1.0 / p, dt));
    }
    return NULL;
}

/* AveragePool's divisor: the taps inside the input, or with
 * count_include_pad the taps inside the padded input (fewer than the
 * kernel only where a ceil_mode window runs past the end padding). A
 * literal when it is the same for every window. */
static const char *pool_count(Emitter *e, const Node *n, const Geom *g, DType dt)
{
    bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
    StrBuf sb = {0};
    int64_t constant = 1;
    for (int j = 0; j < g->nsp; j++) {
        const char *at = at_name(e, g, j);
        long long end = g->ext[j] + g->pe[j], d = g->d[j], k = g->k[j]; /* padded end */
        int64_t last = (g->pos[j] - 1) * g->s[j] - g->pb[j] + (g->k[j] - 1) * g->d[j];
        const char *sep = sb.len ? " * " : "";
        if (include_pad && last >= end)
            sb_printf(&sb, "%s(%s < %lld ? %lld : (%lld - %s) / %lld)", sep, at,
                      end - (k - 1) * d, k, end + d - 1, at, d);
        else if (!include_pad && g->clip_lo[j])
            sb_printf(&sb, "%s(%s - lo%d)", sep, tap_hi(e, g, j), j);
        else if (!include_pad && g->clip_hi[j])
            sb_printf(&sb, "%shi%d", sep, j);
        else
            constant *= g->k[j];
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

/* MaxPool (opset 1–12), AveragePool (1–19), LpPool (1–18): X [N, C, D...]
 * → Y [N, C, O...], each output the max / average / p-norm of its window's
 * taps inside x (padding is -inf for max, 0 for LpPool, left out of the
 * average unless count_include_pad). MaxPool's Indices [N, C, O...] (int64)
 * hold the flat index of the max in x, batch and channel included, the
 * spatial part column-major when storage_order = 1; the first max wins. */
bool k_pool(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    DType dt = y->dtype;
    const char *t = dtype_ctype(dt), *ind = e->out_name[1];
    bool col_major = ir_attr_int(n, "storage_order", 0) == 1;
    Geom gm;
    geom_read(n, &y->shape, &x->shape, false, &gm);
    int64_t insz = prod(gm.ext, gm.nsp), outsz = prod(gm.pos, gm.nsp);
    emit_open(e, "for (int nc = 0; nc < %lld; nc++)",
              (long long)(x->shape.dims[0] * x->shape.dims[1]));
    emit_line(e, "const %s *x = %s + nc * %lld;", t, e->in_name[0], (long long)insz);
    emit_line(e, "%s *y = %s + nc * %lld;", t, e->out_name[0], (long long)outsz);
    if (ind)
        emit_line(e, "int64_t *ind = %s + nc * %lld;", ind, (long long)outsz);
    emit_positions_open(e, &gm);
    if (pool_kind(n) == POOL_MAX) /* starting from a tap keeps int types and NaN simple */
        emit_line(e, "%s acc = x[%s];", t, tap_index(e, &gm, "lo", false));
    else
        emit_line(e, "%s acc = %s;", t, emit_flit(e, 0, dt));
    if (ind)
        emit_line(e, "int best = %s;", tap_index(e, &gm, "lo", col_major));
    emit_taps_open(e, &gm);
    emit_line(e, "const %s v = x[%s];", t, tap_index(e, &gm, "k", false));
    if (ind) {
        emit_open(e, "if (v > acc)");
        emit_line(e, "acc = v;");
        emit_line(e, "best = %s;", tap_index(e, &gm, "k", col_major));
        emit_close(e);
    } else {
        emit_line(e, "%s", pool_update(e, n, dt));
    }
    emit_close_n(e, gm.nsp);
    const char *at = pos_index(e, &gm);
    emit_line(e, "y[%s] = %s;", at,
              pool_finish(e, n, dt, pool_kind(n) == POOL_AVG ? pool_count(e, n, &gm, dt) : ""));
    if (ind)
        emit_line(e, "ind[%s] = (int64_t)nc * %lld + best;", at, (long long)insz);
    emit_close_n(e, gm.nsp + 1);
    return true;
}

/* GlobalMaxPool, GlobalAveragePool, GlobalLpPool (opset 1, 2): X [N, C,
 * D...] → Y [N, C, 1...], the max / mean / p-norm of each channel's
 * contiguous D1*…*Dn values. */
bool k_global_pool(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    DType dt = x->dtype;
    const char *t = dtype_ctype(dt);
    int64_t size = prod(x->shape.dims + 2, x->shape.rank - 2);
    bool is_max = pool_kind(n) == POOL_MAX;
    emit_open(e, "for (int nc = 0; nc < %lld; nc++)",
              (long long)(x->shape.dims[0] * x->shape.dims[1]));
    emit_line(e, "const %s *x = %s + nc * %lld;", t, e->in_name[0], (long long)size);
    emit_line(e, "%s acc = %s;", t, is_max ? "x[0]" : emit_flit(e, 0, dt));
    emit_open(e, "for (int i = %d; i < %lld; i++)", is_max ? 1 : 0, (long long)size);
    emit_line(e, "const %s v = x[i];", t);
    emit_line(e, "%s", pool_update(e, n, dt));
    emit_close(e);
    emit_line(e, "%s[nc] = %s;", e->out_name[0],
              pool_finish(e, n, dt, emit_flit(e, (double)size, dt)));
    emit_close(e);
    return true;
}
