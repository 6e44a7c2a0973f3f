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

/* Per-op rules, named in ops.def. */
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel) \
    bool shape(Graph *g, Node *n, Diag *d);                          \
    bool fold(Graph *g, Node *n, Diag *d);
#include "ops.def"
#undef OP

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
