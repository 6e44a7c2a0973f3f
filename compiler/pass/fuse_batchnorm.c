/* fuse_batchnorm.c — folds an inference-mode BatchNormalization into the
 * Conv or Gemm before it by rewriting that node's weights and bias at
 * compile time: y = s * (W x + b - mean) + bias with s = scale / sqrt(var +
 * epsilon) is the layer W' = s W, b' = s (b - mean) + bias. */
#include "pass.h"

#include <math.h>
#include <string.h>

/* Whether input i of n is a float constant with data. */
static bool const_in(const Graph *g, const Node *n, int i)
{
    const Value *v = ir_in(g, n, i);
    return v && v->kind == VAL_CONST && v->data && dtype_is_float(v->dtype) && v->dtype != DT_F16 &&
           v->dtype != DT_BF16;
}

/* An inference-mode, spatial BatchNormalization with constant parameters
 * and only its Y output. */
static bool foldable_bn(const Graph *g, const Node *bn)
{
    bool training = bn->opset >= 14 ? ir_attr_int(bn, "training_mode", 0) != 0
                    : bn->opset >= 7 ? false
                                     : ir_attr_int(bn, "is_test", 0) == 0;
    for (int i = 1; i < bn->n_out; i++)
        training |= bn->out[i] >= 0;
    bool spatial = bn->opset >= 9 || ir_attr_int(bn, "spatial", 1) != 0;
    return !training && spatial && const_in(g, bn, 1) && const_in(g, bn, 2) &&
           const_in(g, bn, 3) && const_in(g, bn, 4);
}

/* The per-channel factor s[c] and shift t[c] of bn: y = s x + t. */
static void bn_affine(const Graph *g, const Node *bn, int64_t c, double *s, double *t)
{
    const Value *sc = ir_in(g, bn, 1), *bi = ir_in(g, bn, 2), *mu = ir_in(g, bn, 3),
                *va = ir_in(g, bn, 4);
    double eps = ir_attr_float(bn, "epsilon", 1e-5);
    for (int64_t k = 0; k < c; k++) {
        s[k] = tensor_get_f(sc->dtype, sc->data, k) / sqrt(tensor_get_f(va->dtype, va->data, k) + eps);
        t[k] = tensor_get_f(bi->dtype, bi->data, k) - s[k] * tensor_get_f(mu->dtype, mu->data, k);
    }
}

/* A new weight named after base holding data of dtype dt and shape s. */
static int new_const(Graph *g, const char *base, DType dt, const Shape *s, const void *data)
{
    Value *v = ir_graph_add_temp(g, base);
    ir_value_set_const(g, v, dt, s, data);
    v->is_param = true; /* the model's weights, rewritten */
    return v->id;
}

/* Conv W [M, C/group, k...] (constant), B [M] (constant or absent). */
static bool fold_conv(Graph *g, Node *conv, const double *s, const double *t, int64_t m)
{
    const Value *w = ir_in(g, conv, 1), *b = ir_in(g, conv, 2);
    if (!const_in(g, conv, 1) || (b && !const_in(g, conv, 2)) || w->shape.dims[0] != m)
        return false;
    int64_t per = shape_numel(&w->shape) / m;
    void *wd = arena_dup(g->arena, w->data, (size_t)(m * per) * dtype_size(w->dtype));
    void *bd = arena_alloc(g->arena, (size_t)m * dtype_size(w->dtype));
    for (int64_t oc = 0; oc < m; oc++) {
        for (int64_t k = 0; k < per; k++)
            tensor_set_f(w->dtype, wd, oc * per + k, s[oc] * tensor_get_f(w->dtype, wd, oc * per + k));
        double b0 = b ? tensor_get_f(b->dtype, b->data, oc) : 0.0;
        tensor_set_f(w->dtype, bd, oc, s[oc] * b0 + t[oc]);
    }
    Shape bs = {.rank = 1, .dims = {m}};
    int in[3] = {conv->in[0], new_const(g, w->name, w->dtype, &w->shape, wd),
                 new_const(g, b ? b->name : arena_printf(g->arena, "%s.bias", conv->name),
                           w->dtype, &bs, bd)};
    fuse_set_inputs(g, conv, in, 3);
    return true;
}

/* Gemm Y [M,N] = alpha A' B' + beta C: B constant, C constant and the same
 * for every row (scalar, [N] or [1,N]) or absent. B's column n scales by
 * s[n]; C becomes s (beta C - mean) + bias, with beta 1. */
static bool fold_gemm(Graph *g, Node *gemm, const double *s, const double *t, int64_t n)
{
    const Value *b = ir_in(g, gemm, 1), *c = ir_in(g, gemm, 2);
    double beta = ir_attr_float(gemm, "beta", 1.0);
    if (!const_in(g, gemm, 1) || (c && !const_in(g, gemm, 2)))
        return false;
    bool per_column = !c || shape_numel(&c->shape) == 1 ||
                      (c->shape.dims[c->shape.rank - 1] == n &&
                       (c->shape.rank == 1 || c->shape.dims[0] == 1));
    if (!per_column)
        return false;
    bool tb = ir_attr_int(gemm, "transB", 0) != 0;
    int64_t k_dim = b->shape.dims[tb ? 1 : 0], numel = shape_numel(&b->shape);
    void *bd = arena_dup(g->arena, b->data, (size_t)numel * dtype_size(b->dtype));
    for (int64_t i = 0; i < numel; i++) {
        int64_t col = tb ? i / k_dim : i % n; /* B [N,K] or [K,N] */
        tensor_set_f(b->dtype, bd, i, s[col] * tensor_get_f(b->dtype, bd, i));
    }
    void *cd = arena_alloc(g->arena, (size_t)n * dtype_size(b->dtype));
    for (int64_t j = 0; j < n; j++) {
        double c0 = c ? beta * tensor_get_f(c->dtype, c->data, shape_numel(&c->shape) == 1 ? 0 : j)
                      : 0.0;
        tensor_set_f(b->dtype, cd, j, s[j] * c0 + t[j]);
    }
    Shape cs = {.rank = 1, .dims = {n}};
    int in[3] = {gemm->in[0], new_const(g, b->name, b->dtype, &b->shape, bd),
                 new_const(g, c ? c->name : arena_printf(g->arena, "%s.bias", gemm->name),
                           b->dtype, &cs, cd)};
    fuse_set_inputs(g, gemm, in, 3);
    ir_node_set_attr(g, gemm, "beta", ATTR_FLOAT)->f = 1.0;
    return true;
}

/* pass_fuse_batchnorm
 * requires: shapes inferred, Value.producer current.
 * does:     each BatchNormalization in inference mode whose parameters are
 *           constants and whose X is read only by it, computed by a Conv or
 *           Gemm with constant weights (and bias), is folded into that node:
 *           new constant weights and bias (computed in double, rounded once
 *           to the weights' type), and the Conv/Gemm now writes the BN's Y.
 *           In a training build the parameters are state, not constants,
 *           so nothing folds there. Results change by rounding only: the
 *           folded weights are rounded once instead of rounding s*x+t.
 * preserves: types, shapes, the outputs' values up to rounding.
 * invalidates: node order (re-sorted), the old weights (left unread). */
bool pass_fuse_batchnorm(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = 0; k < g->n_nodes; k++) {
        Node *bn = g->nodes[k];
        if (bn->dead || bn->op != OP_BatchNormalization || !foldable_bn(g, bn))
            continue;
        Node *p = fuse_producer(g, bn->in[0]);
        if (!p || fuse_sole_reader(g, uses, bn->in[0]) != bn)
            continue;
        int64_t c = ir_in(g, bn, 0)->shape.dims[1];
        double *s = arena_alloc(g->arena, sizeof(double) * (size_t)c);
        double *t = arena_alloc(g->arena, sizeof(double) * (size_t)c);
        bn_affine(g, bn, c, s, t);
        bool done = false;
        switch (p->op) {
        case OP_Conv: done = fold_conv(g, p, s, t, c); break;
        case OP_Gemm: done = fold_gemm(g, p, s, t, c); break;
        default: break;
        }
        if (done)
            fuse_absorb(p, bn);
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
