/* dot.c — the IR as a Graphviz picture (`kiln ir MODEL --dot`), rendered by
 * the `dot` program for `--svg`/`--png`. Reads a Graph at any stage; nodes are
 * filled by op family (the ops_*.def file of their row). Fused groups and
 * backward nodes get their own look once the IR carries them (print_node). */
#include "dot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- op families, from the file each ops.def row sits in ---- */

static const char *const op_file[OP_COUNT] = {
#define OP(name, ...) [OP_##name] = __FILE__,
#include "ops.def"
#undef OP
};

const char *ir_op_family(OpKind op)
{
    static char names[OP_COUNT][32];
    if (op <= OP_UNKNOWN || op >= OP_COUNT || !op_file[op])
        return "unknown";
    if (!names[op][0]) {
        const char *base = strrchr(op_file[op], '/');
        base = base ? base + 1 : op_file[op];
        if (strncmp(base, "ops_", 4) == 0)
            base += 4;
        else
            base = "core"; /* ops.def itself */
        size_t n = strcspn(base, ".");
        snprintf(names[op], sizeof names[op], "%.*s", (int)n, base);
    }
    return names[op];
}

/* Pastel fills: the families in the tree today, then a hash for new ones. */
static const char *family_color(const char *family)
{
    static const struct { const char *family, *color; } known[] = {
        {"core", "#eeeeee"},   {"unary", "#d5e8d4"},  {"binary", "#dae8fc"},
        {"conv", "#f8cecc"},   {"norm", "#e1d5e7"},   {"rnn", "#ffe6cc"},
        {"shape", "#f5f5f5"},  {"gather", "#fff2cc"}, {"reduce", "#d0f0ef"},
        {"train", "#fbd5d5"},
    };
    static const char *const spare[] = {"#fce4ec", "#e8f5e9", "#e3f2fd", "#fff8e1", "#ede7f6"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].family, family) == 0)
            return known[i].color;
    unsigned h = 0;
    for (const char *p = family; *p; p++)
        h = h * 31u + (unsigned char)*p;
    return spare[h % (sizeof spare / sizeof spare[0])];
}

/* ---- printing ---- */

/* s inside a dot "string": quotes and backslashes escaped, control bytes
 * dropped, cut to max bytes with "...". */
static void put_escaped(StrBuf *out, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s; s++, n++) {
        if (n == max) {
            sb_printf(out, "...");
            return;
        }
        unsigned char c = (unsigned char)*s;
        if (c < 32 || c == 127)
            continue;
        if (c == '"' || c == '\\')
            sb_append(out, "\\", 1);
        sb_append(out, s, 1);
    }
}

static bool has_type(const Value *v)
{
    return v->has_type || (v->kind != VAL_ACT && v->dtype != DT_UNDEF);
}

/* "f32[2x128]" (or nothing when the type is unknown yet). */
static void put_type(StrBuf *out, const Value *v)
{
    char buf[160];
    if (has_type(v))
        sb_printf(out, "%s[%s]", dtype_name(v->dtype), shape_str(&v->shape, buf, sizeof buf));
}

/* A graph input or output: an ellipse with the tensor's name and type. */
static void print_tensor(StrBuf *out, const Value *v, const char *id, bool output)
{
    sb_printf(out, "  %s [shape=ellipse%s, label=\"", id, output ? ", peripheries=2" : "");
    put_escaped(out, v->name, 40);
    if (has_type(v)) {
        sb_printf(out, "\\n");
        put_type(out, v);
    }
    sb_printf(out, "\", fillcolor=\"#ffffff\"];\n");
}

#define MAX_CONST_LINES 4 /* constant and state inputs listed in a node's label */

/* A weight, constant or state input: listed in the node, not drawn as an edge. */
static bool listed_input(const Value *v)
{
    return v->kind == VAL_CONST || v->kind == VAL_STATE;
}

/* "w" a weight (a parameter, trained or not), "s" other state (optimizer
 * moments, running statistics, the learning rate), "c" a constant. */
static const char *input_tag(const Value *v)
{
    if (v->trainable || (v->kind == VAL_CONST && v->is_param))
        return "w";
    return v->kind == VAL_STATE ? "s" : "c";
}

/* training: the node belongs to the training step only (loss, backward,
 * optimizer), not to inference. Later: nodes of one fused group go in one
 * `subgraph cluster_G`. */
static void print_node(StrBuf *out, const Graph *g, const Node *n, bool training)
{
    sb_printf(out, "  n%d [label=\"", n->id);
    put_escaped(out, n->op_name ? n->op_name : op_info[n->op].name, 40);
    sb_printf(out, "\\n'");
    put_escaped(out, n->name, 32);
    sb_printf(out, "'");
    for (int i = 0; i < n->n_out; i++) {
        const Value *v = ir_out(g, n, i);
        if (v && has_type(v)) {
            sb_printf(out, "\\n");
            put_type(out, v);
        }
    }
    int consts = 0;
    for (int i = 0; i < n->n_in; i++) {
        const Value *v = ir_in(g, n, i);
        if (!v || !listed_input(v))
            continue;
        if (consts++ == MAX_CONST_LINES) {
            sb_printf(out, "\\n...");
            continue;
        }
        if (consts > MAX_CONST_LINES)
            continue;
        sb_printf(out, "\\n%s ", input_tag(v));
        put_type(out, v);
    }
    sb_printf(out, "\", tooltip=\"");
    put_escaped(out, n->name, 200);
    sb_printf(out, "\", fillcolor=\"%s\"%s];\n", family_color(ir_op_family(n->op)),
              training ? ", style=\"rounded,filled,dashed\", color=\"#b03a2e\", penwidth=1.5" : "");
}

/* Marks, by index in g->nodes, the live nodes the graph outputs depend on
 * (inference); in a training graph the others are the training step's.
 * producer: per value id, the index of the live node writing it, or -1. */
static void mark_inference(const Graph *g, const int *producer, bool *inference)
{
    size_t cap = (size_t)g->n_outputs + 1;
    for (int i = 0; i < g->n_nodes; i++)
        cap += (size_t)g->nodes[i]->n_in;
    int *stack = malloc(sizeof(int) * cap);
    bool *seen = calloc((size_t)g->n_values + 1, 1);
    KILN_ASSERT(stack && seen);
    size_t top = 0;
    for (int k = 0; k < g->n_outputs; k++)
        stack[top++] = g->outputs[k];
    while (top > 0) {
        int v = stack[--top];
        if (seen[v] || producer[v] < 0)
            continue;
        seen[v] = true;
        const Node *n = g->nodes[producer[v]];
        inference[producer[v]] = true;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && !seen[n->in[i]])
                stack[top++] = n->in[i];
    }
    free(seen);
    free(stack);
}

/* One legend row per op family the graph uses. */
static void print_legend(StrBuf *out, const Graph *g, bool training)
{
    bool used[OP_COUNT] = {0};
    const char *seen[OP_COUNT];
    int n_seen = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->dead || used[n->op])
            continue;
        used[n->op] = true;
        const char *f = ir_op_family(n->op);
        bool dup = false;
        for (int k = 0; k < n_seen; k++)
            dup = dup || strcmp(seen[k], f) == 0;
        if (!dup)
            seen[n_seen++] = f;
    }
    if (!n_seen)
        return;
    sb_printf(out, "  legend [shape=plaintext, style=\"\", label=<<table border=\"0\" "
                   "cellborder=\"1\" cellspacing=\"0\" cellpadding=\"3\">"
                   "<tr><td><b>op family</b></td></tr>");
    for (int k = 0; k < n_seen; k++)
        sb_printf(out, "<tr><td bgcolor=\"%s\">%s</td></tr>", family_color(seen[k]), seen[k]);
    if (training)
        sb_printf(out, "<tr><td><i>dashed: training step only</i></td></tr>");
    sb_printf(out, "<tr><td>w: weight, s: state, c: constant</td></tr></table>>];\n");
}

/* The edge into node `to` from whatever holds value v: its producer, or the
 * graph input's ellipse. Constants are listed in the node instead. */
static void print_edge(StrBuf *out, const Graph *g, const int *producer, const Value *v,
                       const char *to)
{
    if (producer[v->id] >= 0)
        sb_printf(out, "  n%d -> %s", g->nodes[producer[v->id]]->id, to);
    else if (v->kind == VAL_INPUT)
        sb_printf(out, "  v%d -> %s", v->id, to);
    else
        return;
    sb_printf(out, " [tooltip=\"");
    put_escaped(out, v->name, 200);
    sb_printf(out, "\"];\n");
}

static void print_header(StrBuf *out, const Graph *g)
{
    sb_printf(out, "digraph \"");
    put_escaped(out, g->name, 80);
    sb_printf(out, "\" {\n  graph [rankdir=TB, fontname=\"Helvetica\", labelloc=t, label=\"");
    put_escaped(out, g->name, 80);
    if (g->file) {
        const char *base = strrchr(g->file, '/');
        sb_printf(out, " (");
        put_escaped(out, base ? base + 1 : g->file, 120);
        sb_printf(out, ")");
    }
    sb_printf(out, "\"];\n  node [fontname=\"Helvetica\", fontsize=10, shape=box, "
                   "style=\"rounded,filled\", color=\"#666666\"];\n"
                   "  edge [color=\"#666666\", arrowsize=0.7];\n");
}

/* The graph inputs, then the training step's extra inputs (labels). */
static void print_inputs(StrBuf *out, const Graph *g)
{
    char id[32];
    for (int k = 0; k < g->n_inputs + g->n_train_inputs; k++) {
        int v = k < g->n_inputs ? g->inputs[k] : g->train_inputs[k - g->n_inputs];
        bool dup = false;
        for (int j = 0; j < g->n_inputs && k >= g->n_inputs; j++)
            dup = dup || g->inputs[j] == v;
        if (dup)
            continue;
        snprintf(id, sizeof id, "v%d", v);
        print_tensor(out, g->values[v], id, false);
    }
}

/* The graph outputs and, in a training graph, the loss. */
static void print_outputs(StrBuf *out, const Graph *g, const int *producer)
{
    char id[32];
    for (int k = 0; k < g->n_outputs; k++) {
        snprintf(id, sizeof id, "out%d", k);
        print_tensor(out, g->values[g->outputs[k]], id, true);
        print_edge(out, g, producer, g->values[g->outputs[k]], id);
    }
    if (g->train_loss >= 0) {
        print_tensor(out, g->values[g->train_loss], "loss", true);
        print_edge(out, g, producer, g->values[g->train_loss], "loss");
    }
}

void ir_print_dot(const Graph *g, StrBuf *out)
{
    int *producer = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    bool *inference = calloc((size_t)g->n_nodes + 1, 1);
    KILN_ASSERT(producer && inference);
    for (int i = 0; i < g->n_values; i++)
        producer[i] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; !g->nodes[i]->dead && k < g->nodes[i]->n_out; k++)
            if (g->nodes[i]->out[k] >= 0)
                producer[g->nodes[i]->out[k]] = i;
    mark_inference(g, producer, inference);

    print_header(out, g);
    print_inputs(out, g);
    bool any_training = false;
    for (int i = 0; i < g->n_nodes; i++) {
        bool training = g->train_loss >= 0 && !inference[i];
        any_training = any_training || (training && !g->nodes[i]->dead);
        if (!g->nodes[i]->dead)
            print_node(out, g, g->nodes[i], training);
    }
    print_outputs(out, g, producer);
    char id[32];
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        snprintf(id, sizeof id, "n%d", n->id);
        for (int k = 0; !n->dead && k < n->n_in; k++)
            if (ir_in(g, n, k))
                print_edge(out, g, producer, ir_in(g, n, k), id);
    }
    print_legend(out, g, any_training);
    sb_printf(out, "}\n");
    free(inference);
    free(producer);
}

/* ---- rendering with Graphviz ---- */

bool ir_dot_available(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char exe[4096];
        snprintf(exe, sizeof exe, "%.*s/dot", (int)(n ? n : 1), n ? path : ".");
        if (access(exe, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Runs `dot -TFORMAT -o out in`, its stderr into log; the exit status, or
 * -1 if it could not start. */
static int run_dot(const char *format, const char *in, const char *out, const char *log)
{
    char tflag[32];
    snprintf(tflag, sizeof tflag, "-T%s", format);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        if (!f)
            _exit(127);
        char *argv[] = {"dot", tflag, "-o", (char *)out, (char *)in, NULL};
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The first line of a small text file, into buf. */
static void first_line(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f && fgets(buf, (int)n, f))
        buf[strcspn(buf, "\r\n")] = '\0';
    if (f)
        fclose(f);
}

bool ir_dot_render(const char *text, size_t len, const char *format, const char *path, Diag *d)
{
    if (!ir_dot_available()) {
        diag_error(d, "--%s needs Graphviz's 'dot' program, which is not installed (Debian: "
                      "apt-get install graphviz); --dot prints the graph as text",
                   format);
        return false;
    }
    const char *tmpdir = getenv("TMPDIR");
    char in[4096], log[4200], out[4200];
    snprintf(in, sizeof in, "%s/kiln-dot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(in);
    if (fd < 0) {
        diag_error(d, "cannot create a temporary file in %s: %s", tmpdir ? tmpdir : "/tmp",
                   strerror(errno));
        return false;
    }
    bool ok = write(fd, text, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    snprintf(log, sizeof log, "%s.log", in);
    snprintf(out, sizeof out, "%s.tmp%ld", path, (long)getpid());
    int rc = ok ? run_dot(format, in, out, log) : -1;
    if (rc == 0 && rename(out, path) == 0) {
        remove(in);
        remove(log);
        return true;
    }
    char why[256];
    first_line(log, why, sizeof why);
    if (!ok)
        diag_error(d, "cannot write a temporary file in %s", tmpdir ? tmpdir : "/tmp");
    else if (rc == 0)
        diag_error(d, "cannot write %s: %s", path, strerror(errno));
    else
        diag_error(d, "Graphviz's dot failed (exit %d)%s%s", rc, why[0] ? ": " : "", why);
    remove(in);
    remove(log);
    remove(out);
    return false;
}
