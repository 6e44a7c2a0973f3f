/* shapes_elementwise.c — shape rules of elementwise ops (ONNX spec: the
 * output has the input's shape, or the numpy broadcast of the inputs'
 * shapes), with the dtype checks each op's type constraints ask for; also
 * Identity, Softmax's shape_same and Constant. */
#include "pass.h"

#include <string.h>

/* dtype classes, as bits, for the type constraints below */
enum { TY_F = 1, TY_S = 2, TY_U = 4, TY_B = 8 };
#define TY_INT (TY_S | TY_U)
#define TY_NUM (TY_F | TY_INT)
#define TY_ALL (TY_NUM | TY_B)

static int type_class(DType t)
{
    switch (t) {
    case DT_F32: case DT_F64: return TY_F;
    case DT_I8: case DT_I16: case DT_I32: case DT_I64: return TY_S;
    case DT_U8: case DT_U16: case DT_U32: case DT_U64: return TY_U;
    case DT_BOOL: return TY_B;
    default: return 0;
    }
}

static const char *class_name(int allowed)
{
    switch (allowed) {
    case TY_F: return "a float type";
    case TY_U: return "an unsigned integer type";
    case TY_B: return "bool";
    case TY_F | TY_S: return "a float or signed integer type";
    case TY_NUM: return "a numeric type";
    default: return "a numeric or bool type";
    }
}

/* Input i's dtype is one of the classes in allowed; float16 (which kiln
 * holds but does not compute with) is refused by name. */
static bool check_type(const Graph *g, const Node *n, int i, int allowed, Diag *d)
{
    const Value *v = ir_in(g, n, i);
    if (v->dtype == DT_F16) {
        ir_node_error(d, n, "input '%s' is float16, which kiln does not compute with", v->name);
        return false;
    }
    if (!(type_class(v->dtype) & allowed)) {
        ir_node_error(d, n, "input '%s' has type %s, expected %s", v->name, dtype_name(v->dtype),
                      class_name(allowed));
        return false;
    }
    return true;
}

/* Identity, Softmax, LogSoftmax, …: Y has X's dtype and shape (a float
 * type for one-input ops other than Identity). */
bool shape_same(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (op_info[n->op].max_in == 1 && n->op != OP_Identity && !check_type(g, n, 0, TY_F, d))
        return false;
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* Elementwise ops of one tensor (ops_unary.def): Y has X's shape; X's dtype
 * for all but IsNaN/IsInf, whose Y is bool. Types as in the ONNX spec:
 * Abs, Sign, Relu (opset 14), Shrink also take integers, Neg signed ones,
 * Not bool; the rest are float only. */
bool shape_unary(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int allowed = TY_F;
    switch (n->op) {
    case OP_Abs: case OP_Sign: case OP_Relu: case OP_Shrink: allowed = TY_NUM; break;
    case OP_Neg: allowed = TY_F | TY_S; break;
    case OP_Not: allowed = TY_B; break;
    default: break;
    }
    if (!check_type(g, n, 0, allowed, d))
        return false;
    if (n->op == OP_Celu && ir_attr_float(n, "alpha", 1.0) == 0) {
        ir_node_error(d, n, "attribute 'alpha' must not be 0");
        return false;
    }
    DType out = n->op == OP_IsNaN || n->op == OP_IsInf ? DT_BOOL : x->dtype;
    rule_set_out(g, n, 0, out, &x->shape);
    return true;
}

/* ONNX type names for the dtypes kiln can't convert to, for messages. */
static const char *onnx_type_name(int64_t t)
{
    switch (t) {
    case DT_STRING: return "string";
    case DT_F16: return "float16";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    case 17: case 18: case 19: case 20: return "float8";
    default: return dtype_size((DType)t) ? dtype_name((DType)t) : "an unknown type";
    }
}

/* Cast (attribute 'to', ONNX Cast-13) and CastLike (input 1's dtype,
 * CastLike-15): Y has X's shape and the target dtype. Every pair of f32,
 * f64, float16, bfloat16, integer and bool types; float8, complex and
 * string are refused. */
bool shape_cast(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int64_t to;
    if (n->op == OP_Cast) {
        if (!ir_attr(n, "to")) {
            ir_node_error(d, n, "attribute 'to' is missing");
            return false;
        }
        to = ir_attr_int(n, "to", 0);
    } else {
        to = ir_in(g, n, 1)->dtype;
    }
    if (to == DT_STRING || to <= 0 || (to > DT_U64 && to != DT_BF16) || !dtype_size((DType)to)) {
        ir_node_error(d, n, "casting to %s is not supported", onnx_type_name(to));
        return false;
    }
    if (x->dtype != DT_F16 && x->dtype != DT_BF16 && !check_type(g, n, 0, TY_ALL, d))
        return false;
    rule_set_out(g, n, 0, (DType)to, &x->shape);
    return true;
}

/* Clip (ONNX Clip-6: attributes min/max; Clip-11+: optional scalar inputs
 * min and max of X's dtype, read at run time): Y has X's dtype and shape. */
bool shape_clip(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    if (!check_type(g, n, 0, n->opset < 11 ? TY_F : TY_NUM, d))
        return false;
    if (n->opset < 11 && n->n_in > 1) {
        ir_node_error(d, n, "has %d inputs; before opset 11 min and max are attributes", n->n_in);
        return false;
    }
    for (int i = 1; i < n->n_in; i++) {
        const Value *b = ir_in(g, n, i);
        if (!b)
            continue;
        if (b->dtype != x->dtype) {
            ir_node_error(d, n, "input '%s' has type %s, expected X's type %s", b->name,
                          dtype_name(b->dtype), dtype_name(x->dtype));
            return false;
        }
        if (shape_numel(&b->shape) != 1) {
            ir_node_error(d, n, "input '%s' must be a scalar", b->name);
            return false;
        }
    }
    rule_set_out(g, n, 0, x->dtype, &x->shape);
    return true;
}

/* The dtype classes input i of a broadcasting op accepts (ONNX spec type
 * constraints of the newest opset; older opsets accept a subset). */
static int binary_types(OpKind op, int i)
{
    switch (op) {
    case OP_Mean: return TY_F;
    case OP_BitShift: return TY_U;
    case OP_Equal: return TY_ALL;
    case OP_And: case OP_Or: case OP_Xor: return TY_B;
    case OP_Where: return i == 0 ? TY_B : TY_ALL;
    default: return TY_NUM;
    }
}

/* The output dtype: bool for comparisons and logic, X's for Where, else
 * input 0's (Pow's base type). */
static DType binary_out_type(const Graph *g, const Node *n)
{
    switch (n->op) {
    case OP_Equal: case OP_Less: case OP_LessOrEqual: case OP_Greater: case OP_GreaterOrEqual:
    case OP_And: case OP_Or: case OP_Xor:
        return DT_BOOL;
    case OP_Where: return ir_in(g, n, 1)->dtype;
    default: return ir_in(g, n, 0)->dtype;
    }
}

/* Max, Min and Mod also take float16, which their kernel computes in float
 * and rounds back (k_elementwise.c). */
static bool takes_half(OpKind op)
{
    return op == OP_Max || op == OP_Min || op == OP_Mod;
}

/* Elementwise ops of several tensors (ops_binary.def): numpy broadcasting
 * of all inputs (ONNX Broadcasting.md; opset < 7 legacy forms through
 * ir_elem_operand_shape). Inputs share one dtype, except Pow (base and
 * exponent may differ, Pow-12+) and Where (bool condition). PRelu's slope
 * broadcasts to X's shape only (unidirectional). */
bool shape_broadcast(Graph *g, Node *n, Diag *d)
{
    int first = n->op == OP_Where ? 1 : 0;
    const Value *ref = ir_in(g, n, first);
    Shape out = {0}, s;
    if (n->op == OP_BitShift && strcmp(ir_attr_str(n, "direction", ""), "LEFT") != 0 &&
        strcmp(ir_attr_str(n, "direction", ""), "RIGHT") != 0) {
        ir_node_error(d, n, "attribute 'direction' must be LEFT or RIGHT");
        return false;
    }
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v) {
            ir_node_error(d, n, "input %d is missing", i);
            return false;
        }
        if (!(v->dtype == DT_F16 && takes_half(n->op)) &&
            !check_type(g, n, i, binary_types(n->op, i), d))
            return false;
        if (i > first && n->op != OP_Pow && v->dtype != ref->dtype) {
            ir_node_error(d, n, "inputs have different types %s and %s", dtype_name(ref->dtype),
                          dtype_name(v->dtype));
            return false;
        }
        ir_elem_operand_shape(g, n, i, &s);
        Shape prev = out;
        if (i == 0) {
            out = s;
        } else if (!rule_broadcast(&prev, &s, &out)) {
            char sa[128], sb[128];
            ir_node_error(d, n, "shapes %s and %s do not broadcast", shape_str(&out, sa, 128),
                          shape_str(&v->shape, sb, 128));
            return false;
        }
    }
    const Value *x = ir_in(g, n, 0);
    if (n->op == OP_PRelu && !shape_equal(&out, &x->shape)) {
        char sa[128], sb[128];
        ir_node_error(d, n, "slope shape %s does not broadcast to X's shape %s",
                      shape_str(&ir_in(g, n, 1)->shape, sa, 128), shape_str(&x->shape, sb, 128));
        return false;
    }
    rule_set_out(g, n, 0, binary_out_type(g, n), &out);
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
