/* k_train_misc.c — kernels of kiln's backward ops for data movement and
 * Gather (ops_train_misc.def): MoveGrad runs a data-movement op's copy list
 * (ir/move.h, the one its forward kernel and folding run) backwards,
 * adding gradients where the forward copied values; GatherGrad scatters. */
#include "emit.h"

#include <string.h>

#include "move.h"

/* "off + idx", "idx" or "off". */
static const char *at(Emitter *e, int64_t off, const char *idx)
{
    if (off == 0)
        return idx;
    if (strcmp(idx, "0") == 0)
        return arena_printf(e->arena, "%lld", (long long)off);
    return arena_printf(e->arena, "%lld + %s", (long long)off, idx);
}

/* The adjoint of one copy `dst[…] = src[…]`: `gsrc[…] += gdst[…]` over the
 * step's index space. */
static bool emit_adjoint_step(Emitter *e, const Node *n, MoveStep *s, const char *gsrc,
                              const char *gdst)
{
    move_simplify(s);
    if (s->dims[0] == 0)
        return true;
    if (s->rank > IR_MAX_RANK) {
        ir_node_error(e->d, n, "the copy walks %d dims, more than kiln's %d", s->rank, IR_MAX_RANK);
        return false;
    }
    EmitLoops l = {.rank = s->rank, .n_ops = 2};
    for (int i = 0; i < s->rank; i++) {
        l.dims[i] = s->dims[i];
        l.strides[0][i] = s->src_stride[i];
        l.strides[1][i] = s->dst_stride[i];
    }
    emit_loops_open(e, &l);
    emit_line(e, "%s[%s] += %s[%s];", gsrc, at(e, s->src_off, l.idx[0]), gdst,
              at(e, s->dst_off, l.idx[1]));
    emit_loops_close(e, &l);
    return true;
}

/* Pad in edge, reflect or wrap mode: dX[src(y)] += dY[y] over Y's elements,
 * src(y) the element of X Pad copied to y. Per axis, with the kept part of
 * X (after any crop) at [lo, lo + len) of Y and starting at xlo in X, and
 * r = y - lo: r < 0 maps to 0 (edge), -r (reflect) or r + len (wrap),
 * r >= len to len - 1, 2 (len - 1) - r or r - len; pads never exceed what
 * one reflection or wrap covers (move_pad_max). */
static bool emit_pad_grad(Emitter *e, const MoveParams *p, const Shape *x)
{
    const Shape *y = &p->out[0];
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
    move_strides(x, xs);
    move_strides(y, ys);
    StrBuf src = {0}, dst = {0};
    for (int i = 0; i < x->rank; i++) {
        int64_t lo = p->begin[i] > 0 ? p->begin[i] : 0, xlo = p->begin[i] < 0 ? -p->begin[i] : 0;
        int64_t len = y->dims[i] - lo - (p->end[i] > 0 ? p->end[i] : 0);
        emit_open(e, "for (int i%d = 0; i%d < %lld; i%d++)", i, i, (long long)y->dims[i], i);
        emit_line(e, "int r%d = i%d - %lld;", i, i, (long long)lo);
        if (lo > 0 || len < y->dims[i]) {
            long long L = (long long)len;
            emit_line(e, "if (r%d < 0)", i);
            if (p->mode == PAD_EDGE)
                emit_line(e, "    r%d = 0;", i);
            else if (p->mode == PAD_REFLECT)
                emit_line(e, "    r%d = -r%d;", i, i);
            else
                emit_line(e, "    r%d += %lld;", i, L);
            emit_line(e, "else if (r%d >= %lld)", i, L);
            if (p->mode == PAD_EDGE)
                emit_line(e, "    r%d = %lld;", i, L - 1);
            else if (p->mode == PAD_REFLECT)
                emit_line(e, "    r%d = %lld - r%d;", i, 2 * (L - 1), i);
            else
                emit_line(e, "    r%d -= %lld;", i, L);
        }
        sb_printf(&src, "%s(r%d + %lld) * %lld", i ? " + " : "", i, (long long)xlo, (long long)xs[i]);
        sb_printf(&dst, "%si%d * %lld", i ? " + " : "", i, (long long)ys[i]);
    }
    emit_line(e, "%s[%s] += %s[%s];", e->out_name[0], src.len ? src.buf : "0", e->in_name[0],
              dst.len ? dst.buf : "0");
    for (int i = 0; i < x->rank; i++)
        emit_close(e);
    sb_free(&src);
    sb_free(&dst);
    return true;
}

/* MoveGrad: dX = 0, then the forward copy list walked from its last step
 * to its first, each copy adding the gradient of where it wrote to where it
 * read; fills (Pad's constant) have no gradient to give. Pad's edge,
 * reflect and wrap slabs copy from Y itself, so that mode maps each
 * element of Y straight back to X instead (emit_pad_grad). */
bool k_move_grad(Emitter *e, const Graph *g, const Node *n)
{
    Node fwd;
    int m = (int)ir_attr_int(n, "n_dy", 1);
    int *in = arena_alloc(e->arena, sizeof(int) * (size_t)(n->n_in + 2));
    int *out = arena_alloc(e->arena, sizeof(int) * (size_t)(m + 1));
    move_grad_forward(n, &fwd, in, out);
    MoveParams p;
    MoveProg prog;
    char err[MOVE_ERR_LEN];
    bool ok = move_params(g, &fwd, e->arena, &p, err);
    KILN_ASSERT(ok); /* the shape rule passed */
    const Value *x = ir_out(g, n, 0);
    const char *t = dtype_ctype(x->dtype), *dx = e->out_name[0];
    emit_line(e, "/* the adjoint of %s's copies: dX gathers the gradients of where X went */",
              op_info[fwd.op].name);
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", dx, (long long)shape_numel(&x->shape), t);
    if (fwd.op == OP_Pad && p.mode != PAD_CONSTANT)
        return shape_numel(&p.out[0]) == 0 || emit_pad_grad(e, &p, &x->shape);
    move_build(g, &fwd, &p, e->arena, &prog);
    for (int k = prog.n - 1; k >= 0; k--) {
        MoveStep *s = &prog.steps[k];
        const char *gdst = e->in_name[s->dst];
        KILN_ASSERT(s->kind != MOVE_COPY || s->src >= 0); /* only Pad and Tile copy from Y */
        if (s->kind == MOVE_COPY && gdst && s->src == 0 && !emit_adjoint_step(e, n, s, dx, gdst))
            return false;
    }
    return true;
}

/* GatherGrad: X [outer, S, inner] (S along attribute axis), indices of N
 * elements, dY [outer, N, inner]: dX = 0, then for each (o, j, i)
 *   dX[o, k, i] += dY[o, j, i], k = indices[j] (+ S if negative);
 * an index out of range adds nothing (the forward gathered zeros there). */
bool k_gather_grad(Emitter *e, const Graph *g, const Node *n)
{
    const Value *ind = ir_in(g, n, 1), *x = ir_out(g, n, 0);
    int axis = (int)ir_attr_int(n, "axis", 0);
    int64_t outer = 1, inner = 1, S = x->shape.dims[axis], N = shape_numel(&ind->shape);
    for (int i = 0; i < x->shape.rank; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    const char *t = dtype_ctype(x->dtype);
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
              (long long)shape_numel(&x->shape), t);
    if (shape_numel(&x->shape) == 0 || N == 0 || inner == 0 || outer == 0) {
        emit_line(e, "(void)%s, (void)%s; /* no elements */", e->in_name[0], e->in_name[1]);
        return true;
    }
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)N);
    emit_line(e, "int64_t k = (int64_t)%s[j];", e->in_name[1]);
    emit_line(e, "if (k < 0)");
    emit_line(e, "    k += %lld;", (long long)S);
    emit_line(e, "if (k < 0 || k >= %lld)", (long long)S);
    emit_line(e, "    continue;");
    emit_line(e, "%s *dx = %s + (o * %lld + k) * %lld;", t, e->out_name[0], (long long)S,
              (long long)inner);
    emit_line(e, "const %s *dy = %s + (o * %lld + j) * %lld;", t, e->in_name[0], (long long)N,
              (long long)inner);
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    emit_line(e, "dx[i] += dy[i];");
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}
