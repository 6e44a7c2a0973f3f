/* k_gemm.c — kernels of Gemm, MatMul and MatMulInteger (ONNX spec:
 * Y = alpha * A' * B' + beta * C; the MatMuls as numpy.matmul). Plain loop
 * nests ordered so the inner loop runs over contiguous memory; the tiled SIMD
 * versions replace these later and are checked against them. */
#include "emit.h"

#include <string.h>

/* One [M,K] x [K,N] product at offsets a_off, b_off, y_off (C expressions),
 * accumulating into y which the caller initialised. trans_b: B is [N,K]. */
static void emit_matmul_block(Emitter *e, DType dt, int64_t M, int64_t N, int64_t K,
                              bool trans_a, bool trans_b, const char *a, const char *b,
                              const char *y, const char *alpha)
{
    const char *t = dtype_ctype(dt);
    const char *a_mk = trans_a ? arena_printf(e->arena, "%s[k * %lld + m]", a, (long long)M)
                               : arena_printf(e->arena, "%s[m * %lld + k]", a, (long long)K);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)M);
    if (trans_b) {
        /* B is [N,K]: a dot product per output along contiguous K */
        emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
        emit_line(e, "%s acc = %s;", t, emit_lit(e, 0, dt));
        emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
        emit_line(e, "acc += %s * %s[n * %lld + k];", a_mk, b, (long long)K);
        emit_close(e);
        emit_line(e, "%s[m * %lld + n] += %sacc;", y, (long long)N, alpha);
        emit_close(e);
    } else {
        /* B is [K,N]: rank-1 updates along contiguous N */
        emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
        emit_line(e, "const %s a_mk = %s%s;", t, alpha, a_mk);
        emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
        emit_line(e, "%s[m * %lld + n] += a_mk * %s[k * %lld + n];", y, (long long)N, b,
                  (long long)N);
        emit_close(e);
        emit_close(e);
    }
    emit_close(e);
}

/* Gemm (opset 1–13): Y [M,N] = alpha * A' * B' + beta * C with A [M,K] or
 * [K,M] (transA), B [K,N] or [N,K] (transB), C broadcast to [M,N] (dropped
 * by the shape rule when beta is 0). */
bool k_gemm(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *c = ir_in(g, n, 2), *y = ir_out(g, n, 0);
    DType dt = y->dtype;
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = y->shape.dims[0], N = y->shape.dims[1], K = a->shape.dims[ta ? 0 : 1];
    /* y = beta * C (broadcast), or 0 */
    EmitLoops l = {.rank = 2, .dims = {M, N}, .n_ops = 2};
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    if (c && beta != 0)
        emit_bcast_strides(&y->shape, &c->shape, 1, l.strides[1]);
    emit_loops_open(e, &l);
    if (c && beta != 0) {
        const char *scale =
            beta == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_lit(e, beta, dt));
        emit_line(e, "%s[%s] = %s%s[%s];", e->out_name[0], l.idx[0], scale, e->in_name[2],
                  l.idx[1]);
    } else {
        emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], emit_lit(e, 0, dt));
    }
    emit_loops_close(e, &l);
    const char *al = alpha == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_lit(e, alpha, dt));
    emit_matmul_block(e, dt, M, N, K, ta, tb, e->in_name[0], e->in_name[1], e->out_name[0], al);
    return true;
}

/* numpy.matmul's operands as [batch…, M, K] x [batch…, K, N]: 1-D A is
 * [1,K], 1-D B is [K,1]. */
static void matmul_dims(const Value *a, const Value *b, Shape *sa, Shape *sb, int64_t *M,
                        int64_t *K, int64_t *N)
{
    *sa = a->shape, *sb = b->shape;
    if (sa->rank == 1) {
        sa->rank = 2;
        sa->dims[1] = sa->dims[0];
        sa->dims[0] = 1;
    }
    if (sb->rank == 1) {
        sb->rank = 2;
        sb->dims[1] = 1;
    }
    *M = sa->dims[sa->rank - 2], *K = sa->dims[sa->rank - 1], *N = sb->dims[sb->rank - 1];
}

/* Zeroes y and opens the loops over the broadcast batch dims; *pa, *pb, *py
 * name the current [M,K], [K,N] and [M,N] blocks. */
static void emit_batch_open(Emitter *e, const Graph *g, const Node *n, EmitLoops *l,
                            const char **pa, const char **pb, const char **py)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(a, b, &sa, &sb, &M, &K, &N);
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
              (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    /* batch dims: the output's leading dims, with A and B broadcast */
    Shape batch = y->shape, ba = sa, bb = sb;
    batch.rank = sa.rank > sb.rank ? sa.rank - 2 : sb.rank - 2;
    ba.rank -= 2;
    bb.rank -= 2;
    *l = (EmitLoops){.rank = batch.rank, .n_ops = 3};
    memcpy(l->dims, batch.dims, sizeof l->dims);
    emit_bcast_strides(&batch, &batch, M * N, l->strides[0]);
    emit_bcast_strides(&batch, &ba, M * K, l->strides[1]);
    emit_bcast_strides(&batch, &bb, K * N, l->strides[2]);
    emit_loops_open(e, l);
    *pa = e->in_name[0], *pb = e->in_name[1], *py = e->out_name[0];
    if (l->depth > 0) {
        emit_line(e, "const %s *a = %s + %s;", dtype_ctype(a->dtype), *pa, l->idx[1]);
        emit_line(e, "const %s *b = %s + %s;", dtype_ctype(b->dtype), *pb, l->idx[2]);
        emit_line(e, "%s *y = %s + %s;", dtype_ctype(y->dtype), *py, l->idx[0]);
        *pa = "a", *pb = "b", *py = "y";
    }
}

/* MatMul (opset 1–13): numpy.matmul with 1-D promotion and broadcast batch
 * dims. */
bool k_matmul(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(ir_in(g, n, 0), ir_in(g, n, 1), &sa, &sb, &M, &K, &N);
    EmitLoops l;
    const char *pa, *pb, *py;
    emit_batch_open(e, g, n, &l, &pa, &pb, &py);
    emit_matmul_block(e, y->dtype, M, N, K, false, false, pa, pb, py, "");
    emit_loops_close(e, &l);
    return true;
}

/* MatMulInteger (opset 10): Y (int32) = (A - a_zero_point) x (B - b_zero_point), as
 * numpy.matmul; zero points are scalars, per row of A or per column of B. */
bool k_matmul_integer(Emitter *e, const Graph *g, const Node *n)
{
    const Value *azp = ir_in(g, n, 2), *bzp = ir_in(g, n, 3);
    Shape sa, sb;
    int64_t M, K, N;
    matmul_dims(ir_in(g, n, 0), ir_in(g, n, 1), &sa, &sb, &M, &K, &N);
    const char *za = "", *zb = "";
    if (azp)
        za = arena_printf(e->arena, " - (int32_t)%s[%s]", e->in_name[2],
                          shape_numel(&azp->shape) == 1 ? "0" : "m");
    if (bzp)
        zb = arena_printf(e->arena, " - (int32_t)%s[%s]", e->in_name[3],
                          shape_numel(&bzp->shape) == 1 ? "0" : "n");
    EmitLoops l;
    const char *pa, *pb, *py;
    emit_batch_open(e, g, n, &l, &pa, &pb, &py);
    emit_open(e, "for (int m = 0; m < %lld; m++)", (long long)M);
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)K);
    emit_line(e, "const int32_t a_mk = (int32_t)%s[m * %lld + k]%s;", pa, (long long)K, za);
    emit_open(e, "for (int n = 0; n < %lld; n++)", (long long)N);
    emit_line(e, "%s[m * %lld + n] += a_mk * ((int32_t)%s[k * %lld + n]%s);", py, (long long)N, pb,
              (long long)N, zb);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    emit_loops_close(e, &l);
    return true;
}
