/* emit.h — printing C. An Emitter writes into a buffer with tracked
 * indentation; each op's kernel (named in ops.def, k_*.c) prints the body of
 * one static C function; model.c prints the whole model file around them.
 * Files reach the disk only when the whole compile succeeded (driver.c). */
#ifndef KILN_EMIT_H
#define KILN_EMIT_H

#include "ir.h"
#include "sched.h"

typedef enum Target {
    TARGET_GENERIC = 0,  /* plain C99 */
    TARGET_X86_64_V3,    /* AVX2 + FMA */
    TARGET_X86_64_V4,    /* AVX-512F (and everything of v3) */
    TARGET_X86_64,       /* SSE2, the x86-64 baseline */
    TARGET_AARCH64,      /* NEON, the aarch64 baseline */
} Target;

/* The target's name as --target spells it ("x86-64-v4"). target.c */
const char *target_name(Target t);
/* Parses a --target name; "host" gives target_host(). False if unknown. */
bool target_parse(const char *name, Target *t);
/* The best target of the machine kiln runs on: x86 by CPUID (AVX-512F →
 * x86-64-v4, AVX2+FMA → x86-64-v3, else x86-64), aarch64 → aarch64,
 * anything else → generic. */
Target target_host(void);
/* Whether programs built for t can run on the machine kiln runs on without
 * an emulator (the instruction sets within one architecture are checked
 * by P_init instead). */
bool target_runs_on_host(Target t);

typedef enum WeightMode { WEIGHTS_EMBED = 0, WEIGHTS_FILE } WeightMode;

/* Prelude entries per model: one per shared helper and per pre-packed
 * weight (k_gemm.c, k_conv.c). */
#define EMIT_MAX_PRELUDE 4096

typedef struct Emitter {
    StrBuf *out;
    int indent;
    Arena *arena;
    Diag *d;
    const Graph *g;
    Target target;
    /* the kernel being printed: its parameter names per input / output
     * (NULL for an omitted optional) */
    const char **in_name;
    const char **out_name;
    /* A kernel that needs temporary memory sets this to the bytes it needs
     * and uses the parameter `void *restrict scratch` (64-byte aligned); the
     * workspace reserves the largest request after the planned tensors. */
    int64_t scratch;
    /* File-scope code printed once before all kernels (shared helpers such
     * as a micro-kernel), see emit_prelude_once. */
    StrBuf *prelude;
    const char *prelude_keys[EMIT_MAX_PRELUDE];
    int n_prelude_keys;
    /* Set by a kernel that calls AVX2+FMA code (x86-64-v3 micro-kernels):
     * P_init then checks the CPU and returns KILN_ERR_CPU on one without. */
    bool needs_avx2;
    /* Likewise for AVX-512F code (x86-64-v4 micro-kernels). */
    bool needs_avx512;
    /* Constant operands may be re-laid out into new file-scope arrays (GEMM
     * weight pre-packing) only when weights are embedded; with --weights
     * file every weight must come from the blob. */
    bool pack_constants;
    /* The node reduces over the run-time batch (g->batch.rows): its kernel
     * uses only the first nb rows, `int nb` a parameter (see emit_batch). */
    bool batch_rows;
    /* --threads N: with N > 1 a kernel that splits its work into parts
     * sets parts (> 0) and is printed as part `part` of `parts` (int
     * parameters); model.c runs it on the thread pool (runtime/
     * kiln_threads.h), giving each thread its own copy of the kernel's
     * scratch. */
    int threads;
    int parts;
    /* --tuning FILE / kiln tune: measured cache blocks per node, and the
     * blocked GEMMs found (sched/tune.h); NULL: the analytical blocks */
    struct TuneTable *tuning;
} Emitter;

void emit_line(Emitter *e, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Adds text at file scope before the kernels, once per key: returns false
 * (and adds nothing) if that key was added before. */
bool emit_prelude_once(Emitter *e, const char *key, const char *text);
/* An empty line (no indentation). */
void emit_blank(Emitter *e);
/* Prints the line followed by " {" and indents. */
void emit_open(Emitter *e, const char *fmt, ...) KILN_PRINTF(2, 3);
/* A function definition's first line, then "{" on its own line, indented. */
void emit_func(Emitter *e, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Dedents and prints "}" (plus an optional suffix such as " else {"). */
void emit_close(Emitter *e);
/* A float literal for generated C: "0.5f" (f32) or "0.5" (f64); handles
 * inf/nan. Returned in the emitter's arena. */
const char *emit_flit(Emitter *e, double v, DType dt);
/* A C99 literal of any dtype. */
const char *emit_lit(Emitter *e, double v, DType dt);
/* The batch rows a kernel walks: "nb" (the run-time batch, which then
 * becomes a parameter of the kernel) when e->batch_rows, else n. */
const char *emit_batch(Emitter *e, int64_t n);
/* On a run-time batch (e->batch_rows): zeros into rows nb..n-1 of buf, n
 * rows of row_elems (a gradient is zero in the padded rows). */
void emit_batch_zero_tail(Emitter *e, const char *buf, int64_t n, int64_t row_elems, DType dt);
/* C identifier from an arbitrary ONNX name (not unique by itself). */
const char *emit_ident(Arena *a, const char *name);

/* libm function by dtype: emit_math(DT_F32, "exp") is "expf". */
const char *emit_math(Emitter *e, DType dt, const char *fn);
/* The suffix of templates/kiln_vmath.h's loops for the target ("avx512",
 * "avx2" or "x4"), including the template once: kiln_vmath_SUFFIX(
 * KILN_VMATH_EXP | _TANH | _SIGMOID, n, x, y), kiln_lstm_cell_SUFFIX(…).
 * NULL unless dt is f32. */
const char *emit_vmath(Emitter *e, DType dt);

/* Nested loops walking several strided operands at once (elementwise ops,
 * broadcasting, transposes). Fill rank/dims and per-operand element strides
 * (0 where an operand is broadcast), call emit_loops_open, print the body
 * using idx[o] as operand o's index expression, then emit_loops_close.
 * Adjacent dims that every operand walks contiguously are merged. */
#define EMIT_MAX_OPERANDS 8
typedef struct EmitLoops {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int n_ops;
    int64_t strides[EMIT_MAX_OPERANDS][IR_MAX_RANK];
    const char *idx[EMIT_MAX_OPERANDS];  /* set by emit_loops_open */
    int depth;
    /* --threads: the body writes each output element once and reads no
     * output, so a big enough nest may split its outer loop over the pool */
    bool split;
} EmitLoops;
void emit_loops_open(Emitter *e, EmitLoops *l);
void emit_loops_close(Emitter *e, EmitLoops *l);
/* --threads: how many parts a kernel that splits units (tiles, images,
 * rows) over the pool makes of them. */
int emit_parts(const Emitter *e, int64_t units);
/* Element strides of in (right-aligned, broadcast dims 0) walked along out,
 * times scale. */
void emit_bcast_strides(const Shape *out, const Shape *in, int64_t scale, int64_t *strides);

/* Elementwise formulas (k_elementwise.c), shared with k_fused_elementwise.c:
 * the float expression of a unary op n on operand x, and of a binary op on
 * operands a, b (dtype dt; Pow's exponent et); statements a formula needs
 * are printed first. NULL when the op has no such formula. */
const char *emit_unary_float_expr(Emitter *e, const Node *n, DType dt, const char *x);
const char *emit_binary_expr(Emitter *e, const Node *n, DType dt, DType et, const char *a,
                             const char *b);

/* The kernels, named in ops.def. Each prints the body of
 *   static void NAME(const T *restrict x0, …, T *restrict y0, …)
 * where e->in_name / e->out_name give the parameter names; returns false
 * with a diagnostic for a case it can't handle. */
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) \
    bool kernel(Emitter *e, const Graph *g, const Node *n);
#include "ops.def"
#undef OP

typedef struct EmitOptions {
    const char *prefix;       /* sanitized C identifier prefix for every symbol */
    const char *command_line; /* for the front matter */
    const char *model_file;
    Target target;
    bool target_from_host;    /* chosen by --target host: the front matter says so */
    WeightMode weights;
    bool check_finite;        /* the training step refuses NaN/Inf (--check-finite) */
    int threads;              /* --threads: 0 or 1 single-threaded, else the pool's size */
    struct TuneTable *tuning; /* --tuning FILE, or kiln tune's candidates (sched/tune.h) */
    bool tune_entry;          /* kiln tune: also emit P_tune_layer (never in user output) */
    bool bench_ticks;         /* kiln bench only: each entry calls P_bench_tick(K) after
                                 its K-th layer (the harness defines it and times them) */
} EmitOptions;

/* The output files. */
typedef struct EmitResult {
    StrBuf header;   /* P.h */
    StrBuf source;   /* P.c */
    StrBuf weights;  /* P.bin (WEIGHTS_FILE only) */
    int64_t *scratch; /* per node id: the scratch bytes its kernel asked for
                         (malloc'ed, n_nodes entries; the caller frees it) */
    int64_t workspace_size; /* P_WORKSPACE_SIZE (with --threads: less sizeof(kiln_pool)) */
    bool workspace_plus_pool; /* --threads: P_WORKSPACE_SIZE adds sizeof(kiln_pool) */
} EmitResult;

/* run: the nodes of P_run_v; train (when g->train_loss >= 0): those of
 * P_train_step_v; each with its memory plan. */
bool emit_model(const Graph *g, const Schedule *run, const MemPlan *run_plan,
                const Schedule *train, const MemPlan *train_plan, const EmitOptions *o,
                EmitResult *r, Diag *d);
/* A main() for `kiln run`/`kiln verify`: reads each input from argv files
 * (raw bytes), runs, writes each output to argv files. */
void emit_harness(const Graph *g, const char *prefix, StrBuf *out);

#endif
