/* fold_gather.c — compile-time evaluation of Gather, GatherElements and
 * GatherND on constant data and indices, so PyTorch's Shape → Gather →
 * Unsqueeze → Concat → Reshape chains leave static shapes behind. An index
 * out of range in constant inputs is the model's error, reported here. */
#include "pass.h"

#include <string.h>

/* Index v into a dim of size dim, negative counting from the end. */
static bool fold_index(const Node *n, int64_t v, int64_t dim, int64_t *out, Diag *d)
{
    int64_t k = v < 0 ? v + dim : v;
    if (k < 0 || k >= dim) {
        ir_node_error(d, n, "constant index %lld is out of range for a dim of %lld",
                      (long long)v, (long long)dim);
        return false;
    }
    *out = k;
    return true;
}

static void row_strides(const Shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= s->dims[i];
    }
}

/* Gather: data as [outer, S, inner], indices flattened to N. */
static bool fold_gather_axis(const Node *n, const Value *x, const Value *ind, unsigned char *out,
                             size_t es, Diag *d)
{
    int axis = (int)ir_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += x->shape.rank;
    int64_t outer = 1, inner = 1, S = x->shape.dims[axis], N = shape_numel(&ind->shape);
    for (int i = 0; i < x->shape.rank; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    const unsigned char *src = x->data;
    for (int64_t j = 0; j < N; j++) {
        int64_t k;
        if (!fold_index(n, tensor_get_i(ind->dtype, ind->data, j), S, &k, d))
            return false;
        for (int64_t o = 0; o < outer; o++)
            memcpy(out + (size_t)((o * N + j) * inner) * es, src + (size_t)((o * S + k) * inner) * es,
                   (size_t)inner * es);
    }
    return true;
}

/* GatherElements: each output element reads data at its own coordinates
 * with the axis coordinate replaced by its index. */
static bool fold_gather_elements(const Node *n, const Value *x, const Value *ind,
                                 unsigned char *out, size_t es, Diag *d)
{
    int axis = (int)ir_attr_int(n, "axis", 0), r = x->shape.rank;
    if (axis < 0)
        axis += r;
    int64_t xs[IR_MAX_RANK];
    row_strides(&x->shape, xs);
    for (int64_t e = 0, N = shape_numel(&ind->shape); e < N; e++) {
        int64_t rem = e, src = 0, k;
        if (!fold_index(n, tensor_get_i(ind->dtype, ind->data, e), x->shape.dims[axis], &k, d))
            return false;
        for (int i = r - 1; i >= 0; i--) {
            int64_t c = rem % ind->shape.dims[i];
            rem /= ind->shape.dims[i];
            src += (i == axis ? k : c) * xs[i];
        }
        memcpy(out + (size_t)e * es, (const unsigned char *)x->data + (size_t)src * es, es);
    }
    return true;
}

/* GatherND: per batch b and index tuple j, copy the addressed slice. */
static bool fold_gather_nd(const Node *n, const Value *x, const Value *ind, unsigned char *out,
                           size_t es, Diag *d)
{
    int b = (int)ir_attr_int(n, "batch_dims", 0), q = ind->shape.rank;
    int64_t m = ind->shape.dims[q - 1], xs[IR_MAX_RANK], B = 1, N = 1;
    row_strides(&x->shape, xs);
    for (int i = 0; i < q - 1; i++)
        *(i < b ? &B : &N) *= ind->shape.dims[i];
    int64_t slice = xs[b + m - 1], batch = b > 0 ? xs[b - 1] : 0;
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t j = 0; j < N; j++) {
            int64_t src = bi * batch, k;
            for (int64_t t = 0; t < m; t++) {
                int64_t v = tensor_get_i(ind->dtype, ind->data, (bi * N + j) * m + t);
                if (!fold_index(n, v, x->shape.dims[b + t], &k, d))
                    return false;
                src += k * xs[b + t];
            }
            memcpy(out + (size_t)((bi * N + j) * slice) * es,
                   (const unsigned char *)x->data + (size_t)src * es, (size_t)slice * es);
        }
    return true;
}

bool fold_gather(Graph *g, Node *n, Diag *d)
{
    if (!rule_inputs_const(g, n))
        return false;
    const Value *x = ir_in(g, n, 0), *ind = ir_in(g, n, 1);
    Value *y = ir_out(g, n, 0);
    size_t es = dtype_size(x->dtype);
    unsigned char *out = arena_alloc(g->arena, (size_t)shape_numel(&y->shape) * es + 1);
    bool ok = false;
    switch (n->op) {
    case OP_Gather: ok = fold_gather_axis(n, x, ind, out, es, d); break;
    case OP_GatherElements: ok = fold_gather_elements(n, x, ind, out, es, d); break;
    case OP_GatherND: ok = fold_gather_nd(n, x, ind, out, es, d); break;
    default: KILN_ASSERT(!"fold_gather: not a gather op");
    }
    if (!ok)
        return false;
    y->kind = VAL_CONST;
    y->data = out;
    return true;
}
