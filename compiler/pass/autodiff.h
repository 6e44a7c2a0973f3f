/* autodiff.h — what gradient rules (grad_*.c, named in ops.def) use to add
 * backward nodes: the gradient flowing into a node's outputs, and builders
 * that create ordinary IR nodes with their types inferred on the spot. */
#ifndef KILN_AUTODIFF_H
#define KILN_AUTODIFF_H

#include "pass.h"

struct GradCtx {
    Graph *g;
    Diag *d;
    int *grad;    /* value id -> id of its gradient, -1 while none */
    bool *wants;  /* value id -> a trainable state reaches it and it reaches the loss */
    int cap;      /* entries of grad[] and wants[]; grown as rules add values */
};

/* The gradient of value v (-1 if none flows), and whether v wants one. */
int ad_grad(const GradCtx *c, int v);
bool ad_wants(const GradCtx *c, int v);
/* Adds gradient contribution gv to value v (summing with an Add node). */
void ad_accumulate(GradCtx *c, int v, int gv);

/* A new node of op with the given inputs (-1 for omitted) and n_out fresh
 * outputs; set attributes on it, then call ad_finish. */
Node *ad_node(GradCtx *c, OpKind op, const int *in, int n_in, int n_out);
/* Infers the node's types; returns its first output, or -1 on error. */
int ad_finish(GradCtx *c, Node *n);
/* Shorthands for one-output nodes without attributes. */
int ad_op1(GradCtx *c, OpKind op, int a);
int ad_op2(GradCtx *c, OpKind op, int a, int b);
/* The same at opset 13 or later whatever the model's, for the forms the
 * rules build on: numpy broadcasting, Slice bounds and reduction axes as
 * in opset 13. */
Node *ad_node13(GradCtx *c, OpKind op, const int *in, int n_in);
int ad_op13_1(GradCtx *c, OpKind op, int a);
int ad_op13_2(GradCtx *c, OpKind op, int a, int b);
int ad_op13_3(GradCtx *c, OpKind op, int a, int b, int d);
/* x reshaped to s (x itself when it has that shape; -1 stays -1). */
int ad_reshape_to(GradCtx *c, int x, const Shape *s);
/* Copies every attribute of from onto n. */
void ad_copy_attrs(GradCtx *c, Node *n, const Node *from);
void ad_set_int(GradCtx *c, Node *n, const char *name, int64_t v);
void ad_set_ints(GradCtx *c, Node *n, const char *name, const int64_t *v, int count);
void ad_set_str(GradCtx *c, Node *n, const char *name, const char *s);
/* A new constant: a scalar of dtype dt, or an int64 vector. */
int ad_scalar(GradCtx *c, DType dt, double v);
int ad_ints(GradCtx *c, const int64_t *v, int count);
/* gv summed down to the shape of v (undoing broadcasting), -1 stays -1. */
int ad_unbroadcast(GradCtx *c, int gv, int v);
/* gv reshaped to v's shape. */
int ad_reshape_like(GradCtx *c, int gv, int v);

#endif
