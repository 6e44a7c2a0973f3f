/* shapes_movement.c — shape rules of the data-movement ops: Flatten, Reshape,
 * Transpose (ONNX spec sections of the same names). */
#include "pass.h"

/* Flatten: [d0..d(axis-1)] x [d(axis)..] into 2-D; axis in [-r, r]. */
bool shape_flatten(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int r = x->shape.rank;
    int64_t axis = ir_attr_int(n, "axis", 1);
    if (axis < -r || axis > r) {
        ir_node_error(d, n, "axis %lld out of range for rank %d", (long long)axis, r);
        return false;
    }
    if (axis < 0)
        axis += r;
    Shape y = {.rank = 2, .dims = {1, 1}};
    for (int i = 0; i < r; i++)
        y.dims[i < axis ? 0 : 1] *= x->shape.dims[i];
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* Reshape: the shape input must be constant; 0 copies the input dim (unless
 * allowzero=1, opset 14+), one -1 is inferred. */
bool shape_reshape(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int64_t want[IR_MAX_RANK];
    int r = rule_const_ints(g, n, 1, want, IR_MAX_RANK);
    if (r < 0) {
        ir_node_error(d, n, "the target shape must be a constant (at most %d int64 values)",
                      IR_MAX_RANK);
        return false;
    }
    bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
    Shape y = {.rank = r};
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < r; i++) {
        int64_t v = want[i];
        if (v == 0 && !allowzero) {
            if (i >= x->shape.rank) {
                ir_node_error(d, n, "target dim %d is 0 but the input has rank %d", i,
                              x->shape.rank);
                return false;
            }
            v = x->shape.dims[i];
        }
        if (v == -1) {
            if (infer >= 0) {
                ir_node_error(d, n, "target shape has more than one -1");
                return false;
            }
            infer = i;
            continue;
        }
        if (v < 0 || !size_mul_ok(known, v, &known)) {
            ir_node_error(d, n, "target dim %d is invalid (%lld)", i, (long long)want[i]);
            return false;
        }
        y.dims[i] = v;
    }
    int64_t total = shape_numel(&x->shape);
    if (infer >= 0) {
        if (known == 0 || total % known != 0) {
            ir_node_error(d, n, "can't infer -1: %lld elements into blocks of %lld",
                          (long long)total, (long long)known);
            return false;
        }
        y.dims[infer] = total / known;
    } else if (known != total) {
        char sx[128], sy[128];
        ir_node_error(d, n, "can't reshape %s (%lld elements) to %s", shape_str(&x->shape, sx, 128),
                      (long long)total, shape_str(&y, sy, 128));
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* Transpose: perm defaults to reversing the dims. */
bool shape_transpose(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int r = x->shape.rank;
    const Attr *perm = ir_attr(n, "perm");
    Shape y = {.rank = r};
    bool seen[IR_MAX_RANK] = {0};
    if (perm && perm->n != r) {
        ir_node_error(d, n, "perm has %d entries for rank %d", perm->n, r);
        return false;
    }
    for (int i = 0; i < r; i++) {
        int64_t p = perm ? perm->ints[i] : r - 1 - i;
        if (p < 0)
            p += r;
        if (p < 0 || p >= r || seen[p]) {
            ir_node_error(d, n, "perm is not a permutation of 0..%d", r - 1);
            return false;
        }
        seen[p] = true;
        y.dims[i] = x->shape.dims[p];
    }
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}
