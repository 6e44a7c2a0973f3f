/* rules_util.c — small helpers the per-op shape and fold rules share:
 * setting output types, numpy broadcasting, reading constant inputs, and
 * dtype-generic element access for folding. */
#include "pass.h"

#include <string.h>

void rule_set_out(Graph *g, Node *n, int i, DType dt, const Shape *s)
{
    if (i >= n->n_out || n->out[i] < 0)
        return;
    Value *v = g->values[n->out[i]];
    v->dtype = dt;
    v->shape = *s;
    v->has_type = true;
}

bool rule_broadcast(const Shape *a, const Shape *b, Shape *out)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    memset(out, 0, sizeof *out);
    out->rank = rank;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            out->dims[i] = da;
        else if (da == 1)
            out->dims[i] = db;
        else
            return false;
    }
    return true;
}

bool rule_inputs_const(const Graph *g, const Node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (v && (v->kind != VAL_CONST || !v->data))
            return false;
    }
    return true;
}

int rule_const_ints(const Graph *g, const Node *n, int i, int64_t *vals, int max)
{
    const Value *v = ir_in(g, n, i);
    if (!v || v->kind != VAL_CONST || !v->data || (v->dtype != DT_I64 && v->dtype != DT_I32))
        return -1;
    int64_t count = shape_numel(&v->shape);
    if (count < 0 || count > max)
        return -1;
    for (int64_t k = 0; k < count; k++)
        vals[k] = tensor_get_i(v->dtype, v->data, k);
    return (int)count;
}

bool rule_axis(int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= (rank > 0 ? rank : 1))
        return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

int64_t rule_bcast_index(const Shape *out, const Shape *in, int64_t k)
{
    int64_t idx = 0, stride = 1;
    for (int i = out->rank - 1, j = in->rank - 1; i >= 0; i--, j--) {
        int64_t c = k % out->dims[i];
        k /= out->dims[i];
        if (j >= 0) {
            if (in->dims[j] != 1)
                idx += c * stride;
            stride *= in->dims[j];
        }
    }
    return idx;
}
