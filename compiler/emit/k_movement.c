/* k_movement.c — kernels that move data without arithmetic: Transpose
 * (ONNX spec: Y[i…] = X[perm-permuted i…]). */
#include "emit.h"

#include <string.h>

bool k_transpose(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int r = x->shape.rank;
    const Attr *perm = ir_attr(n, "perm");
    int64_t xstride[IR_MAX_RANK];
    for (int i = r - 1, s = 1; i >= 0; i--) {
        xstride[i] = s;
        s *= (int)x->shape.dims[i];
    }
    EmitLoops l = {.rank = r, .n_ops = 2};
    memcpy(l.dims, y->shape.dims, sizeof l.dims);
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    for (int i = 0; i < r; i++) {
        int64_t p = perm ? perm->ints[i] : r - 1 - i;
        l.strides[1][i] = xstride[p < 0 ? p + r : p];
    }
    emit_loops_open(e, &l);
    emit_line(e, "%s[%s] = %s[%s];", e->out_name[0], l.idx[0], e->in_name[0], l.idx[1]);
    emit_loops_close(e, &l);
    return true;
}
