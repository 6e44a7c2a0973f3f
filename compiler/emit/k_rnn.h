/* k_rnn.h — what the recurrent kernels (k_rnn.c) share with their backward
 * kernels (k_train_rnn.c): the activation functions of a node, read from
 * its attributes once, and printing one of them. */
#ifndef KILN_K_RNN_H
#define KILN_K_RNN_H

#include "emit.h"

typedef struct RnnActs {
    const char *act[2][3];          /* per direction: f, g, h */
    double alpha[2][3], beta[2][3];
    bool has_clip;
    double clip;
} RnnActs;

/* Case-insensitive name comparison (ONNX activation names). */
bool rnn_same_name(const char *a, const char *b);
/* activations / activation_alpha / activation_beta / clip of an RNN, GRU or
 * LSTM node (or its backward op), per = functions per direction (1, 2, 3),
 * D = directions. */
void rnn_read_activations(const Node *n, int per, int D, RnnActs *r);
/* Prints `v = act(v);` for activation a of direction d, clipping v to
 * [-clip, clip] first when asked and the node has a clip. */
void rnn_emit_activation(Emitter *e, DType dt, const RnnActs *r, int d, int a, const char *v,
                         bool clip);
/* "KILN_VMATH_SIGMOID" or "KILN_VMATH_TANH" when activation a of direction
 * d is one of those and can run on templates/kiln_vmath.h's loops (f32, no
 * clip where clip is asked); NULL otherwise. */
const char *rnn_vmath_fn(DType dt, const RnnActs *r, int d, int a, bool clip);

#endif
