/* ir.h — kiln's intermediate representation: a Graph of Nodes reading and
 * writing Values (typed, statically shaped tensors). Importers (onnx/, the
 * .kir parser) build it, passes rewrite it, sched/ and emit/ read it.
 * Every op is declared once, in ops.def. */
#ifndef KILN_IR_H
#define KILN_IR_H

#include "base.h"

/* dtype codes are ONNX TensorProto.DataType numbers. */
typedef enum DType {
    DT_UNDEF = 0,
    DT_F32 = 1,
    DT_U8 = 2,
    DT_I8 = 3,
    DT_U16 = 4,
    DT_I16 = 5,
    DT_I32 = 6,
    DT_I64 = 7,
    DT_STRING = 8,
    DT_BOOL = 9,
    DT_F16 = 10,
    DT_F64 = 11,
    DT_U32 = 12,
    DT_U64 = 13,
    DT_BF16 = 16, /* bfloat16, held as its bits like DT_F16; only Cast converts it */
} DType;

size_t dtype_size(DType t);          /* bytes per element; 0 if kiln can't hold it */
const char *dtype_name(DType t);     /* "f32", "i64", … as in .kir */
const char *dtype_ctype(DType t);    /* "float", "int64_t", … as in generated C */
DType dtype_from_name(const char *s); /* DT_UNDEF if unknown */
bool dtype_is_float(DType t);

/* Element k of dense data of dtype dt, converted as C converts. */
double tensor_get_f(DType dt, const void *data, int64_t k);
int64_t tensor_get_i(DType dt, const void *data, int64_t k);
void tensor_set_f(DType dt, void *data, int64_t k, double v);
void tensor_set_i(DType dt, void *data, int64_t k, int64_t v);

#define IR_MAX_RANK 8

/* A static shape. A symbolic dimension (from ONNX dim_param or "?" in .kir)
 * has dims[i] = -1 and sym[i] = its name (may be "" for an anonymous one). */
typedef struct Shape {
    int rank;
    int64_t dims[IR_MAX_RANK];
    const char *sym[IR_MAX_RANK];
} Shape;

int64_t shape_numel(const Shape *s);   /* -1 if any dim is symbolic */
bool shape_is_static(const Shape *s);
bool shape_equal(const Shape *a, const Shape *b);
/* Whether y, x summed over the dims y broadcasts along (numpy, aligned
 * right), keeps one contiguous run of x's dims: x viewed as [outer, mid,
 * inner] with y's elements the mid ones, summed over outer and inner (a bias
 * gradient: [N, C, H, W] -> [1, C, 1, 1] or [C]; all summed: mid = 1). */
bool shape_sum_split(const Shape *x, const Shape *y, int64_t *outer, int64_t *mid, int64_t *inner);
/* "1x3x32x32" style, "scalar" for rank 0; into buf. */
const char *shape_str(const Shape *s, char *buf, size_t n);

/* How a parameter gets its first value when the .kir file gives a rule
 * instead of data (Keras/PyTorch definitions; fan_in/fan_out as in
 * torch.nn.init._calculate_fan_in_and_fan_out). */
typedef enum InitRule {
    INIT_DATA = 0,      /* Value.data holds the values */
    INIT_ZEROS,
    INIT_ONES,
    INIT_GLOROT_UNIFORM,
    INIT_GLOROT_NORMAL,
    INIT_HE_UNIFORM,
    INIT_HE_NORMAL,
    INIT_UNIFORM,       /* U(-scale, scale) */
    INIT_NORMAL,        /* N(0, scale) */
} InitRule;

typedef enum ValueKind {
    VAL_ACT = 0,   /* computed by a node */
    VAL_INPUT,     /* a graph input the caller provides */
    VAL_CONST,     /* data known at compile time: initializer or folded */
    VAL_STATE,     /* lives in the workspace across calls (trainable parameters,
                      optimizer moments, running statistics, the learning rate);
                      data / init give its first value, set by P_init */
} ValueKind;

typedef struct Value {
    int id;
    const char *name;
    DType dtype;
    bool has_type;      /* dtype and shape are known (after shape inference) */
    Shape shape;
    ValueKind kind;
    bool is_param;      /* an initializer of the model (a weight), not a folded constant */
    bool is_output;     /* listed in Graph.outputs */
    bool trainable;     /* VAL_STATE updated by the optimizer */
    bool batch_major;   /* a graph input whose symbolic first dim --batch fixed */
    void *data;         /* VAL_CONST: dense row-major, numel * dtype_size bytes */
    InitRule init;      /* for params without data (.kir init rules) */
    double init_scale;
    uint64_t init_seed;
    int producer;       /* node id, or -1 */
} Value;

typedef enum AttrType {
    ATTR_UNDEF = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
} AttrType; /* ONNX AttributeProto.AttributeType numbers */

/* A constant tensor held by an attribute (Constant's value, …). */
typedef struct Tensor {
    DType dtype;
    Shape shape;
    void *data;
} Tensor;

typedef struct Attr {
    const char *name;
    AttrType type;
    int64_t i;
    double f;
    const char *s;      /* ATTR_STRING (NUL-terminated; ONNX strings are bytes) */
    int n;              /* count for ATTR_INTS / ATTR_FLOATS / ATTR_STRINGS */
    int64_t *ints;
    double *floats;
    const char **strings;
    Tensor *t;          /* ATTR_TENSOR */
} Attr;

typedef enum OpKind {
    OP_UNKNOWN = 0,
#define OP(name, min_in, max_in, min_out, max_out, ...) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

typedef struct OpInfo {
    const char *name;
    const char *domain;  /* "" for ONNX's default domain, "kiln" for kiln's own ops */
    int min_in, max_in, min_out, max_out; /* max -1: variadic */
} OpInfo;
extern const OpInfo op_info[OP_COUNT];
OpKind op_from_name(const char *name); /* an ONNX default-domain op; OP_UNKNOWN if none */
OpKind op_lookup(const char *domain, const char *name); /* any domain ("kiln" for kiln's own) */

typedef struct Node {
    int id;
    OpKind op;
    const char *name;     /* the ONNX node name, or a made-up "<op>_<id>" */
    const char *op_name;  /* the op as spelled in the model (for errors about unknown ops) */
    const char *domain;   /* "" for the default ONNX domain */
    int opset;            /* the opset version of the node's domain */
    int n_in, n_out;
    int *in;              /* value ids; -1 for an omitted optional input */
    int *out;             /* value ids; -1 for an omitted optional output */
    int n_attr;
    Attr *attrs;
    bool dead;            /* removed; skipped by every walk */
} Node;

/* The run-time batch (pass/batch_rows.c): with --batch N on a symbolic first
 * dim, the generated entry points take the actual batch nb <= N; values keep
 * their N rows and rows nb..N-1 are padding. */
typedef struct BatchInfo {
    int64_t max;           /* N; 0 when the batch is fixed at compile time */
    const char *fallback;  /* why nb must equal N (rows mix unhandled), or NULL */
    signed char *axis;     /* per value id: its batch axis, -1 for none */
    bool *rows;            /* per node id: the kernel reduces over the batch and
                              takes nb (k_*.c: emit_batch) */
} BatchInfo;

typedef struct Graph {
    Arena *arena;
    const char *name;
    const char *producer;  /* "pytorch 1.13.0" */
    const char *file;      /* the model file, for messages */
    int opset;             /* default-domain opset */
    int n_values, cap_values;
    Value **values;
    int n_nodes, cap_nodes;
    Node **nodes;
    int n_inputs, cap_inputs;
    int *inputs;           /* VAL_INPUT values, in graph order */
    int n_outputs, cap_outputs;
    int *outputs;
    /* Training (pass/training.c): the training step reads train_inputs (the
     * inputs above, then the labels kiln added), returns the value train_loss,
     * and after each step sets every assigns[k].state to assigns[k].value. */
    int n_train_inputs, cap_train_inputs;
    int *train_inputs;
    int train_loss;        /* value id, -1 when the graph doesn't train */
    int n_assigns, cap_assigns;
    struct Assign {
        int state, value;
    } *assigns;
    BatchInfo batch;       /* set by pass_batch_rows */
} Graph;

typedef struct Assign Assign;

Graph *ir_graph_new(Arena *a);
/* Adds a value; the name is copied. Names are unique within a graph: the
 * caller checks with ir_graph_find_value first where a duplicate is the
 * user's error. */
Value *ir_graph_add_value(Graph *g, const char *name);
/* A fresh value named after base with a unique suffix. */
Value *ir_graph_add_temp(Graph *g, const char *base);
Value *ir_graph_find_value(const Graph *g, const char *name); /* NULL if none */
/* Adds a node; in/out arrays are copied (use -1 for omitted optionals). */
Node *ir_graph_add_node(Graph *g, OpKind op, const char *name, const int *in, int n_in,
                        const int *out, int n_out);
void ir_graph_add_input(Graph *g, int value_id);
void ir_graph_add_output(Graph *g, int value_id);
/* Recomputes Value.producer from the live nodes. */
void ir_graph_link(Graph *g);
/* Node ids of live nodes in a topological order (producers first), stable
 * with respect to the current node order. Returns false (with *n = number
 * sorted) if the graph has a cycle. Allocated in the graph's arena. */
bool ir_graph_topo(const Graph *g, int **order, int *n);
/* Reorders g->nodes topologically; false if there is a cycle. */
bool ir_graph_sort(Graph *g);

static inline Value *ir_in(const Graph *g, const Node *n, int i)
{
    return (i < n->n_in && n->in[i] >= 0) ? g->values[n->in[i]] : NULL;
}
static inline Value *ir_out(const Graph *g, const Node *n, int i)
{
    return (i < n->n_out && n->out[i] >= 0) ? g->values[n->out[i]] : NULL;
}

/* Attributes. */
const Attr *ir_attr(const Node *n, const char *name);            /* NULL if absent */
int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt);
double ir_attr_float(const Node *n, const char *name, double dflt);
const char *ir_attr_str(const Node *n, const char *name, const char *dflt);
Attr *ir_node_set_attr(Graph *g, Node *n, const char *name, AttrType type); /* add or replace */

/* Sets v to a compile-time constant (copies data). */
void ir_value_set_const(Graph *g, Value *v, DType dt, const Shape *s, const void *data);

/* The shape input i of an elementwise op broadcasts from: its own shape, or
 * for opset < 7 the legacy forms (B placed at attribute 'axis' when
 * broadcast=1; PRelu's 1-D slope along the channel dim), padded to input 0's
 * rank. Shape rules, folds, gradients and kernels of that family share it. */
void ir_elem_operand_shape(const Graph *g, const Node *n, int i, Shape *s);

/* Diagnostics about a node: "FILE: node 'NAME' (OP, opset N): problem". */
void ir_node_error(Diag *d, const Node *n, const char *fmt, ...) KILN_PRINTF(3, 4);

/* Checks the structural invariants every pass must keep (ids in range, one
 * producer per value, arities within the op table, no cycles, typed values
 * after shape inference if want_types). Kiln bugs: false + a message in d. */
bool ir_verify(const Graph *g, bool want_types, Diag *d);

/* The .kir text format (compiler/ir/text.c). */
void ir_print(const Graph *g, StrBuf *out);
Graph *ir_parse(Arena *a, const char *text, size_t len, const char *file, Diag *d);

#endif
