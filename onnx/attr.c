/* attr.c — ONNX AttributeProto → kiln Attr for one node (onnx.proto,
 * AttributeProto). Graph, sparse-tensor and type attributes are refused;
 * old models that leave `type` unset get it from the field that is filled. */
#include "onnx_pb.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ONNX AttributeType names, by number (onnx.proto). */
static const char *attr_type_name(int type, char buf[24])
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT",   "INT",     "STRING",        "TENSOR",
        "GRAPH",     "FLOATS",  "INTS",    "STRINGS",       "TENSORS",
        "GRAPHS",    "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS",
    };
    if (type >= 0 && type < (int)(sizeof names / sizeof names[0]))
        return names[type];
    snprintf(buf, 24, "%d", type);
    return buf;
}

/* The declared type, or for type 0 the one whose field is filled. */
static int attr_type(const Onnx__AttributeProto *ap)
{
    if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return (int)ap->type;
    const struct {
        bool filled;
        int type;
    } fields[] = {
        {ap->has_f, ATTR_FLOAT},       {ap->has_i, ATTR_INT},
        {ap->has_s, ATTR_STRING},      {ap->t != NULL, ATTR_TENSOR},
        {ap->g != NULL, ATTR_GRAPH},   {ap->n_floats > 0, ATTR_FLOATS},
        {ap->n_ints > 0, ATTR_INTS},   {ap->n_strings > 0, ATTR_STRINGS},
        {ap->n_tensors > 0, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS},
        {ap->n_graphs > 0, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS},
        {ap->sparse_tensor != NULL, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR},
        {ap->n_sparse_tensors > 0, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS},
        {ap->tp != NULL, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO},
        {ap->n_type_protos > 0, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        if (fields[k].filled)
            return fields[k].type;
    return ATTR_UNDEF;
}

/* ONNX strings are bytes: copy them and add the NUL. */
static const char *bytes_str(Arena *a, ProtobufCBinaryData b)
{
    char *s = arena_alloc(a, b.len + 1);
    if (b.len)
        memcpy(s, b.data, b.len);
    return s;
}

static bool attr_tensor(Graph *g, const Node *n, const AttrRef *r, const char *dir,
                        Diag *d, Attr *out)
{
    TensorSite site = {d, n, arena_printf(g->arena, "attribute '%s'", r->name), dir};
    TensorView v;
    if (!pb_tensor_view(r->src->t, &site, &v))
        return false;
    Tensor *t = arena_alloc(g->arena, sizeof *t);
    t->dtype = v.dtype;
    t->shape = v.shape;
    t->data = arena_dup(g->arena, v.data, v.bytes);
    pb_tensor_release(&v);
    out->t = t;
    return true;
}

static void attr_lists(Graph *g, const Onnx__AttributeProto *ap, Attr *out)
{
    Arena *a = g->arena;
    if (out->type == ATTR_INTS) {
        out->n = (int)ap->n_ints;
        out->ints = arena_dup(a, ap->ints, sizeof(int64_t) * ap->n_ints);
    } else if (out->type == ATTR_FLOATS) {
        out->n = (int)ap->n_floats;
        out->floats = arena_alloc(a, sizeof(double) * (ap->n_floats + 1));
        for (size_t k = 0; k < ap->n_floats; k++)
            out->floats[k] = ap->floats[k];
    } else {
        out->n = (int)ap->n_strings;
        out->strings = arena_alloc(a, sizeof(char *) * (ap->n_strings + 1));
        for (size_t k = 0; k < ap->n_strings; k++)
            out->strings[k] = bytes_str(a, ap->strings[k]);
    }
}

static bool convert_attr(Graph *g, const Node *n, const AttrRef *r, const char *dir,
                         Diag *d, Attr *out)
{
    const Onnx__AttributeProto *ap = r->src;
    int type = attr_type(ap);
    char buf[24];
    out->name = arena_strdup(g->arena, r->name);
    out->type = (AttrType)type;
    switch (type) {
    case ATTR_FLOAT: out->f = ap->f; return true;
    case ATTR_INT: out->i = ap->i; return true;
    case ATTR_STRING: out->s = bytes_str(g->arena, ap->s); return true;
    case ATTR_TENSOR:
        if (ap->t)
            return attr_tensor(g, n, r, dir, d, out);
        break;
    case ATTR_INTS:
    case ATTR_FLOATS:
    case ATTR_STRINGS:
        if (ap->n_ints > INT_MAX || ap->n_floats > INT_MAX || ap->n_strings > INT_MAX)
            break;
        attr_lists(g, ap, out);
        return true;
    case ATTR_UNDEF:
        break;
    default:
        ir_node_error(d, n, "attribute '%s' of type %s is not supported", r->name,
                      attr_type_name(type, buf));
        return false;
    }
    ir_node_error(d, n, "attribute '%s' has no valid value", r->name);
    return false;
}

bool pb_node_attrs(Graph *g, Node *n, const AttrRef *refs, int n_refs, const char *dir,
                   Diag *d)
{
    n->attrs = arena_alloc(g->arena, sizeof(Attr) * ((size_t)n_refs + 1));
    n->n_attr = 0;
    for (int k = 0; k < n_refs; k++) {
        if (!refs[k].name[0]) {
            ir_node_error(d, n, "an attribute has no name");
            return false;
        }
        if (ir_attr(n, refs[k].name)) {
            ir_node_error(d, n, "attribute '%s' is given twice", refs[k].name);
            return false;
        }
        if (!convert_attr(g, n, &refs[k], dir, d, &n->attrs[n->n_attr]))
            return false;
        n->n_attr++;
    }
    return true;
}
