/* main.c — the kiln command line: flags → driver → diagnostics → exit code.
 * The only place that prints a diagnostic and exits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    "  kiln tune MODEL [compile options] -o FILE\n"
    "                                        time candidate cache blocks of each GEMM/conv\n"
    "                                        layer here; write the fastest to FILE\n"
    "  kiln bench MODEL [--reps R] [options] time each layer of the generated code: median,\n"
    "                                        GFLOPS and fraction of the measured FMA peak\n"
    "  kiln COMMAND --help                   the command's options, with an example\n"
    "  kiln --help | --version\n"
    "\n"
    "every command:\n"
    "  --quiet                 print nothing but errors (verify: the failures and the count)\n"
    "  --verbose               also print one line per stage to stderr\n"
    "\n"
    "compile options:\n"
    "  -o DIR                  output folder (created if missing)\n"
    "  --prefix P              prefix of every generated symbol (default: the model's file stem)\n"
    "  --target T              generic | x86-64 | x86-64-v3 | x86-64-v4 | aarch64 | host\n"
    "                          (default: host, the best one this machine runs)\n"
    "  --weights W             embed (const arrays, default) | file (P.bin, read by P_init)\n"
    "  --threads N             run the big loops on N threads (P_init starts them,\n"
    "                          P_shutdown joins them; build with -pthread); default 1\n"
    "  --tuning FILE           cache blocks per layer measured by kiln tune\n"
    "  --input-shape NAME=DIMS fix an input's shape, e.g. --input-shape x=1x3x32x32\n"
    "  --batch N               fix the symbolic first dimension of the inputs (the\n"
    "                          largest batch: P_run_batch_v takes 1..N at run time)\n"
    "  --const-input NAME=FILE.pb\n"
    "                          specialize the model on a value of input NAME (a TensorProto);\n"
    "                          it stops being an input (for inputs that set output shapes)\n"
    "  --stats                 also print per layer: op, output, FLOPs, parameters, workspace\n"
    "                          and scratch bytes; the workspace next to its liveness lower bound\n"
    "  --no-fuse               skip the fusion passes (BatchNormalization folding, MatMul+Add,\n"
    "                          Transpose into GEMM, activations in GEMM/conv epilogues, Relu\n"
    "                          gradients in GEMM epilogues, elementwise chains in one loop)\n"
    "\n"
    "bench options (and the compile options --target, --threads, --tuning, --batch, --train...):\n"
    "  --reps R                timed calls per layer (default 50); medians are reported\n"
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
    "  --check-finite          a step meeting NaN/Inf returns KILN_ERR_NONFINITE, changing nothing\n"
    "\n"
    "ir options:\n"
    "  --dump-after PASS       print the IR after PASS: import, init_params, infer_shapes, dce,\n"
    "                          fuse_batchnorm, fuse_matmul_add, fuse_transpose, fuse_activation,\n"
    "                          fuse_grad_mask, fuse_elementwise, fuse_grad_update\n"
    "  --dot                   print a Graphviz graph instead (after all passes by default)\n"
    "  --svg FILE, --png FILE  draw the graph into FILE with Graphviz's dot\n"
    "\n"
    "tune options (and compile's --target, --weights, --threads, --no-fuse, shapes):\n"
    "  -o FILE                 the tuning file to write\n"
    "  --budget S              seconds of timing in all (default 20)\n"
    "  --rounds N              alternating rounds over the candidates (default 5)\n"
    "\n"
    "run and verify options:\n"
    "  --input [NAME=]FILE.pb  an input tensor (ONNX TensorProto); repeat per input\n"
    "  --target T              as for compile\n"
    "  --threads N             as for compile\n"
    "  --tuning FILE           as for compile\n"
    "  --cc CC                 the C compiler to build with (default: $KILN_CC or cc)\n"
    "  --emulator CMD          run the built program through CMD, e.g. \"qemu-aarch64-static\n"
    "                          -L /usr/aarch64-linux-gnu\" for --target aarch64 (default:\n"
    "                          $KILN_EMULATOR, or none)\n"
    "  --rtol R --atol A       verify tolerances (default 1e-3 and 1e-5)\n"
    "  --keep                  keep the build folder\n"
    "\n"
    "example:\n"
    "  kiln compile mlp.onnx -o out && cc -O2 -std=c99 -I out out/*.c main.c -lm\n";

/* The commands, as bits: an option lists the commands it applies to. */
enum { CMD_COMPILE = 1, CMD_IR = 2, CMD_RUN = 4, CMD_VERIFY = 8, CMD_EXPORT = 16, CMD_TUNE = 32,
       CMD_BENCH = 64, CMD_ALL = 127 };
#define CMD_TRAIN (CMD_COMPILE | CMD_IR | CMD_BENCH) /* --train and its options */

typedef struct Command {
    const char *name;
    unsigned bit;
    const char *usage;   /* first line of `kiln NAME --help` */
    const char *about;   /* what it does, a few lines */
    const char *example; /* one complete command line */
} Command;

static const Command commands[] = {
    {"compile", CMD_COMPILE, "kiln compile MODEL -o DIR [options]",
     "Compiles MODEL (.onnx or .kir) to DIR/P.h, DIR/P.c and the runtime headers\n"
     "(and DIR/P.bin with --weights file), P being the prefix. The files are written\n"
     "only when the whole compile succeeded.\n",
     "kiln compile mlp.onnx -o gen --prefix mlp --batch 2"},
    {"ir", CMD_IR, "kiln ir MODEL [--dump-after PASS] [--dot | --svg FILE | --png FILE]",
     "Prints the model as .kir text, as imported or after the pass named by\n"
     "--dump-after; with --dot a Graphviz graph (after all passes by default).\n",
     "kiln ir mlp.onnx --batch 2 --dump-after infer_shapes > mlp.kir"},
    {"run", CMD_RUN, "kiln run MODEL --input [NAME=]FILE.pb... -o OUTDIR [options]",
     "Compiles MODEL, builds it with the C compiler, runs it on the input tensors\n"
     "(ONNX TensorProto files) and writes each output as OUTDIR/output_K.pb, listing\n"
     "them. Symbolic input dimensions take the given tensors' sizes.\n",
     "kiln run mlp.onnx --input image=image.pb -o outputs"},
    {"verify", CMD_VERIFY, "kiln verify CASEDIR... [options]",
     "Runs ONNX backend-test folders (model.onnx or model.kir, and\n"
     "test_data_set_*/input_*.pb, output_*.pb): prints PASS, FAIL (outputs differ\n"
     "beyond the tolerances), REJECT (kiln's error) or BROKEN (the generated C did\n"
     "not build or crashed) per case, then the counts. Exits 1 if a case failed.\n",
     "kiln verify /usr/share/libonnx-testdata/data/node/test_relu"},
    {"export", CMD_EXPORT, "kiln export MODEL.onnx PARAMS.bin -o OUT.onnx",
     "Writes a copy of MODEL.onnx whose initializers take the trained values in\n"
     "PARAMS.bin (a file written by P_params_save of a model compiled with --train).\n",
     "kiln export mlp.onnx trained.bin -o mlp-trained.onnx"},
    {"tune", CMD_TUNE, "kiln tune MODEL [compile options] -o FILE [--budget S] [--rounds N]",
     "For each GEMM or convolution layer on the blocked path, compiles candidate\n"
     "cache blocks (mc, kc, nc around the analytical ones) into a timing harness,\n"
     "times them on this machine (candidates alternating, medians of the rounds)\n"
     "and writes a tuning file, one line per layer: node, M x N x K, the fastest\n"
     "blocks and their time. `kiln compile --tuning FILE` (same model and shapes)\n"
     "uses it. Prints the analytical and tuned times per layer.\n",
     "kiln tune mlp.onnx --batch 64 -o mlp.tune && kiln compile mlp.onnx --batch 64 --tuning mlp.tune -o gen"},
    {"bench", CMD_BENCH, "kiln bench MODEL [--reps R] [compile options]",
     "Compiles MODEL with a timer after each layer, builds it with the C compiler and\n"
     "runs it R times on pseudo-random inputs (with --train: the training step, labels\n"
     "0). Prints per layer the median time (min-max), FLOPs, GFLOPS and the fraction of\n"
     "the single-core AVX2 FMA peak, which the same program measures first. The layers\n"
     "are the nodes as --stats lists them; the times include no build or load.\n",
     "kiln bench mlp.onnx --batch 64 --reps 100"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

/* The options of `kiln CMD --help`: each row lists the commands it is shown for. */
static const struct HelpRow {
    unsigned cmds;
    const char *text;
} help_rows[] = {
    {CMD_COMPILE, "  -o DIR                  output folder (created if missing)\n"},
    {CMD_TUNE, "  -o FILE                 the tuning file to write\n"
               "  --budget S              seconds of timing in all (default 20)\n"
               "  --rounds N              alternating rounds over the candidates (default 5)\n"},
    {CMD_RUN, "  -o OUTDIR               folder of the output tensors (created if missing)\n"},
    {CMD_EXPORT, "  -o OUT.onnx             the model file to write\n"},
    {CMD_RUN, "  --input [NAME=]FILE.pb  an input tensor (ONNX TensorProto); repeat per input\n"},
    {CMD_COMPILE, "  --prefix P              prefix of every generated symbol (default: the model's\n"
                  "                          file stem)\n"},
    {CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH,
     "  --target T              generic | x86-64 | x86-64-v3 | x86-64-v4 | aarch64 | host\n"
     "                          (default: host, the best one this machine runs)\n"},
    {CMD_BENCH, "  --reps R                timed calls (default 50); medians are reported\n"},
    {CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_BENCH,
     "  --tuning FILE           the cache blocks per layer that kiln tune measured\n"},
    {CMD_COMPILE | CMD_TUNE, "  --weights W             embed (const arrays, default) | file (P.bin, read by P_init)\n"},
    {CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH,
     "  --threads N             run the big loops (GEMM, conv, elementwise) on N threads,\n"
     "                          1 to 64: P_init starts N-1 workers, P_shutdown joins them;\n"
     "                          build with -pthread (default 1: single-threaded, no pthreads)\n"},
    {CMD_IR, "  --dump-after PASS       print the IR after PASS: import, init_params, infer_shapes,\n"
             "                          training (with --train), dce, fuse_batchnorm,\n"
             "                          fuse_matmul_add, fuse_transpose, fuse_activation,\n"
             "                          fuse_grad_mask, fuse_elementwise or fuse_grad_update\n"
             "  --dot                   print a Graphviz graph instead of .kir text\n"
             "  --svg FILE, --png FILE  draw the graph into FILE with Graphviz's dot\n"},
    {CMD_COMPILE | CMD_IR | CMD_TUNE | CMD_BENCH,
     "  --input-shape NAME=DIMS fix an input's shape, e.g. --input-shape x=1x3x32x32\n"
     "  --batch N               fix the symbolic first dimension of the inputs (the\n"
     "                          largest batch: P_run_batch_v takes 1..N at run time)\n"},
    {CMD_COMPILE | CMD_IR | CMD_RUN | CMD_TUNE | CMD_BENCH,
     "  --const-input NAME=FILE.pb\n"
     "                          specialize the model on a value of input NAME (a TensorProto);\n"
     "                          it stops being an input\n"},
    {CMD_COMPILE, "  --stats                 also print per layer: op, output, FLOPs, parameters, workspace\n"
                  "                          and kernel scratch bytes, and per entry the workspace\n"
                  "                          next to its liveness lower bound (the most bytes live\n"
                  "                          at one step of the schedule)\n"},
    {CMD_COMPILE | CMD_IR | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH,
     "  --no-fuse               skip the fusion passes (BatchNormalization folding, MatMul+Add,\n"
     "                          Transpose into GEMM, activations in GEMM/conv epilogues, Relu\n"
     "                          gradients in GEMM epilogues, elementwise chains in one loop)\n"},
    {CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH,
     "  --cc CC                 the C compiler to build with (default: $KILN_CC or cc)\n"},
    {CMD_RUN | CMD_VERIFY,
     "  --emulator CMD          run the built program through CMD (words split at spaces),\n"
     "                          e.g. \"qemu-aarch64-static -L /usr/aarch64-linux-gnu\" with\n"
     "                          --target aarch64 --cc aarch64-linux-gnu-gcc\n"
     "                          (default: $KILN_EMULATOR, or none)\n"},
    {CMD_VERIFY, "  --rtol R --atol A       tolerances (default 1e-3 and 1e-5)\n"},
    {CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH, "  --keep                  keep the build folder\n"},
    {CMD_COMPILE, "  --quiet                 print nothing but errors (and what --stats asks for)\n"},
    {CMD_IR, "  --quiet                 print nothing but the IR and errors\n"},
    {CMD_RUN, "  --quiet                 print nothing but errors (not the outputs written)\n"},
    {CMD_VERIFY, "  --quiet                 print only the cases that did not pass, and the counts\n"},
    {CMD_EXPORT, "  --quiet                 print nothing but errors (not the summary line)\n"},
    {CMD_TUNE, "  --quiet                 print nothing but errors (not the table of times)\n"},
    {CMD_BENCH, "  --quiet                 print nothing but the table and errors\n"},
    {CMD_ALL, "  --verbose               also print one line per stage to stderr\n"
              "  -h, --help              this text\n"},
    {CMD_COMPILE, "\ntraining (--train):\n"},
    {CMD_IR, "\ntraining (--train: the IR includes the training step):\n"},
    {CMD_BENCH, "\ntraining (--train: time the training step instead of inference):\n"},
    {CMD_TRAIN,
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
     "  --check-finite          a step whose loss or updates hold NaN/Inf returns\n"
     "                          KILN_ERR_NONFINITE and leaves the parameters as they were\n"},
};

static void command_help(const Command *c)
{
    printf("usage: %s\n\n%s\noptions:\n", c->usage, c->about);
    for (size_t k = 0; k < sizeof help_rows / sizeof help_rows[0]; k++)
        if (help_rows[k].cmds & c->bit)
            fputs(help_rows[k].text, stdout);
    printf("\nexample:\n  %s\n", c->example);
}

typedef struct Args {
    CompileOptions o;
    const char *cmd;
    const Command *command;
    const char *positional[4096];
    int n_positional;
    const char *inputs[256];
    int n_inputs;
    const char *freeze[DRIVER_MAX_SHAPES];
    const char *render_format, *render_file; /* kiln ir --svg/--png FILE */
    bool stats;                              /* kiln compile --stats */
    double budget;                           /* kiln tune --budget (seconds) */
    int rounds;                              /* kiln tune --rounds */
    bool verbose;                            /* --verbose: o.trace prints */
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
        if (!target_parse(val, &o->target))
            return fail("--target '%s': expected generic, x86-64, x86-64-v3, x86-64-v4, aarch64 "
                        "or host", val);
        o->target_from_host = !strcmp(val, "host");
    } else if (!strcmp(name, "--weights")) {
        if (!strcmp(val, "embed"))
            o->weights = WEIGHTS_EMBED;
        else if (!strcmp(val, "file"))
            o->weights = WEIGHTS_FILE;
        else
            return fail("--weights '%s': expected embed or file", val);
    } else if (!strcmp(name, "--threads")) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || v < 1 || v > 64)
            return fail("--threads '%s': expected a number of threads from 1 to 64", val);
        o->threads = (int)v;
    } else if (!strcmp(name, "--tuning")) {
        o->tuning_file = val;
    } else if (!strcmp(name, "--budget")) {
        char *end;
        a->budget = strtod(val, &end);
        if (*end || !(a->budget > 0) || a->budget > 86400)
            return fail("--budget '%s': expected seconds, more than 0", val);
    } else if (!strcmp(name, "--rounds")) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || v < 1 || v > 100)
            return fail("--rounds '%s': expected a number from 1 to 100", val);
        a->rounds = (int)v;
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
                            "init_params, infer_shapes, dce or a fuse_ pass)\n", val, near);
            return 1;
        }
        if (!known)
            return fail("--dump-after '%s': expected import, init_params, infer_shapes, dce or a fuse_ "
                        "pass", val);
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
    } else if (!strcmp(name, "--reps")) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || v < 1 || v > 100000)
            return fail("--reps '%s': expected an integer from 1 to 100000", val);
        o->bench_reps = (int)v;
    } else if (!strcmp(name, "--emulator")) {
        o->emulator = val;
    } else if (!strcmp(name, "--rtol") || !strcmp(name, "--atol")) {
        char *end;
        double v = strtod(val, &end);
        if (*end || v < 0)
            return fail("tolerance '%s' is not a non-negative number", val);
        *(name[2] == 'r' ? &o->rtol : &o->atol) = v;
    }
    return 0;
}

/* Every option: whether it takes a value (parse_option handles those;
 * parse_args the flags) and the commands it applies to. */
typedef struct Option {
    const char *name;
    bool value;
    unsigned cmds;
} Option;

static const Option options[] = {
    {"-o", true, CMD_COMPILE | CMD_RUN | CMD_EXPORT | CMD_TUNE},
    {"--prefix", true, CMD_COMPILE},
    {"--target", true, CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH},
    {"--weights", true, CMD_COMPILE | CMD_TUNE},
    {"--threads", true, CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH},
    {"--tuning", true, CMD_COMPILE | CMD_RUN | CMD_VERIFY | CMD_BENCH},
    {"--budget", true, CMD_TUNE},
    {"--rounds", true, CMD_TUNE},
    {"--input-shape", true, CMD_COMPILE | CMD_IR | CMD_TUNE | CMD_BENCH},
    {"--batch", true, CMD_COMPILE | CMD_IR | CMD_TUNE | CMD_BENCH},
    {"--const-input", true, CMD_COMPILE | CMD_IR | CMD_RUN | CMD_TUNE | CMD_BENCH},
    {"--reps", true, CMD_BENCH},
    {"--stats", false, CMD_COMPILE},
    {"--no-fuse", false, CMD_COMPILE | CMD_IR | CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH},
    {"--dump-after", true, CMD_IR},
    {"--dot", false, CMD_IR},
    {"--svg", true, CMD_IR},
    {"--png", true, CMD_IR},
    {"--input", true, CMD_RUN},
    {"--cc", true, CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH},
    {"--keep", false, CMD_RUN | CMD_VERIFY | CMD_TUNE | CMD_BENCH},
    {"--emulator", true, CMD_RUN | CMD_VERIFY},
    {"--rtol", true, CMD_VERIFY},
    {"--atol", true, CMD_VERIFY},
    {"--train", false, CMD_TRAIN},
    {"--loss-output", true, CMD_TRAIN},
    {"--loss", true, CMD_TRAIN},
    {"--loss-on", true, CMD_TRAIN},
    {"--reduction", true, CMD_TRAIN},
    {"--optimizer", true, CMD_TRAIN},
    {"--lr", true, CMD_TRAIN},
    {"--momentum", true, CMD_TRAIN},
    {"--dampening", true, CMD_TRAIN},
    {"--nesterov", false, CMD_TRAIN},
    {"--check-finite", false, CMD_TRAIN},
    {"--beta1", true, CMD_TRAIN},
    {"--beta2", true, CMD_TRAIN},
    {"--eps", true, CMD_TRAIN},
    {"--alpha", true, CMD_TRAIN},
    {"--weight-decay", true, CMD_TRAIN},
    {"--l1", true, CMD_TRAIN},
    {"--l2", true, CMD_TRAIN},
    {"--clip-norm", true, CMD_TRAIN},
    {"--freeze", true, CMD_TRAIN},
    {"--quiet", false, CMD_ALL},
    {"--verbose", false, CMD_ALL},
    {"--help", false, CMD_ALL},
    {"--version", false, CMD_ALL},
};
#define N_OPTIONS (int)(sizeof options / sizeof options[0])

static const Option *find_option(const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (!strcmp(options[i].name, name))
            return &options[i];
    return NULL;
}

/* "unknown option", suggesting the nearest option of the command for a typo. */
static int unknown_option(const char *name, const Command *c)
{
    const char *mine[N_OPTIONS + 1];
    int n = 0;
    for (int i = 0; i < N_OPTIONS; i++)
        if (options[i].cmds & c->bit)
            mine[n++] = options[i].name;
    mine[n] = NULL;
    const char *near = cli_nearest(name, mine);
    if (!near) {
        fprintf(stderr, "kiln: unknown option '%s' (see kiln %s --help)\n", name, c->name);
        return 1;
    }
    fprintf(stderr, "kiln: unknown option '%s'; did you mean '%s'? (see kiln %s --help)\n", name,
            near, c->name);
    return 1;
}

static int parse_args(Args *a, int argc, char **argv)
{
    const Command *c = a->command;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !arg[1]) {
            if (a->n_positional == 4096)
                return fail("too many arguments%s", "");
            a->positional[a->n_positional++] = arg;
            continue;
        }
        char name[64];
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        const Option *opt = find_option(name);
        if (!opt)
            return unknown_option(name, c);
        if (!(opt->cmds & c->bit)) {
            fprintf(stderr, "kiln: '%s' doesn't take %s (see kiln %s --help)\n", c->name, name,
                    c->name);
            return 1;
        }
        if (!opt->value) {
            if (eq)
                return fail("option '%s' takes no value", name);
            a->o.keep |= !strcmp(name, "--keep");
            a->o.train |= !strcmp(name, "--train");
            a->o.no_fuse |= !strcmp(name, "--no-fuse");
            a->o.t.nesterov |= !strcmp(name, "--nesterov");
            a->o.t.check_finite |= !strcmp(name, "--check-finite");
            a->o.dot |= !strcmp(name, "--dot");
            a->stats |= !strcmp(name, "--stats");
            a->o.quiet |= !strcmp(name, "--quiet");
            a->verbose |= !strcmp(name, "--verbose");
            continue;
        }
        if (!eq && i + 1 >= argc)
            return fail("option '%s' needs a value", arg);
        int rc = parse_option(a, name, eq ? eq + 1 : argv[++i]);
        if (rc)
            return rc;
    }
    if (a->o.quiet && a->verbose)
        return fail("--quiet and --verbose contradict each other%s", "");
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

static void args_defaults(Args *a)
{
    a->o.target = target_host();
    a->o.target_from_host = true;
    a->o.rtol = 1e-3;
    a->o.atol = 1e-5;
    a->o.cc = getenv("KILN_CC");
    a->o.emulator = getenv("KILN_EMULATOR");
    for (const char *const *f = (const char *const[]){"--lr", "--momentum", "--dampening", "--beta1",
             "--beta2", "--eps", "--alpha", "--weight-decay", "--l1", "--l2", "--clip-norm", NULL};
         *f; f++)
        *train_number(&a->o, *f) = NAN; /* train_defaults fills in those not given */
}

/* --verbose: the driver's stage lines. */
static void print_trace(const char *line)
{
    fprintf(stderr, "kiln: %s\n", line);
}

/* The command named cmd, or NULL after printing an error (with a suggestion). */
static const Command *find_command(const char *cmd)
{
    const char *names[N_COMMANDS + 1];
    for (int k = 0; k < N_COMMANDS; k++) {
        if (!strcmp(commands[k].name, cmd))
            return &commands[k];
        names[k] = commands[k].name;
    }
    names[N_COMMANDS] = NULL;
    const char *near = cli_nearest(cmd, names);
    if (near)
        fprintf(stderr, "kiln: unknown command '%s'; did you mean '%s'? (see kiln --help)\n", cmd, near);
    else
        fail("unknown command '%s' (expected compile, ir, run, verify, export, tune or bench; see "
             "kiln --help)", cmd);
    return NULL;
}

static int run_export(const Args *a, Diag *d)
{
    if (a->n_positional != 2 || !a->o.out_dir)
        return fail("usage: kiln export MODEL.onnx PARAMS.bin -o OUT.onnx%s", "");
    int replaced = 0;
    bool ok = onnx_export_params(a->positional[0], a->positional[1], a->o.out_dir, &replaced, d);
    struct stat st;
    if (ok && a->verbose && stat(a->o.out_dir, &st) == 0)
        fprintf(stderr, "kiln: wrote %s (%lld bytes)\n", a->o.out_dir, (long long)st.st_size);
    if (ok && !a->o.quiet)
        printf("%s: %d initializers from %s\n", a->o.out_dir, replaced, a->positional[1]);
    return report(ok, d);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            printf("kiln %s\n", KILN_VERSION);
            return 0;
        }
    static Args a;
    a.cmd = argv[1];
    if (!(a.command = find_command(a.cmd)))
        return 1;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            command_help(a.command);
            return 0;
        }
    args_defaults(&a);
    int rc = parse_args(&a, argc, argv);
    if (rc || (a.o.train && (rc = train_defaults(&a.o))))
        return rc;
    a.o.command_line = join_args(argc, argv);
    a.o.trace = a.verbose ? print_trace : NULL;
    Diag d = {0};
    if ((a.command->bit & (CMD_RUN | CMD_VERIFY)) && !target_runs_on_host(a.o.target) &&
        !(a.o.emulator && *a.o.emulator))
        return fail("--target %s: this machine cannot run that code; give --emulator CMD and "
                    "--cc CC, e.g. --emulator \"qemu-aarch64-static -L /usr/aarch64-linux-gnu\" "
                    "--cc aarch64-linux-gnu-gcc", target_name(a.o.target));
    if (a.command->bit == CMD_VERIFY) {
        if (a.n_positional == 0)
            return fail("verify needs at least one case folder%s", "");
        int failed = 0;
        driver_verify(&a.o, a.positional, a.n_positional, &failed, &d);
        return failed ? 1 : 0;
    }
    if (a.command->bit == CMD_EXPORT)
        return run_export(&a, &d);
    if (a.n_positional != 1)
        return fail(a.n_positional ? "'%s' takes one model file" : "'%s' needs a model file", a.cmd);
    a.o.model = a.positional[0];
    if (a.command->bit == CMD_COMPILE) {
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
    if (a.command->bit == CMD_TUNE) {
        if (!a.o.out_dir)
            return fail("tune needs -o FILE (the tuning file to write)%s", "");
        StrBuf table = {0};
        bool ok = driver_tune(&a.o, a.o.out_dir, a.budget > 0 ? a.budget : 20,
                              a.rounds > 0 ? a.rounds : 5, &table, &d);
        if (ok && !a.o.quiet && table.len)
            fwrite(table.buf, 1, table.len, stdout);
        sb_free(&table);
        return report(ok, &d);
    }
    if (a.command->bit == CMD_BENCH) {
        StrBuf table = {0};
        if (a.o.bench_reps == 0)
            a.o.bench_reps = 50;
        bool ok = driver_bench(&a.o, &table, &d);
        if (ok)
            fwrite(table.buf, 1, table.len, stdout);
        sb_free(&table);
        return report(ok, &d);
    }
    if (a.command->bit == CMD_IR) {
        StrBuf out = {0};
        bool ok = driver_ir(&a.o, &out, &d);
        if (ok && a.render_file)
            ok = ir_dot_render(out.buf, out.len, a.render_format, a.render_file, &d);
        else if (ok)
            fwrite(out.buf, 1, out.len, stdout);
        sb_free(&out);
        return report(ok, &d);
    }
    if (!a.o.out_dir)
        return fail("run needs -o OUTDIR%s", "");
    return report(driver_run(&a.o, a.inputs, a.n_inputs, a.o.out_dir, &d), &d);
}
