/* model.c — prints the model's files around the kernels: P.h (the public
 * API), P.c (front matter, weights, one static function per node, the model
 * info tables, P_init / P_run_v / P_run) and, with --weights file, P.bin.
 * The API is a contract documented in the README; keep them in step. */
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_runtime.h" /* the weights blob format */
#include "tune.h"

typedef struct Names {
    const char **value;   /* per value id: the C name in P_run_v / weights */
    const char **kernel;  /* per node id: the kernel function's name */
    const char **init;    /* per value id: the array of a state's first value, or NULL (zeros) */
    const char **task;    /* per node id: --threads: the pool's entry to the kernel */
    const char **args;    /* per node id: --threads: the struct of the kernel's arguments */
    int n;
    const char **taken;
} Names;

static const char *const reserved[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "ws", "workspace", "inputs",
    "outputs", "status", "nb", "run_rows", "train_rows", "args", "pool", NULL};

static int64_t value_bytes(const Value *v)
{
    return shape_numel(&v->shape) * (int64_t)dtype_size(v->dtype);
}

static bool name_taken(const Names *nm, const char *s)
{
    for (int i = 0; reserved[i]; i++)
        if (strcmp(reserved[i], s) == 0)
            return true;
    for (int i = 0; i < nm->n; i++)
        if (strcmp(nm->taken[i], s) == 0)
            return true;
    return false;
}

static const char *unique_name(Arena *a, Names *nm, const char *base)
{
    const char *s = base;
    for (int k = 2; name_taken(nm, s); k++)
        s = arena_printf(a, "%s_%d", base, k);
    nm->taken[nm->n++] = s;
    return s;
}

static void make_names(const Graph *g, Arena *a, Names *nm)
{
    nm->value = arena_alloc(a, sizeof(char *) * (size_t)(g->n_values + 1));
    nm->kernel = arena_alloc(a, sizeof(char *) * (size_t)(g->n_nodes + 1));
    nm->taken = arena_alloc(a, sizeof(char *) * (size_t)(2 * g->n_values + 3 * g->n_nodes + 1));
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        const char *id = emit_ident(a, v->name);
        nm->value[i] = unique_name(a, nm, v->kind == VAL_CONST ? arena_printf(a, "w_%s", id) : id);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!n->dead)
            nm->kernel[i] = unique_name(a, nm, arena_printf(a, "k_%s", emit_ident(a, n->name)));
    }
    nm->task = arena_alloc(a, sizeof(char *) * (size_t)(g->n_nodes + 1));
    nm->args = arena_alloc(a, sizeof(char *) * (size_t)(g->n_nodes + 1));
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->dead)
            continue;
        nm->task[i] = unique_name(a, nm, arena_printf(a, "%s_task", nm->kernel[i]));
        nm->args[i] = unique_name(a, nm, arena_printf(a, "%s_args", nm->kernel[i]));
    }
    nm->init = arena_alloc(a, sizeof(char *) * (size_t)(g->n_values + 1));
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        bool zero = true;
        for (int64_t b = 0; v->kind == VAL_STATE && v->data && zero && b < value_bytes(v); b++)
            zero = ((const unsigned char *)v->data)[b] == 0;
        if (!zero)
            nm->init[i] = unique_name(a, nm, arena_printf(a, "init_%s", nm->value[i]));
    }
}

/* Whether identifier s occurs as a whole token in text. */
static bool uses_token(const char *text, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = strstr(text, s); p; p = strstr(p + 1, s)) {
        bool before = p == text || !(p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') ||
                                     ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z'));
        char c = p[n];
        bool after = !(c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'));
        if (before && after)
            return true;
    }
    return false;
}

/* s made safe inside a C comment (no comment end, one line). */
static const char *safe_comment(Arena *a, const char *s)
{
    char *t = arena_strdup(a, s);
    for (char *p = t; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
        if (p[0] == '*' && p[1] == '/')
            p[1] = '|';
    }
    return t;
}

/* s as the body of a C string literal. */
static const char *c_string(Arena *a, const char *s)
{
    StrBuf sb = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(&sb, "\\%c", *p);
        else if (*p < 32 || *p >= 127 || *p == '?')
            sb_printf(&sb, "\\%03o", *p);
        else
            sb_append(&sb, (const char *)p, 1);
    }
    const char *r = arena_strdup(a, sb.buf ? sb.buf : "");
    sb_free(&sb);
    return r;
}

static const char *type_str(Arena *a, const Value *v)
{
    char buf[160];
    return arena_printf(a, "%s[%s]", dtype_name(v->dtype), shape_str(&v->shape, buf, sizeof buf));
}

/* One node: its kernel body first (so unused parameters can be left out of
 * the signature), then the function around it. The call goes to *call;
 * passed[id] is set for every value the call passes. */
/* --threads: a kernel run on the pool gets its arguments through a struct
 * and an entry of type kiln_pool_fn (P.c, after the kernel), which hands
 * each thread its own scratch of scratch_bytes; fields holds the struct's
 * members as "TYPE *NAME", names their names. */
static void emit_task(Emitter *e, const Node *n, const Names *nm, const char *const *fields,
                      const char *const *names, int count, int64_t scratch_bytes)
{
    emit_line(e, "typedef struct %s {", nm->args[n->id]);
    for (int i = 0; i < count; i++)
        emit_line(e, "    %s;", fields[i]);
    emit_line(e, "} %s;", nm->args[n->id]);
    emit_blank(e);
    emit_func(e, "static void %s(void *ctx, int part, int parts, int thread)", nm->task[n->id]);
    emit_line(e, "const %s *a = (const %s *)ctx;", nm->args[n->id], nm->args[n->id]);
    if (!scratch_bytes)
        emit_line(e, "(void)thread;");
    StrBuf sb = {0};
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], "scratch") == 0) /* this thread's */
            sb_printf(&sb, "(unsigned char *)a->scratch + (ptrdiff_t)thread * %lld, ",
                      (long long)scratch_bytes);
        else
            sb_printf(&sb, "a->%s, ", names[i]);
    emit_line(e, "%s(%spart, parts);", nm->kernel[n->id], sb.buf ? sb.buf : "");
    sb_free(&sb);
    emit_close(e);
    emit_blank(e);
}

/* A kernel's parameters, as emit_node collects them. */
typedef struct KernelParams {
    StrBuf sig;                   /* the declarations: "const float *restrict x0, ..." */
    StrBuf args;                  /* the call's arguments: "w_fc1, image, scratch" */
    const char *fields[130];      /* --threads: the argument struct's members "TYPE *NAME" */
    const char *names[130];       /* and their names */
    int n;
} KernelParams;

static void param_add(KernelParams *kp, const char *type, const char *name, const char *arg,
                      Arena *a)
{
    sb_printf(&kp->sig, "%s%s *restrict %s", kp->n ? ", " : "", type, name);
    sb_printf(&kp->args, "%s%s", kp->n ? ", " : "", arg);
    kp->fields[kp->n] = arena_printf(a, "%s *%s", type, name);
    kp->names[kp->n++] = name;
}

/* The call of kernel n in its entry point: direct, or (--threads) through
 * the pool with its arguments in a struct. */
static void emit_call(const Emitter *e, const Node *n, const Names *nm, const KernelParams *kp,
                      StrBuf *call)
{
    const char *args = kp->args.buf ? kp->args.buf : "";
    if (e->parts == 0) {
        sb_printf(call, "    %s(%s);\n", nm->kernel[n->id], args);
        return;
    }
    sb_printf(call, "    {\n        %s args = {%s};\n", nm->args[n->id], kp->n ? args : "0");
    sb_printf(call, "        kiln_pool_run(pool, %s, &args, %d);\n    }\n", nm->task[n->id],
              e->parts);
}

static bool emit_node(Emitter *e, const Node *n, const Names *nm, StrBuf *call, bool *passed,
                      bool *uses_scratch, bool *uses_pool)
{
    static bool (*const kernels[OP_COUNT])(Emitter *, const Graph *, const Node *) = {
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) [OP_##name] = kernel,
#include "ops.def"
#undef OP
    };
    const Graph *g = e->g;
    const char *in_name[64] = {0}, *out_name[64] = {0};
    KILN_ASSERT(n->n_in <= 64 && n->n_out <= 64);
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0)
            in_name[i] = arena_printf(e->arena, "x%d", i);
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] >= 0)
            out_name[i] = arena_printf(e->arena, "y%d", i);
    StrBuf body = {0}, *saved = e->out;
    e->out = &body;
    e->indent = 1;
    e->in_name = in_name;
    e->out_name = out_name;
    int64_t scratch_before = e->scratch;
    e->scratch = 0;
    e->batch_rows = g->batch.rows && g->batch.rows[n->id];
    e->parts = 0;
    bool ok = kernels[n->op](e, g, n);
    bool wants_scratch = e->scratch > 0;
    int64_t own_scratch = (e->scratch + 63) / 64 * 64; /* per thread on the pool */
    if (e->parts > 0)
        e->scratch = own_scratch * e->threads;
    if (e->scratch < scratch_before)
        e->scratch = scratch_before;
    e->out = saved;
    e->indent = 0;
    if (!ok) {
        sb_free(&body);
        return false;
    }
    /* comment, signature, body */
    KernelParams kp = {0};
    emit_line(e, "/* %s '%s'", n->op_name, safe_comment(e->arena, n->name));
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? n->n_out : n->n_in;
        for (int i = 0; i < count; i++) {
            const char *pname = pass ? out_name[i] : in_name[i];
            if (!pname || !uses_token(body.buf ? body.buf : "", pname))
                continue;
            const Value *v = pass ? ir_out(g, n, i) : ir_in(g, n, i);
            param_add(&kp, arena_printf(e->arena, "%s%s", pass ? "" : "const ", dtype_ctype(v->dtype)),
                      pname, nm->value[v->id], e->arena);
            passed[v->id] = true;
        }
    }
    if (e->batch_rows && uses_token(body.buf ? body.buf : "", "nb")) { /* the run-time batch */
        sb_printf(&kp.sig, "%sint nb", kp.n ? ", " : "");
        sb_printf(&kp.args, "%snb", kp.n ? ", " : "");
        kp.fields[kp.n] = "int nb";
        kp.names[kp.n++] = "nb";
    }
    e->batch_rows = false;
    if (wants_scratch) {
        *uses_scratch = true;
        param_add(&kp, "void", "scratch", "scratch", e->arena);
    }
    if (e->parts > 0)
        sb_printf(&kp.sig, "%sint part, int parts", kp.n ? ", " : "");
    *uses_pool |= e->parts > 0;
    emit_call(e, n, nm, &kp, call);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < (pass ? n->n_out : n->n_in); i++) {
            const Value *v = pass ? ir_out(g, n, i) : ir_in(g, n, i);
            if (v)
                emit_line(e, " *   %c%d %s '%s'", pass ? 'y' : 'x', i, type_str(e->arena, v),
                          safe_comment(e->arena, v->name));
        }
    emit_line(e, " */");
    emit_line(e, "static void %s(%s)", nm->kernel[n->id], kp.sig.len ? kp.sig.buf : "void");
    emit_line(e, "{");
    if (body.len)
        sb_append(e->out, body.buf, body.len);
    emit_line(e, "}");
    emit_blank(e);
    if (e->parts > 0)
        emit_task(e, n, nm, kp.fields, kp.names, kp.n, wants_scratch ? own_scratch : 0);
    sb_free(&kp.sig);
    sb_free(&kp.args);
    sb_free(&body);
    return true;
}

/* ---- the model file around the kernels ---- */

/* One entry point's code: its schedule, memory plan, and the kernel calls. */
typedef struct Entry {
    const Schedule *s;
    const MemPlan *mp;
    bool *passed;          /* per value id: some kernel call of this entry takes it */
    bool scratch;          /* some kernel call of this entry takes the scratch pointer */
    bool pool;             /* some kernel of this entry runs on the thread pool */
    StrBuf calls;
} Entry;

/* The workspace: [states][weights (file mode)][planned tensors][scratch]
 * [the thread pool (--threads)]. */
typedef struct Layout {
    bool *used;            /* per value id: a constant some kernel or output reads */
    int64_t *weight_off;   /* per value id: a used constant's offset (file mode) */
    int64_t *state_off;    /* per value id: a state's offset, or -1 */
    int64_t state_size;    /* bytes of the states at the start of the workspace */
    int64_t weights_end;   /* end of the weights (file mode; = state_size otherwise) */
    int64_t act_size;      /* the largest entry's planned tensors, from weights_end */
    int64_t stage_off;     /* run-time batch: the staging buffers of the padded rows */
    int64_t stage_size;    /* (after the scratch; 0 without a run-time batch) */
    int64_t pool_off;      /* --threads: the kiln_pool's offset, after the scratch; else -1 */
    int threads;
} Layout;

static int64_t align64(int64_t x)
{
    return (x + SCHED_ALIGN - 1) / SCHED_ALIGN * SCHED_ALIGN;
}

static void plan_layout(const Graph *g, const Entry *ent, int n_ent, bool file, Arena *a,
                        Layout *lay)
{
    lay->used = arena_alloc(a, (size_t)g->n_values + 1);
    lay->weight_off = arena_alloc(a, sizeof(int64_t) * (size_t)(g->n_values + 1));
    lay->state_off = arena_alloc(a, sizeof(int64_t) * (size_t)(g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        for (int k = 0; k < n_ent; k++)
            lay->used[i] |= ent[k].passed[i] && g->values[i]->kind == VAL_CONST;
    for (int k = 0; k < g->n_outputs; k++)
        if (g->values[g->outputs[k]]->kind == VAL_CONST)
            lay->used[g->outputs[k]] = true;
    int64_t off = 0;
    for (int i = 0; i < g->n_values; i++) {
        lay->state_off[i] = g->values[i]->kind == VAL_STATE ? off : -1;
        if (g->values[i]->kind == VAL_STATE)
            off += align64(value_bytes(g->values[i]));
    }
    lay->state_size = off;
    for (int i = 0; i < g->n_values; i++) {
        lay->weight_off[i] = file && lay->used[i] ? off : -1;
        if (file && lay->used[i])
            off += align64(value_bytes(g->values[i]));
    }
    lay->weights_end = off;
    lay->act_size = 0;
    for (int k = 0; k < n_ent; k++)
        if (ent[k].mp->size > lay->act_size)
            lay->act_size = ent[k].mp->size;
}

static void emit_front_matter(Emitter *e, const Graph *g, const EmitOptions *o, const char *file,
                              const char *what)
{
    emit_line(e, "/* %s — %s", file, what);
    emit_line(e, " *");
    emit_line(e, " * Generated by kiln %s. Do not edit; regenerate with:", KILN_VERSION);
    emit_line(e, " *   %s", safe_comment(e->arena, o->command_line));
    emit_line(e, " * Model: %s (graph '%s', producer '%s', opset %d)",
              safe_comment(e->arena, o->model_file), safe_comment(e->arena, g->name),
              safe_comment(e->arena, g->producer), g->opset);
    emit_line(e, " * Target: %s%s", target_name(o->target),
              o->target_from_host ? " (--target host: the best of the compiling machine)" : "");
    emit_line(e, " */");
}

/* Element k of v as a C literal into buf (exact: %.9g round-trips f32). */
static void elem_literal(const Value *v, int64_t k, char *buf, size_t n)
{
    switch (v->dtype) {
    case DT_F32:
    case DT_F64: {
        double x = tensor_get_f(v->dtype, v->data, k);
        const char *f = v->dtype == DT_F32 ? "f" : "";
        if (x != x)
            snprintf(buf, n, "NAN");
        else if (x > 1e308 || x < -1e308)
            snprintf(buf, n, "%sINFINITY", x < 0 ? "-" : "");
        else {
            snprintf(buf, n, v->dtype == DT_F32 ? "%.9g" : "%.17g", x);
            if (!strpbrk(buf, ".e"))
                strcat(buf, ".0");
            strcat(buf, f);
        }
        break;
    }
    case DT_I64:
        if (tensor_get_i(v->dtype, v->data, k) == INT64_MIN)
            snprintf(buf, n, "INT64_MIN");
        else
            snprintf(buf, n, "INT64_C(%lld)", (long long)tensor_get_i(v->dtype, v->data, k));
        break;
    case DT_U64:
        snprintf(buf, n, "UINT64_C(%llu)", (unsigned long long)((const uint64_t *)v->data)[k]);
        break;
    case DT_F16: /* raw IEEE half bits */
        snprintf(buf, n, "%u", (unsigned)((const uint16_t *)v->data)[k]);
        break;
    case DT_U32:
        snprintf(buf, n, "%lluu", (unsigned long long)tensor_get_i(v->dtype, v->data, k));
        break;
    case DT_I32:
        if (tensor_get_i(v->dtype, v->data, k) == INT32_MIN) {
            snprintf(buf, n, "INT32_MIN");
            break;
        }
        /* fall through */
    default:
        snprintf(buf, n, "%lld", (long long)tensor_get_i(v->dtype, v->data, k));
        break;
    }
}

/* Embedded weights: one static const array per constant. */
static void emit_weight_array(Emitter *e, const Value *v, const char *name)
{
    int64_t numel = shape_numel(&v->shape);
    emit_line(e, "/* '%s' %s */", safe_comment(e->arena, v->name), type_str(e->arena, v));
    if (numel == 0) {
        emit_line(e, "static const %s %s[1] = {0};", dtype_ctype(v->dtype), name);
        return;
    }
    emit_line(e, "static const %s %s[%lld] = {", dtype_ctype(v->dtype), name, (long long)numel);
    int per_line = dtype_is_float(v->dtype) ? 6 : 10;
    char lit[64];
    for (int64_t k = 0; k < numel; k++) {
        if (k % per_line == 0)
            sb_append(e->out, "    ", 4);
        elem_literal(v, k, lit, sizeof lit);
        sb_printf(e->out, "%s%s", lit,
                  k + 1 == numel ? "\n" : (k % per_line == per_line - 1 ? ",\n" : ", "));
    }
    emit_line(e, "};");
}

/* The blob kiln_weights_load reads (format in kiln_runtime.h): a header,
 * then every used constant at its offset in the weights region. */
/* The blob kiln_weights_load reads (format in kiln_runtime.h): a header,
 * then the first weights_end bytes of the workspace: every state's first
 * value and every used constant at its offset. */
static void emit_weight_blob(const Graph *g, const Layout *lay, StrBuf *blob)
{
    unsigned char *payload = calloc(1, (size_t)lay->weights_end + 1);
    KILN_ASSERT(payload != NULL);
    for (int i = 0; i < g->n_values; i++) {
        int64_t off = lay->weight_off[i] >= 0 ? lay->weight_off[i] : lay->state_off[i];
        if (off >= 0 && g->values[i]->data)
            memcpy(payload + off, g->values[i]->data, (size_t)value_bytes(g->values[i]));
    }
    uint64_t size = (uint64_t)lay->weights_end;
    uint64_t sum = kiln_fnv1a64(payload, (size_t)size, 14695981039346656037ull);
    unsigned char head[24];
    memcpy(head, KILN_WEIGHTS_MAGIC, 8);
    for (int b = 0; b < 8; b++) {
        head[8 + b] = (unsigned char)(size >> (8 * b));
        head[16 + b] = (unsigned char)(sum >> (8 * b));
    }
    sb_append(blob, (const char *)head, sizeof head);
    sb_append(blob, (const char *)payload, (size_t)size);
    free(payload);
}

static void emit_info_table(Emitter *e, const Graph *g, const char *what, const int *ids, int n)
{
    for (int k = 0; k < n; k++) {
        const Value *v = g->values[ids[k]];
        if (v->shape.rank == 0)
            continue;
        StrBuf dims = {0};
        for (int i = 0; i < v->shape.rank; i++)
            sb_printf(&dims, "%s%lld", i ? ", " : "", (long long)v->shape.dims[i]);
        emit_line(e, "static const int64_t %s%d_dims[%d] = {%s};", what, k, v->shape.rank, dims.buf);
        sb_free(&dims);
    }
    if (n == 0)
        return;
    emit_line(e, "static const kiln_tensor_info %s_info[%d] = {", what, n);
    for (int k = 0; k < n; k++) {
        const Value *v = g->values[ids[k]];
        const char *dims = v->shape.rank ? arena_printf(e->arena, "%s%d_dims", what, k) : "NULL";
        emit_line(e, "    {\"%s\", %d, %d, %s},", c_string(e->arena, v->name), (int)v->dtype,
                  v->shape.rank, dims);
    }
    emit_line(e, "};");
}

static void emit_info(Emitter *e, const Graph *g, const char *P)
{
    emit_info_table(e, g, "inputs", g->inputs, g->n_inputs);
    emit_info_table(e, g, "outputs", g->outputs, g->n_outputs);
    emit_blank(e);
    emit_line(e, "const kiln_model_info %s_info = {\"%s\", %d, %d, %s, %s};", P,
              c_string(e->arena, g->name), g->n_inputs, g->n_outputs,
              g->n_inputs ? "inputs_info" : "NULL", g->n_outputs ? "outputs_info" : "NULL");
    emit_blank(e);
    if (g->train_loss < 0)
        return;
    emit_info_table(e, g, "train_inputs", g->train_inputs, g->n_train_inputs);
    emit_info_table(e, g, "train_outputs", &g->train_loss, 1);
    emit_blank(e);
    emit_line(e, "const kiln_model_info %s_train_info = {\"%s\", %d, 1, %s, train_outputs_info};",
              P, c_string(e->arena, g->name), g->n_train_inputs,
              g->n_train_inputs ? "train_inputs_info" : "NULL");
    emit_blank(e);
}

/* The pointer every value an entry uses lives at: ids are the entry's
 * inputs (inputs[k]); outputs (run only) come from outputs[k]. */
static void emit_locals(Emitter *e, const Graph *g, const Names *nm, const Layout *lay,
                        const Entry *ent, const int *ids, int n_ids, bool run)
{
    emit_line(e, "unsigned char *ws = (unsigned char *)workspace;");
    for (int k = 0; k < n_ids; k++) {
        const Value *v = g->values[ids[k]];
        if (ent->passed[v->id] || (run && v->is_output)) /* an input no kernel reads needs no name */
            emit_line(e, "const %s *%s = (const %s *)inputs[%d];", dtype_ctype(v->dtype),
                      nm->value[v->id], dtype_ctype(v->dtype), k);
    }
    bool *home = arena_alloc(e->arena, (size_t)g->n_values + 1);
    for (int k = 0; run && k < g->n_outputs; k++) {
        const Value *v = g->values[g->outputs[k]];
        if (v->kind != VAL_ACT || home[v->id] || !ent->passed[v->id]) /* e.g. no elements */
            continue;
        home[v->id] = true;
        emit_line(e, "%s *%s = (%s *)outputs[%d];", dtype_ctype(v->dtype), nm->value[v->id],
                  dtype_ctype(v->dtype), k);
    }
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        bool out_const = run && v->kind == VAL_CONST && v->is_output;
        if (lay->state_off[i] >= 0 && (ent->passed[i] || (run && v->is_output)))
            emit_line(e, "%s *%s = (%s *)(ws + %lld);", dtype_ctype(v->dtype), nm->value[i],
                      dtype_ctype(v->dtype), (long long)lay->state_off[i]);
        if (lay->weight_off[i] >= 0 && (ent->passed[i] || out_const))
            emit_line(e, "const %s *%s = (const %s *)(ws + %lld);", dtype_ctype(v->dtype),
                      nm->value[i], dtype_ctype(v->dtype), (long long)lay->weight_off[i]);
    }
    for (int k = 0; k < ent->s->n; k++) {
        const Node *n = g->nodes[ent->s->order[k]];
        for (int i = 0; i < n->n_out; i++) {
            const Value *v = ir_out(g, n, i);
            if (!v || ent->mp->offset[v->id] < 0)
                continue;
            emit_line(e, "%s *%s = (%s *)(ws + %lld); /* %s */", dtype_ctype(v->dtype),
                      nm->value[v->id], dtype_ctype(v->dtype),
                      (long long)(lay->weights_end + ent->mp->offset[v->id]), type_str(e->arena, v));
        }
    }
    if (ent->scratch)
        emit_line(e, "void *scratch = ws + %lld;", (long long)(lay->weights_end + lay->act_size));
    if (ent->pool)
        emit_line(e, "kiln_pool *pool = (kiln_pool *)(ws + %lld);", (long long)lay->pool_off);
    emit_line(e, "(void)ws;");
    emit_blank(e);
}

/* if (!ptr[i]) return KILN_ERR_ARGUMENT; for the count pointers of arr. */
static void emit_check_ptrs(Emitter *e, const char *arr, int count)
{
    if (count == 0)
        return;
    emit_open(e, "for (int i = 0; i < %d; i++)", count);
    emit_line(e, "if (!%s[i])", arr);
    emit_line(e, "    return KILN_ERR_ARGUMENT;");
    emit_close(e);
}

/* Outputs that no kernel writes: constants, inputs, repeated outputs. */
static void emit_output_copies(Emitter *e, const Graph *g, const Names *nm)
{
    bool *home = arena_alloc(e->arena, (size_t)g->n_values + 1);
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *v = g->values[g->outputs[k]];
        if (v->kind == VAL_ACT && !home[v->id]) {
            home[v->id] = true;
            continue;
        }
        emit_line(e, "memcpy(outputs[%d], %s, %lld);", k, nm->value[v->id],
                  (long long)value_bytes(v));
    }
}

/* The kernels use AVX2+FMA or AVX-512F: P_init refuses a CPU (or an OS)
 * without them. The other targets' instruction sets are their
 * architecture's baseline (SSE2, NEON) and need no check. */
static void emit_cpu_check(Emitter *e)
{
    if (e->needs_avx2) {
        emit_line(e, "if (!kiln_cpu_has_avx2_fma())");
        emit_line(e, "    return KILN_ERR_CPU;");
    }
    if (e->needs_avx512) {
        emit_line(e, "if (!kiln_cpu_has_avx512f())");
        emit_line(e, "    return KILN_ERR_CPU;");
    }
}

/* --threads: the last step of P_init starts the pool's workers. */
static void emit_pool_start(Emitter *e, const Layout *lay)
{
    emit_line(e, "return kiln_pool_start((kiln_pool *)((unsigned char *)workspace + %lld), %d);",
              (long long)lay->pool_off, lay->threads);
}

/* --threads: P_shutdown joins the pool's workers. */
static void emit_shutdown(Emitter *e, const Layout *lay, const char *P)
{
    if (lay->pool_off < 0)
        return;
    emit_func(e, "void %s_shutdown(void *workspace)", P);
    emit_line(e, "if (workspace)");
    emit_line(e, "    kiln_pool_shutdown((kiln_pool *)((unsigned char *)workspace + %lld));",
              (long long)lay->pool_off);
    emit_close(e);
    emit_blank(e);
}

/* P_init: the first value of every state (weights read from the blob in
 * file mode). */
static void emit_init(Emitter *e, const Graph *g, const Names *nm, const Layout *lay,
                      const EmitOptions *o)
{
    const char *P = o->prefix;
    if (o->weights == WEIGHTS_FILE) {
        emit_func(e, "int %s_init_from(void *workspace, const char *weights_path)", P);
        emit_cpu_check(e);
        emit_line(e, "if (!workspace)");
        emit_line(e, "    return KILN_ERR_ARGUMENT;");
        if (lay->pool_off < 0) {
            emit_line(e, "return kiln_weights_load(workspace, %s_WEIGHTS_SIZE, weights_path);", P);
        } else {
            emit_line(e, "int status = kiln_weights_load(workspace, %s_WEIGHTS_SIZE, weights_path);",
                      P);
            emit_line(e, "if (status != KILN_OK)");
            emit_line(e, "    return status;");
            emit_pool_start(e, lay);
        }
        emit_close(e);
        emit_blank(e);
        emit_func(e, "int %s_init(void *workspace)", P);
        emit_line(e, "return %s_init_from(workspace, %s_WEIGHTS_FILE);", P, P);
        emit_close(e);
        emit_blank(e);
        return;
    }
    emit_func(e, "int %s_init(void *workspace)", P);
    emit_cpu_check(e);
    emit_line(e, "if (!workspace)");
    emit_line(e, "    return KILN_ERR_ARGUMENT;");
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (lay->state_off[i] < 0)
            continue;
        if (nm->init[i])
            emit_line(e, "memcpy((unsigned char *)workspace + %lld, %s, sizeof %s);",
                      (long long)lay->state_off[i], nm->init[i], nm->init[i]);
        else
            emit_line(e, "memset((unsigned char *)workspace + %lld, 0, %lld); /* %s */",
                      (long long)lay->state_off[i], (long long)value_bytes(v), safe_comment(e->arena, v->name));
    }
    if (lay->pool_off < 0)
        emit_line(e, "return KILN_OK;");
    else
        emit_pool_start(e, lay);
    emit_close(e);
    emit_blank(e);
}

/* ---- the run-time batch (g->batch, --batch N on a symbolic first dim) ----
 * P_run_batch_v / P_train_step_batch_v take batch <= N rows. The kernels keep
 * their N-row shapes: a smaller batch is copied into staging buffers in the
 * workspace, rows batch..N-1 repeating the last real row (finite, so a zero
 * gradient times them stays zero), and the kernels that reduce over the
 * batch use only the first nb rows (pass/batch_rows.c). */

/* Bytes of one batch row of v along its batch axis, and the blocks before
 * that axis (outer); 0 if v has no batch axis. */
static int64_t batch_row_bytes(const Graph *g, const Value *v, int64_t *outer)
{
    int ax = g->batch.axis ? g->batch.axis[v->id] : -1;
    *outer = 1;
    if (ax < 0 || v->kind == VAL_CONST)
        return 0;
    int64_t inner = (int64_t)dtype_size(v->dtype);
    for (int i = 0; i < v->shape.rank; i++) {
        if (i < ax)
            *outer *= v->shape.dims[i];
        else if (i > ax)
            inner *= v->shape.dims[i];
    }
    return inner;
}

/* The staging bytes of an entry: its batch-major inputs, then (run) its
 * batch-major outputs. */
static int64_t stage_bytes(const Graph *g, const int *ids, int n, bool outputs)
{
    int64_t size = 0, outer;
    for (int k = 0; k < n; k++)
        size += align64(batch_row_bytes(g, g->values[ids[k]], &outer) * outer * g->batch.max);
    if (outputs)
        size += stage_bytes(g, g->outputs, g->n_outputs, false);
    return size;
}

static void plan_staging(const Graph *g, int64_t scratch, Layout *lay)
{
    lay->stage_off = lay->weights_end + lay->act_size + align64(scratch);
    lay->stage_size = 0;
    if (g->batch.max <= 0 || g->batch.fallback)
        return;
    lay->stage_size = stage_bytes(g, g->inputs, g->n_inputs, true);
    int64_t train = stage_bytes(g, g->train_inputs, g->n_train_inputs, false);
    if (g->train_loss >= 0 && train > lay->stage_size)
        lay->stage_size = train;
}

static void emit_pad_rows(Emitter *e)
{
    emit_line(e, "/* Rows 0..batch-1 of src into dst, then rows batch..max-1 repeating the");
    emit_line(e, " * last one: the padding stays finite. */");
    emit_func(e, "static void pad_rows(unsigned char *dst, const void *src, int batch, int max, "
                 "size_t row_bytes)");
    emit_line(e, "memcpy(dst, src, (size_t)batch * row_bytes);");
    emit_line(e, "for (int r = batch; r < max; r++)");
    emit_line(e, "    memcpy(dst + (size_t)r * row_bytes, dst + (size_t)(batch - 1) * row_bytes, "
                 "row_bytes);");
    emit_close(e);
    emit_blank(e);
}

/* pad_rows for the staged inputs and unpad_rows for the staged outputs,
 * each only where some entry point copies such tensors. */
static void emit_stage_helpers(Emitter *e, const Graph *g)
{
    bool in = stage_bytes(g, g->inputs, g->n_inputs, false) > 0 ||
              (g->train_loss >= 0 && stage_bytes(g, g->train_inputs, g->n_train_inputs, false) > 0);
    if (in)
        emit_pad_rows(e);
    if (stage_bytes(g, g->outputs, g->n_outputs, false) == 0)
        return;
    emit_line(e, "/* The first batch rows of each of outer blocks of max rows, from src to dst. */");
    emit_func(e, "static void unpad_rows(void *dst, const unsigned char *src, int batch, int max, "
                 "size_t outer, size_t row_bytes)");
    emit_line(e, "for (size_t o = 0; o < outer; o++)");
    emit_line(e, "    memcpy((unsigned char *)dst + o * (size_t)batch * row_bytes,");
    emit_line(e, "           src + o * (size_t)max * row_bytes, (size_t)batch * row_bytes);");
    emit_close(e);
    emit_blank(e);
}

/* The argument checks of a batch entry point; with a fallback only N goes. */
static void emit_batch_checks(Emitter *e, const Graph *g, const char *ptrs, const char *arr,
                              int count)
{
    emit_line(e, "if (!workspace%s || batch %s)", ptrs,
              g->batch.fallback ? arena_printf(e->arena, "!= %lld", (long long)g->batch.max)
                                : arena_printf(e->arena, "< 1 || batch > %lld", (long long)g->batch.max));
    emit_line(e, "    return KILN_ERR_ARGUMENT;");
    emit_check_ptrs(e, arr, count);
}

/* const void *in[n]: the caller's pointers, batch-major ones replaced by
 * padded copies in the staging area from offset *off on. */
static void emit_stage_inputs(Emitter *e, const Graph *g, const Layout *lay, const int *ids,
                              int n, int64_t *off)
{
    emit_line(e, "unsigned char *stage = (unsigned char *)workspace + %lld;", (long long)lay->stage_off);
    emit_line(e, "const void *in[%d];", n ? n : 1);
    for (int k = 0; k < n; k++) {
        int64_t outer, row = batch_row_bytes(g, g->values[ids[k]], &outer);
        if (!row) {
            emit_line(e, "in[%d] = inputs[%d];", k, k);
            continue;
        }
        emit_line(e, "pad_rows(stage + %lld, inputs[%d], batch, %lld, %lld);", (long long)*off, k,
                  (long long)g->batch.max, (long long)row);
        emit_line(e, "in[%d] = stage + %lld;", k, (long long)*off);
        *off += align64(row * g->batch.max);
    }
}

/* P_run_batch_v below N rows: the padded inputs and the outputs staged. */
static void emit_run_staged(Emitter *e, const Graph *g, const Layout *lay)
{
    long long N = (long long)g->batch.max;
    int64_t off = 0;
    emit_stage_inputs(e, g, lay, g->inputs, g->n_inputs, &off);
    emit_line(e, "void *out[%d];", g->n_outputs ? g->n_outputs : 1);
    for (int k = 0; k < g->n_outputs; k++) {
        int64_t outer, row = batch_row_bytes(g, g->values[g->outputs[k]], &outer);
        if (row) {
            emit_line(e, "out[%d] = stage + %lld;", k, (long long)off);
            off += align64(row * outer * g->batch.max);
        } else {
            emit_line(e, "out[%d] = outputs[%d];", k, k);
        }
    }
    KILN_ASSERT(off <= lay->stage_size);
    emit_line(e, "int status = run_rows(workspace, batch, in, out);");
    for (int k = 0; k < g->n_outputs; k++) {
        int64_t outer, row = batch_row_bytes(g, g->values[g->outputs[k]], &outer);
        if (row)
            emit_line(e, "unpad_rows(outputs[%d], out[%d], batch, %lld, %lld, %lld);", k, k, N,
                      (long long)outer, (long long)row);
    }
    emit_line(e, "return status;");
}

static void emit_run_batch(Emitter *e, const Graph *g, const Layout *lay, const char *P)
{
    long long N = (long long)g->batch.max;
    emit_func(e, "int %s_run_batch_v(void *workspace, int batch, const void *const *inputs, "
                 "void *const *outputs)", P);
    emit_batch_checks(e, g, arena_printf(e->arena, "%s%s", g->n_inputs ? " || !inputs" : "",
                                         g->n_outputs ? " || !outputs" : ""),
                      "inputs", g->n_inputs);
    emit_check_ptrs(e, "outputs", g->n_outputs);
    emit_line(e, "if (batch == %lld)", N);
    emit_line(e, "    return run_rows(workspace, batch, inputs, outputs);");
    if (g->batch.fallback) {
        emit_line(e, "return KILN_ERR_ARGUMENT; /* %s */", safe_comment(e->arena, g->batch.fallback));
    } else {
        emit_run_staged(e, g, lay);
    }
    emit_close(e);
    emit_blank(e);
    emit_func(e, "int %s_run_v(void *workspace, const void *const *inputs, void *const *outputs)", P);
    emit_line(e, "return %s_run_batch_v(workspace, %lld, inputs, outputs);", P, N);
    emit_close(e);
    emit_blank(e);
}


static void emit_run(Emitter *e, const Graph *g, const Names *nm, const Layout *lay,
                     const EmitOptions *o, const Entry *ent)
{
    bool dyn = g->batch.max > 0;
    if (dyn) {
        emit_line(e, "/* %s_run_v on nb real rows (the batch-major tensors hold %lld, padded) */",
                  o->prefix, (long long)g->batch.max);
        emit_func(e, "static int run_rows(void *workspace, int nb, const void *const *inputs, "
                     "void *const *outputs)");
        emit_line(e, "(void)nb;");
    } else {
        emit_func(e, "int %s_run_v(void *workspace, const void *const *inputs, void *const *outputs)",
                  o->prefix);
    }
    if (g->n_inputs == 0)
        emit_line(e, "(void)inputs; /* the model has no inputs */");
    if (!dyn) {
        emit_line(e, "if (!workspace%s%s)", g->n_inputs ? " || !inputs" : "",
                  g->n_outputs ? " || !outputs" : "");
        emit_line(e, "    return KILN_ERR_ARGUMENT;");
        emit_check_ptrs(e, "inputs", g->n_inputs);
        emit_check_ptrs(e, "outputs", g->n_outputs);
    }
    emit_locals(e, g, nm, lay, ent, g->inputs, g->n_inputs, true);
    sb_append(e->out, ent->calls.buf ? ent->calls.buf : "", ent->calls.len);
    emit_output_copies(e, g, nm);
    emit_line(e, "return KILN_OK;");
    emit_close(e);
    emit_blank(e);
    if (dyn)
        emit_run_batch(e, g, lay, o->prefix);
}

/* kiln tune's harness only (never in user output): P_tune_layer runs the
 * kernel of one blocked GEMM layer of P_run_v, numbered as kiln tune found
 * them; the workspace holds what the last P_run_v left there. */
static void emit_tune_layer(Emitter *e, const Graph *g, const Names *nm, const Layout *lay,
                            const EmitOptions *o, const Entry *ent, const StrBuf *cases)
{
    emit_func(e, "int %s_tune_layer(void *workspace, const void *const *inputs, "
                 "void *const *outputs, int layer)", o->prefix);
    emit_line(e, "(void)inputs;");
    emit_line(e, "(void)outputs;");
    emit_locals(e, g, nm, lay, ent, g->inputs, g->n_inputs, true);
    emit_line(e, "switch (layer) {");
    sb_append(e->out, cases->buf ? cases->buf : "", cases->len);
    emit_line(e, "default:");
    emit_line(e, "    return KILN_ERR_ARGUMENT;");
    emit_line(e, "}");
    emit_line(e, "return KILN_OK;");
    emit_close(e);
    emit_blank(e);
}

/* The parameter file's table of states (kiln_params.h): "NAME DTYPE DIMS
 * OFFSET" per line; names with spaces or newlines have them replaced. */
static void state_table(const Graph *g, const Layout *lay, StrBuf *out)
{
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (v->kind != VAL_STATE)
            continue;
        char dims[200];
        for (const char *p = v->name; *p; p++)
            sb_append(out, (*p == ' ' || *p == '\n' || *p == '\t') ? "_" : p, 1);
        sb_printf(out, " %d %s %lld\n", (int)v->dtype, shape_str(&v->shape, dims, sizeof dims),
                  (long long)lay->state_off[i]);
    }
}

/* A hash of the table: a parameter file saved by another model is refused. */
static uint64_t state_fingerprint(const Graph *g, const Layout *lay)
{
    StrBuf t = {0};
    state_table(g, lay, &t);
    uint64_t h = kiln_fnv1a64((const unsigned char *)(t.buf ? t.buf : ""), t.len, 14695981039346656037ull);
    sb_free(&t);
    return h;
}

/* --check-finite: before any state changes, the loss and every new float
 * state value must be finite (a NaN or Inf gradient reaches them through the
 * optimizer); otherwise the step returns KILN_ERR_NONFINITE untouched. */
static void emit_finite_check(Emitter *e, const Graph *g, const Names *nm)
{
    emit_line(e, "if (!isfinite(*loss))");
    emit_line(e, "    return KILN_ERR_NONFINITE;");
    for (int k = 0; k < g->n_assigns; k++) {
        const Value *v = g->values[g->assigns[k].value];
        if (!dtype_is_float(v->dtype))
            continue;
        emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)shape_numel(&v->shape));
        emit_line(e, "if (!isfinite(%s[i]))", nm->value[v->id]);
        emit_line(e, "    return KILN_ERR_NONFINITE;");
        emit_close(e);
    }
}

static void emit_train_batch(Emitter *e, const Graph *g, const Layout *lay, const char *P)
{
    long long N = (long long)g->batch.max;
    emit_func(e, "int %s_train_step_batch_v(void *workspace, int batch, const void *const *inputs, "
                 "float *loss)", P);
    emit_batch_checks(e, g, " || !inputs || !loss", "inputs", g->n_train_inputs);
    emit_line(e, "if (batch == %lld)", N);
    emit_line(e, "    return train_rows(workspace, batch, inputs, loss);");
    if (g->batch.fallback) {
        emit_line(e, "return KILN_ERR_ARGUMENT; /* %s */", safe_comment(e->arena, g->batch.fallback));
    } else {
        int64_t off = 0;
        emit_stage_inputs(e, g, lay, g->train_inputs, g->n_train_inputs, &off);
        KILN_ASSERT(off <= lay->stage_size);
        emit_line(e, "return train_rows(workspace, batch, in, loss);");
    }
    emit_close(e);
    emit_blank(e);
    emit_func(e, "int %s_train_step_v(void *workspace, const void *const *inputs, float *loss)", P);
    emit_line(e, "return %s_train_step_batch_v(workspace, %lld, inputs, loss);", P, N);
    emit_close(e);
    emit_blank(e);
}

/* P_train_step_v, P_set_lr, P_params_save, P_params_load. */
static void emit_train(Emitter *e, const Graph *g, const Names *nm, const Layout *lay,
                       const EmitOptions *o, const Entry *ent)
{
    const char *P = o->prefix;
    bool dyn = g->batch.max > 0;
    if (dyn) {
        emit_line(e, "/* %s_train_step_v on nb real rows (the batch-major inputs hold %lld, padded) */",
                  P, (long long)g->batch.max);
        emit_func(e, "static int train_rows(void *workspace, int nb, const void *const *inputs, "
                     "float *loss)");
        emit_line(e, "(void)nb;");
    } else {
        emit_func(e, "int %s_train_step_v(void *workspace, const void *const *inputs, float *loss)", P);
        emit_line(e, "if (!workspace || !inputs || !loss)");
        emit_line(e, "    return KILN_ERR_ARGUMENT;");
        emit_check_ptrs(e, "inputs", g->n_train_inputs);
    }
    emit_locals(e, g, nm, lay, ent, g->train_inputs, g->n_train_inputs, false);
    sb_append(e->out, ent->calls.buf ? ent->calls.buf : "", ent->calls.len);
    emit_blank(e);
    emit_line(e, "/* the loss before the update, then the new parameters and optimizer state */");
    emit_line(e, "*loss = (float)%s[0];", nm->value[g->train_loss]);
    if (o->check_finite)
        emit_finite_check(e, g, nm);
    for (int k = 0; k < g->n_assigns; k++) {
        const Value *s = g->values[g->assigns[k].state];
        emit_line(e, "memcpy(ws + %lld, %s, %lld); /* %s */", (long long)lay->state_off[s->id],
                  nm->value[g->assigns[k].value], (long long)value_bytes(s), safe_comment(e->arena, s->name));
    }
    emit_line(e, "return KILN_OK;");
    emit_close(e);
    emit_blank(e);
    if (dyn)
        emit_train_batch(e, g, lay, P);
    const Value *lr = ir_graph_find_value(g, "kiln.lr");
    KILN_ASSERT(lr && lr->kind == VAL_STATE);
    emit_func(e, "void %s_set_lr(void *workspace, float lr)", P);
    emit_line(e, "if (workspace)");
    emit_line(e, "    memcpy((unsigned char *)workspace + %lld, &lr, sizeof lr);",
              (long long)lay->state_off[lr->id]);
    emit_close(e);
    emit_blank(e);
    StrBuf table = {0};
    state_table(g, lay, &table);
    emit_line(e, "/* the parameter file's table of states: name, ONNX dtype, dims, offset */");
    emit_line(e, "static const char params_table[] =");
    for (const char *p = table.buf; p && *p;) {
        const char *nl = strchr(p, '\n');
        emit_line(e, "    \"%s\\n\"%s", c_string(e->arena, arena_printf(e->arena, "%.*s", (int)(nl - p), p)),
                  nl[1] ? "" : ";");
        p = nl + 1;
    }
    sb_free(&table);
    emit_blank(e);
    emit_func(e, "int %s_params_save(const void *workspace, const char *path)", P);
    emit_line(e, "return kiln_state_save(workspace, %s_PARAMS_SIZE, %s_FINGERPRINT, params_table,", P, P);
    emit_line(e, "                       sizeof params_table - 1, path);");
    emit_close(e);
    emit_blank(e);
    emit_func(e, "int %s_params_load(void *workspace, const char *path)", P);
    emit_line(e, "return kiln_state_load(workspace, %s_PARAMS_SIZE, %s_FINGERPRINT, params_table,", P, P);
    emit_line(e, "                       sizeof params_table - 1, path);");
    emit_close(e);
    emit_blank(e);
}

/* P_run's name for output k: the value's name, or outK where that would
 * repeat (an output listed twice, or one that is also an input) or shadow a
 * file-scope array (an output folded to a constant). */
static const char *output_param(Emitter *e, const Graph *g, const Names *nm, int k)
{
    const Value *v = g->values[g->outputs[k]];
    bool clash = v->kind != VAL_ACT;
    for (int j = 0; j < k; j++)
        clash |= g->outputs[j] == g->outputs[k];
    return clash ? arena_printf(e->arena, "out%d", k) : nm->value[v->id];
}

/* P_run's parameter list: one typed pointer per input, then per output. */
static const char *typed_params(Emitter *e, const Graph *g, const Names *nm)
{
    StrBuf sb = {0};
    sb_printf(&sb, "void *workspace");
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = g->values[g->inputs[k]];
        sb_printf(&sb, ", const %s *%s", dtype_ctype(v->dtype), nm->value[v->id]);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *v = g->values[g->outputs[k]];
        sb_printf(&sb, ", %s *%s", dtype_ctype(v->dtype), output_param(e, g, nm, k));
    }
    const char *r = arena_strdup(e->arena, sb.buf);
    sb_free(&sb);
    return r;
}

static void emit_run_typed(Emitter *e, const Graph *g, const Names *nm, const char *P)
{
    emit_func(e, "int %s_run(%s)", P, typed_params(e, g, nm));
    StrBuf sb = {0};
    for (int k = 0; k < g->n_inputs; k++)
        sb_printf(&sb, "%s%s", k ? ", " : "", nm->value[g->inputs[k]]);
    emit_line(e, "const void *inputs[%d] = {%s};", g->n_inputs ? g->n_inputs : 1,
              sb.len ? sb.buf : "0");
    sb.len = 0;
    for (int k = 0; k < g->n_outputs; k++)
        sb_printf(&sb, "%s%s", k ? ", " : "", output_param(e, g, nm, k));
    emit_line(e, "void *outputs[%d] = {%s};", g->n_outputs ? g->n_outputs : 1,
              sb.len ? sb.buf : "0");
    sb_free(&sb);
    emit_line(e, "return %s_run_v(workspace, inputs, outputs);", P);
    emit_close(e);
}

static void emit_header(Emitter *e, const Graph *g, const Names *nm, const EmitOptions *o,
                        const Layout *lay, int64_t scratch)
{
    const char *P = o->prefix;
    emit_front_matter(e, g, o, arena_printf(e->arena, "%s.h", P), "the model's C API");
    emit_line(e, "#ifndef %s_H_INCLUDED", P);
    emit_line(e, "#define %s_H_INCLUDED", P);
    emit_blank(e);
    emit_line(e, "#include <stddef.h>");
    emit_line(e, "#include <stdint.h>");
    emit_line(e, "#include \"kiln_runtime.h\"");
    if (lay->pool_off >= 0)
        emit_line(e, "#include \"kiln_threads.h\" /* --threads: build with -pthread */");
    emit_blank(e);
    emit_line(e, "#ifdef __cplusplus");
    emit_line(e, "extern \"C\" {");
    emit_line(e, "#endif");
    emit_blank(e);
    int64_t wsize = lay->stage_size ? lay->stage_off + lay->stage_size
                                    : lay->weights_end + lay->act_size + scratch;
    emit_line(e, "/* Bytes of the workspace every call takes: 64-byte aligned, owned by the");
    emit_line(e, " * caller, any contents (%s_init sets up what needs a value). */", P);
    if (lay->pool_off >= 0) {
        emit_line(e, "#define %s_WORKSPACE_SIZE ((size_t)%lld + sizeof(kiln_pool))", P,
                  (long long)lay->pool_off);
        emit_line(e, "/* The threads the kernels run on (the caller's included): %s_init starts", P);
        emit_line(e, " * them, %s_shutdown joins them. */", P);
        emit_line(e, "#define %s_THREADS %d", P, lay->threads);
    } else {
        emit_line(e, "#define %s_WORKSPACE_SIZE ((size_t)%lld)", P,
                  (long long)(wsize ? wsize : SCHED_ALIGN));
    }
    if (o->weights == WEIGHTS_FILE) {
        emit_line(e, "/* The weights blob %s_init reads, and its payload size. */", P);
        emit_line(e, "#define %s_WEIGHTS_FILE \"%s.bin\"", P, P);
        emit_line(e, "#define %s_WEIGHTS_SIZE ((size_t)%lld)", P, (long long)lay->weights_end);
    }
    emit_line(e, "#define %s_NUM_INPUTS %d", P, g->n_inputs);
    emit_line(e, "#define %s_NUM_OUTPUTS %d", P, g->n_outputs);
    emit_blank(e);
    emit_line(e, "/* Names, dtypes and shapes of the inputs and outputs, in call order. */");
    emit_line(e, "extern const kiln_model_info %s_info;", P);
    emit_blank(e);
    emit_line(e, "/* Prepares a workspace; call once before running. 0 on success. */");
    emit_line(e, "int %s_init(void *workspace);", P);
    if (o->weights == WEIGHTS_FILE)
        emit_line(e, "int %s_init_from(void *workspace, const char *weights_path);", P);
    if (lay->pool_off >= 0) {
        emit_line(e, "/* Joins the threads %s_init started; the workspace may then be freed or", P);
        emit_line(e, " * initialized again. One workspace serves one calling thread at a time. */");
        emit_line(e, "void %s_shutdown(void *workspace);", P);
    }
    emit_line(e, "/* Runs the model: inputs and outputs are dense row-major arrays in");
    emit_line(e, " * %s_info order. Inputs are never written. 0 on success. */", P);
    emit_line(e, "int %s_run_v(void *workspace, const void *const *inputs, void *const *outputs);", P);
    emit_line(e, "int %s_run(%s);", P, typed_params(e, g, nm));
    emit_blank(e);
    if (g->batch.max > 0) {
        emit_line(e, "/* The run-time batch (kiln compile --batch %lld on a symbolic first dim): the",
                  (long long)g->batch.max);
        emit_line(e, " * batch-major inputs and outputs hold `batch` rows, %s_MIN_BATCH <= batch <=", P);
        emit_line(e, " * %s_MAX_BATCH (MIN is MAX when kiln had to keep the batch fixed);", P);
        emit_line(e, " * %s_run_v is %s_run_batch_v with batch %s_MAX_BATCH. Another batch gives", P, P, P);
        emit_line(e, " * KILN_ERR_ARGUMENT. */");
        emit_line(e, "#define %s_MAX_BATCH %lld", P, (long long)g->batch.max);
        if (g->batch.fallback)
            emit_line(e, "/* Only batch %lld: %s. */", (long long)g->batch.max,
                      safe_comment(e->arena, g->batch.fallback));
        emit_line(e, "#define %s_MIN_BATCH %lld", P, g->batch.fallback ? (long long)g->batch.max : 1LL);
        emit_line(e, "int %s_run_batch_v(void *workspace, int batch, const void *const *inputs,", P);
        emit_line(e, "                   void *const *outputs);");
        if (g->train_loss >= 0)
            emit_line(e, "int %s_train_step_batch_v(void *workspace, int batch, const void *const *inputs, "
                         "float *loss);", P);
        emit_blank(e);
    }
    if (g->train_loss >= 0) {
        emit_line(e, "/* Training (kiln compile --train). The inputs of a step: %s_train_info", P);
        emit_line(e, " * order, %s_info's inputs and then the labels. One forward, backward and", P);
        emit_line(e, " * optimizer update; *loss is the loss before the update. */");
        emit_line(e, "extern const kiln_model_info %s_train_info;", P);
        emit_line(e, "int %s_train_step_v(void *workspace, const void *const *inputs, float *loss);", P);
        emit_line(e, "void %s_set_lr(void *workspace, float lr);", P);
        emit_line(e, "/* Parameters and optimizer state: the first %s_PARAMS_SIZE bytes of the", P);
        emit_line(e, " * workspace. Saving writes a temporary file, then renames it; loading");
        emit_line(e, " * checks the file and leaves the workspace untouched if it is refused. */");
        emit_line(e, "#define %s_PARAMS_SIZE ((size_t)%lld)", P, (long long)lay->state_size);
        emit_line(e, "#define %s_FINGERPRINT UINT64_C(0x%016llx)", P,
                  (unsigned long long)state_fingerprint(g, lay));
        emit_line(e, "int %s_params_save(const void *workspace, const char *path);", P);
        emit_line(e, "int %s_params_load(void *workspace, const char *path);", P);
        emit_blank(e);
    }
    emit_line(e, "#ifdef __cplusplus");
    emit_line(e, "}");
    emit_line(e, "#endif");
    emit_blank(e);
    emit_line(e, "#endif");
}

bool emit_model(const Graph *g, const Schedule *run, const MemPlan *run_plan,
                const Schedule *train, const MemPlan *train_plan, const EmitOptions *o,
                EmitResult *r, Diag *d)
{
    Arena *a = arena_new();
    Emitter e = {.arena = a, .d = d, .g = g, .target = o->target,
                 .pack_constants = o->weights == WEIGHTS_EMBED, .threads = o->threads,
                 .tuning = o->tuning};
    Names nm = {0};
    Layout lay = {0};
    make_names(g, a, &nm);
    r->scratch = calloc((size_t)g->n_nodes + 1, sizeof(int64_t));

    /* kernels first, into their own buffer, collecting each entry's calls */
    Entry ent[2] = {{.s = run, .mp = run_plan}, {.s = train, .mp = train_plan}};
    int n_ent = g->train_loss >= 0 ? 2 : 1;
    StrBuf kernels = {0}, prelude = {0}, tune_cases = {0};
    e.prelude = &prelude;
    e.out = &kernels;
    bool ok = true;
    for (int k = 0; k < n_ent; k++) {
        ent[k].passed = arena_alloc(a, (size_t)g->n_values + 1);
        for (int i = 0; i < ent[k].s->n && ok; i++) {
            int found = o->tuning ? o->tuning->n_found : 0;
            size_t start = ent[k].calls.len;
            int64_t before = e.scratch;
            e.scratch = 0;
            ok = emit_node(&e, g->nodes[ent[k].s->order[i]], &nm, &ent[k].calls, ent[k].passed,
                           &ent[k].scratch, &ent[k].pool);
            if (r->scratch)
                r->scratch[ent[k].s->order[i]] = e.scratch;
            e.scratch = e.scratch > before ? e.scratch : before;
            if (ok && o->tune_entry && k == 0 && o->tuning->n_found > found)
                sb_printf(&tune_cases, "    case %d:\n%s        break;\n", found,
                          ent[k].calls.buf + start);
            if (o->bench_ticks)
                sb_printf(&ent[k].calls, "    %s_bench_tick(%d);\n", o->prefix, i);
        }
    }
    if (ok && o->tuning && o->tuning->file)
        ok = sched_tune_check(o->tuning, o->model_file, d);
    plan_layout(g, ent, n_ent, o->weights == WEIGHTS_FILE, a, &lay);
    plan_staging(g, e.scratch, &lay);
    int64_t end = lay.stage_size ? lay.stage_off + lay.stage_size
                                 : lay.weights_end + lay.act_size + e.scratch;
    lay.threads = o->threads;
    lay.pool_off = o->threads > 1 ? align64(end) : -1;
    /* as in emit_header; with --threads the kiln_pool (its size known only
     * to the C compiler) follows at pool_off, after the staging buffers */
    r->workspace_size = lay.pool_off >= 0 ? lay.pool_off : end;
    r->workspace_plus_pool = lay.pool_off >= 0;
    if (r->workspace_size == 0)
        r->workspace_size = SCHED_ALIGN;

    if (ok) {
        e.out = &r->header;
        emit_header(&e, g, &nm, o, &lay, e.scratch);

        e.out = &r->source;
        emit_front_matter(&e, g, o, arena_printf(a, "%s.c", o->prefix), "the model's code");
        if (n_ent == 2) {
            emit_line(&e, "#ifndef _POSIX_C_SOURCE");
            emit_line(&e, "#define _POSIX_C_SOURCE 200809L /* fsync, for P_params_save */");
            emit_line(&e, "#endif");
        }
        emit_line(&e, "#include \"%s.h\"", o->prefix);
        if (n_ent == 2)
            emit_line(&e, "#include \"kiln_params.h\"");
        emit_blank(&e);
        emit_line(&e, "#include <math.h>");
        emit_line(&e, "#include <string.h>");
        emit_blank(&e);
        if (o->bench_ticks) {
            emit_line(&e, "/* kiln bench: called after each layer; its harness times them */");
            emit_line(&e, "void %s_bench_tick(int layer);", o->prefix);
            emit_blank(&e);
        }
        if (o->weights == WEIGHTS_EMBED) {
            for (int i = 0; i < g->n_values; i++) {
                if (lay.used[i])
                    emit_weight_array(&e, g->values[i], nm.value[i]);
                if (nm.init[i])
                    emit_weight_array(&e, g->values[i], nm.init[i]);
            }
            emit_blank(&e);
        } else {
            emit_weight_blob(g, &lay, &r->weights);
        }
        if (prelude.len) /* file-scope helpers the kernels share */
            sb_append(e.out, prelude.buf, prelude.len);
        sb_append(e.out, kernels.buf ? kernels.buf : "", kernels.len);
        emit_info(&e, g, o->prefix);
        emit_init(&e, g, &nm, &lay, o);
        if (lay.stage_size)
            emit_stage_helpers(&e, g);
        emit_shutdown(&e, &lay, o->prefix);
        emit_run(&e, g, &nm, &lay, o, &ent[0]);
        if (o->tune_entry)
            emit_tune_layer(&e, g, &nm, &lay, o, &ent[0], &tune_cases);
        if (n_ent == 2)
            emit_train(&e, g, &nm, &lay, o, &ent[1]);
        emit_run_typed(&e, g, &nm, o->prefix);
    }
    for (int k = 0; k < 2; k++)
        sb_free(&ent[k].calls);
    sb_free(&kernels);
    sb_free(&prelude);
    sb_free(&tune_cases);
    arena_free(a);
    return ok;
}
