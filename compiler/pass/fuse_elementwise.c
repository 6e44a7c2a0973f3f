/* fuse_elementwise.c — a tree of f32 elementwise ops (GELU's Div, Erf, Add,
 * Mul, Mul; SiLU's Sigmoid, Mul; …) whose intermediates nothing else reads
 * becomes one kiln FusedElementwise node (ir/ops_fused.def): one loop over
 * the output that keeps the intermediates in locals (emit/k_fused_elementwise.c). */
#include "pass.h"

#include <stdio.h>
#include <string.h>

/* Most steps one FusedElementwise holds (a bound on the kernel's size). */
#define FUSE_MAX_STEPS 32

int fuse_elementwise_arity(OpKind op)
{
    switch (op) {
    case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Pow: case OP_Max: case OP_Min:
        return 2;
    case OP_Abs: case OP_Neg: case OP_Sign: case OP_Exp: case OP_Log: case OP_Sqrt: case OP_Erf:
    case OP_Reciprocal: case OP_Floor: case OP_Ceil: case OP_Sin: case OP_Cos: case OP_Tanh:
    case OP_Sigmoid: case OP_Relu: case OP_LeakyRelu: case OP_Elu: case OP_Selu: case OP_Celu:
    case OP_HardSigmoid: case OP_HardSwish: case OP_Softplus: case OP_Softsign:
        return 1;
    default:
        return 0;
    }
}

/* Whether the pass takes op as a step: arithmetic that compiles to a few
 * instructions, so the fused loop stays one the C compiler vectorizes. The
 * ops that call libm stay nodes of their own: Exp, Tanh and Sigmoid have
 * vector loops there (templates/kiln_vmath.h), and one libm call in the fused
 * loop keeps the whole loop scalar. Measured with kiln bench on
 * tests/models/make_elementwise.py at batch 4096, x86-64-v4: fused with its
 * Sigmoid, SiLU took 478 us against 23 us as two nodes; the LayerNorm tail
 * (Div, Mul, Add) fused takes 21 us against 39 us as three. A .kir file may
 * still hold any op fuse_elementwise_arity accepts. */
static bool cheap_step(OpKind op)
{
    switch (op) {
    case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Neg: case OP_Abs:
    case OP_Relu: case OP_LeakyRelu: case OP_Max: case OP_Min:
        return true;
    default:
        return false;
    }
}

/* True when n can be a step: a cheap_step op above with all its inputs
 * present and its inputs and output f32. */
static bool is_step(const Graph *g, const Node *n)
{
    int arity = fuse_elementwise_arity(n->op);
    if (n->dead || arity == 0 || !cheap_step(n->op) || n->n_in != arity || n->n_out != 1 ||
        !ir_out(g, n, 0) || ir_out(g, n, 0)->dtype != DT_F32)
        return false;
    for (int i = 0; i < n->n_in; i++)
        if (!ir_in(g, n, i) || ir_in(g, n, i)->dtype != DT_F32)
            return false;
    return true;
}

/* The program being gathered from one root: steps in an order where each
 * reads only earlier ones, their operands (-(s+1) for step s's result, else
 * an index into ext), and the outside values they read. */
typedef struct Prog {
    const Graph *g;
    const int *uses;
    const Shape *shape;           /* the root's output shape: every step's */
    Node *step[FUSE_MAX_STEPS];
    int n_taken;                  /* steps taken, those still gathering their operands too */
    int arg[FUSE_MAX_STEPS][2];
    int n_steps;
    int ext[FUSE_MAX_STEPS * 2];
    int n_ext;
} Prog;

/* The operand reference of value v read by a step: the step computing it
 * when v's producer joins the tree (a step whose only reader is this one,
 * of the root's shape), else v as an outside input. */
static int prog_add(Prog *p, Node *n);
static int prog_operand(Prog *p, int v)
{
    Node *q = fuse_producer(p->g, v);
    if (q && p->uses[v] == 1 && p->n_taken < FUSE_MAX_STEPS && is_step(p->g, q) &&
        shape_equal(&ir_out(p->g, q, 0)->shape, p->shape))
        return prog_add(p, q);
    for (int k = 0; k < p->n_ext; k++)
        if (p->ext[k] == v)
            return k;
    p->ext[p->n_ext] = v;
    return p->n_ext++;
}

/* Adds n after the steps computing its operands; returns -(its index+1). */
static int prog_add(Prog *p, Node *n)
{
    int a[2] = {-1, -1};
    p->n_taken++;
    for (int i = 0; i < n->n_in; i++)
        a[i] = prog_operand(p, n->in[i]);
    int s = p->n_steps++;
    p->step[s] = n;
    p->arg[s][0] = a[0];
    p->arg[s][1] = a[1];
    return -(s + 1);
}

/* Operand reference r as the node's: input r, or step -(r+1) after the
 * n_ext inputs; -1 stays -1 (a unary step's second). */
static int64_t prog_ref(const Prog *p, int r, bool present)
{
    return !present ? -1 : r >= 0 ? r : p->n_ext + (-r - 1);
}

/* The root (p->step[n_steps-1]) becomes the FusedElementwise node; the
 * other steps die. Each step's float and int attributes are kept as
 * NAME_S (alpha_2: step 2's alpha). */
static void prog_rewrite(Graph *g, Prog *p)
{
    Node *root = p->step[p->n_steps - 1];
    Attr *old = root->attrs;
    int n_old = root->n_attr;
    const char **ops = arena_alloc(g->arena, sizeof(char *) * (size_t)p->n_steps);
    int64_t *args = arena_alloc(g->arena, sizeof(int64_t) * 2 * (size_t)p->n_steps);
    root->attrs = NULL;
    root->n_attr = 0;
    for (int s = 0; s < p->n_steps; s++) {
        Node *n = p->step[s];
        const Attr *at = n == root ? old : n->attrs;
        int n_at = n == root ? n_old : n->n_attr;
        ops[s] = op_info[n->op].name;
        args[2 * s] = prog_ref(p, p->arg[s][0], true);
        args[2 * s + 1] = prog_ref(p, p->arg[s][1], n->n_in > 1);
        for (int k = 0; k < n_at; k++) {
            if (at[k].type != ATTR_FLOAT && at[k].type != ATTR_INT)
                continue;
            char name[96];
            snprintf(name, sizeof name, "%s_%d", at[k].name, s);
            Attr *a = ir_node_set_attr(g, root, name, at[k].type);
            a->f = at[k].f;
            a->i = at[k].i;
        }
        if (n != root)
            n->dead = true;
    }
    Attr *a = ir_node_set_attr(g, root, "ops", ATTR_STRINGS);
    a->strings = ops;
    a->n = p->n_steps;
    a = ir_node_set_attr(g, root, "args", ATTR_INTS);
    a->ints = args;
    a->n = 2 * p->n_steps;
    fuse_become(root, OP_FusedElementwise);
    fuse_set_inputs(g, root, p->ext, p->n_ext);
}

/* pass_fuse_elementwise
 * requires: shapes inferred, Value.producer current; runs after
 *           fuse_activation, so a Gemm/Conv keeps its epilogue activation.
 * does:     from each f32 elementwise op (fuse_elementwise_arity) taken as
 *           the root, last to first, gathers the tree of elementwise ops
 *           feeding it whose outputs have only that reader (so never a graph
 *           output, the loss, a state update, or a value the backward pass
 *           reads) and have the root's shape; outside inputs may broadcast.
 *           A tree of two or more ops with at most FUSE_MAX_INPUTS outside
 *           inputs becomes one FusedElementwise node. It doesn't fire on
 *           f64/integer ops, ops that call libm (Exp, Tanh, Sigmoid, Erf, …:
 *           cheap_step), Clip, variadic Sum/Max/Min, or a value of another
 *           shape than the root's (a broadcast intermediate).
 * preserves: types, shapes, values (the same formulas, in f32 locals).
 * invalidates: nothing (the fused node stays where the root was). */
bool pass_fuse_elementwise(Graph *g, Diag *d)
{
    (void)d;
    ir_graph_link(g);
    int *uses = fuse_use_counts(g);
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        Node *n = g->nodes[k];
        if (!is_step(g, n))
            continue;
        Prog p = {.g = g, .uses = uses, .shape = &ir_out(g, n, 0)->shape};
        prog_add(&p, n);
        if (p.n_steps >= 2 && p.n_ext <= FUSE_MAX_INPUTS)
            prog_rewrite(g, &p);
    }
    ir_graph_link(g);
    return ir_graph_sort(g);
}
