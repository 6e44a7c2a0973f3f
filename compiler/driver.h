/* driver.h — the pipeline as one flat function, and the jobs the CLI runs
 * (compile, ir, run, verify). Library code: returns false with a diagnostic;
 * only main.c prints it and exits. */
#ifndef KILN_DRIVER_H
#define KILN_DRIVER_H

#include "emit.h"
#include "ir.h"
#include "pass.h"

#define DRIVER_MAX_SHAPES 32

typedef struct InputShape {
    const char *name;
    Shape shape;
} InputShape;

/* An input fixed to a value at compile time (--const-input): the model is
 * specialized on it and it is no longer an input of the generated code. */
typedef struct FrozenInput {
    const char *name;
    Tensor value;
} FrozenInput;

typedef struct CompileOptions {
    const char *model;        /* .onnx or .kir */
    const char *out_dir;
    const char *prefix;       /* NULL: the model file's stem, sanitized */
    Target target;
    bool target_from_host;    /* --target host (or none): named in the front matter */
    WeightMode weights;
    int threads;              /* --threads N: the kernels' thread pool (0, 1: none) */
    const char *tuning_file;  /* --tuning FILE: cache blocks measured by kiln tune */
    struct TuneTable *tuning; /* kiln tune: its candidates, instead of a file (sched/tune.h) */
    bool tune_entry;          /* kiln tune: also emit P_tune_layer for its harness */
    const char *dump_after;   /* a pass name, for `kiln ir --dump-after` */
    bool dot;                 /* kiln ir: Graphviz dot instead of .kir text (dot.h) */
    StrBuf *stats;            /* kiln compile --stats: the tables are appended here (stats.h) */
    InputShape shapes[DRIVER_MAX_SHAPES];
    int n_shapes;
    FrozenInput frozen[DRIVER_MAX_SHAPES];
    int n_frozen;
    const char *const *freeze_files; /* "NAME=FILE.pb" from the CLI, read by the driver */
    int n_freeze_files;
    int64_t batch;            /* 0: not given */
    const char *command_line;
    const char *cc;           /* C compiler for run/verify */
    const char *emulator;     /* run/verify: a command the built program runs under
                               * (words split at spaces), e.g. qemu-aarch64-static */
    double rtol, atol;        /* verify tolerances */
    bool keep;                /* keep the build folder of run/verify */
    bool train;               /* --train: also emit the training step */
    bool no_fuse;             /* --no-fuse: skip the fusion passes (pass/fuse_*.c) */
    TrainOptions t;
    bool quiet;               /* --quiet: run/verify print only failures and the count */
    int bench_reps;           /* kiln bench --reps (> 0 only for kiln bench: the model is
                                 built with per-layer timing ticks) */
    void (*trace)(const char *line); /* --verbose: called with one line per stage
                                        (main.c prints it); NULL: silent */
} CompileOptions;

/* Names of the passes --dump-after accepts, NULL-terminated. */
extern const char *const driver_pass_names[];

bool driver_compile(const CompileOptions *o, Diag *d);
/* Prints the IR (as imported, or after pass o->dump_after) to out. */
bool driver_ir(const CompileOptions *o, StrBuf *out, Diag *d);
/* kiln run: inputs are "NAME=FILE.pb" or "FILE.pb". */
bool driver_run(const CompileOptions *o, const char *const *inputs, int n_inputs,
                const char *out_dir, Diag *d);
/* kiln tune: times candidate cache blocks of every blocked GEMM/conv layer
 * of o->model on this machine (tune.c) and writes the fastest to out_file;
 * budget: seconds of timing in all, rounds: alternating rounds. The table
 * of results goes to report. */
bool driver_tune(const CompileOptions *o, const char *out_file, double budget, int rounds,
                 StrBuf *report, Diag *d);
/* Runs argv (stdout and stderr to log when not NULL), killed after
 * timeout_s seconds: its exit status, 128 + signal, or -1. */
int driver_spawn(char *const argv[], const char *log, int timeout_s);

/* kiln verify: prints PASS/FAIL per case and "N passed, N failed"; *failed
 * counts the cases that did not pass. */
bool driver_verify(const CompileOptions *o, const char *const *cases, int n_cases, int *failed,
                   Diag *d);
/* kiln bench: builds the model (its training step with --train) with a
 * timer after each layer, runs it o->bench_reps times on pseudo-random
 * inputs and appends the per-layer table (median time, GFLOPS, fraction of
 * the FMA peak measured by the same program) to out. */
bool driver_bench(const CompileOptions *o, StrBuf *out, Diag *d);

#endif
