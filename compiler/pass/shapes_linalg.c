/* shapes_linalg.c — shape rules of Gemm, MatMul and MatMulInteger (ONNX
 * spec; numpy matmul semantics for the MatMuls, including 1-D promotion and
 * batch broadcasting). Kernels in emit/k_gemm.c. */
#include "pass.h"

/* The element types kiln's Gemm and MatMul kernels compute in (the spec's
 * list without float16/bfloat16, which kiln doesn't hold). */
static bool linalg_dtype(DType t)
{
    return t == DT_F32 || t == DT_F64 || t == DT_I32 || t == DT_I64 || t == DT_U32 || t == DT_U64;
}

/* Gemm (opset 1–13): A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with
 * transB), optional C unidirectionally broadcastable to [M,N] (opset < 7's
 * `broadcast` attribute is implied). Y [M,N] = alpha * A' * B' + beta * C.
 * With beta 0 C can't contribute, so the node drops it. */
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
    if (!linalg_dtype(a->dtype)) {
        ir_node_error(d, n, "type %s is not supported (f32, f64, i32, i64, u32, u64)",
                      dtype_name(a->dtype));
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
        if (ir_attr_float(n, "beta", 1.0) == 0)
            n->in[2] = -1;
    }
    const Value *mask = n->n_in > 3 ? ir_in(g, n, 3) : NULL; /* FusedGemm's Relu-gradient mask */
    if (mask && (mask->dtype != DT_F32 || a->dtype != DT_F32 || !shape_equal(&mask->shape, &y))) {
        ir_node_error(d, n, "the mask (input 3) must be f32 of the output's shape %lldx%lld",
                      (long long)m, (long long)nn);
        return false;
    }
    rule_set_out(g, n, 0, a->dtype, &y);
    return true;
}

/* numpy.matmul's output shape for A and B, or false (with a message). 1-D A
 * is [1,K] (the 1 dropped after), 1-D B is [K,1] (dropped after); leading
 * batch dims broadcast. */
static bool matmul_shape(Node *n, Diag *d, const Shape *a, const Shape *b, Shape *y)
{
    if (a->rank < 1 || b->rank < 1) {
        ir_node_error(d, n, "inputs must have rank at least 1");
        return false;
    }
    Shape sa = *a, sb = *b;
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
                      shape_str(a, s1, 128), shape_str(b, s2, 128), (long long)k1, (long long)k2);
        return false;
    }
    Shape ba = sa, bb = sb;
    ba.rank -= 2;
    bb.rank -= 2;
    if (!rule_broadcast(&ba, &bb, y)) {
        ir_node_error(d, n, "batch dimensions do not broadcast");
        return false;
    }
    if (y->rank + (a->rank > 1) + (b->rank > 1) > IR_MAX_RANK) {
        ir_node_error(d, n, "output rank exceeds %d", IR_MAX_RANK);
        return false;
    }
    if (a->rank > 1)
        y->dims[y->rank++] = sa.dims[sa.rank - 2];
    if (b->rank > 1)
        y->dims[y->rank++] = sb.dims[sb.rank - 1];
    return true;
}

/* MatMul (opset 1–13): numpy.matmul of two tensors of one type. */
bool shape_matmul(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    if (a->dtype != b->dtype) {
        ir_node_error(d, n, "inputs have different types %s and %s", dtype_name(a->dtype),
                      dtype_name(b->dtype));
        return false;
    }
    if (!linalg_dtype(a->dtype)) {
        ir_node_error(d, n, "type %s is not supported (f32, f64, i32, i64, u32, u64)",
                      dtype_name(a->dtype));
        return false;
    }
    Shape y;
    if (!matmul_shape(n, d, &a->shape, &b->shape, &y))
        return false;
    rule_set_out(g, n, 0, a->dtype, &y);
    return true;
}

/* A zero point of MatMulInteger: absent, a scalar (any shape of one
 * element), or 1-D of `len` elements (per row of A / per column of B). */
static bool zero_point_ok(const Value *zp, DType dt, int64_t len)
{
    if (!zp)
        return true;
    return zp->dtype == dt && (shape_numel(&zp->shape) == 1 ||
                               (zp->shape.rank == 1 && zp->shape.dims[0] == len));
}

/* MatMulInteger (opset 10): A, B int8 or uint8, numpy.matmul of
 * (A - a_zero_point) and (B - b_zero_point) in int32. Zero points: scalars,
 * or per row of 2-D A ([M]) / per column of 2-D B ([N]). */
bool shape_matmul_integer(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    const Value *azp = ir_in(g, n, 2), *bzp = ir_in(g, n, 3);
    if ((a->dtype != DT_U8 && a->dtype != DT_I8) || (b->dtype != DT_U8 && b->dtype != DT_I8)) {
        ir_node_error(d, n, "A and B must be int8 or uint8, got %s and %s", dtype_name(a->dtype),
                      dtype_name(b->dtype));
        return false;
    }
    Shape y;
    if (!matmul_shape(n, d, &a->shape, &b->shape, &y))
        return false;
    int64_t rows = a->shape.rank > 1 && a->shape.rank <= 2 ? a->shape.dims[0] : 1;
    int64_t cols = b->shape.rank == 2 ? b->shape.dims[1] : 1;
    if (!zero_point_ok(azp, a->dtype, rows) || !zero_point_ok(bzp, b->dtype, cols)) {
        ir_node_error(d, n, "zero points must have A's and B's types and be scalars or "
                      "per-row [M] / per-column [N] vectors of 2-D inputs");
        return false;
    }
    rule_set_out(g, n, 0, DT_I32, &y);
    return true;
}
