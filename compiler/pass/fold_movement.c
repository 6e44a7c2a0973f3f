/* fold_movement.c — compile-time evaluation of data-movement ops on constant
 * inputs (Reshape and Flatten keep the bytes; Transpose permutes them). */
#include "pass.h"

#include <string.h>

/* Reshape, Flatten: same bytes, new shape. */
bool fold_reshape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 0);
    if (x->kind != VAL_CONST || !x->data)
        return false;
    Value *y = ir_out(g, n, 0);
    size_t bytes = (size_t)shape_numel(&x->shape) * dtype_size(x->dtype);
    y->kind = VAL_CONST;
    y->data = arena_dup(g->arena, x->data, bytes);
    return true;
}

bool fold_transpose(Graph *g, Node *n, Diag *d)
{
    (void)d;
    const Value *x = ir_in(g, n, 0);
    if (x->kind != VAL_CONST || !x->data)
        return false;
    Value *y = ir_out(g, n, 0);
    int r = x->shape.rank;
    const Attr *perm = ir_attr(n, "perm");
    int64_t xstride[IR_MAX_RANK];
    for (int i = r - 1, s = 1; i >= 0; i--) {
        xstride[i] = s;
        s *= (int)x->shape.dims[i];
    }
    size_t es = dtype_size(x->dtype);
    int64_t numel = shape_numel(&y->shape);
    unsigned char *out = arena_alloc(g->arena, (size_t)numel * es + 1);
    for (int64_t k = 0; k < numel; k++) {
        int64_t rem = k, src = 0;
        for (int i = r - 1; i >= 0; i--) {
            int64_t c = rem % y->shape.dims[i];
            rem /= y->shape.dims[i];
            int64_t p = perm ? perm->ints[i] : r - 1 - i;
            src += c * xstride[p < 0 ? p + r : p];
        }
        memcpy(out + (size_t)k * es, (const unsigned char *)x->data + (size_t)src * es, es);
    }
    y->kind = VAL_CONST;
    y->data = out;
    return true;
}
