/* shapes_movement.c — shape rules of the shape and data-movement ops. The
 * ops that move bytes (Reshape, Transpose, Slice, Concat, Pad, …) share one
 * reader of their parameters with folding and the kernels (ir/move.h); the
 * ops that only describe shapes (Shape, Size, Range) and Trilu are here. */
#include "pass.h"

#include <math.h>

#include "move.h"

/* Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
 * Expand, Tile, Pad, DepthToSpace, SpaceToDepth, EyeLike, ConstantOfShape:
 * parameters and output shapes per the ONNX spec section of each op, every
 * opset from 6 on (move.h has the per-op details). */
bool shape_move(Graph *g, Node *n, Diag *d)
{
    MoveParams p;
    char err[MOVE_ERR_LEN];
    if (!move_params(g, n, g->arena, &p, err)) {
        ir_node_error(d, n, "%s", err);
        return false;
    }
    for (int i = 0; i < n->n_out; i++)
        rule_set_out(g, n, i, p.dtype, &p.out[i]);
    return true;
}

/* Shape: int64 [end - start], the input's dims in move_shape_span. */
bool shape_shape(Graph *g, Node *n, Diag *d)
{
    (void)d;
    int start, end;
    move_shape_span(n, ir_in(g, n, 0)->shape.rank, &start, &end);
    Shape y = {.rank = 1, .dims = {end - start}};
    rule_set_out(g, n, 0, DT_I64, &y);
    return true;
}

/* Size: int64 scalar, the input's element count. */
bool shape_size(Graph *g, Node *n, Diag *d)
{
    (void)d;
    Shape y = {0};
    rule_set_out(g, n, 0, DT_I64, &y);
    return true;
}

/* Range: scalars start, limit, delta of one numeric dtype; the output's
 * length max(ceil((limit - start) / delta), 0) depends on their values, so
 * all three must be compile-time constants (then the node always folds). */
bool shape_range(Graph *g, Node *n, Diag *d)
{
    const Value *v[3] = {ir_in(g, n, 0), ir_in(g, n, 1), ir_in(g, n, 2)};
    DType dt = v[0]->dtype;
    for (int i = 0; i < 3; i++) {
        if (v[i]->dtype != dt || shape_numel(&v[i]->shape) != 1) {
            ir_node_error(d, n, "start, limit and delta must be scalars of one dtype");
            return false;
        }
        if (v[i]->kind != VAL_CONST || !v[i]->data) {
            ir_node_error(d, n, "input '%s' must be a compile-time constant (the output's length "
                          "depends on it)", v[i]->name);
            return false;
        }
    }
    if (dt != DT_F32 && dt != DT_F64 && dt != DT_I16 && dt != DT_I32 && dt != DT_I64) {
        ir_node_error(d, n, "dtype %s is not one of f32, f64, i16, i32, i64", dtype_name(dt));
        return false;
    }
    double start = tensor_get_f(dt, v[0]->data, 0), limit = tensor_get_f(dt, v[1]->data, 0);
    double delta = tensor_get_f(dt, v[2]->data, 0), count = ceil((limit - start) / delta);
    if (delta == 0 || !(count < INT32_MAX)) {
        ir_node_error(d, n, "delta is 0 or the range is too long");
        return false;
    }
    Shape y = {.rank = 1, .dims = {count > 0 ? (int64_t)count : 0}};
    rule_set_out(g, n, 0, dt, &y);
    return true;
}

/* Trilu (opset 14): rank >= 2, the last two dims a matrix; k an optional
 * int64 scalar input (it may be a run-time value); upper attribute. */
bool shape_trilu(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0), *k = ir_in(g, n, 1);
    if (x->shape.rank < 2) {
        ir_node_error(d, n, "input has rank %d, expected at least 2", x->shape.rank);
        return false;
    }
    if (k && (k->dtype != DT_I64 || shape_numel(&k->shape) != 1)) {
        ir_node_error(d, n, "k must be one int64");
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}
