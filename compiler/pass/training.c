/* training.c — turns an inference graph into one that also trains: the
 * model's float parameters become workspace state, the forward nodes are
 * copied with BatchNormalization and Dropout in training mode, a loss is
 * attached (or the model's own is used), autodiff adds the backward nodes,
 * and one Optimizer node per parameter computes the update the training step
 * assigns back to the state. */
#include "autodiff.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

/* pass_mark_params
 * requires: an imported graph (before shape inference, so nothing folds
 *           through a parameter).
 * does:     every float initializer not matched by --freeze becomes a
 *           trainable VAL_STATE; frozen ones stay constants.
 * preserves: everything else. */
bool pass_mark_params(Graph *g, const TrainOptions *t, Diag *d)
{
    regex_t re;
    if (t->freeze && regcomp(&re, t->freeze, REG_EXTENDED | REG_NOSUB) != 0) {
        diag_error(d, "--freeze '%s' is not a valid regular expression", t->freeze);
        return false;
    }
    int count = 0;
    for (int i = 0; i < g->n_values; i++) {
        Value *v = g->values[i];
        if (v->kind != VAL_CONST || !v->is_param || !dtype_is_float(v->dtype) || v->dtype == DT_F16)
            continue;
        if (t->freeze && regexec(&re, v->name, 0, NULL, 0) == 0)
            continue;
        v->kind = VAL_STATE;
        v->trainable = true;
        count++;
    }
    if (t->freeze)
        regfree(&re);
    if (count == 0) {
        diag_error(d, "--train: the model has no trainable float parameters%s",
                   t->freeze ? " (all are frozen by --freeze)" : "");
        return false;
    }
    return true;
}

static void add_assign(Graph *g, int state, int value)
{
    g->assigns = arena_grow(g->arena, g->assigns, sizeof(Assign), &g->cap_assigns, g->n_assigns + 1);
    g->assigns[g->n_assigns++] = (Assign){state, value};
}

static void add_train_input(Graph *g, int v)
{
    g->train_inputs = arena_grow(g->arena, g->train_inputs, sizeof(int), &g->cap_train_inputs,
                                 g->n_train_inputs + 1);
    g->train_inputs[g->n_train_inputs++] = v;
}

/* A new state value with a first value of zeros (or the given scalar). */
static int new_state(Graph *g, const char *name, DType dt, const Shape *s, double first)
{
    Value *v = ir_graph_find_value(g, name) ? ir_graph_add_temp(g, name) : ir_graph_add_value(g, name);
    int64_t numel = shape_numel(s);
    void *zeros = arena_alloc(g->arena, (size_t)numel * dtype_size(dt) + 1);
    for (int64_t k = 0; k < numel && first != 0; k++)
        tensor_set_f(dt, zeros, k, first);
    ir_value_set_const(g, v, dt, s, zeros);
    v->kind = VAL_STATE;
    v->is_param = false;
    return v->id;
}

/* The training copy of forward node n, with BatchNormalization and Dropout
 * switched to training mode; map[] takes forward values to their copies;
 * step is the kiln.step state, which seeds each step's dropout mask. */
static bool clone_node(Graph *g, const Node *n, int *map, int step, Diag *d)
{
    int in[64], out[64];
    KILN_ASSERT(n->n_in <= 64 && n->n_out <= 62);
    for (int i = 0; i < n->n_in; i++)
        in[i] = n->in[i] < 0 ? -1 : map[n->in[i]];
    int n_in = n->n_in, n_out = n->n_out;
    for (int i = 0; i < n_out; i++)
        out[i] = n->out[i] < 0 ? -1 : (map[n->out[i]] =
                     ir_graph_add_temp(g, arena_printf(g->arena, "train/%s", g->values[n->out[i]]->name))->id);
    OpKind op = n->op;
    if (n->op == OP_Dropout) { /* TrainDropout(X, step, ratio): a fresh mask each step, which
                                  feeds the gradient (ops_train_conv.def) */
        op = OP_TrainDropout;
        int ratio = n->opset >= 12 && n_in > 1 ? in[1] : -1;
        in[1] = step;
        in[2] = ratio;
        n_in = ratio >= 0 ? 3 : 2;
        if (n_out < 2 || out[1] < 0)
            out[1] = ir_graph_add_temp(g, "train/dropout_mask")->id, n_out = 2;
    }
    if (n->op == OP_BatchNormalization) {
        if (n->opset < 14) {
            ir_node_error(d, n, "training BatchNormalization needs opset 14 or newer (re-export "
                                "the model with opset_version=14)");
            return false;
        }
        for (int i = n_out; i < 3; i++)
            out[i] = -1;
        for (int i = 1; i < 3; i++)
            if (out[i] < 0)
                out[i] = ir_graph_add_temp(g, "train/running_stat")->id;
        n_out = n_out < 3 ? 3 : n_out;
    }
    Node *c = ir_graph_add_node(g, op, arena_printf(g->arena, "train/%s", n->name), in, n_in,
                                out, n_out);
    c->opset = n->opset;
    if (op == n->op) {
        c->domain = n->domain;
        c->op_name = n->op_name;
    }
    c->attrs = arena_dup(g->arena, n->attrs, sizeof(Attr) * (size_t)n->n_attr);
    c->n_attr = n->n_attr;
    if (n->op == OP_BatchNormalization) {
        ir_node_set_attr(g, c, "training_mode", ATTR_INT)->i = 1;
        /* as torch.nn.BatchNorm does: the running variance from the unbiased
         * batch variance (ONNX's reference uses the biased one) */
        ir_node_set_attr(g, c, "kiln_unbiased_running_var", ATTR_INT)->i = 1;
        for (int i = 3; i < 5; i++) { /* running mean and var: state, not trained */
            Value *s = g->values[in[i]];
            if (s->kind != VAL_STATE) {
                ir_node_error(d, n, "its running statistics must be initializers to train");
                return false;
            }
            s->trainable = false;
            add_assign(g, s->id, out[i - 2]);
        }
    }
    return infer_node(g, c, d);
}

/* Whether any live node reads value v or it is a graph output. */
static bool value_used(const Graph *g, int v)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v)
            return true;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k]->n_in && !g->nodes[k]->dead; i++)
            if (g->nodes[k]->in[i] == v)
                return true;
    return false;
}

/* Inference node n runs in inference mode, whatever mode the model was
 * exported in (torch's TrainingMode.TRAINING sets BatchNormalization's
 * training_mode and Dropout's training_mode input): P_run_v uses the
 * running statistics and drops nothing. Outputs only training mode makes
 * are dropped when nothing reads them. */
static void to_inference(Graph *g, Node *n)
{
    if (n->op == OP_BatchNormalization && n->opset >= 14 && ir_attr_int(n, "training_mode", 0)) {
        for (int i = 1; i < n->n_out; i++)
            if (n->out[i] >= 0 && value_used(g, n->out[i]))
                return;
        for (int i = 1; i < n->n_out; i++)
            if (n->out[i] >= 0)
                g->values[n->out[i]]->producer = -1;
        ir_node_set_attr(g, n, "training_mode", ATTR_INT)->i = 0;
        n->n_out = 1;
    } else if (n->op == OP_Dropout && n->opset >= 12 && n->n_in > 2) {
        n->n_in = 2;
    }
}

/* The value named name (a graph output, or any value) or -1. */
static int find_output(const Graph *g, const char *name)
{
    const Value *v = ir_graph_find_value(g, name);
    return v ? v->id : -1;
}

/* --loss KIND --loss-on OUTPUT: a labels input and the loss node on y. */
static int attach_loss(Graph *g, const TrainOptions *t, int y, Diag *d)
{
    const Value *yv = g->values[y];
    const char *kind = t->loss_kind, *red = t->reduction ? t->reduction : "mean";
    bool sparse = !strcmp(kind, "sparse_softmax_ce") || !strcmp(kind, "nll");
    if (!sparse && strcmp(kind, "mse") && strcmp(kind, "l1") && strcmp(kind, "bce") &&
        strcmp(kind, "bce_logits") && strcmp(kind, "softmax_ce")) {
        diag_error(d, "--loss '%s': expected mse, l1, softmax_ce, sparse_softmax_ce, bce, "
                      "bce_logits or nll", kind);
        return -1;
    }
    if (!dtype_is_float(yv->dtype) || ((sparse || !strcmp(kind, "softmax_ce")) && yv->shape.rank < 2)) {
        diag_error(d, "--loss-on '%s': %s needs a float output%s", t->loss_on, kind,
                   sparse || !strcmp(kind, "softmax_ce") ? " of shape [N, C, ...]" : "");
        return -1;
    }
    Value *labels = ir_graph_find_value(g, "labels") ? ir_graph_add_temp(g, "labels")
                                                      : ir_graph_add_value(g, "labels");
    labels->kind = VAL_INPUT;
    labels->has_type = true;
    labels->dtype = sparse ? DT_I64 : yv->dtype;
    labels->shape = yv->shape;
    if (sparse) { /* class indices: the output's shape without the class dim */
        for (int i = 1; i + 1 < yv->shape.rank; i++)
            labels->shape.dims[i] = yv->shape.dims[i + 1];
        labels->shape.rank--;
    }
    add_train_input(g, labels->id);
    int in[2] = {y, labels->id}, out = ir_graph_add_temp(g, "loss")->id;
    OpKind op = !strcmp(kind, "sparse_softmax_ce") ? OP_SoftmaxCrossEntropyLoss
                : !strcmp(kind, "nll")             ? OP_NegativeLogLikelihoodLoss
                                                   : OP_Loss;
    Node *n = ir_graph_add_node(g, op, "loss", in, 2, &out, 1);
    n->opset = g->opset > 13 ? g->opset : 13;
    ir_node_set_attr(g, n, "reduction", ATTR_STRING)->s = red;
    if (op == OP_Loss)
        ir_node_set_attr(g, n, "kind", ATTR_STRING)->s = kind;
    return infer_node(g, n, d) ? out : -1;
}

/* How many state tensors each optimizer keeps per parameter. */
static int optimizer_states(const TrainOptions *t)
{
    const char *k = t->optimizer;
    if (!strcmp(k, "adam") || !strcmp(k, "adamw"))
        return 2;
    if (!strcmp(k, "rmsprop"))
        return t->momentum != 0 ? 2 : 1;
    if (!strcmp(k, "adagrad"))
        return 1;
    return t->momentum != 0 ? 1 : 0; /* sgd */
}

static void set_float(Graph *g, Node *n, const char *name, double v)
{
    ir_node_set_attr(g, n, name, ATTR_FLOAT)->f = v;
}

/* One Optimizer node for parameter p with gradient gp; its new value and new
 * state become assigns. */
static bool add_update(Graph *g, const TrainOptions *t, int p, int gp, int lr, int step, Diag *d)
{
    static const char *const state_names[] = {"m", "v"};
    const Value *pv = g->values[p];
    int in[7] = {p, gp, lr, step}, out[3];
    int n_states = optimizer_states(t);
    for (int k = 0; k < n_states; k++)
        in[4 + k] = new_state(g, arena_printf(g->arena, "%s.%s_%s", pv->name, t->optimizer, state_names[k]),
                              pv->dtype, &pv->shape, 0);
    for (int k = 0; k <= n_states; k++)
        out[k] = ir_graph_add_temp(g, arena_printf(g->arena, "update/%s", pv->name))->id;
    Node *n = ir_graph_add_node(g, OP_Optimizer, arena_printf(g->arena, "update/%s", pv->name), in,
                                4 + n_states, out, 1 + n_states);
    ir_node_set_attr(g, n, "kind", ATTR_STRING)->s = t->optimizer;
    set_float(g, n, "momentum", t->momentum);
    set_float(g, n, "dampening", t->dampening);
    ir_node_set_attr(g, n, "nesterov", ATTR_INT)->i = t->nesterov;
    set_float(g, n, "beta1", t->beta1);
    set_float(g, n, "beta2", t->beta2);
    set_float(g, n, "eps", t->eps);
    set_float(g, n, "alpha", t->alpha);
    set_float(g, n, "weight_decay", t->weight_decay);
    set_float(g, n, "l1", t->l1);
    set_float(g, n, "l2", t->l2);
    if (!infer_node(g, n, d))
        return false;
    add_assign(g, p, out[0]);
    for (int k = 0; k < n_states; k++)
        add_assign(g, in[4 + k], out[1 + k]);
    return true;
}

/* ClipNorm over every gradient, replacing grads[p] by the clipped one. */
static bool clip_grads(Graph *g, const TrainOptions *t, int *grads, const int *params, int np,
                       Diag *d)
{
    int *in = arena_alloc(g->arena, sizeof(int) * (size_t)np);
    int *out = arena_alloc(g->arena, sizeof(int) * (size_t)np);
    for (int k = 0; k < np; k++) {
        in[k] = grads[params[k]];
        out[k] = ir_graph_add_temp(g, "clipped_grad")->id;
    }
    Node *n = ir_graph_add_node(g, OP_ClipNorm, "clip_grad_norm", in, np, out, np);
    set_float(g, n, "max_norm", t->clip_norm);
    for (int k = 0; k < np; k++)
        grads[params[k]] = out[k];
    return infer_node(g, n, d);
}

/* pass_build_training
 * requires: a typed graph (pass_mark_params, then pass_infer_shapes).
 * does:     adds the training step: a training-mode copy of the forward
 *           nodes, the loss (g->train_loss), the backward nodes
 *           (pass_autodiff), gradient clipping, one Optimizer node per
 *           trainable parameter, the learning rate and step counter states,
 *           and g->assigns; g->train_inputs = the inputs, then the labels.
 * preserves: the inference nodes, which keep reading the same state (a
 *           BatchNormalization or Dropout exported in training mode is
 *           switched to inference mode). */
bool pass_build_training(Graph *g, const TrainOptions *t, Diag *d)
{
    int n_nodes = g->n_nodes;
    int *map = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_values + 1));
    for (int i = 0; i < g->n_values; i++)
        map[i] = i;
    Shape scalar = {0};
    int step = new_state(g, "kiln.step", DT_I64, &scalar, 0);
    for (int k = 0; k < n_nodes; k++)
        if (!g->nodes[k]->dead && !clone_node(g, g->nodes[k], map, step, d))
            return false;
    for (int k = 0; k < n_nodes; k++)
        if (!g->nodes[k]->dead)
            to_inference(g, g->nodes[k]);
    for (int k = 0; k < g->n_inputs; k++)
        add_train_input(g, g->inputs[k]);
    const char *name = t->loss_output ? t->loss_output : t->loss_on;
    int y = find_output(g, name);
    if (y < 0) {
        diag_error(d, "%s: the model has no output named '%s'",
                   t->loss_output ? "--loss-output" : "--loss-on", name);
        return false;
    }
    g->train_loss = t->loss_output ? map[y] : attach_loss(g, t, map[y], d);
    if (g->train_loss < 0)
        return false;
    const Value *loss = g->values[g->train_loss];
    if (!dtype_is_float(loss->dtype) || shape_numel(&loss->shape) != 1) {
        diag_error(d, "--loss-output '%s' must be a float scalar", name);
        return false;
    }
    int *grads;
    if (!pass_autodiff(g, &grads, d))
        return false;
    int *params = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_values + 1)), np = 0;
    for (int i = 0; i < g->n_values; i++) {
        Value *v = g->values[i];
        if (v->kind == VAL_STATE && v->trainable) {
            v->trainable = grads[i] >= 0; /* a parameter the loss doesn't depend on stays */
            if (v->trainable)
                params[np++] = i;
        }
    }
    if (np == 0) {
        diag_error(d, "--train: the loss does not depend on any parameter");
        return false;
    }
    if (t->clip_norm > 0 && !clip_grads(g, t, grads, params, np, d))
        return false;
    int lr = new_state(g, "kiln.lr", DT_F32, &scalar, t->lr);
    for (int k = 0; k < np; k++)
        if (!add_update(g, t, params[k], grads[params[k]], lr, step, d))
            return false;
    int one = new_state(g, "kiln.one", DT_I64, &scalar, 1);
    g->values[one]->kind = VAL_CONST;
    int in[2] = {step, one}, next = ir_graph_add_temp(g, "kiln.step_next")->id;
    Node *inc = ir_graph_add_node(g, OP_Add, "step_count", in, 2, &next, 1);
    if (!infer_node(g, inc, d))
        return false;
    add_assign(g, step, next);
    return true;
}
