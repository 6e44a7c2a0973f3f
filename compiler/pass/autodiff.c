/* autodiff.c — reverse-mode differentiation as an IR pass: walking the nodes
 * backwards from the training loss, each op's gradient rule (ops.def) adds
 * ordinary nodes computing its inputs' gradients, so fusion, memory planning
 * and emission treat the backward pass like any forward node. */
#include "autodiff.h"

#include <string.h>

static bool (*const grad_rules[OP_COUNT])(GradCtx *, const Node *) = {
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) [OP_##name] = grad,
#include "ops.def"
#undef OP
};

bool grad_none(GradCtx *c, const Node *n)
{
    ir_node_error(c->d, n, "kiln has no gradient rule for this op, so it can't train through it");
    return false;
}

int ad_grad(const GradCtx *c, int v)
{
    return v >= 0 ? c->grad[v] : -1;
}

bool ad_wants(const GradCtx *c, int v)
{
    return v >= 0 && c->wants[v];
}

/* Keeps grad[] and wants[] longer than the graph's value list. */
static void reserve(GradCtx *c)
{
    if (c->g->n_values + 16 < c->cap)
        return;
    int cap = c->cap * 2 + 64;
    int *grad = arena_alloc(c->g->arena, sizeof(int) * (size_t)cap);
    bool *wants = arena_alloc(c->g->arena, (size_t)cap);
    memcpy(grad, c->grad, sizeof(int) * (size_t)c->cap);
    memcpy(wants, c->wants, (size_t)c->cap);
    for (int i = c->cap; i < cap; i++)
        grad[i] = -1;
    c->grad = grad;
    c->wants = wants;
    c->cap = cap;
}

Node *ad_node(GradCtx *c, OpKind op, const int *in, int n_in, int n_out)
{
    Graph *g = c->g;
    reserve(c);
    int out[8];
    KILN_ASSERT(n_out <= 8);
    for (int i = 0; i < n_out; i++)
        out[i] = ir_graph_add_temp(g, arena_printf(g->arena, "grad/%s", op_info[op].name))->id;
    Node *n = ir_graph_add_node(g, op, arena_printf(g->arena, "grad/%s_%d", op_info[op].name, g->n_nodes),
                                in, n_in, out, n_out);
    return n;
}

int ad_finish(GradCtx *c, Node *n)
{
    if (c->d->errors || !infer_node(c->g, n, c->d))
        return -1;
    return n->out[0];
}

int ad_op1(GradCtx *c, OpKind op, int a)
{
    return ad_finish(c, ad_node(c, op, &a, 1, 1));
}

int ad_op2(GradCtx *c, OpKind op, int a, int b)
{
    int in[2] = {a, b};
    return ad_finish(c, ad_node(c, op, in, 2, 1));
}

Node *ad_node13(GradCtx *c, OpKind op, const int *in, int n_in)
{
    Node *n = ad_node(c, op, in, n_in, 1);
    if (n->opset < 13)
        n->opset = 13;
    return n;
}

int ad_op13_1(GradCtx *c, OpKind op, int a)
{
    return ad_finish(c, ad_node13(c, op, &a, 1));
}

int ad_op13_2(GradCtx *c, OpKind op, int a, int b)
{
    int in[2] = {a, b};
    return ad_finish(c, ad_node13(c, op, in, 2));
}

int ad_op13_3(GradCtx *c, OpKind op, int a, int b, int d)
{
    int in[3] = {a, b, d};
    return ad_finish(c, ad_node13(c, op, in, 3));
}

int ad_reshape_to(GradCtx *c, int x, const Shape *s)
{
    if (x < 0 || shape_equal(&c->g->values[x]->shape, s))
        return x;
    return ad_op13_2(c, OP_Reshape, x, ad_ints(c, s->dims, s->rank));
}

void ad_copy_attrs(GradCtx *c, Node *n, const Node *from)
{
    for (int i = 0; i < from->n_attr; i++) {
        Attr *a = ir_node_set_attr(c->g, n, from->attrs[i].name, from->attrs[i].type);
        const char *name = a->name;
        *a = from->attrs[i];
        a->name = name;
    }
}

void ad_set_int(GradCtx *c, Node *n, const char *name, int64_t v)
{
    ir_node_set_attr(c->g, n, name, ATTR_INT)->i = v;
}

void ad_set_ints(GradCtx *c, Node *n, const char *name, const int64_t *v, int count)
{
    Attr *a = ir_node_set_attr(c->g, n, name, ATTR_INTS);
    a->n = count;
    a->ints = arena_dup(c->g->arena, v, sizeof(int64_t) * (size_t)count);
}

void ad_set_str(GradCtx *c, Node *n, const char *name, const char *s)
{
    ir_node_set_attr(c->g, n, name, ATTR_STRING)->s = arena_strdup(c->g->arena, s);
}

int ad_scalar(GradCtx *c, DType dt, double v)
{
    reserve(c);
    Shape s = {0};
    unsigned char data[8] = {0};
    tensor_set_f(dt, data, 0, v);
    Value *x = ir_graph_add_temp(c->g, "grad/const");
    ir_value_set_const(c->g, x, dt, &s, data);
    return x->id;
}

int ad_ints(GradCtx *c, const int64_t *v, int count)
{
    reserve(c);
    Shape s = {.rank = 1, .dims = {count}};
    Value *x = ir_graph_add_temp(c->g, "grad/shape");
    ir_value_set_const(c->g, x, DT_I64, &s, v);
    return x->id;
}

void ad_accumulate(GradCtx *c, int v, int gv)
{
    if (v < 0 || gv < 0 || !c->wants[v])
        return;
    c->grad[v] = c->grad[v] < 0 ? gv : ad_op2(c, OP_Add, c->grad[v], gv);
}

int ad_unbroadcast(GradCtx *c, int gv, int v)
{
    if (gv < 0)
        return -1;
    const Shape *want = &c->g->values[v]->shape, *have = &c->g->values[gv]->shape;
    if (shape_equal(want, have))
        return gv;
    Node *n = ad_node(c, OP_SumToShape, &gv, 1, 1);
    ad_set_ints(c, n, "shape", want->dims, want->rank);
    return ad_finish(c, n);
}

int ad_reshape_like(GradCtx *c, int gv, int v)
{
    if (gv < 0)
        return -1;
    const Shape *want = &c->g->values[v]->shape;
    if (shape_equal(want, &c->g->values[gv]->shape))
        return gv;
    return ad_op2(c, OP_Reshape, gv, ad_ints(c, want->dims, want->rank));
}

/* wants[v]: on a path from a wrt value to y, through float values. */
static void mark_wanted(GradCtx *c, int y, const int *wrt, int n_wrt)
{
    Graph *g = c->g;
    bool *from = arena_alloc(g->arena, (size_t)g->n_values + 1);
    bool *to = arena_alloc(g->arena, (size_t)g->n_values + 1);
    for (int k = 0; k < n_wrt; k++)
        from[wrt[k]] = true;
    for (int k = 0; k < g->n_nodes; k++) {
        const Node *n = g->nodes[k];
        bool any = false;
        for (int i = 0; i < n->n_in && !n->dead; i++)
            any |= n->in[i] >= 0 && from[n->in[i]];
        for (int i = 0; i < n->n_out && any; i++)
            if (n->out[i] >= 0)
                from[n->out[i]] = dtype_is_float(g->values[n->out[i]]->dtype);
    }
    to[y] = true;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const Node *n = g->nodes[k];
        bool any = false;
        for (int i = 0; i < n->n_out && !n->dead; i++)
            any |= n->out[i] >= 0 && to[n->out[i]];
        for (int i = 0; i < n->n_in && any; i++)
            if (n->in[i] >= 0)
                to[n->in[i]] = true;
    }
    for (int i = 0; i < g->n_values; i++)
        c->wants[i] = from[i] && to[i];
}

/* d(y) = 1: a scalar for a rank-0 y, else ones of y's shape (the gradient of
 * the sum of y's elements). */
static int seed_ones(GradCtx *c, const Value *y)
{
    if (y->shape.rank == 0)
        return ad_scalar(c, y->dtype, 1.0);
    reserve(c);
    int64_t numel = shape_numel(&y->shape);
    void *data = arena_alloc(c->g->arena, (size_t)numel * dtype_size(y->dtype) + 1);
    for (int64_t k = 0; k < numel; k++)
        tensor_set_f(y->dtype, data, k, 1.0);
    Value *seed = ir_graph_add_temp(c->g, "grad/seed");
    ir_value_set_const(c->g, seed, y->dtype, &y->shape, data);
    return seed->id;
}

/* ad_differentiate
 * requires: a typed graph in topological order; y a float value; wrt float
 *           values (graph inputs, states or intermediate values).
 * does:     seeds d(y) = 1 and runs the gradient rule of every node on a
 *           path from a wrt value to y, last node first; grads[k] gets the
 *           gradient of y w.r.t. wrt[k] (-1 when y doesn't depend on it).
 *           New nodes are typed as they are made and appended after the
 *           existing ones.
 * preserves: the existing nodes. */
bool ad_differentiate(Graph *g, int y, const int *wrt, int n_wrt, int *grads, Diag *d)
{
    GradCtx c = {.g = g, .d = d};
    int n_values = g->n_values, n_nodes = g->n_nodes;
    c.cap = n_values + 1;
    c.grad = arena_alloc(g->arena, sizeof(int) * (size_t)c.cap);
    c.wants = arena_alloc(g->arena, (size_t)c.cap);
    for (int i = 0; i < c.cap; i++)
        c.grad[i] = -1;
    mark_wanted(&c, y, wrt, n_wrt);
    int seed = seed_ones(&c, g->values[y]); /* may grow c.grad: not in one expression */
    c.grad[y] = seed;
    for (int k = n_nodes - 1; k >= 0 && !d->errors; k--) {
        const Node *n = g->nodes[k];
        bool in_wants = false, out_has = false;
        for (int i = 0; i < n->n_in; i++)
            in_wants |= n->in[i] >= 0 && n->in[i] < n_values && c.wants[n->in[i]];
        for (int i = 0; i < n->n_out; i++)
            out_has |= n->out[i] >= 0 && c.grad[n->out[i]] >= 0;
        if (n->dead || !in_wants || !out_has)
            continue;
        if (!grad_rules[n->op](&c, n))
            return false;
    }
    for (int k = 0; k < n_wrt; k++)
        grads[k] = c.wants[wrt[k]] ? c.grad[wrt[k]] : -1;
    return !d->errors;
}

/* pass_autodiff
 * requires: a typed graph in topological order with g->train_loss a float
 *           scalar and trainable VAL_STATE values.
 * does:     ad_differentiate of the loss w.r.t. every trainable state;
 *           *grads maps each value to its gradient (-1 if none; only the
 *           trainable states have one).
 * preserves: the forward nodes. */
bool pass_autodiff(Graph *g, int **grads, Diag *d)
{
    int n_wrt = 0, *wrt = arena_alloc(g->arena, sizeof(int) * ((size_t)g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i]->kind == VAL_STATE && g->values[i]->trainable)
            wrt[n_wrt++] = i;
    int *got = arena_alloc(g->arena, sizeof(int) * ((size_t)n_wrt + 1));
    if (!ad_differentiate(g, g->train_loss, wrt, n_wrt, got, d))
        return false;
    int *map = arena_alloc(g->arena, sizeof(int) * ((size_t)g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        map[i] = -1;
    for (int k = 0; k < n_wrt; k++)
        map[wrt[k]] = got[k];
    *grads = map;
    return true;
}
