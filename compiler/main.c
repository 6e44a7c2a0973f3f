/* main.c — the kiln command line: flags → driver → diagnostics → exit code.
 * The only place that prints a diagnostic and exits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_suggest.h"
#include "dot.h"
#include "driver.h"
#include "onnx_io.h"

static const char usage[] =
    "kiln " KILN_VERSION " — compile ONNX and .kir models to standalone C99\n"
    "\n"
    "usage:\n"
    "  kiln compile MODEL -o DIR [options]   write DIR/P.h, DIR/P.c and the runtime header\n"
    "  kiln ir MODEL [--dump-after PASS]     print the model as .kir text (or draw it: --dot)\n"
    "  kiln run MODEL --input NAME=FILE.pb... -o OUTDIR\n"
    "                                        compile, build with cc, run, write outputs as .pb\n"
    "  kiln export MODEL.onnx PARAMS.bin -o OUT.onnx\n"
    "                                        the model with the trained parameters of a\n"
    "                                        P_params_save file as its initializers\n"
    "  kiln verify CASEDIR...                run ONNX backend-test folders (model.onnx or\n"
    "                                        model.kir + test_data_set_*/), print PASS/FAIL\n"
    "  kiln --help | --version\n"
    "\n"
    "compile options:\n"
    "  -o DIR                  output folder (created if missing)\n"
    "  --prefix P              prefix of every generated symbol (default: the model's file stem)\n"
    "  --target T              generic | x86-64-v3 | host (default: host)\n"
    "  --weights W             embed (const arrays, default) | file (P.bin, read by P_init)\n"
    "  --input-shape NAME=DIMS fix an input's shape, e.g. --input-shape x=1x3x32x32\n"
    "  --batch N               fix the symbolic first dimension of the inputs\n"
    "  --const-input NAME=FILE.pb\n"
    "                          specialize the model on a value of input NAME (a TensorProto);\n"
    "                          it stops being an input (for inputs that set output shapes)\n"
    "  --stats                 also print per layer: op, output, FLOPs, parameters, workspace\n"
    "\n"
    "training (compile --train):\n"
    "  --train                 also emit P_train_step_v, P_set_lr, P_params_save/_load\n"
    "  --loss-output NAME      the model computes its loss in output NAME, or\n"
    "  --loss KIND --loss-on OUTPUT\n"
    "                          attach mse|l1|softmax_ce|sparse_softmax_ce|bce|bce_logits|nll\n"
    "                          to OUTPUT; adds a 'labels' input to the training step\n"
    "  --reduction R           mean (default) | sum\n"
    "  --optimizer O           sgd (default) | adam | adamw | rmsprop | adagrad\n"
    "  --lr X --momentum X --dampening X --nesterov --beta1 X --beta2 X --eps X --alpha X\n"
    "  --weight-decay X        as torch.optim (defaults too)\n"
    "  --l1 X --l2 X           add X*sign(p) / X*p to each gradient\n"
    "  --clip-norm X           scale gradients to a global L2 norm of at most X\n"
    "  --freeze REGEX          keep the parameters whose names match fixed\n"
    "\n"
    "ir options:\n"
    "  --dump-after PASS       print the IR after PASS: import, init_params, infer_shapes, dce\n"
    "  --dot                   print a Graphviz graph instead (after all passes by default)\n"
    "  --svg FILE, --png FILE  draw the graph into FILE with Graphviz's dot\n"
    "\n"
    "run and verify options:\n"
    "  --input [NAME=]FILE.pb  an input tensor (ONNX TensorProto); repeat per input\n"
    "  --cc CC                 the C compiler to build with (default: $KILN_CC or cc)\n"
    "  --rtol R --atol A       verify tolerances (default 1e-3 and 1e-5)\n"
    "  --keep                  keep the build folder\n"
    "\n"
    "example:\n"
    "  kiln compile mlp.onnx -o out && cc -O2 -std=c99 -I out out/*.c main.c -lm\n";

typedef struct Args {
    CompileOptions o;
    const char *cmd;
    const char *positional[4096];
    int n_positional;
    const char *inputs[256];
    int n_inputs;
    const char *freeze[DRIVER_MAX_SHAPES];
    const char *render_format, *render_file; /* kiln ir --svg/--png FILE */
    bool stats;                              /* kiln compile --stats */
} Args;

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "kiln: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
}

static bool parse_shape(const char *text, Shape *s)
{
    memset(s, 0, sizeof *s);
    const char *p = text;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || s->rank == IR_MAX_RANK)
            return false;
        s->dims[s->rank++] = v;
        p = end;
        if (*p == 'x' || *p == ',')
            p++;
        else if (*p)
            return false;
    }
    return s->rank > 0;
}

/* The TrainOptions field a numeric training flag sets, or NULL. */
static double *train_number(CompileOptions *o, const char *name)
{
    TrainOptions *t = &o->t;
    static const char *const names[] = {"--lr", "--momentum", "--dampening", "--beta1", "--beta2",
                                        "--eps", "--alpha", "--weight-decay", "--l1", "--l2",
                                        "--clip-norm", NULL};
    double *fields[] = {&t->lr, &t->momentum, &t->dampening, &t->beta1, &t->beta2, &t->eps,
                        &t->alpha, &t->weight_decay, &t->l1, &t->l2, &t->clip_norm};
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return fields[i];
    return NULL;
}

/* torch.optim's defaults for the numbers not given (NAN until then). */
static int train_defaults(CompileOptions *o)
{
    TrainOptions *t = &o->t;
    const char *opt = t->optimizer ? t->optimizer : (t->optimizer = "sgd");
    bool adam = !strcmp(opt, "adam") || !strcmp(opt, "adamw");
    if (!t->loss_output == !t->loss_kind)
        return fail("--train needs --loss-output NAME, or --loss KIND with --loss-on OUTPUT%s", "");
    if (t->loss_kind && !t->loss_on)
        return fail("--loss needs --loss-on OUTPUT%s", "");
    if (isnan(t->lr))
        t->lr = adam ? 1e-3 : 1e-2;
    if (isnan(t->eps))
        t->eps = !strcmp(opt, "adagrad") ? 1e-10 : 1e-8;
    if (isnan(t->weight_decay))
        t->weight_decay = !strcmp(opt, "adamw") ? 1e-2 : 0;
    if (isnan(t->beta1))
        t->beta1 = 0.9;
    if (isnan(t->beta2))
        t->beta2 = 0.999;
    if (isnan(t->alpha))
        t->alpha = 0.99;
    double *zero[] = {&t->momentum, &t->dampening, &t->l1, &t->l2, &t->clip_norm};
    for (int i = 0; i < 5; i++)
        if (isnan(*zero[i]))
            *zero[i] = 0;
    return 0;
}

static int unknown_option(const char *name);

/* Returns 0, or an exit code after printing the problem. */
static int parse_option(Args *a, const char *name, const char *val)
{
    CompileOptions *o = &a->o;
    if (!strcmp(name, "-o")) {
        o->out_dir = val;
    } else if (!strcmp(name, "--prefix")) {
        o->prefix = val;
        for (const char *p = val; *p; p++)
            if (!(*p == '_' || (*p >= '0' && *p <= '9' && p > val) || ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
                return fail("--prefix '%s' is not a C identifier", val);
        if (!*val)
            return fail("--prefix is empty%s", "");
    } else if (!strcmp(name, "--target")) {
        if (!strcmp(val, "generic"))
            o->target = TARGET_GENERIC;
        else if (!strcmp(val, "x86-64-v3") || !strcmp(val, "host"))
            o->target = TARGET_X86_64_V3;
        else
            return fail("--target '%s': expected generic, x86-64-v3 or host", val);
    } else if (!strcmp(name, "--weights")) {
        if (!strcmp(val, "embed"))
            o->weights = WEIGHTS_EMBED;
        else if (!strcmp(val, "file"))
            o->weights = WEIGHTS_FILE;
        else
            return fail("--weights '%s': expected embed or file", val);
    } else if (!strcmp(name, "--input-shape")) {
        const char *eq = strrchr(val, '=');
        if (!eq || eq == val || o->n_shapes == DRIVER_MAX_SHAPES ||
            !parse_shape(eq + 1, &o->shapes[o->n_shapes].shape))
            return fail("--input-shape '%s': expected NAME=DIMS such as x=1x3x32x32", val);
        o->shapes[o->n_shapes++].name = strndup(val, (size_t)(eq - val));
    } else if (!strcmp(name, "--batch")) {
        char *end;
        o->batch = strtoll(val, &end, 10);
        if (*end || o->batch <= 0)
            return fail("--batch '%s': expected a positive integer", val);
    } else if (!strcmp(name, "--dump-after")) {
        o->dump_after = val;
        bool known = false;
        for (int i = 0; driver_pass_names[i]; i++)
            known |= !strcmp(driver_pass_names[i], val);
        const char *near = cli_nearest(val, driver_pass_names);
        if (!known && near) {
            fprintf(stderr, "kiln: --dump-after '%s': did you mean '%s'? (expected import, "
                            "init_params, infer_shapes or dce)\n", val, near);
            return 1;
        }
        if (!known)
            return fail("--dump-after '%s': expected import, init_params, infer_shapes or dce", val);
    } else if (!strcmp(name, "--input")) {
        if (a->n_inputs == 256)
            return fail("too many --input flags%s", "");
        a->inputs[a->n_inputs++] = val;
    } else if (!strcmp(name, "--const-input")) {
        if (!strchr(val, '=') || strchr(val, '=') == val || o->n_freeze_files == DRIVER_MAX_SHAPES)
            return fail("--const-input '%s': expected NAME=FILE.pb", val);
        a->freeze[o->n_freeze_files++] = val;
        o->freeze_files = a->freeze;
    } else if (!strcmp(name, "--loss-output")) {
        o->t.loss_output = val;
    } else if (!strcmp(name, "--loss")) {
        o->t.loss_kind = val;
    } else if (!strcmp(name, "--loss-on")) {
        o->t.loss_on = val;
    } else if (!strcmp(name, "--reduction")) {
        if (strcmp(val, "mean") && strcmp(val, "sum"))
            return fail("--reduction '%s': expected mean or sum", val);
        o->t.reduction = val;
    } else if (!strcmp(name, "--optimizer")) {
        if (strcmp(val, "sgd") && strcmp(val, "adam") && strcmp(val, "adamw") &&
            strcmp(val, "rmsprop") && strcmp(val, "adagrad"))
            return fail("--optimizer '%s': expected sgd, adam, adamw, rmsprop or adagrad", val);
        o->t.optimizer = val;
    } else if (!strcmp(name, "--freeze")) {
        o->t.freeze = val;
    } else if (train_number(o, name)) {
        char *end;
        double v = strtod(val, &end);
        if (*end || !(v >= 0))
            return fail("'%s' is not a non-negative number", val);
        *train_number(o, name) = v;
    } else if (!strcmp(name, "--svg") || !strcmp(name, "--png")) {
        a->render_format = name[2] == 's' ? "svg" : "png";
        a->render_file = val;
        o->dot = true;
    } else if (!strcmp(name, "--cc")) {
        o->cc = val;
    } else if (!strcmp(name, "--rtol") || !strcmp(name, "--atol")) {
        char *end;
        double v = strtod(val, &end);
        if (*end || v < 0)
            return fail("tolerance '%s' is not a non-negative number", val);
        *(name[2] == 'r' ? &o->rtol : &o->atol) = v;
    } else {
        return unknown_option(name);
    }
    return 0;
}

/* The options that take a value; parse_option handles each. */
static const char *const value_options[] = {
    "-o", "--prefix", "--target", "--weights", "--input-shape", "--batch", "--dump-after",
    "--input", "--const-input", "--cc", "--loss-output", "--loss", "--loss-on",
    "--reduction", "--optimizer", "--lr", "--momentum", "--dampening", "--beta1", "--beta2",
    "--eps", "--alpha", "--weight-decay", "--l1", "--l2", "--clip-norm", "--freeze", "--rtol", "--atol", "--svg", "--png", NULL};
/* The options that take none; parse_args handles each. */
static const char *const flag_options[] = {"--keep", "--train", "--nesterov", "--dot", "--stats",
                                           "--help", "--version", NULL};

/* "unknown option", suggesting the nearest real one for a typo. */
static int unknown_option(const char *name)
{
    const char *all[96];
    int n = 0;
    for (int i = 0; value_options[i]; i++)
        all[n++] = value_options[i];
    for (int i = 0; flag_options[i]; i++)
        all[n++] = flag_options[i];
    all[n] = NULL;
    const char *near = cli_nearest(name, all);
    if (!near)
        return fail("unknown option '%s' (see kiln --help)", name);
    fprintf(stderr, "kiln: unknown option '%s'; did you mean '%s'? (see kiln --help)\n", name, near);
    return 1;
}

static bool takes_value(const char *name)
{
    for (int i = 0; value_options[i]; i++)
        if (!strcmp(value_options[i], name))
            return true;
    return false;
}

static int parse_args(Args *a, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !arg[1]) {
            if (a->n_positional == 4096)
                return fail("too many arguments%s", "");
            a->positional[a->n_positional++] = arg;
            continue;
        }
        if (!strcmp(arg, "--keep") || !strcmp(arg, "--train") || !strcmp(arg, "--nesterov")) {
            a->o.keep |= !strcmp(arg, "--keep");
            a->o.train |= !strcmp(arg, "--train");
            a->o.t.nesterov |= !strcmp(arg, "--nesterov");
            continue;
        }
        if (!strcmp(arg, "--dot") || !strcmp(arg, "--stats")) {
            a->o.dot |= !strcmp(arg, "--dot");
            a->stats |= !strcmp(arg, "--stats");
            continue;
        }
        char name[64];
        const char *eq = strchr(arg, '='), *val;
        if (eq && arg[1] == '-') {
            snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            if (!takes_value(name))
                return unknown_option(arg);
            if (i + 1 >= argc)
                return fail("option '%s' needs a value", arg);
            val = argv[++i];
        }
        int rc = parse_option(a, name, val);
        if (rc)
            return rc;
    }
    return 0;
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = calloc(1, n);
    for (int i = 0; i < argc; i++) {
        strcat(s, i ? " " : "");
        strcat(s, i ? argv[i] : "kiln");
    }
    return s;
}

static int report(bool ok, const Diag *d)
{
    if (ok)
        return 0;
    fprintf(stderr, "%s\n", d->msg[0] ? d->msg : "kiln: failed");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kiln %s\n", KILN_VERSION);
        return 0;
    }
    static Args a;
    a.cmd = argv[1];
    a.o.target = TARGET_X86_64_V3;
    a.o.rtol = 1e-3;
    a.o.atol = 1e-5;
    a.o.cc = getenv("KILN_CC");
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
    for (const char *const *f = (const char *const[]){"--lr", "--momentum", "--dampening", "--beta1",
             "--beta2", "--eps", "--alpha", "--weight-decay", "--l1", "--l2", "--clip-norm", NULL};
         *f; f++)
        *train_number(&a.o, *f) = NAN;
    int rc = parse_args(&a, argc, argv);
    if (rc || (a.o.train && (rc = train_defaults(&a.o))))
        return rc;
    a.o.command_line = join_args(argc, argv);
    Diag d = {0};
    if (!strcmp(a.cmd, "verify")) {
        if (a.n_positional == 0)
            return fail("verify needs at least one case folder%s", "");
        int failed = 0;
        driver_verify(&a.o, a.positional, a.n_positional, &failed, &d);
        return failed ? 1 : 0;
    }
    if (!strcmp(a.cmd, "export")) {
        if (a.n_positional != 2 || !a.o.out_dir)
            return fail("usage: kiln export MODEL.onnx PARAMS.bin -o OUT.onnx%s", "");
        int replaced = 0;
        bool ok = onnx_export_params(a.positional[0], a.positional[1], a.o.out_dir, &replaced, &d);
        if (ok)
            printf("%s: %d initializers from %s\n", a.o.out_dir, replaced, a.positional[1]);
        return report(ok, &d);
    }
    if (a.n_positional != 1)
        return fail(a.n_positional ? "'%s' takes one model file" : "'%s' needs a model file", a.cmd);
    a.o.model = a.positional[0];
    if (!strcmp(a.cmd, "compile")) {
        if (!a.o.out_dir)
            return fail("compile needs -o DIR%s", "");
        StrBuf stats = {0};
        a.o.stats = a.stats ? &stats : NULL;
        bool ok = driver_compile(&a.o, &d);
        if (ok && stats.len)
            fwrite(stats.buf, 1, stats.len, stdout);
        sb_free(&stats);
        return report(ok, &d);
    }
    if (!strcmp(a.cmd, "ir")) {
        StrBuf out = {0};
        bool ok = driver_ir(&a.o, &out, &d);
        if (ok && a.render_file)
            ok = ir_dot_render(out.buf, out.len, a.render_format, a.render_file, &d);
        else if (ok)
            fwrite(out.buf, 1, out.len, stdout);
        sb_free(&out);
        return report(ok, &d);
    }
    if (!strcmp(a.cmd, "run")) {
        if (!a.o.out_dir)
            return fail("run needs -o OUTDIR%s", "");
        return report(driver_run(&a.o, a.inputs, a.n_inputs, a.o.out_dir, &d), &d);
    }
    static const char *const commands[] = {"compile", "ir", "run", "verify", "export", NULL};
    const char *near = cli_nearest(a.cmd, commands);
    if (near) {
        fprintf(stderr, "kiln: unknown command '%s'; did you mean '%s'? (see kiln --help)\n", a.cmd, near);
        return 1;
    }
    return fail("unknown command '%s' (expected compile, ir, run, verify or export; see kiln --help)", a.cmd);
}
