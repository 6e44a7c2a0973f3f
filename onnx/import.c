/* import.c — onnx_import: ModelProto → kiln Graph, the first stage of the
 * pipeline. Reads and unpacks the file, converts initializers, inputs, nodes
 * (inlining model-local functions) and outputs, and frees the protobuf before
 * returning. The first problem found is the one error the user sees. */
#include "onnx_pb.h"

#include "cli_suggest.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FUNCTION_DEPTH 32
/* Nodes of the whole graph, and of it those inlined from model-local
 * functions (functions calling functions grow exponentially, and an inlined
 * node's names grow with the call depth: up to ~4 KiB a node). */
#define MAX_NODES (1 << 18)
#define MAX_INLINED_NODES (1 << 16)
/* As shape inference allows for any tensor (INT32_MAX elements). */
#define MAX_INPUT_ELEMS INT32_MAX

/* Names → ids, an open-addressing hash table: ONNX refers to values by
 * name, and large models have tens of thousands of them. Keys live in the
 * graph's arena. */
typedef struct NameSlot {
    const char *key;
    int id;
} NameSlot;

typedef struct NameMap {
    NameSlot *slots;
    size_t cap, n;
} NameMap;

/* Where a node's value names and attributes come from: the graph itself
 * (fn == NULL), or the body of a model-local function inlined at a call. */
typedef struct Scope {
    const char *prefix;                   /* "" at the top; "call/" inside a body */
    const Onnx__FunctionProto *fn;
    const char **actual_in, **actual_out; /* the call's values for fn's formals */
    size_t n_actual_in, n_actual_out;
    const AttrRef *attrs;                 /* the call's attributes (ref_attr_name) */
    int n_attrs;
    Onnx__OperatorSetIdProto **opsets;    /* fn's opset_import; the model's at the top */
    size_t n_opsets;
    int depth;
} Scope;

typedef struct Importer {
    Graph *g;
    Diag *d;
    const Onnx__ModelProto *m;
    const char *dir;       /* the model's folder, for external data */
    NameMap values;        /* value name → value id */
    NameMap prefixes;      /* function-call prefixes already handed out */
    const char ***inputs;  /* per node id: its input names, resolved after all nodes */
    int cap_inputs;
    int n_inlined;         /* nodes taken from function bodies so far */
} Importer;

/* ---- name table ---- */

static NameSlot *map_at(const NameMap *m, const char *key)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return &m->slots[i];
}

static int map_get(const NameMap *m, const char *key)
{
    if (!m->cap)
        return -1;
    const NameSlot *s = map_at(m, key);
    return s->key ? s->id : -1;
}

static void map_put(NameMap *m, const char *key, int id)
{
    if ((m->n + 1) * 2 > m->cap) {
        NameMap big = {calloc(m->cap ? m->cap * 2 : 256, sizeof(NameSlot)),
                       m->cap ? m->cap * 2 : 256, m->n};
        KILN_ASSERT(big.slots != NULL);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                *map_at(&big, m->slots[i].key) = m->slots[i];
        free(m->slots);
        *m = big;
    }
    NameSlot *s = map_at(m, key);
    m->n += s->key == NULL;
    s->key = key;
    s->id = id;
}

static Value *add_value(Importer *im, const char *name)
{
    Value *v = ir_graph_add_value(im->g, name);
    map_put(&im->values, v->name, v->id);
    return v;
}

/* ---- model header: producer, opset, graph name ---- */

static const char *norm_domain(const char *domain)
{
    domain = pb_str(domain);
    return strcmp(domain, "ai.onnx") == 0 ? "" : domain;
}

/* The version a list of opset_import entries gives domain, or -1. */
static int64_t find_opset(Onnx__OperatorSetIdProto *const *ops, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(norm_domain(ops[i]->domain), domain) == 0)
            return ops[i]->version < 0 ? 0 : ops[i]->version;
    return -1;
}

static const char *trimmed(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool import_header(Importer *im, const char *path)
{
    Graph *g = im->g;
    const Onnx__ModelProto *m = im->m;
    g->file = arena_strdup(g->arena, path);
    g->producer = trimmed(arena_printf(g->arena, "%s %s", pb_str(m->producer_name),
                                       pb_str(m->producer_version)));
    int64_t opset = find_opset(m->opset_import, m->n_opset_import, "");
    bool uses_default = false; /* a model of only other domains' ops needs no opset of it */
    for (size_t k = 0; m->graph && k < m->graph->n_node; k++)
        uses_default |= !norm_domain(m->graph->node[k]->domain)[0];
    if (opset < 0 && uses_default) {
        diag_error(im->d, "the model imports no opset for the default ONNX domain");
        return false;
    }
    if (opset >= 0 && (opset > ONNX_MAX_OPSET || opset < 1)) {
        diag_error(im->d, opset < 1 ? "opset %lld is not a valid ONNX opset"
                                    : "opset %lld is newer than kiln supports (max %d)",
                   (long long)opset, ONNX_MAX_OPSET);
        return false;
    }
    g->opset = opset < 0 ? 0 : (int)opset;
    if (!m->graph) {
        diag_error(im->d, "the model has no graph");
        return false;
    }
    if (pb_str(m->graph->name)[0])
        g->name = arena_strdup(g->arena, m->graph->name);
    return true;
}

/* ---- initializers and graph inputs ---- */

static bool import_initializers(Importer *im)
{
    const Onnx__GraphProto *gp = im->m->graph;
    if (gp->n_sparse_initializer > 0) {
        diag_error(im->d, "the model has sparse initializers, which kiln does not support");
        return false;
    }
    for (size_t k = 0; k < gp->n_initializer; k++) {
        const Onnx__TensorProto *tp = gp->initializer[k];
        const char *name = pb_str(tp->name);
        if (!name[0]) {
            diag_error(im->d, "an initializer has no name");
            return false;
        }
        if (map_get(&im->values, name) >= 0) {
            diag_error(im->d, "initializer '%s' is defined twice", name);
            return false;
        }
        TensorSite site = {im->d, NULL, arena_printf(im->g->arena, "initializer '%s'", name),
                           im->dir};
        TensorView v;
        if (!pb_tensor_view(tp, &site, &v))
            return false;
        Value *val = add_value(im, name);
        ir_value_set_const(im->g, val, v.dtype, &v.shape, v.data);
        val->is_param = true;
        pb_tensor_release(&v);
    }
    return true;
}

static const char *type_kind(Onnx__TypeProto__ValueCase c)
{
    switch (c) {
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "a sequence";
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "a map";
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "an optional";
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "a sparse tensor";
    default: return "of no type";
    }
}

/* dtype and shape of a graph input from its TypeProto. */
static bool input_type(Importer *im, const Onnx__ValueInfoProto *vi, Value *v)
{
    const Onnx__TypeProto *tp = vi->type;
    char buf[24], buf2[160];
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        diag_error(im->d, "input '%s' is %s; kiln supports only tensor inputs", v->name,
                   type_kind(tp ? tp->value_case : ONNX__TYPE_PROTO__VALUE__NOT_SET));
        return false;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int dt = tt->has_elem_type ? tt->elem_type : 0;
    if (dtype_size((DType)dt) == 0) {
        diag_error(im->d, "input '%s' has data type %s, which kiln does not support", v->name,
                   pb_dtype_name(dt, buf));
        return false;
    }
    if (!tt->shape) {
        diag_error(im->d, "input '%s' has no shape; kiln needs the rank of every input", v->name);
        return false;
    }
    if (tt->shape->n_dim > IR_MAX_RANK) {
        diag_error(im->d, "input '%s' has rank %zu; kiln supports at most %d", v->name,
                   tt->shape->n_dim, IR_MAX_RANK);
        return false;
    }
    v->dtype = (DType)dt;
    v->has_type = true;
    v->shape.rank = (int)tt->shape->n_dim;
    int64_t numel = 1;
    for (int i = 0; i < v->shape.rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        bool is_value = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        bool is_param = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        v->shape.dims[i] = is_value && dim->dim_value >= 0 ? dim->dim_value : -1;
        if (v->shape.dims[i] < 0)
            v->shape.sym[i] = arena_strdup(im->g->arena, is_param ? pb_str(dim->dim_param) : "");
    }
    for (int i = 0; i < v->shape.rank; i++)
        if (v->shape.dims[i] >= 0 &&
            (!size_mul_ok(numel, v->shape.dims[i], &numel) || numel > MAX_INPUT_ELEMS)) {
            diag_error(im->d, "input '%s' has shape %s, too large (kiln allows at most 2^31 "
                       "elements)", v->name, shape_str(&v->shape, buf2, sizeof buf2));
            return false;
        }
    return true;
}

/* An initializer that is also listed as a graph input must be declared with
 * its own dtype and shape there (symbolic or missing dims aside). */
static bool input_matches_init(Importer *im, const Onnx__ValueInfoProto *vi, const Value *w)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return true; /* nothing declared */
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    char buf[24], buf2[24], s1[128], s2[128];
    if (tt->has_elem_type && tt->elem_type != 0 && tt->elem_type != (int)w->dtype) {
        diag_error(im->d, "input '%s' is declared %s, but its initializer is %s", w->name,
                   pb_dtype_name(tt->elem_type, buf), pb_dtype_name((int)w->dtype, buf2));
        return false;
    }
    if (!tt->shape)
        return true;
    bool same = tt->shape->n_dim == (size_t)w->shape.rank;
    for (int i = 0; same && i < w->shape.rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        same = dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
               dim->dim_value == w->shape.dims[i];
    }
    if (!same) {
        Shape decl = {.rank = tt->shape->n_dim <= IR_MAX_RANK ? (int)tt->shape->n_dim : 0};
        for (int i = 0; i < decl.rank; i++) {
            const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
            bool known = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            decl.dims[i] = known ? dim->dim_value : -1;
        }
        diag_error(im->d, "input '%s' is declared with shape %s, but its initializer has %s",
                   w->name, decl.rank || !tt->shape->n_dim ? shape_str(&decl, s1, sizeof s1)
                                                           : "rank > 8",
                   shape_str(&w->shape, s2, sizeof s2));
        return false;
    }
    return true;
}

static bool import_inputs(Importer *im)
{
    const Onnx__GraphProto *gp = im->m->graph;
    for (size_t k = 0; k < gp->n_input; k++) {
        const char *name = pb_str(gp->input[k]->name);
        int id = map_get(&im->values, name);
        if (id >= 0 && im->g->values[id]->kind == VAL_CONST) {
            /* an initializer listed as input (IR < 4): a weight */
            if (!input_matches_init(im, gp->input[k], im->g->values[id]))
                return false;
            continue;
        }
        if (!name[0]) {
            diag_error(im->d, "a graph input has no name");
            return false;
        }
        if (id >= 0) {
            diag_error(im->d, "input '%s' is listed twice", name);
            return false;
        }
        Value *v = add_value(im, name);
        if (!input_type(im, gp->input[k], v))
            return false;
        ir_graph_add_input(im->g, v->id);
    }
    return true;
}

/* ---- nodes ---- */

static bool import_node(Importer *im, const Scope *sc, const Onnx__NodeProto *np);

/* A name as the graph sees it: function formals become the call's actual
 * values, other names inside a body get the call's prefix. */
static const char *scope_name(Importer *im, const Scope *sc, const char *name)
{
    if (!sc->fn || !name[0])
        return name;
    for (size_t i = 0; i < sc->fn->n_input; i++)
        if (strcmp(pb_str(sc->fn->input[i]), name) == 0)
            return i < sc->n_actual_in ? sc->actual_in[i] : "";
    for (size_t i = 0; i < sc->fn->n_output; i++)
        if (strcmp(pb_str(sc->fn->output[i]), name) == 0 && i < sc->n_actual_out &&
            sc->actual_out[i][0])
            return sc->actual_out[i];
    return arena_printf(im->g->arena, "%s%s", sc->prefix, name);
}

static const char **scope_names(Importer *im, const Scope *sc, char **names, size_t n)
{
    const char **out = arena_alloc(im->g->arena, sizeof(char *) * (n + 1));
    for (size_t i = 0; i < n; i++)
        out[i] = scope_name(im, sc, pb_str(names[i]));
    return out;
}

/* The node's attributes, with references into the calling node resolved;
 * a reference the caller does not set is dropped so the op's default holds. */
static const AttrRef *attr_refs(Importer *im, const Scope *sc, const Onnx__NodeProto *np,
                                int *n_refs)
{
    AttrRef *refs = arena_alloc(im->g->arena, sizeof *refs * (np->n_attribute + 1));
    int n = 0;
    for (size_t k = 0; k < np->n_attribute; k++) {
        const Onnx__AttributeProto *ap = np->attribute[k];
        const char *ref = pb_str(ap->ref_attr_name);
        refs[n] = (AttrRef){pb_str(ap->name), ap};
        if (sc->fn && ref[0]) {
            int i = 0;
            while (i < sc->n_attrs && strcmp(sc->attrs[i].name, ref) != 0)
                i++;
            if (i == sc->n_attrs)
                continue;
            refs[n].src = sc->attrs[i].src;
        }
        n++;
    }
    *n_refs = n;
    return refs;
}

static const Onnx__FunctionProto *find_function(const Onnx__ModelProto *m, const char *op_type,
                                                const char *domain)
{
    for (size_t k = 0; k < m->n_functions; k++)
        if (strcmp(pb_str(m->functions[k]->name), op_type) == 0 &&
            strcmp(norm_domain(m->functions[k]->domain), domain) == 0)
            return m->functions[k];
    return NULL;
}

/* The domain's opset: from the enclosing function's opset_import, else the
 * model's; -1 if neither imports it. */
static int64_t scope_opset(const Importer *im, const Scope *sc, const char *domain)
{
    int64_t v = find_opset(sc->opsets, sc->n_opsets, domain);
    return v >= 0 ? v : find_opset(im->m->opset_import, im->m->n_opset_import, domain);
}

/* A prefix for the values of one call, unique even when node names repeat. */
static const char *call_prefix(Importer *im, const char *name)
{
    const char *p = arena_printf(im->g->arena, "%s/", name);
    for (int k = 2; map_get(&im->prefixes, p) >= 0; k++)
        p = arena_printf(im->g->arena, "%s#%d/", name, k);
    map_put(&im->prefixes, p, 0);
    return p;
}

/* Inlines the body of fn for the call np (named name). */
static bool inline_call(Importer *im, const Scope *sc, const Onnx__NodeProto *np,
                        const char *name, const Onnx__FunctionProto *fn, const AttrRef *attrs,
                        int n_attrs)
{
    if (sc->depth >= MAX_FUNCTION_DEPTH ||
        fn->n_node > (size_t)(MAX_INLINED_NODES - im->n_inlined)) {
        const char *domain = norm_domain(np->domain);
        int64_t opset = scope_opset(im, sc, domain);
        Node at = {.name = name, .op_name = pb_str(np->op_type), .domain = domain,
                   .opset = opset > 0 && opset <= INT_MAX ? (int)opset : 0};
        if (sc->depth >= MAX_FUNCTION_DEPTH)
            ir_node_error(im->d, &at, "model-local functions nest more than %d deep",
                          MAX_FUNCTION_DEPTH);
        else
            ir_node_error(im->d, &at, "model-local functions expand to more than %d nodes",
                          MAX_INLINED_NODES);
        return false;
    }
    im->n_inlined += (int)fn->n_node;
    Scope body = {
        .prefix = call_prefix(im, name), .fn = fn,
        .actual_in = scope_names(im, sc, np->input, np->n_input), .n_actual_in = np->n_input,
        .actual_out = scope_names(im, sc, np->output, np->n_output),
        .n_actual_out = np->n_output, .attrs = attrs, .n_attrs = n_attrs,
        .opsets = fn->opset_import, .n_opsets = fn->n_opset_import, .depth = sc->depth + 1,
    };
    for (size_t k = 0; k < fn->n_node; k++)
        if (!import_node(im, &body, fn->node[k]))
            return false;
    return true;
}

/* A Node with every input and output still -1; node_outputs and
 * resolve_inputs fill them in ("" stays -1: an omitted optional). */
static Node *new_node(Importer *im, const Onnx__NodeProto *np, OpKind op, const char *name,
                      const char *domain)
{
    Graph *g = im->g;
    int n_in = (int)np->n_input, n_out = (int)np->n_output;
    int count = n_in > n_out ? n_in : n_out;
    int *none = arena_alloc(g->arena, sizeof(int) * ((size_t)count + 1));
    for (int k = 0; k < count; k++)
        none[k] = -1;
    Node *n = ir_graph_add_node(g, op, name, none, n_in, none, n_out);
    n->op_name = arena_strdup(g->arena, pb_str(np->op_type));
    n->domain = arena_strdup(g->arena, domain);
    return n;
}

/* "unsupported op", with a hint when a supported op is close (cli_suggest.h). */
static void unsupported_op(Importer *im, const Node *n)
{
    static const char *names[OP_COUNT]; /* the supported ONNX ops, NULL-terminated */
    if (!names[0])
        for (int k = 1, m = 0; k < OP_COUNT; k++)
            if (!op_info[k].domain[0])
                names[m++] = op_info[k].name;
    char hint[256];
    if (cli_op_hint(n->op_name, names, hint, sizeof hint))
        ir_node_error(im->d, n, "unsupported op; %s", hint);
    else
        ir_node_error(im->d, n, "unsupported op");
}

/* Sets n->opset from the scope; errors for an unknown op or a bad opset. */
static bool node_opset(Importer *im, const Scope *sc, Node *n)
{
    int64_t v = scope_opset(im, sc, n->domain);
    n->opset = v >= 0 && v <= INT_MAX ? (int)v : 0;
    if (n->op == OP_UNKNOWN)
        unsupported_op(im, n);
    else if (v < 0)
        ir_node_error(im->d, n, "the model imports no opset for domain '%s'", n->domain);
    else if (!n->domain[0] && v < 1)
        ir_node_error(im->d, n, "opset %lld is not a valid ONNX opset", (long long)v);
    else if (!n->domain[0] && v > ONNX_MAX_OPSET)
        ir_node_error(im->d, n, "opset %lld is newer than kiln supports (max %d)",
                      (long long)v, ONNX_MAX_OPSET);
    else
        return true;
    return false;
}

static const char *arity_str(int lo, int hi, char *buf, size_t n)
{
    if (hi < 0)
        snprintf(buf, n, "at least %d", lo);
    else if (lo == hi)
        snprintf(buf, n, "%d", lo);
    else
        snprintf(buf, n, "%d to %d", lo, hi);
    return buf;
}

/* Input and output counts within ops.def, required inputs not left empty
 * (in: the node's input names as the graph sees them, so a function body's
 * formal that its call leaves out counts as empty). */
static bool node_arity(Importer *im, const char *const *in, const Node *n)
{
    const OpInfo *oi = &op_info[n->op];
    char buf[32];
    if (n->n_in < oi->min_in || (oi->max_in >= 0 && n->n_in > oi->max_in))
        ir_node_error(im->d, n, "has %d inputs, expected %s", n->n_in,
                      arity_str(oi->min_in, oi->max_in, buf, sizeof buf));
    else if (n->n_out < oi->min_out || (oi->max_out >= 0 && n->n_out > oi->max_out))
        ir_node_error(im->d, n, "has %d outputs, expected %s", n->n_out,
                      arity_str(oi->min_out, oi->max_out, buf, sizeof buf));
    else {
        for (int k = 0; k < oi->min_in; k++)
            if (!in[k][0]) {
                ir_node_error(im->d, n, "required input %d is empty", k);
                return false;
            }
        return true;
    }
    return false;
}

/* Creates the node's output values; a value may be produced only once, and
 * the op's required outputs may not be left empty. */
static bool node_outputs(Importer *im, const Scope *sc, const Onnx__NodeProto *np, Node *n)
{
    Graph *g = im->g;
    for (int k = 0; k < n->n_out; k++) {
        const char *name = scope_name(im, sc, pb_str(np->output[k]));
        int id = name[0] ? map_get(&im->values, name) : -1;
        if (!name[0] && k < op_info[n->op].min_out) {
            ir_node_error(im->d, n, "required output %d is empty", k);
            return false;
        }
        if (id >= 0) {
            const Value *v = g->values[id];
            if (v->kind == VAL_ACT)
                ir_node_error(im->d, n, "output '%s' is already produced by node '%s'", name,
                              g->nodes[v->producer]->name);
            else
                ir_node_error(im->d, n, "output '%s' is also %s", name,
                              v->kind == VAL_INPUT ? "a graph input" : "an initializer");
            return false;
        }
        if (name[0]) {
            Value *v = add_value(im, name);
            v->producer = n->id;
            n->out[k] = v->id;
        }
    }
    return true;
}

static bool import_node(Importer *im, const Scope *sc, const Onnx__NodeProto *np)
{
    if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2 ||
        np->n_attribute > INT_MAX / 2) {
        diag_error(im->d, "node '%s' has too many inputs, outputs or attributes",
                   pb_str(np->name));
        return false;
    }
    const char *op_type = pb_str(np->op_type), *domain = norm_domain(np->domain);
    const char *name = pb_str(np->name)[0]
                           ? arena_printf(im->g->arena, "%s%s", sc->prefix, np->name)
                           : arena_printf(im->g->arena, "%s%s_%d", sc->prefix, op_type,
                                          im->g->n_nodes);
    /* any domain of ops.def but "kiln": models can't name kiln's own ops */
    OpKind op = strcmp(domain, "kiln") == 0 ? OP_UNKNOWN : op_lookup(domain, op_type);
    int n_attrs;
    const AttrRef *attrs = attr_refs(im, sc, np, &n_attrs);
    const Onnx__FunctionProto *fn = op == OP_UNKNOWN ? find_function(im->m, op_type, domain)
                                                     : NULL;
    if (fn)
        return inline_call(im, sc, np, name, fn, attrs, n_attrs);
    if (im->g->n_nodes >= MAX_NODES) {
        diag_error(im->d, "the model has more than %d nodes", MAX_NODES);
        return false;
    }
    Node *n = new_node(im, np, op, name, domain);
    const char **in = scope_names(im, sc, np->input, np->n_input);
    if (!node_opset(im, sc, n) || !node_arity(im, in, n) || !node_outputs(im, sc, np, n) ||
        !pb_node_attrs(im->g, n, attrs, n_attrs, im->dir, im->d))
        return false;
    im->inputs = arena_grow(im->g->arena, im->inputs, sizeof *im->inputs, &im->cap_inputs,
                            n->id + 1);
    im->inputs[n->id] = in;
    return true;
}

/* Inputs are resolved once every node's outputs exist, so nodes may come in
 * any order. */
static bool resolve_inputs(Importer *im)
{
    for (int k = 0; k < im->g->n_nodes; k++) {
        Node *n = im->g->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            const char *name = im->inputs[k][i];
            n->in[i] = name[0] ? map_get(&im->values, name) : -1;
            if (name[0] && n->in[i] < 0) {
                ir_node_error(im->d, n, "input '%s' is not defined", name);
                return false;
            }
        }
    }
    return true;
}

static bool import_nodes(Importer *im)
{
    const Onnx__GraphProto *gp = im->m->graph;
    Scope top = {.prefix = "", .opsets = im->m->opset_import,
                 .n_opsets = im->m->n_opset_import};
    for (size_t k = 0; k < gp->n_node; k++)
        if (!import_node(im, &top, gp->node[k]))
            return false;
    return resolve_inputs(im);
}

/* ---- graph outputs ---- */

/* Passes need a DAG; name a node on the cycle. */
static bool check_acyclic(Importer *im)
{
    const Graph *g = im->g;
    int *order, n;
    if (ir_graph_topo(g, &order, &n))
        return true;
    bool *sorted = arena_alloc(g->arena, (size_t)g->n_nodes + 1);
    for (int i = 0; i < n; i++)
        sorted[order[i]] = true;
    for (int i = 0; i < g->n_nodes; i++)
        if (!sorted[g->nodes[i]->id]) {
            ir_node_error(im->d, g->nodes[i],
                          "is on a cycle: its inputs depend on its own outputs");
            return false;
        }
    diag_error(im->d, "the graph has a cycle");
    return false;
}

static bool import_outputs(Importer *im)
{
    const Onnx__GraphProto *gp = im->m->graph;
    if (gp->n_output == 0) {
        diag_error(im->d, "the graph has no outputs");
        return false;
    }
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *name = pb_str(gp->output[k]->name);
        int id = map_get(&im->values, name);
        if (id < 0) {
            diag_error(im->d, "output '%s' is not produced by any node, input or initializer",
                       name);
            return false;
        }
        if (im->g->values[id]->is_output) {
            diag_error(im->d, "output '%s' is listed twice", name);
            return false;
        }
        ir_graph_add_output(im->g, id);
    }
    return true;
}

Graph *onnx_import(Arena *a, const char *path, Diag *d)
{
    Onnx__ModelProto *m =
        (Onnx__ModelProto *)pb_read(path, &onnx__model_proto__descriptor, "model", d);
    if (!m)
        return NULL;
    Importer im = {.g = ir_graph_new(a), .d = d, .m = m, .dir = pb_dirname(a, path)};
    bool ok = import_header(&im, path) && import_initializers(&im) && import_inputs(&im) &&
              import_nodes(&im) && check_acyclic(&im) && import_outputs(&im);
    onnx__model_proto__free_unpacked(m, NULL);
    free(im.values.slots);
    free(im.prefixes.slots);
    return ok ? im.g : NULL;
}
