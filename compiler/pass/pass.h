/* pass.h — the passes over the IR (one file each) and the per-op rules they
 * dispatch to through ops.def. Each pass states its contract above its
 * definition. */
#ifndef KILN_PASS_H
#define KILN_PASS_H

#include "ir.h"

bool pass_infer_shapes(Graph *g, Diag *d);    /* shape_infer.c */
bool pass_fold_constants(Graph *g, Diag *d);  /* fold_constants.c */
bool pass_dce(Graph *g, Diag *d);             /* dce.c */
bool pass_init_params(Graph *g, Diag *d);     /* init_params.c */
bool pass_batch_rows(Graph *g, Diag *d);      /* batch_rows.c: the run-time batch */

/* Training (training.c): what `kiln compile --train` asks for. */
typedef struct TrainOptions {
    const char *loss_output;  /* --loss-output: the model computes its loss */
    const char *loss_kind;    /* --loss mse|l1|softmax_ce|sparse_softmax_ce|bce|bce_logits|nll */
    const char *loss_on;      /* --loss-on: the output the loss is attached to */
    const char *reduction;    /* mean (default) | sum */
    const char *optimizer;    /* sgd | adam | adamw | rmsprop | adagrad */
    double lr, momentum, dampening, beta1, beta2, eps, alpha, weight_decay, l1, l2, clip_norm;
    bool nesterov;
    bool check_finite;        /* --check-finite: the step refuses NaN/Inf */
    const char *freeze;       /* --freeze REGEX: parameters kept fixed */
} TrainOptions;
/* Before shape inference: the model's float parameters become trainable
 * state, so folding leaves them alone. */
bool pass_mark_params(Graph *g, const TrainOptions *t, Diag *d);
/* After shape inference: the training step (forward copy, loss, backward,
 * optimizer, state updates). */
bool pass_build_training(Graph *g, const TrainOptions *t, Diag *d);
/* Reverse-mode differentiation of g->train_loss with respect to every
 * trainable state (autodiff.c); grads[v] gets the gradient's value id. */
bool pass_autodiff(Graph *g, int **grads, Diag *d);
/* The general form (autodiff.c): the gradient of value y (ones of its shape
 * as seed) w.r.t. each wrt[k] into grads[k], -1 where y doesn't depend on it. */
bool ad_differentiate(Graph *g, int y, const int *wrt, int n_wrt, int *grads, Diag *d);
/* After shape inference: each Gradient node (ai.onnx.preview.training)
 * replaced by autodiff's nodes (lower_gradient.c). */
bool pass_lower_gradient(Graph *g, Diag *d);

/* Fusion (one pass per file, fuse_*.c), after autodiff and dce: each
 * rewrites producer/reader pairs whose intermediate value nothing else reads
 * into one node (ir/ops_fused.def), so the training step is fused where that
 * is legal too. `kiln compile --no-fuse` skips them all. */
bool pass_fuse_batchnorm(Graph *g, Diag *d);   /* fuse_batchnorm.c */
bool pass_fuse_matmul_add(Graph *g, Diag *d);  /* fuse_matmul_add.c */
bool pass_fuse_transpose(Graph *g, Diag *d);   /* fuse_transpose.c */
bool pass_fuse_activation(Graph *g, Diag *d);  /* fuse_activation.c */
bool pass_fuse_elementwise(Graph *g, Diag *d); /* fuse_elementwise.c */
bool pass_fuse_grad_mask(Graph *g, Diag *d);   /* fuse_grad_mask.c */
bool pass_fuse_grad_update(Graph *g, Diag *d); /* fuse_grad_update.c */
/* FusedElementwise's steps (fuse_elementwise.c): the arity of op as a step
 * (1 or 2), 0 when it can't be one. Keep in step with the formulas of
 * emit/k_elementwise.c (emit_unary_float_expr, emit_binary_expr). */
int fuse_elementwise_arity(OpKind op);
/* The most inputs a FusedElementwise takes: EMIT_MAX_OPERANDS - 1 (emit.h)
 * and its row in ir/ops_fused.def; keep the three in step. */
#define FUSE_MAX_INPUTS 7
/* helpers (fuse_util.c) */
/* Per value id: how many live node inputs read it, plus one for each graph
 * output, the training loss and each state update it is. */
int *fuse_use_counts(const Graph *g);
/* The one live node reading value when that is its only use, else NULL. */
Node *fuse_sole_reader(const Graph *g, const int *uses, int value);
/* The live node producing value, or NULL (Value.producer must be current). */
Node *fuse_producer(const Graph *g, int value);
/* Replaces n's inputs (copied). */
void fuse_set_inputs(Graph *g, Node *n, const int *in, int n_in);
/* n becomes op (its op_name and domain follow). */
void fuse_become(Node *n, OpKind op);
/* n takes over reader's output 0 and reader dies (n's old output is left
 * unread). The caller relinks and re-sorts the graph. */
void fuse_absorb(Node *n, Node *reader);

/* Per-op rules, named in ops.def. */
typedef struct GradCtx GradCtx; /* autodiff.c */
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) \
    bool shape(Graph *g, Node *n, Diag *d);                                \
    bool fold(Graph *g, Node *n, Diag *d);                                 \
    bool grad(GradCtx *c, const Node *n);
#include "ops.def"
#undef OP

/* Checks n's arity and input types, then runs its shape rule
 * (shape_infer.c). False with a diagnostic when the node is invalid. */
bool infer_node(Graph *g, Node *n, Diag *d);
/* Runs n's fold rule; a folded node becomes dead (fold_constants.c). False
 * only on a user error (in d). */
bool fold_node(Graph *g, Node *n, Diag *d);

/* ---- helpers shared by the rules (rules_util.c) ---- */

/* Sets output i's dtype and shape. */
void rule_set_out(Graph *g, Node *n, int i, DType dt, const Shape *s);
/* Numpy (multidirectional) broadcasting of a and b into out; false if the
 * shapes are incompatible. */
bool rule_broadcast(const Shape *a, const Shape *b, Shape *out);
/* True when every present input is a compile-time constant. */
bool rule_inputs_const(const Graph *g, const Node *n);
/* Reads a constant integer tensor input (int64 or int32) as int64 values.
 * Returns the count, or -1 if the input is absent or not constant. */
int rule_const_ints(const Graph *g, const Node *n, int i, int64_t *vals, int max);
/* Normalizes a possibly negative axis against rank; false if out of range. */
bool rule_axis(int64_t axis, int rank, int *out);
/* Index into an input of shape in, broadcast to out, of out's element k. */
int64_t rule_bcast_index(const Shape *out, const Shape *in, int64_t k);


#endif
