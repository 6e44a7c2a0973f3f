/* driver.c — the pipeline in one flat function (load → passes → schedule →
 * memory plan → emit → write), plus `kiln run` and `kiln verify`, which
 * build the generated C with the system compiler and run it. */
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dot.h"
#include "onnx_io.h"
#include "pass.h"
#include "sched.h"
#include "stats.h"
#include "tune.h"

struct kiln_embedded_file {
    const char *name;
    const char *text;
    size_t size;
};
extern const struct kiln_embedded_file kiln_embedded_files[]; /* embed.cmake */
extern const struct kiln_embedded_file kiln_bench_files[];    /* kiln bench's harness */

const char *const driver_pass_names[] = {"import", "init_params", "infer_shapes", "training",
                                         "dce", "fuse_batchnorm", "fuse_matmul_add",
                                         "fuse_transpose", "fuse_activation",
                                         "fuse_grad_mask", "fuse_elementwise",
                                         "fuse_grad_update", NULL};

/* ---- --verbose: one line per stage, handed to o->trace (main.c prints) ---- */

static void trace(const CompileOptions *o, const char *fmt, ...) KILN_PRINTF(2, 3);
static void trace(const CompileOptions *o, const char *fmt, ...)
{
    if (!o->trace)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->trace(line);
}

/* "812 bytes", "3.4 KB", "1.6 MB" */
static const char *size_str(int64_t n, char *buf, size_t len)
{
    if (n < 1024)
        snprintf(buf, len, "%lld bytes", (long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KB", (double)n / 1024);
    else
        snprintf(buf, len, "%.1f MB", (double)n / (1024 * 1024));
    return buf;
}

static const char *plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

static int live_nodes(const Graph *g)
{
    int n = 0;
    for (int k = 0; k < g->n_nodes; k++)
        n += !g->nodes[k]->dead;
    return n;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- loading ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Turns each frozen input into a constant of the given value. */
static bool freeze_inputs(Graph *g, const CompileOptions *o, Diag *d)
{
    for (int k = 0; k < o->n_frozen; k++) {
        const FrozenInput *f = &o->frozen[k];
        int slot = -1;
        for (int j = 0; j < g->n_inputs; j++)
            if (strcmp(g->values[g->inputs[j]]->name, f->name) == 0)
                slot = j;
        if (slot < 0) {
            diag_error(d, "--const-input: the model has no input named '%s'", f->name);
            return false;
        }
        Value *v = g->values[g->inputs[slot]];
        bool fits = v->dtype == f->value.dtype && v->shape.rank == f->value.shape.rank;
        for (int i = 0; fits && i < v->shape.rank; i++)
            fits = v->shape.dims[i] < 0 || v->shape.dims[i] == f->value.shape.dims[i];
        if (!fits) {
            diag_error(d, "--const-input: input '%s' is %s, the given tensor is %s", v->name,
                       dtype_name(v->dtype), dtype_name(f->value.dtype));
            return false;
        }
        ir_value_set_const(g, v, f->value.dtype, &f->value.shape, f->value.data);
        memmove(&g->inputs[slot], &g->inputs[slot + 1], sizeof(int) * (size_t)(g->n_inputs - slot - 1));
        g->n_inputs--;
    }
    return true;
}

/* Reads the --const-input NAME=FILE.pb tensors into o->frozen. */
static bool read_freeze_files(Arena *a, CompileOptions *o, Diag *d)
{
    for (int k = 0; k < o->n_freeze_files; k++) {
        const char *arg = o->freeze_files[k], *eq = strchr(arg, '=');
        const char *name;
        if (o->n_frozen == DRIVER_MAX_SHAPES)
            return false;
        FrozenInput *f = &o->frozen[o->n_frozen++];
        d->file = eq + 1;
        if (!onnx_read_tensor(a, eq + 1, &f->value, &name, d))
            return false;
        f->name = arena_printf(a, "%.*s", (int)(eq - arg), arg);
    }
    d->file = o->model;
    return true;
}

static Graph *load_model(Arena *a, const CompileOptions *o, Diag *d)
{
    const char *path = o->model;
    Graph *g;
    d->file = path;
    if (!ends_with(path, ".kir")) {
        g = onnx_import(a, path, d);
    } else {
        size_t len;
        char *text = file_read_all(path, &len);
        if (!text) {
            diag_error(d, "cannot read: %s", strerror(errno));
            return NULL;
        }
        g = ir_parse(a, text, len, path, d);
        free(text);
    }
    return g && freeze_inputs(g, o, d) ? g : NULL;
}

/* Fixes symbolic input dims from --input-shape and --batch. */
static bool apply_input_shapes(Graph *g, const CompileOptions *o, Diag *d)
{
    for (int k = 0; k < o->n_shapes; k++) {
        Value *v = ir_graph_find_value(g, o->shapes[k].name);
        if (!v || v->kind != VAL_INPUT) {
            diag_error(d, "--input-shape: the model has no input named '%s'", o->shapes[k].name);
            return false;
        }
        const Shape *s = &o->shapes[k].shape;
        if (s->rank != v->shape.rank) {
            diag_error(d, "--input-shape: input '%s' has rank %d, the flag gives %d dims",
                       v->name, v->shape.rank, s->rank);
            return false;
        }
        for (int i = 0; i < s->rank; i++)
            if (v->shape.dims[i] >= 0 && v->shape.dims[i] != s->dims[i]) {
                diag_error(d, "--input-shape: input '%s' dim %d is fixed at %lld, not %lld",
                           v->name, i, (long long)v->shape.dims[i], (long long)s->dims[i]);
                return false;
            }
        v->shape = *s;
    }
    if (o->batch > 0) {
        bool any = false;
        for (int k = 0; k < g->n_inputs; k++) {
            Value *v = g->values[g->inputs[k]];
            if (v->shape.rank > 0 && v->shape.dims[0] < 0) {
                v->shape.dims[0] = o->batch;
                v->shape.sym[0] = NULL;
                v->batch_major = true; /* the run-time batch (pass_batch_rows) */
                g->batch.max = o->batch;
                any = true;
            }
        }
        if (!any) {
            diag_error(d, "--batch: no input has a symbolic first dimension (the batch size is "
                          "fixed by the model)");
            return false;
        }
    }
    return true;
}

/* ---- the pipeline ---- */

typedef struct Compiled {
    Graph *g;
    Schedule run, train;    /* the nodes of P_run_v and of P_train_step_v */
    MemPlan run_plan, train_plan;
    const char *prefix;
} Compiled;

/* `kiln ir` prints .kir text, or with --dot a Graphviz graph. */
static void print_ir(const CompileOptions *o, const Graph *g, StrBuf *out)
{
    if (o->dot)
        ir_print_dot(g, out);
    else
        ir_print(g, out);
}

/* Runs pass (NULL: only verify and dump) as stage name. *live is the live
 * node count before the stage; --verbose reports how the stage changed it
 * (a stage that ran no pass and changed nothing, import, stays quiet). */
static bool step(Graph *g, const char *name, bool (*pass)(Graph *, Diag *), bool want_types,
                 const CompileOptions *o, StrBuf *dump, bool *dumped, int *live, Diag *d)
{
    if (pass && !pass(g, d))
        return false;
    int after = live_nodes(g);
    if (pass || after != *live) {
        char change[64] = "";
        if (after < *live)
            snprintf(change, sizeof change, ", %d %s", *live - after,
                     strcmp(name, "infer_shapes") == 0 ? "folded" : "removed");
        else if (after > *live)
            snprintf(change, sizeof change, ", %d added", after - *live);
        trace(o, "%s: %d node%s%s", name, after, plural(after), change);
    }
    *live = after;
    Diag vd = {0};
    if (!ir_verify(g, want_types, &vd)) {
        fprintf(stderr, "kiln internal error after pass %s: %s\n", name, vd.msg);
        KILN_ASSERT(!"the IR verifier failed after a pass");
    }
    if (dump && o->dump_after && strcmp(o->dump_after, name) == 0) {
        print_ir(o, g, dump);
        *dumped = true;
    }
    return true;
}

/* The whole compile up to emission. dump (for `kiln ir`) gets the IR after
 * o->dump_after; with dump set and no dump_after, stops after import. */
static bool pipeline(Arena *a, const CompileOptions *o, Compiled *c, StrBuf *dump, Diag *d)
{
    bool dumped = false;
    Graph *g = c->g = load_model(a, o, d);
    if (!g)
        return false;
    int live = live_nodes(g);
    trace(o, "import: %s: %d node%s, %d input%s, %d output%s, opset %d", o->model, live,
          plural(live), g->n_inputs, plural(g->n_inputs), g->n_outputs, plural(g->n_outputs),
          g->opset);
    if (dump && !o->dump_after) {
        print_ir(o, g, dump);
        return true;
    }
    const TrainOptions *t = o->train ? &o->t : NULL;
    if (!step(g, "import", NULL, false, o, dump, &dumped, &live, d) ||
        !step(g, "init_params", pass_init_params, false, o, dump, &dumped, &live, d) ||
        (t && !pass_mark_params(g, t, d)) ||
        !apply_input_shapes(g, o, d) ||
        !step(g, "infer_shapes", pass_infer_shapes, false, o, dump, &dumped, &live, d) ||
        !step(g, "lower_gradient", pass_lower_gradient, false, o, dump, &dumped, &live, d) ||
        (t && !pass_build_training(g, t, d)) ||
        (t && !step(g, "training", NULL, true, o, dump, &dumped, &live, d)) ||
        !step(g, "dce", pass_dce, true, o, dump, &dumped, &live, d))
        return false;
    /* fusion, on the inference and training graph alike (--no-fuse: none) */
    if (!o->no_fuse &&
        (!step(g, "fuse_batchnorm", pass_fuse_batchnorm, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_matmul_add", pass_fuse_matmul_add, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_transpose", pass_fuse_transpose, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_activation", pass_fuse_activation, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_grad_mask", pass_fuse_grad_mask, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_elementwise", pass_fuse_elementwise, true, o, dump, &dumped, &live, d) ||
         !step(g, "fuse_grad_update", pass_fuse_grad_update, true, o, dump, &dumped, &live, d)))
        return false;
    /* last: its per-node and per-value tables must see the final graph */
    if (!pass_batch_rows(g, d))
        return false;
    if (dump)
        return dumped;
    /* P_run_v computes the outputs; P_train_step_v the loss and the updates */
    int n_keep = 1 + g->n_assigns;
    int *keep = arena_alloc(a, sizeof(int) * (size_t)n_keep);
    keep[0] = g->train_loss;
    for (int k = 0; k < g->n_assigns; k++)
        keep[1 + k] = g->assigns[k].value;
    char s1[32];
    if (!sched_entry(g, g->outputs, g->n_outputs, &c->run, d) ||
        !sched_plan_memory(g, &c->run, NULL, 0, &c->run_plan, d))
        return false;
    trace(o, "schedule: inference: %d node%s, workspace %s", c->run.n, plural(c->run.n),
          size_str(c->run_plan.size, s1, sizeof s1));
    if (!t && g->train_loss < 0) /* a .kir training graph (kiln ir --train) has its step */
        return true;
    if (!sched_entry(g, keep, n_keep, &c->train, d) ||
        !sched_plan_memory(g, &c->train, keep, n_keep, &c->train_plan, d))
        return false;
    trace(o, "schedule: training step: %d node%s, workspace %s", c->train.n, plural(c->train.n),
          size_str(c->train_plan.size, s1, sizeof s1));
    return true;
}

static const char *default_prefix(Arena *a, const char *model)
{
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    char *stem = arena_strdup(a, base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    return emit_ident(a, stem);
}

static bool emit_all(Arena *a, const CompileOptions *o, Compiled *c, EmitResult *r, Diag *d)
{
    c->prefix = o->prefix ? o->prefix : default_prefix(a, o->model);
    TuneTable *tuning = o->tuning;
    if (!tuning && o->tuning_file) {
        tuning = arena_alloc(a, sizeof *tuning);
        if (!sched_tune_read(o->tuning_file, a, tuning, d))
            return false;
    }
    EmitOptions eo = {
        .prefix = c->prefix,
        .command_line = o->command_line ? o->command_line : "kiln compile",
        .model_file = o->model,
        .target = o->target,
        .target_from_host = o->target_from_host,
        .weights = o->weights,
        .check_finite = o->train && o->t.check_finite,
        .threads = o->threads,
        .tuning = tuning,
        .tune_entry = o->tune_entry,
        .bench_ticks = o->bench_reps > 0,
    };
    if (!emit_model(c->g, &c->run, &c->run_plan, &c->train, &c->train_plan, &eo, r, d))
        return false;
    char s1[32], s2[32];
    trace(o, "emit: %s.c %s, %s.h %s", c->prefix, size_str((int64_t)r->source.len, s1, sizeof s1),
          c->prefix, size_str((int64_t)r->header.len, s2, sizeof s2));
    return true;
}

/* ---- writing files: each to a temporary name, then renamed ---- */

static bool mkdir_p(const char *dir, Diag *d)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        diag_error(d, "output path too long");
        return false;
    }
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                diag_error(d, "cannot create folder %s: %s", path, strerror(errno));
                return false;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return true;
}

static bool write_file(const char *dir, const char *name, const void *data, size_t len, Diag *d)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        diag_error(d, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

static bool write_outputs(const CompileOptions *o, const char *dir, const char *prefix,
                          const EmitResult *r, Diag *d)
{
    char name[512], s1[32];
    int n_runtime = 0;
    if (!mkdir_p(dir, d))
        return false;
    for (const struct kiln_embedded_file *f = kiln_embedded_files; f->name; f++, n_runtime++)
        if (!write_file(dir, f->name, f->text, f->size, d))
            return false;
    trace(o, "wrote %d runtime files to %s", n_runtime, dir);
    snprintf(name, sizeof name, "%s.h", prefix);
    if (!write_file(dir, name, r->header.buf, r->header.len, d))
        return false;
    trace(o, "wrote %s/%s (%s)", dir, name, size_str((int64_t)r->header.len, s1, sizeof s1));
    if (r->weights.len) {
        snprintf(name, sizeof name, "%s.bin", prefix);
        if (!write_file(dir, name, r->weights.buf, r->weights.len, d))
            return false;
        trace(o, "wrote %s/%s (%s)", dir, name, size_str((int64_t)r->weights.len, s1, sizeof s1));
    }
    snprintf(name, sizeof name, "%s.c", prefix);
    if (!write_file(dir, name, r->source.buf, r->source.len, d))
        return false;
    trace(o, "wrote %s/%s (%s)", dir, name, size_str((int64_t)r->source.len, s1, sizeof s1));
    return true;
}

static void result_free(EmitResult *r)
{
    sb_free(&r->header);
    sb_free(&r->source);
    sb_free(&r->weights);
    free(r->scratch);
    r->scratch = NULL;
}

/* The stats of one entry, with the kernels' scratch (known after emission). */
static void entry_stats(Arena *a, const Compiled *c, const EmitResult *r, bool train,
                        ModelStats *st)
{
    sched_stats(c->g, train ? &c->train : &c->run, train ? &c->train_plan : &c->run_plan, a, st);
    for (int k = 0; k < st->n_layers && r->scratch; k++)
        st->layers[k].scratch = r->scratch[st->layers[k].node];
    st->workspace_total = r->workspace_size;
    st->plus_pool = r->workspace_plus_pool;
}

/* kiln compile --stats: the table of P_run_v, and of P_train_step_v. */
static void print_stats(Arena *a, const Compiled *c, const EmitResult *r, StrBuf *out)
{
    bool train = c->g->train_loss >= 0;
    ModelStats st;
    entry_stats(a, c, r, false, &st);
    st.entry = train ? "inference (P_run_v)" : NULL;
    sched_stats_print(c->g, &st, out);
    if (train) {
        entry_stats(a, c, r, true, &st);
        st.entry = "training step (P_train_step_v)";
        sb_printf(out, "\n");
        sched_stats_print(c->g, &st, out);
    }
}

bool driver_compile(const CompileOptions *opts, Diag *d)
{
    Arena *a = arena_new();
    CompileOptions oo = *opts, *o = &oo;
    Compiled c = {0};
    EmitResult r = {0};
    bool ok = read_freeze_files(a, o, d) && pipeline(a, o, &c, NULL, d) &&
              emit_all(a, o, &c, &r, d) && write_outputs(o, o->out_dir, c.prefix, &r, d);
    if (ok && c.g->batch.fallback)
        fprintf(stderr, "kiln: note: --batch %lld: %s, so the generated code takes only batch %lld\n",
                (long long)c.g->batch.max, c.g->batch.fallback, (long long)c.g->batch.max);
    if (ok && o->stats)
        print_stats(a, &c, &r, o->stats);
    result_free(&r);
    arena_free(a);
    return ok;
}

bool driver_ir(const CompileOptions *opts, StrBuf *out, Diag *d)
{
    Arena *a = arena_new();
    CompileOptions oo = *opts, *o = &oo;
    Compiled c = {0};
    if (o->dot && !o->dump_after)
        o->dump_after = o->no_fuse ? "dce" : "fuse_grad_update"; /* after every pass */
    bool ok = read_freeze_files(a, o, d) && pipeline(a, o, &c, out, d);
    if (!ok && !d->errors)
        diag_error(d, "--dump-after: unknown pass '%s'", o->dump_after);
    arena_free(a);
    return ok;
}

/* ---- run / verify: build the generated C and run it ---- */

/* Runs argv with stdout+stderr to log (if set), killed after timeout_s.
 * Returns the exit status, 128+signal if killed, -1 if it couldn't start. */
static int spawn(char *const argv[], const char *log, int timeout_s)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (log) {
            FILE *f = freopen(log, "w", stdout);
            if (!f || dup2(fileno(stdout), 2) < 0)
                _exit(127);
        }
        alarm((unsigned)timeout_s);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int driver_spawn(char *const argv[], const char *log, int timeout_s)
{
    return spawn(argv, log, timeout_s);
}

static const char *first_line(Arena *a, const char *path)
{
    size_t len;
    char *text = file_read_all(path, &len);
    if (!text)
        return "";
    char *line = text, *err = strstr(text, "error");
    if (err) { /* the compiler's first error, not its "In function" preamble */
        while (err > text && err[-1] != '\n')
            err--;
        line = err;
    }
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    const char *r = arena_strdup(a, line);
    free(text);
    return r;
}

typedef struct Build {
    char dir[4096];
    char exe[4200];
    Graph *g;
    bool broken; /* failed after kiln accepted the model: a kiln bug */
    Schedule timed; /* kiln bench: the entry its harness times */
} Build;

/* kiln bench: writes the harness (bench/layer_bench.c and the probes) into
 * the build folder; extra gets the probes' source and the -D flags the
 * harness is built with (NULL-terminated, at most 3). */
static bool write_bench_harness(Arena *a, const CompileOptions *o, Build *b, const Compiled *c,
                                char **extra, Diag *d)
{
    b->timed = o->train ? c->train : c->run;
    extra[0] = arena_printf(a, "%s/probes.c", b->dir);
    extra[1] = arena_printf(a, "-DKILN_BENCH_LAYERS=%d", b->timed.n > 0 ? b->timed.n : 1);
    extra[2] = o->train ? "-DKILN_BENCH_TRAIN" : NULL;
    for (const struct kiln_embedded_file *f = kiln_bench_files; f->name; f++)
        if (!write_file(b->dir, f->name, f->text, f->size, d))
            return false;
    return true;
}

static bool build(Arena *a, const CompileOptions *o, Build *b, Diag *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/kiln-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        diag_error(d, "cannot create a build folder in %s: %s", tmp ? tmp : "/tmp", strerror(errno));
        return false;
    }
    CompileOptions oo = *o;
    oo.prefix = "model";
    Compiled c = {0};
    EmitResult r = {0};
    StrBuf harness = {0};
    const char *harness_c = "kiln_harness.c";
    char *extra[3] = {NULL, NULL, NULL}; /* kiln bench: more sources and flags */
    bool ok = pipeline(a, &oo, &c, NULL, d) && emit_all(a, &oo, &c, &r, d) &&
              write_outputs(&oo, b->dir, c.prefix, &r, d);
    if (ok && o->bench_reps > 0) {
        harness_c = "layer_bench.c";
        ok = write_bench_harness(a, o, b, &c, extra, d);
    } else if (ok) {
        emit_harness(c.g, c.prefix, &harness);
        ok = write_file(b->dir, "kiln_harness.c", harness.buf, harness.len, d);
    }
    result_free(&r);
    sb_free(&harness);
    if (!ok)
        return false;
    b->g = c.g;
    snprintf(b->exe, sizeof b->exe, "%s/model", b->dir);
    char inc[4200], src[4200], hsrc[4200], log[4200];
    snprintf(inc, sizeof inc, "-I%s", b->dir);
    snprintf(src, sizeof src, "%s/model.c", b->dir);
    snprintf(hsrc, sizeof hsrc, "%s/%s", b->dir, harness_c);
    snprintf(log, sizeof log, "%s/cc.log", b->dir);
    char *argv[] = {(char *)(o->cc ? o->cc : "cc"), "-O2", "-std=c99", "-Wall", "-Wextra",
                    "-Wpedantic", "-Werror", inc, src, hsrc, "-o", b->exe, "-lm", NULL, NULL,
                    NULL, NULL, NULL};
    int argc = 13;
    if (o->threads > 1) /* kiln_threads.h */
        argv[argc++] = "-pthread";
    for (int i = 0; i < 3 && extra[i]; i++) /* kiln bench */
        argv[argc++] = extra[i];
    double t0 = seconds_now();
    int rc = spawn(argv, log, 600);
    if (rc == 0)
        trace(o, "cc: built %s with %s in %.1f s", b->exe, argv[0], seconds_now() - t0);
    if (rc != 0) {
        b->broken = true;
        diag_error(d, "kiln bug: the generated C does not compile (%s in %s): %s",
                   rc < 0 ? "cc not found" : "cc failed", b->dir, first_line(a, log));
        return false;
    }
    return true;
}

static void build_remove(const Build *b, bool keep)
{
    if (keep || !b->dir[0])
        return;
    char *argv[] = {"rm", "-rf", (char *)b->dir, NULL};
    spawn(argv, NULL, 60);
}

static bool write_raw(const char *path, const Tensor *t, Diag *d)
{
    FILE *f = fopen(path, "wb");
    size_t n = (size_t)shape_numel(&t->shape) * dtype_size(t->dtype);
    bool ok = f && fwrite(t->data, 1, n, f) == n;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok)
        diag_error(d, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

/* Matches the given tensors to the model's inputs and fixes symbolic dims
 * from their shapes. names[k] may be NULL (then position k is meant). */
static bool bind_inputs(Arena *a, CompileOptions *o, const char **names, const Tensor *ts,
                        int n, int *slot, Diag *d)
{
    d->file = o->model;
    Graph *g = load_model(a, o, d);
    if (!g)
        return false;
    if (n != g->n_inputs) {
        diag_error(d, "the model has %d inputs, %d given", g->n_inputs, n);
        return false;
    }
    for (int k = 0; k < n; k++) {
        slot[k] = k;
        if (names[k] && names[k][0]) {
            slot[k] = -1;
            for (int j = 0; j < g->n_inputs; j++)
                if (strcmp(g->values[g->inputs[j]]->name, names[k]) == 0)
                    slot[k] = j;
            if (slot[k] < 0) {
                diag_error(d, "the model has no input named '%s'", names[k]);
                return false;
            }
        }
        const Value *v = g->values[g->inputs[slot[k]]];
        char s1[128], s2[128];
        bool fits = v->shape.rank == ts[k].shape.rank && v->dtype == ts[k].dtype;
        for (int i = 0; fits && i < v->shape.rank; i++)
            fits = v->shape.dims[i] < 0 || v->shape.dims[i] == ts[k].shape.dims[i];
        if (!fits) {
            diag_error(d, "input '%s' is %s[%s], the given tensor is %s[%s]", v->name,
                       dtype_name(v->dtype), shape_str(&v->shape, s1, 128),
                       dtype_name(ts[k].dtype), shape_str(&ts[k].shape, s2, 128));
            return false;
        }
        if (!shape_is_static(&v->shape) && o->n_shapes < DRIVER_MAX_SHAPES)
            o->shapes[o->n_shapes++] = (InputShape){.name = v->name, .shape = ts[k].shape};
    }
    return true;
}

/* The words of cmd split at spaces (NULL or empty: none), in *n. */
static char **split_words(Arena *a, const char *cmd, int *n)
{
    *n = 0;
    if (!cmd)
        return NULL;
    char *text = arena_strdup(a, cmd);
    char **words = arena_alloc(a, sizeof(char *) * (strlen(text) / 2 + 2));
    for (char *w = strtok(text, " \t"); w; w = strtok(NULL, " \t"))
        words[(*n)++] = w;
    return words;
}

/* Builds and runs the model on the tensors; outputs[k] gets each output. */
static bool execute(Arena *a, CompileOptions *o, const char **names, const Tensor *ts, int n,
                    Tensor **outputs, int *n_out, bool *broken, Diag *d)
{
    int *slot = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
    Build b = {0};
    if (!bind_inputs(a, o, names, ts, n, slot, d) || !build(a, o, &b, d)) {
        *broken = b.broken;
        build_remove(&b, o->keep);
        return false;
    }
    Graph *g = b.g;
    int argc = 0, n_emu = 0;
    char **emu = split_words(a, o->emulator, &n_emu);
    char **argv = arena_alloc(a, sizeof(char *) *
                                     (size_t)(n_emu + g->n_inputs + g->n_outputs + 2));
    for (int k = 0; k < n_emu; k++)
        argv[argc++] = emu[k];
    argv[argc++] = b.exe;
    bool ok = true;
    for (int j = 0; j < g->n_inputs && ok; j++) {
        argv[argc] = arena_printf(a, "%s/in%d.raw", b.dir, j);
        for (int k = 0; k < n; k++)
            if (slot[k] == j)
                ok = write_raw(argv[argc], &ts[k], d);
        argc++;
    }
    for (int j = 0; j < g->n_outputs; j++)
        argv[argc++] = arena_printf(a, "%s/out%d.raw", b.dir, j);
    char *log = arena_printf(a, "%s/run.log", b.dir);
    double t0 = seconds_now();
    int rc = ok ? spawn(argv, log, 120) : 0;
    if (ok && rc == 0)
        trace(o, "ran %s in %.3f s", b.exe, seconds_now() - t0);
    if (ok && rc != 0) {
        const char *why = rc == 128 + SIGALRM ? "timed out"
                          : rc > 128 ? arena_printf(a, "crashed with signal %d", rc - 128)
                                     : arena_printf(a, "failed with status %d", rc);
        diag_error(d, "the generated program %s: %s", why, first_line(a, log));
        *broken = true;
        ok = false;
    }
    *outputs = arena_alloc(a, sizeof(Tensor) * (size_t)(g->n_outputs + 1));
    *n_out = g->n_outputs;
    for (int j = 0; j < g->n_outputs && ok; j++) {
        const Value *v = g->values[g->outputs[j]];
        size_t len;
        void *data = file_read_all(argv[n_emu + 1 + g->n_inputs + j], &len);
        size_t want = (size_t)shape_numel(&v->shape) * dtype_size(v->dtype);
        if (!data || len != want) {
            diag_error(d, "output %d of the generated program is missing or short", j);
            *broken = true;
            free(data);
            ok = false;
            break;
        }
        (*outputs)[j] = (Tensor){.dtype = v->dtype, .shape = v->shape, .data = arena_dup(a, data, len)};
        free(data);
    }
    build_remove(&b, o->keep);
    return ok;
}

bool driver_run(const CompileOptions *o, const char *const *inputs, int n_inputs,
                const char *out_dir, Diag *d)
{
    Arena *a = arena_new();
    CompileOptions oo = *o;
    const char **names = arena_alloc(a, sizeof(char *) * (size_t)(n_inputs + 1));
    Tensor *ts = arena_alloc(a, sizeof(Tensor) * (size_t)(n_inputs + 1));
    Tensor *outs = NULL;
    int n_out = 0;
    bool ok = read_freeze_files(a, &oo, d);
    for (int k = 0; k < n_inputs && ok; k++) {
        const char *eq = strchr(inputs[k], '=');
        const char *path = eq ? eq + 1 : inputs[k];
        const char *pb_name = NULL;
        d->file = path;
        ok = onnx_read_tensor(a, path, &ts[k], &pb_name, d);
        names[k] = eq ? arena_printf(a, "%.*s", (int)(eq - inputs[k]), inputs[k]) : pb_name;
    }
    bool broken = false;
    ok = ok && execute(a, &oo, names, ts, n_inputs, &outs, &n_out, &broken, d) &&
         mkdir_p(out_dir, d);
    Graph *g = ok ? load_model(a, o, d) : NULL; /* output names */
    for (int j = 0; ok && j < n_out; j++) {
        char path[4200], buf[128];
        snprintf(path, sizeof path, "%s/output_%d.pb", out_dir, j);
        const char *name = g->values[g->outputs[j]]->name;
        ok = onnx_write_tensor(path, &outs[j], name, d);
        if (ok && !o->quiet)
            printf("%s: '%s' %s[%s]\n", path, name, dtype_name(outs[j].dtype),
                   shape_str(&outs[j].shape, buf, sizeof buf));
    }
    arena_free(a);
    return ok;
}

/* ---- verify ---- */

/* Elementwise comparison; on a mismatch, why says where and by how much. */
static bool compare(const Tensor *got, const Tensor *want, double rtol, double atol, char *why,
                    size_t n)
{
    char s1[128], s2[128];
    if (got->dtype != want->dtype || !shape_equal(&got->shape, &want->shape)) {
        snprintf(why, n, "got %s[%s], expected %s[%s]", dtype_name(got->dtype),
                 shape_str(&got->shape, s1, 128), dtype_name(want->dtype),
                 shape_str(&want->shape, s2, 128));
        return false;
    }
    int64_t numel = shape_numel(&got->shape), bad = -1, nbad = 0;
    double worst = 0;
    for (int64_t k = 0; k < numel; k++) {
        bool ok;
        double g, w;
        if (dtype_is_float(got->dtype) && got->dtype != DT_F16) {
            g = tensor_get_f(got->dtype, got->data, k);
            w = tensor_get_f(want->dtype, want->data, k);
            if (isnan(w) || isnan(g) || isinf(w) || isinf(g))
                ok = (isnan(w) && isnan(g)) || g == w;
            else
                ok = fabs(g - w) <= atol + rtol * fabs(w);
        } else {
            size_t es = dtype_size(got->dtype);
            ok = memcmp((const char *)got->data + (size_t)k * es,
                        (const char *)want->data + (size_t)k * es, es) == 0;
            g = got->dtype == DT_F16 ? 0 : tensor_get_f(got->dtype, got->data, k);
            w = got->dtype == DT_F16 ? 0 : tensor_get_f(want->dtype, want->data, k);
        }
        if (!ok) {
            nbad++;
            if (bad < 0 || fabs(g - w) > worst) {
                bad = k;
                worst = fabs(g - w);
            }
        }
    }
    if (bad < 0)
        return true;
    double g = got->dtype == DT_F16 ? 0 : tensor_get_f(got->dtype, got->data, bad);
    double w = got->dtype == DT_F16 ? 0 : tensor_get_f(want->dtype, want->data, bad);
    snprintf(why, n, "%lld of %lld elements differ; worst at %lld: got %.9g, expected %.9g",
             (long long)nbad, (long long)numel, (long long)bad, g, w);
    return false;
}

/* Reads DIR/PREFIX_0.pb, PREFIX_1.pb, … until one is missing. */
static int read_tensors(Arena *a, const char *dir, const char *prefix, Tensor *ts, int max,
                        Diag *d)
{
    int n = 0;
    for (; n < max; n++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, n);
        if (access(path, F_OK) != 0)
            break;
        const char *name;
        d->file = arena_strdup(a, path);
        if (!onnx_read_tensor(a, path, &ts[n], &name, d))
            return -1;
    }
    return n;
}

typedef enum CaseResult { CASE_PASS, CASE_MISMATCH, CASE_REJECTED, CASE_BROKEN } CaseResult;

/* Inputs that set an output's shape (Resize's sizes, OneHot's depth, …) must
 * be constants. When a case's model needs that, verify specializes it on the
 * data set's values of its small inputs (at most VERIFY_FREEZE_MAX elements),
 * as a user would with --const-input, and says so. */
#define VERIFY_FREEZE_MAX 64

static bool freeze_small_inputs(Arena *a, CompileOptions *o, const char **names, Tensor *in,
                                int *n_in, Diag *d)
{
    CompileOptions plain = *o;
    plain.n_frozen = 0;
    Graph *g = load_model(a, &plain, d);
    if (!g || g->n_inputs != *n_in)
        return false;
    int kept = 0;
    for (int k = 0; k < *n_in; k++) {
        if (shape_numel(&in[k].shape) <= VERIFY_FREEZE_MAX && o->n_frozen < DRIVER_MAX_SHAPES) {
            o->frozen[o->n_frozen++] = (FrozenInput){g->values[g->inputs[k]]->name, in[k]};
        } else {
            names[kept] = g->values[g->inputs[k]]->name;
            in[kept++] = in[k];
        }
    }
    *n_in = kept;
    return o->n_frozen > 0;
}

/* One data set: build, run, compare. */
static CaseResult verify_set(Arena *a, const CompileOptions *o, const char *set, int s, Diag *d,
                             bool *froze)
{
    CompileOptions oo = *o;
    Tensor in[64], want[64], *got = NULL;
    const char *names[64] = {0};
    int n_in = read_tensors(a, set, "input", in, 64, d);
    int n_want = read_tensors(a, set, "output", want, 64, d);
    int n_got = 0;
    bool broken = false;
    if (n_in < 0 || n_want < 0)
        return CASE_REJECTED;
    if (!execute(a, &oo, names, in, n_in, &got, &n_got, &broken, d)) {
        Diag d2 = {0};
        if (broken || !strstr(d->msg, "compile-time constant") ||
            !freeze_small_inputs(a, &oo, names, in, &n_in, &d2))
            return broken ? CASE_BROKEN : CASE_REJECTED;
        *froze = true;
        *d = d2;
        if (!execute(a, &oo, names, in, n_in, &got, &n_got, &broken, d))
            return broken ? CASE_BROKEN : CASE_REJECTED;
    }
    if (n_got != n_want) {
        snprintf(d->msg, sizeof d->msg, "the model has %d outputs, the data set %d", n_got, n_want);
        return CASE_MISMATCH;
    }
    for (int k = 0; k < n_got; k++) {
        char w[512];
        if (!compare(&got[k], &want[k], o->rtol, o->atol, w, sizeof w)) {
            snprintf(d->msg, sizeof d->msg, "data set %d, output %d: %s", s, k, w);
            return CASE_MISMATCH;
        }
    }
    return CASE_PASS;
}

static CaseResult verify_case(const CompileOptions *o, const char *dir, char *why, size_t n,
                              bool *froze)
{
    Arena *a = arena_new();
    CompileOptions oo = *o;
    oo.model = arena_printf(a, "%s/model.onnx", dir);
    if (access(oo.model, F_OK) != 0) /* a case may hold its model as .kir text */
        oo.model = arena_printf(a, "%s/model.kir", dir);
    CaseResult res = CASE_PASS;
    int sets = 0;
    for (int s = 0; res == CASE_PASS; s++) {
        char set[4096];
        snprintf(set, sizeof set, "%s/test_data_set_%d", dir, s);
        if (access(set, F_OK) != 0)
            break;
        sets++;
        Diag d = {0};
        oo.n_shapes = 0;
        res = verify_set(a, &oo, set, s, &d, froze);
        snprintf(why, n, "%s", d.msg);
    }
    if (sets == 0) {
        snprintf(why, n, "%s: no test_data_set_0 folder", dir);
        res = CASE_REJECTED;
    }
    arena_free(a);
    return res;
}

bool driver_verify(const CompileOptions *o, const char *const *cases, int n_cases, int *failed,
                   Diag *d)
{
    (void)d;
    static const char *const label[] = {"PASS", "FAIL", "REJECT", "BROKEN"};
    int count[4] = {0};
    for (int k = 0; k < n_cases; k++) {
        char why[1100] = "";
        bool froze = false;
        CaseResult r = verify_case(o, cases[k], why, sizeof why, &froze);
        count[r]++;
        if (r != CASE_PASS)
            printf("%s %s: %s\n", label[r], cases[k], why);
        else if (!o->quiet)
            printf("PASS %s%s\n", cases[k],
                   froze ? " (specialized on the values of its shape-setting inputs)" : "");
        fflush(stdout);
    }
    *failed = n_cases - count[CASE_PASS];
    if (*failed)
        printf("not passed: %d mismatched (FAIL), %d rejected by kiln (REJECT), %d broken "
               "(BROKEN: generated code did not build or crashed)\n",
               count[CASE_MISMATCH], count[CASE_REJECTED], count[CASE_BROKEN]);
    printf("%d passed, %d failed\n", count[CASE_PASS], *failed);
    return true;
}

/* ---- bench: per-layer times of the generated code ---- */

typedef struct LayerTime {
    double med, min, max; /* ns */
} LayerTime;

/* Reads the harness's output (bench/layer_bench.c): "peak_gflops G", then
 * "layer K MED MIN MAX" per layer and "total MED MIN MAX". */
static bool read_bench_log(const char *path, int n, LayerTime *t, LayerTime *total,
                           double *peak)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int seen = 0;
    bool got_total = false;
    while (f && fgets(line, sizeof line, f)) {
        int k;
        LayerTime lt;
        if (sscanf(line, "peak_gflops %lf", peak) == 1)
            continue;
        if (sscanf(line, "layer %d %lf %lf %lf", &k, &lt.med, &lt.min, &lt.max) == 4 && k >= 0 &&
            k < n) {
            t[k] = lt;
            seen++;
        } else if (sscanf(line, "total %lf %lf %lf", &total->med, &total->min, &total->max) == 3) {
            got_total = true;
        }
    }
    if (f)
        fclose(f);
    return seen == n && got_total;
}

/* One row: name, op, median µs (min–max), FLOPs, GFLOPS, fraction of peak. */
static void bench_row(StrBuf *out, const char *label, const char *name, const char *op,
                      const LayerTime *t, int64_t flops, double peak)
{
    char f[64] = "?", g[32] = "-", p[32] = "-";
    if (flops >= 0)
        snprintf(f, sizeof f, "%lld", (long long)flops);
    if (flops > 0 && t->med > 0) {
        snprintf(g, sizeof g, "%.2f", (double)flops / t->med);
        if (peak > 0)
            snprintf(p, sizeof p, "%.3f", (double)flops / t->med / peak);
    }
    sb_printf(out, "%5s  %-24.24s %-18.18s %12.2f %12.2f %12.2f %14s %9s %8s\n", label, name, op,
              t->med / 1e3, t->min / 1e3, t->max / 1e3, f, g, p);
}

static void bench_table(const Graph *g, const CompileOptions *o, const Schedule *s,
                        const LayerTime *t, const LayerTime *total, double peak, StrBuf *out)
{
    sb_printf(out, "kiln bench %s: %s, %d repetitions, times in us; FMA peak %.1f GFLOPS "
                   "(AVX2, 1 core, measured in the same run)\n", o->model,
              o->train ? "training step (P_train_step_v)" : "inference (P_run_v)", o->bench_reps,
              peak);
    sb_printf(out, "%5s  %-24s %-18s %12s %12s %12s %14s %9s %8s\n", "layer", "node", "op",
              "median", "min", "max", "FLOPs", "GFLOPS", "of peak");
    int64_t sum = 0;
    for (int k = 0; k < s->n; k++) {
        const Node *n = g->nodes[s->order[k]];
        int64_t flops = sched_node_flops(g, n);
        sum += flops > 0 ? flops : 0;
        char label[16];
        snprintf(label, sizeof label, "%d", k);
        bench_row(out, label, n->name, n->op_name ? n->op_name : op_info[n->op].name, &t[k],
                  flops, peak);
    }
    bench_row(out, "total", "(the whole call)", "", total, sum, peak);
}

bool driver_bench(const CompileOptions *opts, StrBuf *out, Diag *d)
{
    Arena *a = arena_new();
    CompileOptions oo = *opts, *o = &oo;
    Build b = {0};
    bool ok = read_freeze_files(a, o, d) && build(a, o, &b, d);
    int n = b.timed.n;
    LayerTime *t = arena_alloc(a, sizeof(LayerTime) * (size_t)(n + 1)), total = {0};
    double peak = 0;
    if (ok) {
        char *reps = arena_printf(a, "%d", o->bench_reps);
        char *log = arena_printf(a, "%s/bench.log", b.dir);
        char *argv[] = {b.exe, reps, NULL};
        int rc = spawn(argv, log, 1800);
        if (rc != 0 || !read_bench_log(log, n, t, &total, &peak)) {
            diag_error(d, "the benchmark program %s: %s",
                       rc ? arena_printf(a, "failed with status %d", rc) : "printed no timings",
                       first_line(a, log));
            ok = false;
        }
    }
    if (ok)
        bench_table(b.g, o, &b.timed, t, &total, peak, out);
    build_remove(&b, o->keep);
    arena_free(a);
    return ok;
}
