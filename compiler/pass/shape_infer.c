/* shape_infer.c — shape and dtype inference: walks the graph in order and
 * asks each op's shape rule (ops.def) for its outputs' types, folding each
 * node right after its types are known, since a later shape (Reshape's
 * target, a Slice's bounds) may depend on a folded value. */
#include "pass.h"

#include <string.h>

static bool check_arity(const Node *n, Diag *d)
{
    const OpInfo *info = &op_info[n->op];
    if (n->n_in < info->min_in || (info->max_in >= 0 && n->n_in > info->max_in)) {
        ir_node_error(d, n, "has %d inputs, expected %d to %d", n->n_in, info->min_in,
                      info->max_in);
        return false;
    }
    if (n->n_out < info->min_out || (info->max_out >= 0 && n->n_out > info->max_out)) {
        ir_node_error(d, n, "has %d outputs, expected %d to %d", n->n_out, info->min_out,
                      info->max_out);
        return false;
    }
    for (int i = 0; i < info->min_in; i++)
        if (n->in[i] < 0) {
            ir_node_error(d, n, "required input %d is missing", i);
            return false;
        }
    return true;
}

static bool check_inputs_typed(const Graph *g, const Node *n, Diag *d)
{
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v)
            continue;
        if (!v->has_type || dtype_size(v->dtype) == 0) {
            ir_node_error(d, n, "input '%s' has an unknown or unsupported type", v->name);
            return false;
        }
        if (!shape_is_static(&v->shape)) {
            char buf[128];
            ir_node_error(d, n, "input '%s' has a symbolic shape %s", v->name,
                          shape_str(&v->shape, buf, sizeof buf));
            return false;
        }
    }
    return true;
}

static bool check_outputs(const Graph *g, const Node *n, Diag *d)
{
    for (int i = 0; i < n->n_out; i++) {
        const Value *v = ir_out(g, n, i);
        if (!v)
            continue;
        KILN_ASSERT(v->has_type); /* a shape rule left an output untyped */
        if (shape_numel(&v->shape) < 0 || shape_numel(&v->shape) > INT32_MAX) {
            char buf[128];
            ir_node_error(d, n, "output '%s' has an invalid or too large shape %s", v->name,
                          shape_str(&v->shape, buf, sizeof buf));
            return false;
        }
    }
    return true;
}

/* The type of each attribute of each ONNX op version (attr_schema.def,
 * generated from the ONNX schemas). */
typedef struct AttrSchema {
    OpKind op;
    int since;
    const char *name; /* NULL: a version without attributes */
    AttrType type;
} AttrSchema;

static const AttrSchema attr_schema[] = {
#define ATTR_SCHEMA(op, since, name, type) {OP_##op, since, name, type},
#include "attr_schema.def"
#undef ATTR_SCHEMA
};

static const char *attr_type_name(AttrType t)
{
    static const char *const names[] = {"undefined", "a float", "an int", "a string", "a tensor",
                                        "a graph", "floats", "ints", "strings"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "of an unsupported type";
}

/* Every attribute the op's schema declares (its latest version <= the
 * node's opset) must have the declared type; an int is taken for a float,
 * as onnx.helper writes `alpha=1`. Undeclared attributes are left alone. */
static bool check_attr_types(const Node *n, Diag *d)
{
    const size_t count = sizeof attr_schema / sizeof attr_schema[0];
    int since = -1;
    for (size_t i = 0; i < count; i++)
        if (attr_schema[i].op == n->op && attr_schema[i].since <= n->opset && attr_schema[i].since > since)
            since = attr_schema[i].since;
    for (int k = 0; since >= 0 && k < n->n_attr; k++) {
        const Attr *a = &n->attrs[k];
        for (size_t i = 0; i < count; i++) {
            const AttrSchema *s = &attr_schema[i];
            if (s->op != n->op || s->since != since || !s->name || strcmp(s->name, a->name) != 0)
                continue;
            if (a->type != s->type && !(s->type == ATTR_FLOAT && a->type == ATTR_INT)) {
                ir_node_error(d, n, "attribute '%s' must be %s, not %s", a->name,
                              attr_type_name(s->type), attr_type_name(a->type));
                return false;
            }
        }
    }
    return true;
}

static bool (*const shape_rules[OP_COUNT])(Graph *, Node *, Diag *) = {
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) [OP_##name] = shape,
#include "ops.def"
#undef OP
};

bool infer_node(Graph *g, Node *n, Diag *d)
{
    if (n->op == OP_UNKNOWN) { /* a hand-written .kir may name any op */
        ir_node_error(d, n, "unsupported op");
        return false;
    }
    KILN_ASSERT(n->op > OP_UNKNOWN && n->op < OP_COUNT);
    for (int i = 0; i < n->n_in && n->op != OP_Cast && n->op != OP_CastLike; i++)
        if (ir_in(g, n, i) && ir_in(g, n, i)->dtype == DT_BF16) { /* held as raw bits */
            ir_node_error(d, n, "input '%s' is bfloat16, which only Cast and CastLike support",
                          ir_in(g, n, i)->name);
            return false;
        }
    return check_arity(n, d) && check_attr_types(n, d) && check_inputs_typed(g, n, d) &&
           shape_rules[n->op](g, n, d) &&
           !d->errors && check_outputs(g, n, d);
}

/* pass_infer_shapes
 * requires: every graph input typed with a static shape (symbolic dims fixed
 *           by the driver), no OP_UNKNOWN nodes, no cycles.
 * does:     sorts the nodes topologically, checks arity, runs each node's
 *           shape rule, then its fold rule; folded nodes become dead and their
 *           outputs VAL_CONST.
 * preserves: value ids. invalidates: node order (re-sorted). */
bool pass_infer_shapes(Graph *g, Diag *d)
{
    if (!ir_graph_sort(g)) {
        diag_error(d, "the graph has a cycle");
        return false;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = g->values[g->inputs[k]];
        if (!v->has_type || dtype_size(v->dtype) == 0) {
            diag_error(d, "input '%s' has no type, or one kiln doesn't support", v->name);
            return false;
        }
        if (!shape_is_static(&v->shape)) {
            for (int i = 0; i < v->shape.rank; i++)
                if (v->shape.dims[i] < 0) {
                    diag_error(d, "input '%s' has a symbolic dimension '%s' (dim %d); fix it "
                               "with --input-shape %s=... or --batch N",
                               v->name, v->shape.sym[i] && v->shape.sym[i][0] ? v->shape.sym[i] : "?",
                               i, v->name);
                    return false;
                }
        }
    }
    for (int k = 0; k < g->n_nodes; k++) {
        Node *n = g->nodes[k];
        if (n->dead)
            continue;
        if (!infer_node(g, n, d) || !fold_node(g, n, d))
            return false;
    }
    return true;
}
