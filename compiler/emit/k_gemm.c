/* k_gemm.c — kernels of Gemm and MatMul (ONNX spec: Y = alpha * A' * B' +
 * beta * C; MatMul as numpy.matmul). Plain loop nests ordered so the inner
 * loop runs over contiguous memory; the tiled SIMD versions replace these
 * later and are checked against them. */
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
        emit_line(e, "%s acc = %s;", t, emit_flit(e, 0, dt));
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

/* Gemm: A [M,K] or [K,M] (transA), B [K,N] or [N,K] (transB), C broadcast
 * to [M,N]. */
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
        const char *scale = beta == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_flit(e, beta, dt));
        emit_line(e, "%s[%s] = %s%s[%s];", e->out_name[0], l.idx[0], scale, e->in_name[2], l.idx[1]);
    } else {
        emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], emit_flit(e, 0, dt));
    }
    emit_loops_close(e, &l);
    const char *al = alpha == 1.0 ? "" : arena_printf(e->arena, "%s * ", emit_flit(e, alpha, dt));
    emit_matmul_block(e, dt, M, N, K, ta, tb, e->in_name[0], e->in_name[1], e->out_name[0], al);
    return true;
}

/* MatMul: numpy.matmul with 1-D promotion and broadcast batch dims. */
bool k_matmul(Emitter *e, const Graph *g, const Node *n)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1), *y = ir_out(g, n, 0);
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
    int64_t M = sa.dims[sa.rank - 2], K = sa.dims[sa.rank - 1], N = sb.dims[sb.rank - 1];
    emit_line(e, "memset(%s, 0, %lld * sizeof(%s));", e->out_name[0],
              (long long)shape_numel(&y->shape), dtype_ctype(y->dtype));
    /* batch dims: the output's leading dims, with A and B broadcast */
    Shape batch = y->shape, ba = sa, bb = sb;
    batch.rank = sa.rank > sb.rank ? sa.rank - 2 : sb.rank - 2;
    ba.rank -= 2;
    bb.rank -= 2;
    EmitLoops l = {.rank = batch.rank, .n_ops = 3};
    memcpy(l.dims, batch.dims, sizeof l.dims);
    emit_bcast_strides(&batch, &batch, M * N, l.strides[0]);
    emit_bcast_strides(&batch, &ba, M * K, l.strides[1]);
    emit_bcast_strides(&batch, &bb, K * N, l.strides[2]);
    emit_loops_open(e, &l);
    const char *pa = e->in_name[0], *pb = e->in_name[1], *py = e->out_name[0];
    if (l.depth > 0) {
        const char *t = dtype_ctype(y->dtype);
        emit_line(e, "const %s *a = %s + %s;", t, pa, l.idx[1]);
        emit_line(e, "const %s *b = %s + %s;", t, pb, l.idx[2]);
        emit_line(e, "%s *y = %s + %s;", t, py, l.idx[0]);
        pa = "a", pb = "b", py = "y";
    }
    emit_matmul_block(e, y->dtype, M, N, K, false, false, pa, pb, py, "");
    emit_loops_close(e, &l);
    return true;
}
