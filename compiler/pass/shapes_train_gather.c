/* shapes_train_gather.c — shape rules of the kiln-domain backward ops of the
 * indexing and resampling family (ops_train_gather.def). autodiff builds
 * these nodes itself; the rules check what a hand-written .kir could get
 * wrong. */
#include "pass.h"

#include <string.h>

/* ResizeGrad: dY [rank r] float → dX of attribute "shape" (rank r, the
 * forward X's), dY's dtype. */
bool shape_resize_grad(Graph *g, Node *n, Diag *d)
{
    const Value *dy = ir_in(g, n, 0);
    const Attr *a = ir_attr(n, "shape"), *sc = ir_attr(n, "kiln_scales");
    if (!a || a->type != ATTR_INTS || a->n != dy->shape.rank || !sc || sc->n != a->n ||
        (dy->dtype != DT_F32 && dy->dtype != DT_F64)) {
        ir_node_error(d, n, "needs f32 or f64 dY and attributes 'shape' and 'kiln_scales' of "
                            "dY's rank");
        return false;
    }
    Shape s = {.rank = a->n};
    memcpy(s.dims, a->ints, sizeof(int64_t) * (size_t)a->n);
    rule_set_out(g, n, 0, dy->dtype, &s);
    return true;
}
