/* k_gemm.h — the blocked single-precision GEMM that k_gemm.c prints for
 * Gemm/MatMul and k_conv.c for dense convolutions (implicit GEMM): a
 * BLIS-style loop nest (sched/tile.c) around the target's micro-kernel
 * (templates/kiln_gemm_*.h), constant operands pre-packed at compile time
 * (sched/pack.c), bias and activation fused into the micro-kernel's
 * epilogue. */
#ifndef KILN_K_GEMM_H
#define KILN_K_GEMM_H

#include "emit.h"

/* How the loop nest gets one operand's panels (CONV_B / CONV_BT: the
 * kiln_conv_geom is named by geom, the image by expr). */
typedef enum GemmSource {
    GEMM_RUNTIME = 0, /* a strided matrix in memory: packed block by block into scratch */
    GEMM_CONST,       /* a constant: packed whole at compile time */
    GEMM_CONV_B,      /* B of a convolution: packed from the image by kiln_sgemm_pack_b_conv */
    GEMM_CONV_BT,     /* B = im2col(image)^T of a weight gradient: kiln_sgemm_pack_b_conv_t */
    GEMM_CONV_WIDE,   /* B of a stride-1 convolution on a padded image, whole rows copied:
                         kiln_sgemm_pack_b_conv_wide */
    GEMM_PACKED,      /* B packed whole at run time (kiln_sgemm_pack_b over all K and N, the
                       * target's nr) into memory at expr: read as a CONST one */
} GemmSource;

typedef struct GemmOperand {
    GemmSource src;
    const char *expr;     /* RUNTIME / CONV_B: a C pointer expression to element (0, 0);
                           * PACKED: to the packed panels */
    const Value *value;   /* CONST: the constant */
    int64_t offset;       /* CONST: element (0, 0)'s index in value->data */
    int64_t rs, cs;       /* RUNTIME / CONST: element strides of rows and columns */
    const char *geom;     /* CONV_B: the name of the kiln_conv_geom variable */
} GemmOperand;

/* --threads: how one blocked GEMM shares the thread pool. */
typedef enum GemmThreads {
    GEMM_ONE = 0,   /* on the calling thread alone */
    GEMM_SPLIT,     /* its output blocks split over the parts (never K) */
    GEMM_IN_PART,   /* the caller split the work (e.g. a conv's batch): only
                       the scratch is the part's own */
} GemmThreads;

/* An activation fused into a kernel's epilogue (the kiln Fused* ops,
 * ir/ops_fused.def): code is KILN_ACT_* of templates/kiln_gemm.h. */
enum { /* KILN_ACT_* of templates/kiln_gemm.h; keep the two in step */
    GEMM_ACT_NONE, GEMM_ACT_RELU, GEMM_ACT_LEAKY, GEMM_ACT_CLIP, GEMM_ACT_SIGMOID,
    GEMM_ACT_TANH, GEMM_ACT_HARDSWISH
};
typedef struct GemmAct {
    int code;
    double alpha, beta; /* LeakyRelu: alpha; Clip: min, max (+-inf when absent) */
} GemmAct;

/* y[M,N] (row stride ldy) = act(alpha * A[M,K] * B[K,N] + beta * bias),
 * bias broadcast by element strides bias_rs / bias_cs (0 or 1), or NULL. */
typedef struct BlockedGemm {
    int64_t M, N, K;
    GemmOperand a, b;
    const char *y;
    int64_t ldy;
    const char *bias;
    int64_t bias_rs, bias_cs;
    double alpha, beta;
    GemmAct act;
    GemmThreads threads;
    const char *node;    /* the node's name, for the tuning file */
    const char *fresh;   /* NULL, or a C condition: only when it holds does y start
                          * from the bias; otherwise the product adds to y */
    bool accumulate;     /* y += A * B always (bias and fresh unused) */
    int64_t scratch_off; /* bytes of scratch (a multiple of 64) the caller keeps */
    const char *mask;    /* NULL, or [M,N] (row stride mask_rs): y = mask > 0 ? y : 0
                          * after the epilogue (FusedGemm's Relu-gradient input) */
    int64_t mask_rs;
} BlockedGemm;

/* Whether an f32 GEMM of this size goes through the blocked path (packing
 * pays for itself) rather than the plain loops. */
bool gemm_blocked_pays(const Emitter *e, int64_t M, int64_t N, int64_t K);

/* The micro-tile (rows mr x columns nr) of the target's GEMM kernel: the
 * cache blocks are multiples of it (kiln tune's candidates too). */
void gemm_micro_tile(Target target, int *mr, int *nr);

/* GEMM_SPLIT when the pool has more than one thread and flops
 * multiply-adds are enough to pay for waking it, else GEMM_ONE. */
GemmThreads gemm_threads(const Emitter *e, int64_t flops);

/* The activation node n (a kiln Fused* op) applies after its product;
 * code KILN_ACT_NONE (0) for a plain op. */
GemmAct gemm_act_of(const Node *n);
/* The C expression of activation a applied to the expression x of dtype
 * dt; x itself when there is none. Same formulas as k_elementwise.c. */
const char *gemm_act_expr(Emitter *e, const GemmAct *a, DType dt, const char *x);
/* Applies a to y[0..count) in place (the plain loops' epilogue). */
void emit_act_loop(Emitter *e, const GemmAct *a, DType dt, const char *y, int64_t count);

/* Prints the loop nest for p, including the template and the packed
 * constants into the prelude and reserving scratch. */
void emit_gemm_blocked(Emitter *e, const BlockedGemm *p);

/* y[M,N] (row stride ldy) = or += A[M,K] x B[K,N] (accumulate) on the
 * blocked path inside a { } scope of its own, its scratch past the
 * caller's first own_scratch bytes: for kernels that chain several
 * products (the recurrent layers). */
void emit_gemm_product(Emitter *e, int64_t M, int64_t N, int64_t K, GemmOperand a,
                       GemmOperand b, const char *y, int64_t ldy, bool accumulate,
                       int64_t own_scratch);

#endif
