/* k_fused_elementwise.c — the kernel of kiln's FusedElementwise (a tree of
 * f32 elementwise ops, pass/fuse_elementwise.c): one loop nest over the
 * output, each input loaded once through its broadcast strides, each step a
 * local computed by k_elementwise.c's formulas, the last one stored. */
#include "emit.h"

#include <stdlib.h>
#include <string.h>

/* Step s as a node of its own op carrying its attributes (NAME_S on the
 * fused node n becomes NAME), for the shared formulas. */
static Node step_node(Emitter *e, const Node *n, const Attr *ops, int s)
{
    Node st = {.op = op_lookup("", ops->strings[s]), .name = n->name, .opset = n->opset};
    st.op_name = ops->strings[s];
    st.attrs = arena_alloc(e->arena, sizeof(Attr) * (size_t)(n->n_attr + 1));
    for (int k = 0; k < n->n_attr; k++) {
        const char *us = strrchr(n->attrs[k].name, '_');
        char *end;
        if (!us || us[1] == '\0' || strtol(us + 1, &end, 10) != s || *end != '\0')
            continue;
        st.attrs[st.n_attr] = n->attrs[k];
        st.attrs[st.n_attr++].name =
            arena_printf(e->arena, "%.*s", (int)(us - n->attrs[k].name), n->attrs[k].name);
    }
    return st;
}

/* FusedElementwise: Y = the last step, over Y's elements (numpy
 * broadcasting of each input, ONNX Broadcasting.md); locals x0.. hold the
 * inputs' elements and t0.. the steps' results (shapes_fused.c checked the
 * program). */
bool k_fused_elementwise(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    const Attr *ops = ir_attr(n, "ops"), *args = ir_attr(n, "args");
    KILN_ASSERT(n->n_in + 1 <= EMIT_MAX_OPERANDS && ops && args);
    EmitLoops l = {.rank = y->shape.rank, .n_ops = n->n_in + 1, .split = true};
    memcpy(l.dims, y->shape.dims, sizeof l.dims);
    emit_bcast_strides(&y->shape, &y->shape, 1, l.strides[0]);
    for (int i = 0; i < n->n_in; i++)
        emit_bcast_strides(&y->shape, &ir_in(g, n, i)->shape, 1, l.strides[i + 1]);
    const char **name = arena_alloc(e->arena, sizeof(char *) * (size_t)(n->n_in + ops->n));
    emit_loops_open(e, &l);
    for (int i = 0; i < n->n_in; i++) {
        name[i] = arena_printf(e->arena, "v%d", i);
        emit_line(e, "const float %s = %s[%s];", name[i], e->in_name[i], l.idx[i + 1]);
    }
    for (int s = 0; s < ops->n; s++) {
        Node st = step_node(e, n, ops, s);
        const char *a = name[args->ints[2 * s]];
        const char *expr = args->ints[2 * s + 1] < 0
                               ? emit_unary_float_expr(e, &st, DT_F32, a)
                               : emit_binary_expr(e, &st, DT_F32, DT_F32, a, name[args->ints[2 * s + 1]]);
        KILN_ASSERT(expr != NULL); /* fuse_elementwise_arity let an op through without a formula */
        name[n->n_in + s] = arena_printf(e->arena, "t%d", s);
        if (s + 1 < ops->n)
            emit_line(e, "const float %s = %s;", name[n->n_in + s], expr);
        else
            emit_line(e, "%s[%s] = %s;", e->out_name[0], l.idx[0], expr);
    }
    emit_loops_close(e, &l);
    return true;
}
