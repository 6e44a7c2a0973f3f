/* fold_movement.c — compile-time evaluation of the shape and data-movement
 * ops, so that PyTorch's shape arithmetic (Shape → Gather → Unsqueeze →
 * Concat → Reshape) leaves static shapes behind. Byte-moving ops run the
 * same copy list the kernels print (ir/move.h); Shape and Size fold from the
 * static shape alone, whether or not the input's data is known. */
#include "pass.h"

#include <string.h>

#include "move.h"

/* Ops that make more data than they read (Expand, Tile, Pad, EyeLike,
 * ConstantOfShape) fold only up to this many output elements; larger ones
 * run as kernels rather than bloat the weights. */
#define FOLD_GROW_LIMIT 65536

/* Allocates output i's data and marks it constant. */
static unsigned char *out_const(Graph *g, Node *n, int i)
{
    Value *y = ir_out(g, n, i);
    if (!y)
        return NULL;
    y->kind = VAL_CONST;
    y->data = arena_alloc(g->arena, (size_t)shape_numel(&y->shape) * dtype_size(y->dtype) + 1);
    return y->data;
}

/* Runs one step of a copy list over byte arrays of es-byte elements. */
static void run_step(MoveStep *s, unsigned char *const *outs, const Graph *g, const Node *n,
                     size_t es)
{
    move_simplify(s);
    unsigned char *dst = outs[s->dst];
    const unsigned char *src = s->src >= 0 ? ir_in(g, n, s->src)->data
                               : s->kind == MOVE_FILL ? s->fill : outs[-1 - s->src];
    int64_t total = 1, c[MOVE_MAX_RANK] = {0};
    for (int i = 0; i < s->rank; i++)
        total *= s->dims[i];
    if (!dst || total == 0)
        return;
    for (int64_t k = 0; k < total; k++) {
        int64_t di = s->dst_off, si = s->src_off;
        for (int i = 0; i < s->rank; i++)
            di += c[i] * s->dst_stride[i], si += c[i] * s->src_stride[i];
        memcpy(dst + (size_t)di * es, s->kind == MOVE_FILL ? src : src + (size_t)si * es, es);
        for (int i = s->rank - 1; i >= 0 && ++c[i] == s->dims[i]; i--)
            c[i] = 0;
    }
}

/* Every byte-moving op of move.h: evaluates its copy list when the inputs
 * it reads are constant (EyeLike reads only its input's shape). */
bool fold_move(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (n->op != OP_EyeLike && !rule_inputs_const(g, n))
        return false;
    MoveParams p;
    MoveProg prog;
    char err[MOVE_ERR_LEN];
    bool ok = move_params(g, n, g->arena, &p, err);
    KILN_ASSERT(ok); /* the shape rule passed */
    int64_t in_numel = 0, out_numel = 0;
    for (int i = 0; i < n->n_in; i++)
        if (ir_in(g, n, i))
            in_numel += shape_numel(&ir_in(g, n, i)->shape);
    for (int i = 0; i < p.n_out; i++)
        out_numel += shape_numel(&p.out[i]);
    if (out_numel > FOLD_GROW_LIMIT && out_numel > in_numel)
        return false;
    move_build(g, n, &p, g->arena, &prog);
    unsigned char **outs = arena_alloc(g->arena, sizeof(unsigned char *) * (size_t)(n->n_out + 1));
    for (int i = 0; i < n->n_out; i++)
        outs[i] = out_const(g, n, i);
    for (int k = 0; k < prog.n; k++)
        run_step(&prog.steps[k], outs, g, n, dtype_size(p.dtype));
    return true;
}

/* Shape: the input's dims [start, end) — known from its static shape. */
bool fold_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Shape *x = &ir_in(g, n, 0)->shape;
    int start, end;
    move_shape_span(n, x->rank, &start, &end);
    int64_t *out = (int64_t *)out_const(g, n, 0);
    for (int i = start; i < end; i++)
        out[i - start] = x->dims[i];
    return true;
}

/* Size: the input's element count. */
bool fold_size(Graph *g, Node *n, Diag *d)
{
    (void)d;
    *(int64_t *)out_const(g, n, 0) = shape_numel(&ir_in(g, n, 0)->shape);
    return true;
}

/* Range: output[i] = start + i * delta (ONNX spec), in int64 for integer
 * dtypes, double for float ones. Its inputs are always constant. */
bool fold_range(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *start = ir_in(g, n, 0), *delta = ir_in(g, n, 2), *y = ir_out(g, n, 0);
    void *out = out_const(g, n, 0);
    for (int64_t i = 0; i < y->shape.dims[0]; i++) {
        if (dtype_is_float(y->dtype))
            tensor_set_f(y->dtype, out, i,
                         tensor_get_f(start->dtype, start->data, 0) +
                             (double)i * tensor_get_f(delta->dtype, delta->data, 0));
        else
            tensor_set_i(y->dtype, out, i,
                         tensor_get_i(start->dtype, start->data, 0) +
                             i * tensor_get_i(delta->dtype, delta->data, 0));
    }
    return true;
}

/* Trilu: keeps x where move_trilu_keep says so, else 0. */
bool fold_trilu(Graph *g, Node *n, Diag *d)
{
    (void)d;
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *kv = ir_in(g, n, 1);
    bool upper = ir_attr_int(n, "upper", 1) != 0;
    int64_t k = kv ? tensor_get_i(kv->dtype, kv->data, 0) : 0;
    int64_t R = x->shape.dims[x->shape.rank - 2], C = x->shape.dims[x->shape.rank - 1];
    int64_t numel = shape_numel(&x->shape);
    size_t es = dtype_size(x->dtype);
    unsigned char *out = out_const(g, n, 0);
    for (int64_t at = 0; at < numel; at++) {
        if (move_trilu_keep(upper, k, at / C % R, at % C))
            memcpy(out + (size_t)at * es, (const unsigned char *)x->data + (size_t)at * es, es);
        else
            memset(out + (size_t)at * es, 0, es);
    }
    return true;
}
