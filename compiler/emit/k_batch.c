/* k_batch.c — the kernel of kiln's BatchRows op (ops_train.def): the
 * gradient of a sum or mean over the run-time batch (--batch N on a
 * symbolic batch dim, pass/batch_rows.c) keeps only the first nb rows. */
#include "emit.h"

#include <string.h>

/* X [N, …] → Y [N, …]: on a run-time batch (e->batch_rows) rows 0..nb-1 of
 * X, scaled by N / nb for a mean ("mean" = 1: the forward divided by the N
 * rows' count, the real mean by nb's), and zeros in rows nb..N-1; with the
 * batch fixed, a copy. */
bool k_batch_rows(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0);
    int64_t N = x->shape.rank ? x->shape.dims[0] : 1, numel = shape_numel(&x->shape);
    const char *t = dtype_ctype(x->dtype);
    if (numel == 0)
        return true;
    if (!e->batch_rows) {
        emit_line(e, "memcpy(%s, %s, %lld * sizeof(%s));", e->out_name[0], e->in_name[0],
                  (long long)numel, t);
        return true;
    }
    int64_t row = numel / N;
    emit_batch_zero_tail(e, e->out_name[0], N, row, x->dtype);
    if (ir_attr_int(n, "mean", 0))
        emit_line(e, "const %s scale = (%s)%lld / (%s)nb;", t, t, (long long)N, t);
    emit_open(e, "for (int i = 0; i < nb * %lld; i++)", (long long)row);
    emit_line(e, "%s[i] = %s[i]%s;", e->out_name[0], e->in_name[0],
              ir_attr_int(n, "mean", 0) ? " * scale" : "");
    emit_close(e);
    return true;
}
