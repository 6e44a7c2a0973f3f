/* ir.c — building and walking the Graph (ir.h): values, nodes, attributes,
 * topological order, and the op table generated from ops.def. */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ops.def switches OP_DOMAIN to "kiln" around kiln's own ops. */
#define OP_DOMAIN ""
const OpInfo op_info[OP_COUNT] = {
    [OP_UNKNOWN] = {"<unknown>", "", 0, -1, 0, -1},
#define OP(name, min_in, max_in, min_out, max_out, ...) \
    [OP_##name] = {#name, OP_DOMAIN, min_in, max_in, min_out, max_out},
#include "ops.def"
#undef OP
};

OpKind op_lookup(const char *domain, const char *name)
{
    for (int k = 1; k < OP_COUNT; k++)
        if (strcmp(op_info[k].name, name) == 0 && strcmp(op_info[k].domain, domain) == 0)
            return (OpKind)k;
    return OP_UNKNOWN;
}

OpKind op_from_name(const char *name)
{
    return op_lookup("", name);
}

/* ---- dtypes ---- */

static const struct {
    DType t;
    const char *name, *ctype;
    size_t size;
} dtypes[] = {
    {DT_F32, "f32", "float", 4},     {DT_F64, "f64", "double", 8},
    {DT_I8, "i8", "int8_t", 1},      {DT_I16, "i16", "int16_t", 2},
    {DT_I32, "i32", "int32_t", 4},   {DT_I64, "i64", "int64_t", 8},
    {DT_U8, "u8", "uint8_t", 1},     {DT_U16, "u16", "uint16_t", 2},
    {DT_U32, "u32", "uint32_t", 4},  {DT_U64, "u64", "uint64_t", 8},
    {DT_BOOL, "bool", "uint8_t", 1}, {DT_F16, "f16", "uint16_t", 2},
    {DT_BF16, "bf16", "uint16_t", 2},
};

#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])

size_t dtype_size(DType t)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].t == t)
            return dtypes[i].size;
    return 0;
}

const char *dtype_name(DType t)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].t == t)
            return dtypes[i].name;
    return "?";
}

const char *dtype_ctype(DType t)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].t == t)
            return dtypes[i].ctype;
    return "void";
}

DType dtype_from_name(const char *s)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, s) == 0)
            return dtypes[i].t;
    return DT_UNDEF;
}

bool dtype_is_float(DType t)
{
    return t == DT_F32 || t == DT_F64 || t == DT_F16;
}

/* ---- element access by dtype ---- */

double tensor_get_f(DType dt, const void *data, int64_t k)
{
    switch (dt) {
    case DT_F32: return ((const float *)data)[k];
    case DT_F64: return ((const double *)data)[k];
    case DT_U64: return (double)((const uint64_t *)data)[k];
    default: return (double)tensor_get_i(dt, data, k);
    }
}

int64_t tensor_get_i(DType dt, const void *data, int64_t k)
{
    switch (dt) {
    case DT_F32: return (int64_t)((const float *)data)[k];
    case DT_F64: return (int64_t)((const double *)data)[k];
    case DT_I8: return ((const int8_t *)data)[k];
    case DT_I16: return ((const int16_t *)data)[k];
    case DT_I32: return ((const int32_t *)data)[k];
    case DT_I64: return ((const int64_t *)data)[k];
    case DT_U8:
    case DT_BOOL: return ((const uint8_t *)data)[k];
    case DT_U16:
    case DT_BF16: return ((const uint16_t *)data)[k]; /* bfloat16: its bits */
    case DT_U32: return ((const uint32_t *)data)[k];
    case DT_U64: return (int64_t)((const uint64_t *)data)[k];
    default: KILN_ASSERT(!"tensor_get_i: dtype without elements");
    }
    return 0;
}

/* Float to integer, as the generated Cast does (k_elementwise.c): toward
 * zero, saturating at the type's limits, NaN to 0 — C leaves those cases
 * undefined, and kiln must not depend on what one CPU does with them. */
static void set_int_from_double(DType dt, void *data, int64_t k, double v)
{
    int bits = (int)dtype_size(dt) * 8;
    bool is_signed = dt == DT_I8 || dt == DT_I16 || dt == DT_I32 || dt == DT_I64;
    double hi = ldexp(1.0, is_signed ? bits - 1 : bits); /* first value past the top */
    double lo = is_signed ? -hi : -1.0;                    /* last value past the bottom */
    if (isnan(v))
        v = 0;
    if (dt == DT_U64) {
        ((uint64_t *)data)[k] = v <= lo ? 0 : v >= hi ? UINT64_MAX : (uint64_t)v;
        return;
    }
    int64_t i = v <= lo ? (is_signed ? (int64_t)lo : 0)
              : v >= hi ? (dt == DT_I64 ? INT64_MAX : (int64_t)hi - 1) : (int64_t)v;
    tensor_set_i(dt, data, k, i);
}

void tensor_set_f(DType dt, void *data, int64_t k, double v)
{
    switch (dt) {
    case DT_F32: ((float *)data)[k] = (float)v; break;
    case DT_F64: ((double *)data)[k] = v; break;
    case DT_BOOL: ((uint8_t *)data)[k] = v != 0; break;
    default: set_int_from_double(dt, data, k, v); break;
    }
}

void tensor_set_i(DType dt, void *data, int64_t k, int64_t v)
{
    switch (dt) {
    case DT_F32: ((float *)data)[k] = (float)v; break;
    case DT_F64: ((double *)data)[k] = (double)v; break;
    case DT_I8: ((int8_t *)data)[k] = (int8_t)v; break;
    case DT_I16: ((int16_t *)data)[k] = (int16_t)v; break;
    case DT_I32: ((int32_t *)data)[k] = (int32_t)v; break;
    case DT_I64: ((int64_t *)data)[k] = v; break;
    case DT_U8: ((uint8_t *)data)[k] = (uint8_t)v; break;
    case DT_BOOL: ((uint8_t *)data)[k] = v != 0; break;
    case DT_U16: ((uint16_t *)data)[k] = (uint16_t)v; break;
    case DT_U32: ((uint32_t *)data)[k] = (uint32_t)v; break;
    case DT_U64: ((uint64_t *)data)[k] = (uint64_t)v; break;
    default: KILN_ASSERT(!"tensor_set_i: dtype without elements");
    }
}

/* ---- shapes ---- */

int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i] < 0 || !size_mul_ok(n, s->dims[i], &n))
            return -1;
    }
    return n;
}

bool shape_is_static(const Shape *s)
{
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] < 0)
            return false;
    return true;
}

bool shape_equal(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

bool shape_sum_split(const Shape *x, const Shape *y, int64_t *outer, int64_t *mid, int64_t *inner)
{
    int rx = x->rank, off = rx - y->rank, first = -1, last = -1;
    if (off < 0)
        return false;
    for (int i = 0; i < rx; i++) { /* the kept dims (of more than one element) */
        int64_t yd = i < off ? 1 : y->dims[i - off];
        if (yd != 1 && yd != x->dims[i])
            return false;
        if (yd != 1) {
            first = first < 0 ? i : first;
            last = i;
        }
    }
    *outer = *mid = *inner = 1;
    for (int i = 0; i < rx; i++) {
        int64_t yd = i < off ? 1 : y->dims[i - off];
        if (i > first && i < last && yd == 1 && x->dims[i] != 1)
            return false; /* a summed dim between kept ones */
        *(i < first || first < 0 ? outer : i > last ? inner : mid) *= x->dims[i];
    }
    return true;
}

const char *shape_str(const Shape *s, char *buf, size_t n)
{
    if (s->rank == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->rank && len < n; i++) {
        const char *sep = i ? "x" : "";
        if (s->dims[i] >= 0)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep, (long long)s->dims[i]);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s%s", sep,
                                    s->sym[i] && s->sym[i][0] ? s->sym[i] : "?");
    }
    return buf;
}

/* ---- graph building ---- */

Graph *ir_graph_new(Arena *a)
{
    Graph *g = arena_alloc(a, sizeof *g);
    g->arena = a;
    g->name = "model";
    g->producer = "";
    g->file = "";
    g->train_loss = -1;
    return g;
}

Value *ir_graph_add_value(Graph *g, const char *name)
{
    g->values = arena_grow(g->arena, g->values, sizeof *g->values, &g->cap_values, g->n_values + 1);
    Value *v = arena_alloc(g->arena, sizeof *v);
    v->id = g->n_values;
    v->name = arena_strdup(g->arena, name);
    v->producer = -1;
    g->values[g->n_values++] = v;
    return v;
}

Value *ir_graph_add_temp(Graph *g, const char *base)
{
    char name[256];
    for (int k = g->n_values;; k++) {
        snprintf(name, sizeof name, "%s_%d", base, k);
        if (!ir_graph_find_value(g, name))
            return ir_graph_add_value(g, name);
    }
}

Value *ir_graph_find_value(const Graph *g, const char *name)
{
    /* Linear scan from the end: graphs have thousands of values at most and
     * importers look up mostly recent names. */
    for (int i = g->n_values - 1; i >= 0; i--)
        if (strcmp(g->values[i]->name, name) == 0)
            return g->values[i];
    return NULL;
}

Node *ir_graph_add_node(Graph *g, OpKind op, const char *name, const int *in, int n_in,
                        const int *out, int n_out)
{
    g->nodes = arena_grow(g->arena, g->nodes, sizeof *g->nodes, &g->cap_nodes, g->n_nodes + 1);
    Node *n = arena_alloc(g->arena, sizeof *n);
    n->id = g->n_nodes;
    n->op = op;
    n->op_name = op_info[op].name;
    n->domain = op_info[op].domain;
    n->opset = g->opset;
    n->name = (name && name[0]) ? arena_strdup(g->arena, name)
                                : arena_printf(g->arena, "%s_%d", op_info[op].name, n->id);
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = arena_dup(g->arena, in, sizeof(int) * (size_t)n_in);
    n->out = arena_dup(g->arena, out, sizeof(int) * (size_t)n_out);
    g->nodes[g->n_nodes++] = n;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0)
            g->values[out[i]]->producer = n->id;
    return n;
}

void ir_graph_add_input(Graph *g, int value_id)
{
    g->inputs = arena_grow(g->arena, g->inputs, sizeof(int), &g->cap_inputs, g->n_inputs + 1);
    g->inputs[g->n_inputs++] = value_id;
    g->values[value_id]->kind = VAL_INPUT;
}

void ir_graph_add_output(Graph *g, int value_id)
{
    g->outputs = arena_grow(g->arena, g->outputs, sizeof(int), &g->cap_outputs, g->n_outputs + 1);
    g->outputs[g->n_outputs++] = value_id;
    g->values[value_id]->is_output = true;
}

void ir_graph_link(Graph *g)
{
    for (int i = 0; i < g->n_values; i++)
        g->values[i]->producer = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0)
                g->values[n->out[k]]->producer = n->id;
    }
}

/* A binary min-heap of node positions: the ready node listed first goes first. */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    for (; i > 0 && h[(i - 1) / 2] > v; i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = v;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], v = h[--*n], i = 0;
    for (int c = 1; c < *n; c = 2 * i + 1) {
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

/* The live producer's position of value v, or -1. */
static int live_producer(const Graph *g, const int *pos, int v)
{
    int p = v >= 0 ? g->values[v]->producer : -1;
    return p >= 0 && !g->nodes[pos[p]]->dead ? pos[p] : -1;
}

bool ir_graph_topo(const Graph *g, int **order_out, int *n_out)
{
    /* Kahn's algorithm, always taking the ready node of lowest position so an
     * already sorted graph keeps its order; O((nodes + edges) log nodes). The
     * consumers of each value are listed once up front (first[v] ..
     * first[v + 1] in cons). */
    int nn = g->n_nodes, nv = g->n_values, live = 0, edges = 0;
    int *pos = arena_alloc(g->arena, sizeof(int) * (size_t)(nn + 1));
    int *missing = arena_alloc(g->arena, sizeof(int) * (size_t)(nn + 1));
    int *first = arena_alloc(g->arena, sizeof(int) * (size_t)(nv + 2));
    for (int i = 0; i < nn; i++)
        pos[g->nodes[i]->id] = i;
    for (int i = 0; i < nn; i++) {
        const Node *n = g->nodes[i];
        live += !n->dead;
        for (int k = 0; !n->dead && k < n->n_in; k++)
            if (live_producer(g, pos, n->in[k]) >= 0) {
                missing[i]++;
                first[n->in[k] + 1]++;
                edges++;
            }
    }
    for (int v = 0; v < nv; v++)
        first[v + 1] += first[v];
    int *fill = arena_dup(g->arena, first, sizeof(int) * (size_t)(nv + 1));
    int *cons = arena_alloc(g->arena, sizeof(int) * (size_t)(edges + 1));
    for (int i = 0; i < nn; i++)
        for (int k = 0; !g->nodes[i]->dead && k < g->nodes[i]->n_in; k++)
            if (live_producer(g, pos, g->nodes[i]->in[k]) >= 0)
                cons[fill[g->nodes[i]->in[k]]++] = i;
    int *heap = arena_alloc(g->arena, sizeof(int) * (size_t)(nn + 1));
    int *order = arena_alloc(g->arena, sizeof(int) * (size_t)(nn + 1));
    int n_heap = 0, count = 0;
    for (int i = 0; i < nn; i++)
        if (!g->nodes[i]->dead && missing[i] == 0)
            heap_push(heap, &n_heap, i);
    while (n_heap > 0) {
        const Node *p = g->nodes[heap_pop(heap, &n_heap)];
        order[count++] = p->id;
        for (int o = 0; o < p->n_out; o++) {
            int v = p->out[o];
            if (v < 0 || live_producer(g, pos, v) != pos[p->id])
                continue;
            for (int c = first[v]; c < first[v + 1]; c++)
                if (--missing[cons[c]] == 0)
                    heap_push(heap, &n_heap, cons[c]);
        }
    }
    *order_out = order;
    *n_out = count;
    return count == live;
}

bool ir_graph_sort(Graph *g)
{
    int *order, n;
    if (!ir_graph_topo(g, &order, &n))
        return false;
    Node **nodes = arena_alloc(g->arena, sizeof(Node *) * (size_t)g->cap_nodes);
    int *pos = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_nodes + 1));
    for (int i = 0; i < g->n_nodes; i++)
        pos[g->nodes[i]->id] = i;
    for (int i = 0; i < n; i++)
        nodes[i] = g->nodes[pos[order[i]]];
    /* dead nodes are dropped; ids are renumbered to positions */
    for (int i = 0; i < n; i++)
        nodes[i]->id = i;
    g->nodes = nodes;
    g->n_nodes = n;
    ir_graph_link(g);
    return true;
}

/* ---- attributes ---- */

const Attr *ir_attr(const Node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt)
{
    const Attr *a = ir_attr(n, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

double ir_attr_float(const Node *n, const char *name, double dflt)
{
    const Attr *a = ir_attr(n, name);
    if (a && a->type == ATTR_FLOAT)
        return a->f;
    return a && a->type == ATTR_INT ? (double)a->i : dflt;
}

const char *ir_attr_str(const Node *n, const char *name, const char *dflt)
{
    const Attr *a = ir_attr(n, name);
    return a && a->type == ATTR_STRING ? a->s : dflt;
}

Attr *ir_node_set_attr(Graph *g, Node *n, const char *name, AttrType type)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            memset(&n->attrs[i], 0, sizeof n->attrs[i]);
            n->attrs[i].name = arena_strdup(g->arena, name);
            n->attrs[i].type = type;
            return &n->attrs[i];
        }
    Attr *attrs = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->n_attr + 1));
    if (n->n_attr)
        memcpy(attrs, n->attrs, sizeof(Attr) * (size_t)n->n_attr);
    n->attrs = attrs;
    Attr *a = &attrs[n->n_attr++];
    a->name = arena_strdup(g->arena, name);
    a->type = type;
    return a;
}

void ir_value_set_const(Graph *g, Value *v, DType dt, const Shape *s, const void *data)
{
    int64_t numel = shape_numel(s);
    KILN_ASSERT(numel >= 0);
    size_t bytes = (size_t)numel * dtype_size(dt);
    v->kind = VAL_CONST;
    v->dtype = dt;
    v->shape = *s;
    v->has_type = true;
    v->data = arena_dup(g->arena, data, bytes);
    v->init = INIT_DATA;
}

void ir_elem_operand_shape(const Graph *g, const Node *n, int i, Shape *s)
{
    const Value *v = ir_in(g, n, i), *a = ir_in(g, n, 0);
    *s = v->shape;
    if (n->opset >= 7 || i != 1 || n->n_in != 2)
        return;
    int64_t axis;
    if (n->op == OP_PRelu) {
        /* PRelu-6: a 1-D slope of X's channel count applies per channel */
        if (v->shape.rank != 1 || a->shape.rank < 2 || v->shape.dims[0] != a->shape.dims[1] ||
            v->shape.dims[0] == 1)
            return;
        axis = 1;
    } else {
        /* Add-6 etc.: with broadcast=1, B's dims line up with A's from axis */
        const Attr *ax = ir_attr(n, "axis");
        if (ir_attr_int(n, "broadcast", 0) != 1 || !ax)
            return;
        axis = ax->i < 0 ? ax->i + a->shape.rank : ax->i;
        if (axis < 0 || axis + v->shape.rank > a->shape.rank)
            return; /* shape_broadcast reports the mismatch */
    }
    memset(s, 0, sizeof *s);
    s->rank = a->shape.rank;
    for (int k = 0; k < s->rank; k++)
        s->dims[k] = k >= axis && k < axis + v->shape.rank ? v->shape.dims[k - axis] : 1;
}

void ir_node_error(Diag *d, const Node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->domain && n->domain[0])
        diag_error(d, "node '%s' (%s:%s, opset %d): %s", n->name, n->domain, n->op_name,
                   n->opset, msg);
    else
        diag_error(d, "node '%s' (%s, opset %d): %s", n->name, n->op_name, n->opset, msg);
}
