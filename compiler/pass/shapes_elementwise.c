/* shapes_elementwise.c — shape rules of elementwise ops (ONNX spec: output
 * shape is the input's, or the numpy broadcast of the inputs) and of
 * Constant. */
#include "pass.h"

#include <string.h>

/* Relu, Sigmoid, Softmax, …: Y has X's dtype and shape. */
bool shape_same(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (op_info[n->op].max_in == 1 && !dtype_is_float(x->dtype) && n->op != OP_Identity) {
        ir_node_error(d, n, "input '%s' has type %s, expected a float type", x->name,
                      dtype_name(x->dtype));
        return false;
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* Add, Sub, Mul, Div: A and B of one dtype, broadcast (ONNX Broadcasting.md). */
bool shape_broadcast(Graph *g, Node *n, Diag *d)
{
    const Value *a = ir_in(g, n, 0), *b = ir_in(g, n, 1);
    if (a->dtype != b->dtype) {
        ir_node_error(d, n, "inputs have different types %s and %s", dtype_name(a->dtype),
                      dtype_name(b->dtype));
        return false;
    }
    Shape s;
    if (!rule_broadcast(&a->shape, &b->shape, &s)) {
        char sa[128], sb[128];
        ir_node_error(d, n, "shapes %s and %s do not broadcast", shape_str(&a->shape, sa, 128),
                      shape_str(&b->shape, sb, 128));
        return false;
    }
    rule_set_out(g, n, 0, a->dtype, &s);
    return true;
}

/* Constant: exactly one of value, value_float(s), value_int(s) (opset 12+);
 * sparse_value and value_string(s) are not supported. */
bool shape_constant(Graph *g, Node *n, Diag *d)
{
    Shape s = {0};
    const Attr *a = NULL;
    for (int i = 0; i < n->n_attr; i++)
        if (strncmp(n->attrs[i].name, "value", 5) == 0 || strcmp(n->attrs[i].name, "sparse_value") == 0) {
            if (a) {
                ir_node_error(d, n, "has more than one value attribute");
                return false;
            }
            a = &n->attrs[i];
        }
    if (!a) {
        ir_node_error(d, n, "has no value attribute");
        return false;
    }
    if (strcmp(a->name, "value") == 0 && a->type == ATTR_TENSOR) {
        rule_set_out(g, n, 0, a->t->dtype, &a->t->shape);
    } else if (strcmp(a->name, "value_float") == 0 && a->type == ATTR_FLOAT) {
        rule_set_out(g, n, 0, DT_F32, &s);
    } else if (strcmp(a->name, "value_int") == 0 && a->type == ATTR_INT) {
        rule_set_out(g, n, 0, DT_I64, &s);
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == ATTR_FLOATS) {
        s.rank = 1;
        s.dims[0] = a->n;
        rule_set_out(g, n, 0, DT_F32, &s);
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == ATTR_INTS) {
        s.rank = 1;
        s.dims[0] = a->n;
        rule_set_out(g, n, 0, DT_I64, &s);
    } else {
        ir_node_error(d, n, "attribute '%s' is not supported", a->name);
        return false;
    }
    return true;
}
