/* grad_rnn.c — the gradient rule of the recurrent layers RNN, GRU and LSTM
 * (named in ops_rnn.def): one backward node per layer, RNNGrad / GRUGrad /
 * LSTMGrad (ops_train_rnn.def), whose kernel (emit/k_train_rnn.c) runs
 * backprop through time. */
#include "autodiff.h"

/* RNN, GRU, LSTM: backward op inputs are the layer's inputs (X, W, R, B,
 * sequence_lens, initial_h, initial_c, P) and the gradients of Y, Y_h, Y_c
 * (-1 for an omitted output or one no gradient reaches); its outputs dX,
 * dW, dR, dB, d(initial_h), d(initial_c), dP are made only for the inputs
 * that want a gradient. The forward outputs are not inputs: the kernel
 * recomputes the steps it needs (see k_train_rnn.c). */
bool grad_rnn(GradCtx *c, const Node *n)
{
    static const int of[7] = {0, 1, 2, 3, 5, 6, 7};
    OpKind op = n->op == OP_LSTM ? OP_LSTMGrad : n->op == OP_GRU ? OP_GRUGrad : OP_RNNGrad;
    int in[11];
    for (int i = 0; i < 8; i++)
        in[i] = i < n->n_in ? n->in[i] : -1;
    for (int i = 0; i < 3; i++)
        in[8 + i] = i < n->n_out && n->out[i] >= 0 ? ad_grad(c, n->out[i]) : -1;
    Node *g = ad_node(c, op, in, 11, 7);
    ad_copy_attrs(c, g, n);
    for (int k = 0; k < 7; k++)
        if (!ad_wants(c, in[of[k]])) {
            c->g->values[g->out[k]]->producer = -1; /* dropped: an unused value */
            g->out[k] = -1;
        }
    ad_finish(c, g);
    for (int k = 0; k < 7 && !c->d->errors; k++)
        if (g->out[k] >= 0)
            ad_accumulate(c, in[of[k]], g->out[k]);
    return !c->d->errors;
}
