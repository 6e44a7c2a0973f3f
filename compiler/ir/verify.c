/* verify.c — ir_verify: the structural invariants every pass must keep (ids
 * in range, one producer per value, arities from ops.def, defined inputs, no
 * cycles) and, after shape inference, complete types. A failure is a kiln bug;
 * the driver runs it after each pass in debug builds. */
#include "ir.h"

#include <stdio.h>

typedef struct Verifier {
    const Graph *g;
    Diag *d;
    const Node **by_id; /* node id -> node */
    int *made_by;       /* value id -> id of the live node producing it, or -1 */
} Verifier;

static bool fail(Verifier *v, const char *fmt, ...) KILN_PRINTF(2, 3);

static bool fail(Verifier *v, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(v->d, "ir_verify: %s", msg);
    return false;
}

/* "node 'NAME' (OP)" for messages. */
static const char *node_str(const Node *n, char *buf, size_t len)
{
    const char *op = n->op_name ? n->op_name : (n->op >= 0 && n->op < OP_COUNT) ? op_info[n->op].name : "?";
    if (n->domain && n->domain[0])
        snprintf(buf, len, "node '%s' (%s::%s)", n->name ? n->name : "", n->domain, op);
    else
        snprintf(buf, len, "node '%s' (%s)", n->name ? n->name : "", op);
    return buf;
}

static const char *value_name(const Graph *g, int id)
{
    const char *s = g->values[id]->name;
    return s ? s : "";
}

static bool value_defined(const Verifier *v, int id)
{
    const Value *val = v->g->values[id];
    return val->kind == VAL_INPUT || val->kind == VAL_CONST || val->kind == VAL_STATE ||
           v->made_by[id] >= 0;
}

static bool check_values(Verifier *v)
{
    const Graph *g = v->g;
    for (int i = 0; i < g->n_values; i++) {
        const Value *val = g->values[i];
        if (!val)
            return fail(v, "value slot %d is empty", i);
        if (val->id != i)
            return fail(v, "value slot %d holds a value with id %d", i, val->id);
        if (val->kind != VAL_ACT && val->kind != VAL_INPUT && val->kind != VAL_CONST &&
            val->kind != VAL_STATE)
            return fail(v, "value %d (%%%s) has kind %d", i, value_name(g, i), (int)val->kind);
        if (val->shape.rank < 0 || val->shape.rank > IR_MAX_RANK)
            return fail(v, "value %d (%%%s) has rank %d", i, value_name(g, i), val->shape.rank);
    }
    return true;
}

/* Node ids form a permutation of 0..n_nodes-1 (ir_graph_topo indexes by them). */
static bool check_node_ids(Verifier *v)
{
    const Graph *g = v->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!n)
            return fail(v, "node slot %d is empty", i);
        if (n->id < 0 || n->id >= g->n_nodes || v->by_id[n->id])
            return fail(v, "node slot %d has id %d, out of range or repeated", i, n->id);
        v->by_id[n->id] = n;
        if (n->op < 0 || n->op >= OP_COUNT)
            return fail(v, "node slot %d has op kind %d", i, (int)n->op);
        if (n->n_in < 0 || n->n_out < 0 || (n->n_in && !n->in) || (n->n_out && !n->out))
            return fail(v, "node slot %d has bad input or output arrays", i);
    }
    return true;
}

static bool out_of_range(int n, int lo, int hi)
{
    return n < lo || (hi >= 0 && n > hi);
}

/* Arities from ops.def (max -1: variadic); required slots present. */
static bool check_arity(Verifier *v, const Node *n, const char *ns)
{
    const OpInfo *oi = &op_info[n->op];
    if (out_of_range(n->n_in, oi->min_in, oi->max_in))
        return fail(v, "%s: %d inputs, ops.def says %d..%d (-1: any)", ns, n->n_in, oi->min_in, oi->max_in);
    if (out_of_range(n->n_out, oi->min_out, oi->max_out))
        return fail(v, "%s: %d outputs, ops.def says %d..%d (-1: any)", ns, n->n_out, oi->min_out,
                    oi->max_out);
    for (int k = 0; k < oi->min_in; k++)
        if (n->in[k] < 0)
            return fail(v, "%s: required input %d is omitted", ns, k);
    for (int k = 0; k < oi->min_out; k++)
        if (n->out[k] < 0)
            return fail(v, "%s: required output %d is omitted", ns, k);
    return true;
}

/* Records the producer of each output of live node n. */
static bool check_outputs(Verifier *v, const Node *n, const char *ns)
{
    const Graph *g = v->g;
    char other[300];
    for (int k = 0; k < n->n_out; k++) {
        int id = n->out[k];
        if (id < 0)
            continue;
        if (id >= g->n_values)
            return fail(v, "%s: output %d refers to value %d that does not exist", ns, k, id);
        if (g->values[id]->kind != VAL_ACT)
            return fail(v, "%s: output %d is value %d (%%%s), a graph input or constant", ns, k, id,
                        value_name(g, id));
        if (v->made_by[id] >= 0)
            return fail(v, "value %d (%%%s) is produced by %s and by %s", id, value_name(g, id),
                        node_str(v->by_id[v->made_by[id]], other, sizeof other), ns);
        v->made_by[id] = n->id;
    }
    return true;
}

typedef bool (*NodeCheck)(Verifier *v, const Node *n, const char *ns);

/* Runs check on every live node, in order; ns names the node. */
static bool each_live_node(Verifier *v, NodeCheck check)
{
    char ns[300];
    for (int i = 0; i < v->g->n_nodes; i++) {
        const Node *n = v->g->nodes[i];
        if (!n->dead && !check(v, n, node_str(n, ns, sizeof ns)))
            return false;
    }
    return true;
}

static bool check_node(Verifier *v, const Node *n, const char *ns)
{
    return check_arity(v, n, ns) && check_outputs(v, n, ns);
}

/* Every input refers to a graph input, a constant or a live node's output. */
static bool check_inputs(Verifier *v, const Node *n, const char *ns)
{
    for (int k = 0; k < n->n_in; k++) {
        int id = n->in[k];
        if (id >= v->g->n_values || id < -1)
            return fail(v, "%s: input %d refers to value %d that does not exist", ns, k, id);
        if (id >= 0 && !value_defined(v, id))
            return fail(v, "%s: input %d refers to value %d (%%%s) that nothing defines", ns, k, id,
                        value_name(v->g, id));
    }
    return true;
}

/* Graph inputs and outputs are defined; producer fields agree with the nodes. */
static bool check_graph_io(Verifier *v)
{
    const Graph *g = v->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int id = g->inputs[i];
        if (id < 0 || id >= g->n_values || g->values[id]->kind != VAL_INPUT)
            return fail(v, "graph input %d (value %d) is not a VAL_INPUT value", i, id);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int id = g->outputs[i];
        if (id < 0 || id >= g->n_values || !value_defined(v, id))
            return fail(v, "graph output %d refers to value %d that nothing defines", i, id);
    }
    if (g->train_loss >= g->n_values || (g->train_loss >= 0 && !value_defined(v, g->train_loss)))
        return fail(v, "the training loss refers to value %d that nothing defines", g->train_loss);
    for (int i = 0; i < g->n_assigns; i++) {
        int s = g->assigns[i].state, x = g->assigns[i].value;
        if (s < 0 || s >= g->n_values || g->values[s]->kind != VAL_STATE || x < 0 ||
            x >= g->n_values || !value_defined(v, x))
            return fail(v, "assign %d (state %d = value %d) is not a state set from a defined value",
                        i, s, x);
    }
    for (int id = 0; id < g->n_values; id++) {
        int p = g->values[id]->producer, want = v->made_by[id];
        bool stale_ok = want < 0 && (p == -1 || (p >= 0 && p < g->n_nodes && v->by_id[p]->dead));
        if (p != want && !stale_ok)
            return fail(v, "value %d (%%%s) has producer %d, but node %d produces it (call ir_graph_link)",
                        id, value_name(g, id), p, want);
    }
    return true;
}

static bool check_acyclic(Verifier *v)
{
    const Graph *g = v->g;
    int *order, n;
    if (ir_graph_topo(g, &order, &n))
        return true;
    bool *sorted = arena_alloc(g->arena, (size_t)g->n_nodes + 1);
    for (int i = 0; i < n; i++)
        sorted[order[i]] = true;
    char ns[300];
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && !sorted[g->nodes[i]->id])
            return fail(v, "the graph has a cycle through %s", node_str(g->nodes[i], ns, sizeof ns));
    return fail(v, "the graph has a cycle");
}

static bool check_typed(Verifier *v, int id, const char *what)
{
    const Value *val = v->g->values[id];
    char buf[160];
    if (!val->has_type)
        return fail(v, "%s: value %d (%%%s) has no type", what, id, value_name(v->g, id));
    if (dtype_size(val->dtype) == 0)
        return fail(v, "%s: value %d (%%%s) has unknown dtype %d", what, id, value_name(v->g, id),
                    (int)val->dtype);
    if (!shape_is_static(&val->shape))
        return fail(v, "%s: value %d (%%%s) has the symbolic shape %s", what, id,
                    value_name(v->g, id), shape_str(&val->shape, buf, sizeof buf));
    return true;
}

static bool check_node_types(Verifier *v, const Node *n, const char *ns)
{
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !check_typed(v, n->in[k], ns))
            return false;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && !check_typed(v, n->out[k], ns))
            return false;
    return true;
}

/* Values of live nodes and graph outputs are typed; constants have data. */
static bool check_types(Verifier *v)
{
    const Graph *g = v->g;
    if (!each_live_node(v, check_node_types))
        return false;
    for (int i = 0; i < g->n_outputs; i++)
        if (!check_typed(v, g->outputs[i], "graph output"))
            return false;
    for (int id = 0; id < g->n_values; id++) {
        const Value *val = g->values[id];
        if (val->kind == VAL_CONST && val->init == INIT_DATA && !val->data)
            return fail(v, "constant %d (%%%s) has no data", id, value_name(g, id));
    }
    return true;
}

bool ir_verify(const Graph *g, bool want_types, Diag *d)
{
    Verifier v = {.g = g, .d = d};
    if (g->n_values < 0 || g->n_nodes < 0 || (g->n_values && !g->values) || (g->n_nodes && !g->nodes))
        return fail(&v, "bad value or node arrays");
    v.by_id = arena_alloc(g->arena, sizeof *v.by_id * ((size_t)g->n_nodes + 1));
    v.made_by = arena_alloc(g->arena, sizeof *v.made_by * ((size_t)g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        v.made_by[i] = -1;
    if (!check_values(&v) || !check_node_ids(&v) || !each_live_node(&v, check_node) ||
        !each_live_node(&v, check_inputs) || !check_graph_io(&v) || !check_acyclic(&v))
        return false;
    return !want_types || check_types(&v);
}
