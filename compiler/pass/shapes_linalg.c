/* shapes_linalg.c — shape rules of Gemm and MatMul (ONNX spec, numpy matmul
 * semantics for MatMul including 1-D promotion and batch broadcasting). */
#include "pass.h"

/* Gemm: A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB),
 * optional C unidirectionally broadcastable to [M,N]. Y [M,N]. */
bool shape_gemm(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *c = ir_in(g, n, 2);
    if (a->shape.rank != 2 || b->shape.rank != 2) {
        ir_node_error(d, n, "A and B must be 2-D, got rank %d and %d", a->shape.rank,
                      b->shape.rank);
        return false;
    }
    if (a->dtype != b->dtype || (c && c->dtype != a->dtype)) {
        ir_node_error(d, n, "inputs have different types");
        return false;
    }
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    int64_t m = a->shape.dims[ta ? 1 : 0], ka = a->shape.dims[ta ? 0 : 1];
    int64_t kb = b->shape.dims[tb ? 1 : 0], nn = b->shape.dims[tb ? 0 : 1];
    if (ka != kb) {
        ir_node_error(d, n, "inner dimensions differ: A gives K=%lld, B gives K=%lld",
                      (long long)ka, (long long)kb);
        return false;
    }
    Shape y = {.rank = 2, .dims = {m, nn}};
    if (c) {
        Shape bc;
        if (c->shape.rank > 2 || !rule_broadcast(&y, &c->shape, &bc) || !shape_equal(&bc, &y)) {
            char buf[128];
            ir_node_error(d, n, "C of shape %s does not broadcast to %lldx%lld",
                          shape_str(&c->shape, buf, sizeof buf), (long long)m, (long long)nn);
            return false;
        }
    }
    rule_set_out(g, n, 0, a->dtype, &y);
    return true;
}

/* MatMul: numpy.matmul. 1-D A is [1,K] (the 1 dropped after), 1-D B is [K,1]
 * (dropped after); leading batch dims broadcast. */
bool shape_matmul(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    if (a->dtype != b->dtype) {
        ir_node_error(d, n, "inputs have different types %s and %s", dtype_name(a->dtype),
                      dtype_name(b->dtype));
        return false;
    }
    if (a->shape.rank < 1 || b->shape.rank < 1) {
        ir_node_error(d, n, "inputs must have rank at least 1");
        return false;
    }
    Shape sa = a->shape, sb = b->shape;
    if (sa.rank == 1) {
        sa.rank = 2;
        sa.dims[1] = sa.dims[0];
        sa.dims[0] = 1;
    }
    if (sb.rank == 1) {
        sb.rank = 2;
        sb.dims[1] = 1;
    }
    int64_t k1 = sa.dims[sa.rank - 1], k2 = sb.dims[sb.rank - 2];
    if (k1 != k2) {
        char s1[128], s2[128];
        ir_node_error(d, n, "shapes %s and %s can't be multiplied (K %lld vs %lld)",
                      shape_str(&a->shape, s1, 128), shape_str(&b->shape, s2, 128),
                      (long long)k1, (long long)k2);
        return false;
    }
    Shape ba = sa, bb = sb, batch;
    ba.rank -= 2;
    bb.rank -= 2;
    if (!rule_broadcast(&ba, &bb, &batch)) {
        ir_node_error(d, n, "batch dimensions do not broadcast");
        return false;
    }
    Shape y = batch;
    if (a->shape.rank > 1)
        y.dims[y.rank++] = sa.dims[sa.rank - 2];
    if (b->shape.rank > 1)
        y.dims[y.rank++] = sb.dims[sb.rank - 1];
    if (y.rank > IR_MAX_RANK) {
        ir_node_error(d, n, "output rank exceeds %d", IR_MAX_RANK);
        return false;
    }
    rule_set_out(g, n, 0, a->dtype, &y);
    return true;
}
