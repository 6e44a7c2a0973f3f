/* test_ir.c — unit test of the IR: .kir printing and parsing (lossless round
 * trips, the hand-written files in tests/unit/data/kir, exact error texts,
 * robustness on mangled input), ir_verify and pass_init_params.
 * Usage: test_ir DIR. Prints every failure; exits 1 if there was one. */
#include "ir.h"
#include "pass.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            failures++;                                                           \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* ---------------------------------- helpers ---------------------------------- */

static char *print_graph(const Graph *g)
{
    StrBuf sb = {0};
    ir_print(g, &sb);
    return sb.buf; /* malloc'ed; free() it */
}

static Graph *parse_text(Arena *a, const char *text, const char *file, Diag *d)
{
    memset(d, 0, sizeof *d);
    return ir_parse(a, text, strlen(text), file, d);
}

/* The first line where a and b differ, for failure messages. */
static void show_diff(const char *a, const char *b)
{
    int line = 1;
    while (*a && *a == *b) {
        line += *a == '\n';
        a++;
        b++;
    }
    while (line > 1 && a[-1] != '\n') /* back to the start of the line */
        a--, b--;
    fprintf(stderr, "  first difference at line %d:\n  < %.*s\n  > %.*s\n", line,
            (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* print → parse → print; the two texts must be byte-identical. */
static Graph *roundtrip(Arena *a, const Graph *g, const char *what)
{
    char *s1 = print_graph(g);
    Diag d;
    Graph *g2 = parse_text(a, s1, what, &d);
    CHECK(g2 != NULL, "%s: printed text does not parse: %s", what, d.msg);
    if (g2) {
        char *s2 = print_graph(g2);
        CHECK(strcmp(s1, s2) == 0, "%s: print -> parse -> print differs", what);
        if (strcmp(s1, s2) != 0)
            show_diff(s1, s2);
        free(s2);
    }
    free(s1);
    return g2;
}

static Value *typed_value(Graph *g, const char *name, DType dt, int rank, const int64_t *dims)
{
    Value *v = ir_graph_add_value(g, name);
    v->has_type = true;
    v->dtype = dt;
    v->shape.rank = rank;
    for (int i = 0; i < rank; i++)
        v->shape.dims[i] = dims[i];
    return v;
}

static Value *const_value(Graph *g, const char *name, DType dt, int64_t n, const void *data)
{
    Value *v = ir_graph_add_value(g, name);
    Shape s = {.rank = 1, .dims = {n}};
    ir_value_set_const(g, v, dt, &s, data);
    return v;
}

static Node *add_node(Graph *g, OpKind op, const char *name, const int *in, int n_in, const int *out,
                      int n_out)
{
    return ir_graph_add_node(g, op, name, in, n_in, out, n_out);
}

/* ------------------------- comparing two graphs exactly ------------------------- */

static const char *sym(const char *s)
{
    return s ? s : "";
}

static bool same_shape(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i] || (a->dims[i] < 0 && strcmp(sym(a->sym[i]), sym(b->sym[i]))))
            return false;
    return true;
}

static bool same_tensor(const Tensor *a, const Tensor *b)
{
    int64_t n = shape_numel(&a->shape);
    return a->dtype == b->dtype && same_shape(&a->shape, &b->shape) &&
           memcmp(a->data, b->data, (size_t)n * dtype_size(a->dtype)) == 0;
}

static bool same_attr(const Attr *a, const Attr *b)
{
    if (strcmp(a->name, b->name) || a->type != b->type)
        return false;
    switch (a->type) {
    case ATTR_INT: return a->i == b->i;
    case ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case ATTR_STRING: return strcmp(a->s, b->s) == 0;
    case ATTR_INTS: return a->n == b->n && (!a->n || !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n));
    case ATTR_FLOATS: return a->n == b->n && (!a->n || !memcmp(a->floats, b->floats, sizeof(double) * (size_t)a->n));
    case ATTR_STRINGS:
        for (int k = 0; k < a->n && a->n == b->n; k++)
            if (strcmp(a->strings[k], b->strings[k]))
                return false;
        return a->n == b->n;
    case ATTR_TENSOR: return same_tensor(a->t, b->t);
    default: return false;
    }
}

static bool same_value(const Value *a, const Value *b)
{
    if (a->kind != b->kind || a->is_param != b->is_param || a->has_type != b->has_type ||
        a->is_output != b->is_output || a->init != b->init || a->init_seed != b->init_seed ||
        memcmp(&a->init_scale, &b->init_scale, sizeof(double)) != 0)
        return false;
    if (a->has_type && (a->dtype != b->dtype || !same_shape(&a->shape, &b->shape)))
        return false;
    if (!a->data || !b->data)
        return !a->data == !b->data;
    int64_t n = shape_numel(&a->shape);
    return memcmp(a->data, b->data, (size_t)n * dtype_size(a->dtype)) == 0;
}

static const char *ref_name(const Graph *g, int id)
{
    return id < 0 ? "_" : g->values[id]->name;
}

static void check_same_node(const Graph *g, const Node *a, const Graph *g2, const Node *b)
{
    CHECK(strcmp(a->name, b->name) == 0 && a->op == b->op && strcmp(a->op_name, b->op_name) == 0 &&
              strcmp(a->domain, b->domain) == 0 && a->opset == b->opset,
          "node '%s' differs in name, op, domain or opset", a->name);
    CHECK(a->n_in == b->n_in && a->n_out == b->n_out && a->n_attr == b->n_attr,
          "node '%s' differs in arity or attribute count", a->name);
    for (int k = 0; k < a->n_in && k < b->n_in; k++)
        CHECK(strcmp(ref_name(g, a->in[k]), ref_name(g2, b->in[k])) == 0, "node '%s' input %d", a->name, k);
    for (int k = 0; k < a->n_out && k < b->n_out; k++)
        CHECK(strcmp(ref_name(g, a->out[k]), ref_name(g2, b->out[k])) == 0, "node '%s' output %d", a->name, k);
    for (int k = 0; k < a->n_attr && k < b->n_attr; k++)
        CHECK(same_attr(&a->attrs[k], &b->attrs[k]), "node '%s' attribute '%s'", a->name, a->attrs[k].name);
}

/* g2 (read back) holds exactly what g holds, bit for bit. */
static void check_same_graph(const Graph *g, const Graph *g2)
{
    CHECK(strcmp(g->name, g2->name) == 0 && strcmp(g->producer, g2->producer) == 0 && g->opset == g2->opset,
          "graph header differs");
    CHECK(g->n_inputs == g2->n_inputs && g->n_outputs == g2->n_outputs, "graph input/output count");
    for (int i = 0; i < g->n_inputs && i < g2->n_inputs; i++)
        CHECK(strcmp(ref_name(g, g->inputs[i]), ref_name(g2, g2->inputs[i])) == 0, "graph input %d", i);
    for (int i = 0; i < g->n_outputs && i < g2->n_outputs; i++)
        CHECK(strcmp(ref_name(g, g->outputs[i]), ref_name(g2, g2->outputs[i])) == 0, "graph output %d", i);
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i], *v2 = ir_graph_find_value(g2, v->name);
        if (v->kind == VAL_ACT && v->producer < 0 && !v->is_output)
            continue; /* only read by dead nodes: not printed */
        CHECK(v2 && same_value(v, v2), "value %%%s differs after the round trip", v->name);
    }
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->dead)
            continue;
        CHECK(k < g2->n_nodes, "node '%s' is missing", g->nodes[i]->name);
        if (k < g2->n_nodes)
            check_same_node(g, g->nodes[i], g2, g2->nodes[k]);
        k++;
    }
    CHECK(k == g2->n_nodes, "%d nodes read back, expected %d", g2->n_nodes, k);
}

/* -------------------------- a graph built through ir.h -------------------------- */

static void add_float_consts(Graph *g)
{
    static const uint32_t f32[] = {
        0x7fc00000, 0xffc00000, 0x7fc00001, 0x7f800001, /* nan, -nan, payloads */
        0x7f800000, 0xff800000, 0x80000000, 0x3dcccccd, /* inf, -inf, -0.0, 0.1 */
        0x00000001, 0x7f7fffff, 0x4b800000, 0x3f800000, /* denormal, max, 2^24, 1 */
        0x40400000, 0xbf9d70a4, 0x33d6bf95, 0x49742400, /* 3, -1.23, 1e-7, 1e6 */
        0x3eaaaaab,                                     /* 1/3: wraps the line */
    };
    static const uint64_t f64[] = {0x400921fb54442d18, 0x7e37e43c8800759c, 0x8000000000000000,
                                   0x0000000000000001, 0x7ff8000000000001, 0x3fb999999999999a,
                                   0xfff8000000000000, 0x3ff0000000000000};
    static const uint16_t f16[] = {0x3c00, 0x7e00, 0xfe00, 0x7c01, 0x0001, 0x7bff,
                                   0x8000, 0x2e66, 0x5640, 0xfc00, 0x03ff};
    const_value(g, "f32s", DT_F32, sizeof f32 / 4, f32);
    const_value(g, "f64s", DT_F64, sizeof f64 / 8, f64);
    Value *h = const_value(g, "f16s", DT_F16, sizeof f16 / 2, f16);
    h->is_param = true;
    float one = 1.5f;
    Shape scalar = {0};
    ir_value_set_const(g, ir_graph_add_value(g, "scalar"), DT_F32, &scalar, &one);
    const_value(g, "empty", DT_I64, 0, NULL);
}

static void add_int_consts(Graph *g)
{
    static const int8_t i8[] = {-128, 127, 0};
    static const uint8_t u8[] = {255, 0};
    static const int16_t i16[] = {-32768, 32767};
    static const uint16_t u16[] = {65535};
    static const int32_t i32[] = {INT32_MIN, INT32_MAX};
    static const uint32_t u32[] = {UINT32_MAX};
    static const int64_t i64[] = {INT64_MIN, INT64_MAX, -1};
    static const uint64_t u64[] = {UINT64_MAX};
    static const uint8_t b[] = {0, 1, 1};
    const_value(g, "i8", DT_I8, 3, i8);
    const_value(g, "u8", DT_U8, 2, u8);
    const_value(g, "i16", DT_I16, 2, i16);
    const_value(g, "u16", DT_U16, 1, u16);
    const_value(g, "i32", DT_I32, 2, i32);
    const_value(g, "u32", DT_U32, 1, u32);
    const_value(g, "i64", DT_I64, 3, i64);
    const_value(g, "u64", DT_U64, 1, u64);
    const_value(g, "bools", DT_BOOL, 3, b);
}

static void add_params(Graph *g)
{
    static const int64_t dims[] = {4, 3, 2, 2};
    for (int r = INIT_ZEROS; r <= INIT_NORMAL; r++) {
        char name[32];
        snprintf(name, sizeof name, "p%d", r);
        Value *v = typed_value(g, name, r % 2 ? DT_F32 : DT_F64, 1 + r % 4, dims);
        v->kind = VAL_CONST;
        v->is_param = true;
        v->init = (InitRule)r;
        v->init_seed = (uint64_t)r * 7 % 3;
        v->init_scale = r == INIT_UNIFORM ? 0.05 : r == INIT_NORMAL ? (double)0.01f : 0;
    }
    Value *big = typed_value(g, "seeded", DT_F32, 2, dims);
    big->kind = VAL_CONST;
    big->is_param = true;
    big->init = INIT_HE_UNIFORM;
    big->init_seed = UINT64_MAX;
    Value *nodata = typed_value(g, "nodata", DT_F32, 2, dims);
    nodata->kind = VAL_CONST;
    nodata->is_param = true;
}

static void add_all_attrs(Graph *g, Node *n)
{
    static int64_t ints[] = {1, -2, INT64_MAX};
    static double floats[] = {0.5, -0.0, 1e-300, (double)0.2f, NAN, -INFINITY};
    static const char *strings[] = {"a", "", "quote\" back\\ nl\n tab\t bell\x07 utf8 \xc3\xa9"};
    static const int64_t tdata[] = {1, 2, 3, 4, 5, 6};
    Tensor *t = arena_alloc(g->arena, sizeof *t);
    *t = (Tensor){.dtype = DT_I64, .shape = {.rank = 2, .dims = {2, 3}}, .data = (void *)tdata};
    ir_node_set_attr(g, n, "i", ATTR_INT)->i = INT64_MIN;
    ir_node_set_attr(g, n, "f", ATTR_FLOAT)->f = (double)1e-5f;
    ir_node_set_attr(g, n, "d", ATTR_FLOAT)->f = 0.1;
    ir_node_set_attr(g, n, "whole", ATTR_FLOAT)->f = 2.0;
    ir_node_set_attr(g, n, "s", ATTR_STRING)->s = strings[2];
    Attr *a = ir_node_set_attr(g, n, "ints", ATTR_INTS);
    a->n = 3, a->ints = ints;
    a = ir_node_set_attr(g, n, "floats", ATTR_FLOATS);
    a->n = 6, a->floats = floats;
    a = ir_node_set_attr(g, n, "strings", ATTR_STRINGS);
    a->n = 3, a->strings = strings;
    ir_node_set_attr(g, n, "no_ints", ATTR_INTS);
    ir_node_set_attr(g, n, "no_floats", ATTR_FLOATS);
    ir_node_set_attr(g, n, "no_strings", ATTR_STRINGS);
    ir_node_set_attr(g, n, "tensor", ATTR_TENSOR)->t = t;
    float *wide = arena_alloc(g->arena, 20 * sizeof *wide);
    for (int k = 0; k < 20; k++)
        wide[k] = (float)k;
    t = arena_alloc(g->arena, sizeof *t);
    *t = (Tensor){.dtype = DT_F32, .shape = {.rank = 1, .dims = {20}}, .data = wide};
    ir_node_set_attr(g, n, "wide", ATTR_TENSOR)->t = t;
    ir_node_set_attr(g, n, "odd name", ATTR_INT)->i = 0;
}

static Graph *build_graph(Arena *a)
{
    Graph *g = ir_graph_new(a);
    g->name = "built \"graph\"";
    g->producer = "test_ir 1.0";
    g->opset = 13;
    Value *x = typed_value(g, "weird name", DT_F32, 3, (int64_t[]){-1, -1, 8});
    x->shape.sym[0] = "N";
    x->shape.sym[1] = "batch size"; /* needs quotes */
    ir_graph_add_input(g, x->id);
    Value *x2 = ir_graph_add_value(g, "in:"); /* untyped; ends in ':' */
    ir_graph_add_input(g, x2->id);
    add_float_consts(g);
    add_int_consts(g);
    add_params(g);
    Value *w = ir_graph_find_value(g, "p3"), *b = ir_graph_find_value(g, "p2");
    Value *h = typed_value(g, "/fc/Gemm_output_0", DT_F32, 2, (int64_t[]){-1, 4});
    Value *y = ir_graph_add_value(g, "y"), *r = ir_graph_add_value(g, "r");
    Value *mask = ir_graph_add_value(g, "mask"), *dead = ir_graph_add_value(g, "dead");
    Value *lab = ir_graph_add_value(g, ""), *c = ir_graph_add_value(g, "c");
    /* "d" reads %r before "relu" defines it: node order is kept, not sorted */
    OpKind dropout = op_from_name("Dropout"); /* known or not, it reads back the same */
    Node *n = add_node(g, dropout, "d", (int[]){r->id, -1, -1}, 3, (int[]){y->id, -1}, 2);
    n->op_name = "Dropout";
    n->opset = 12;
    add_all_attrs(g, add_node(g, OP_Gemm, "/fc/Gemm", (int[]){x->id, w->id, b->id}, 3, (int[]){h->id}, 1));
    add_node(g, OP_Relu, "relu", (int[]){h->id}, 1, (int[]){r->id}, 1);
    add_node(g, OP_Relu, "gone", (int[]){h->id}, 1, (int[]){dead->id}, 1)->dead = true;
    n = add_node(g, OP_UNKNOWN, "", (int[]){y->id, x2->id}, 2, (int[]){lab->id, mask->id}, 2);
    n->op_name = "TreeEnsembleClassifier";
    n->domain = "ai.onnx.ml";
    n->opset = 3;
    n = add_node(g, OP_UNKNOWN, "sink", (int[]){lab->id}, 1, NULL, 0);
    n->op_name = "Print op";
    n->domain = "my domain";
    add_node(g, OP_Constant, "k", NULL, 0, (int[]){c->id}, 1);
    ir_graph_add_output(g, y->id);
    ir_graph_add_output(g, x->id);
    ir_graph_add_output(g, c->id);
    ir_graph_link(g); /* %dead loses its (dead) producer */
    return g;
}

static void test_built_graph(void)
{
    Arena *a = arena_new();
    Graph *g = build_graph(a);
    char *text = print_graph(g);
    CHECK(!strstr(text, "gone"), "a dead node was printed");
    CHECK(strstr(text, "%\"weird name\" : f32[N, \"batch size\", 8]"), "quoted names:\n%s", text);
    CHECK(strstr(text, " = [\n    nan, -nan, nan(0x7fc00001), nan(0x7f800001), inf, -inf, -0.0, 0.1,\n"),
          "f32 specials:\n%s", text);
    CHECK(strstr(text, " = Dropout(%r, _, _) opset 12\n"), "omitted optionals / opset:\n%s", text);
    CHECK(strstr(text, "    f = 1e-05f,\n    d = 0.1,\n    whole = 2.0,\n"), "attribute floats:\n%s", text);
    CHECK(strstr(text, "    no_ints = ints [],\n    no_floats = floats [],\n    no_strings = strings [],\n"),
          "empty lists:\n%s", text);
    CHECK(strstr(text, "    wide = f32[20] [\n        0.0, 1.0,"), "a wrapped tensor attribute:\n%s", text);
    CHECK(strstr(text, "param  %p8 : f64[4] = normal(scale=0.01f, seed=2)\n"), "init rules:\n%s", text);
    CHECK(strstr(text, "param  %p7 : f32[4, 3, 2, 2] = uniform(scale=0.05, seed=1)\n"), "init rules:\n%s", text);
    CHECK(strstr(text, "param  %nodata : f32[4, 3]\n"), "param without data:\n%s", text);
    CHECK(strstr(text, "ai.onnx.ml::TreeEnsembleClassifier(%y, %\"in:\") opset 3\n"), "domain op:\n%s", text);
    Graph *g2 = roundtrip(a, g, "built.kir");
    if (g2)
        check_same_graph(g, g2);
    CHECK(ir_verify(g2, false, &(Diag){0}), "the read-back graph does not verify");
    free(text);
    arena_free(a);
}

/* ------------------------------ the files in DIR ------------------------------ */

static char *read_text(const char *path)
{
    size_t len;
    char *buf = file_read_all(path, &len);
    if (!buf)
        return NULL;
    char *s = malloc(len + 1);
    memcpy(s, buf, len);
    s[len] = '\0';
    free(buf);
    return s;
}

static void check_mlp(const Graph *g)
{
    CHECK(g->n_inputs == 1 && g->n_outputs == 1 && g->n_nodes == 4 && g->opset == 13, "mlp.kir counts");
    const Value *w = ir_graph_find_value(g, "fc1.weight"), *r = ir_graph_find_value(g, "r");
    CHECK(w && w->kind == VAL_CONST && w->is_param && !w->data && w->init == INIT_GLOROT_UNIFORM &&
              w->init_seed == 1 && w->shape.dims[1] == 784,
          "mlp.kir: %%fc1.weight");
    CHECK(r && r->has_type && r->shape.dims[0] == -1 && strcmp(r->shape.sym[0], "N") == 0, "mlp.kir: %%r");
    const Node *n = g->nodes[0];
    CHECK(n->op == OP_Gemm && ir_attr_int(n, "transB", 0) == 1 && ir_attr(n, "alpha")->type == ATTR_FLOAT,
          "mlp.kir: /fc1/Gemm");
}

static void check_handwritten(const Graph *g)
{
    CHECK(strcmp(g->nodes[0]->name, "Add_0") == 0 && g->nodes[1]->op == OP_Relu, "handwritten.kir: nodes");
    const Value *b = ir_graph_find_value(g, "b"), *half = ir_graph_find_value(g, "half");
    CHECK(b && b->has_type && b->shape.rank == 2, "handwritten.kir: %%b typed");
    static const uint16_t want[] = {0x3800, 0xc000, 0x7bff, 0x0001};
    CHECK(half && half->data && memcmp(half->data, want, sizeof want) == 0, "handwritten.kir: f16 data");
    const Value *big = ir_graph_find_value(g, "big");
    CHECK(big && ((const uint64_t *)big->data)[0] == UINT64_MAX && ((const uint64_t *)big->data)[1] == 16,
          "handwritten.kir: u64 data");
}

static void check_domain_ops(const Graph *g)
{
    const Node *t = g->nodes[2], *c = g->nodes[3];
    CHECK(t->op == OP_UNKNOWN && strcmp(t->domain, "ai.onnx.ml") == 0 && t->opset == 3 &&
              strcmp(t->op_name, "TreeEnsembleClassifier") == 0 && t->n_out == 2,
          "domain_ops.kir: trees");
    const Attr *a = ir_attr(t, "nodes_values"), *e = ir_attr(t, "base_values");
    CHECK(a && a->type == ATTR_FLOATS && a->floats[0] == (double)0.5f && e && e->type == ATTR_FLOATS && e->n == 0,
          "domain_ops.kir: float lists");
    CHECK(strcmp(c->domain, "com.example.custom") == 0 && strcmp(c->op_name, "My Op") == 0 &&
              strcmp(ir_attr_str(c, "odd name", ""), "a\tb\"c\\") == 0,
          "domain_ops.kir: quoted op and attribute");
    CHECK(g->nodes[1]->n_in == 3 && g->nodes[1]->in[1] == -1 && g->nodes[1]->out[1] == -1,
          "domain_ops.kir: omitted optionals");
}

/* Parses one file; canonical files (as ir_print writes them) must print back
 * byte-identical, the others must at least round-trip. */
static void test_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = read_text(path);
    CHECK(text != NULL, "can't read %s", path);
    if (!text)
        return;
    Arena *a = arena_new();
    Diag d;
    Graph *g = parse_text(a, text, name, &d);
    CHECK(g != NULL, "%s", d.msg);
    if (g) {
        CHECK(ir_verify(g, false, &d), "%s: %s", name, d.msg);
        char *s = print_graph(g);
        if (strncmp(text, "# kiln IR v1\n", 13) == 0) {
            CHECK(strcmp(s, text) == 0, "%s is canonical but prints differently", name);
            if (strcmp(s, text) != 0)
                show_diff(text, s);
        }
        free(s);
        Graph *g2 = roundtrip(a, g, name);
        if (g2)
            check_same_graph(g, g2);
        if (!strcmp(name, "mlp.kir"))
            check_mlp(g);
        if (!strcmp(name, "handwritten.kir"))
            check_handwritten(g);
        if (!strcmp(name, "domain_ops.kir"))
            check_domain_ops(g);
    }
    arena_free(a);
    free(text);
}

static int test_files(const char *dir)
{
    DIR *dp = opendir(dir);
    CHECK(dp != NULL, "can't open %s", dir);
    if (!dp)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".kir") == 0) {
            test_file(dir, e->d_name);
            n++;
        }
    }
    closedir(dp);
    CHECK(n >= 4, "only %d .kir files in %s", n, dir);
    return n;
}

/* ---------------------------------- errors ---------------------------------- */

#define HDR "graph g opset 13\n"

static const struct {
    const char *text, *msg;
} bad_inputs[] = {
    {"", "bad.kir:1:1: expected the graph header: graph \"NAME\" opset N"},
    {"graph \"g\"\ninput %x : f32[2]\n", "bad.kir:2:1: expected 'opset N' in the graph header"},
    {"graph \"g opset 13\n", "bad.kir:1:7: unterminated string"},
    {"graph \"a\\qb\" opset 13\n", "bad.kir:1:9: bad escape in string (use \\\\ \\\" \\n \\t \\r or \\xHH, not \\x00)"},
    {HDR "@", "bad.kir:2:1: unexpected character '@'"},
    {HDR "foo\n", "bad.kir:2:1: expected input, param, const, node or output"},
    {HDR "input %x : f32[2]\n%y = Relu(%x %x)\n", "bad.kir:3:14: expected ')' after inputs"},
    {HDR "%y = Relu(%x)\noutput %y\n", "bad.kir:2:11: undefined value %x"},
    {HDR "input %x : f32[2]\ninput %x : f32[3]\n", "bad.kir:3:7: value %x defined twice (first at 2:7)"},
    {HDR "input %x : f31[2]\n", "bad.kir:2:12: unknown dtype 'f31'"},
    {HDR "input %x:f32[2]\n", "bad.kir:2:13: expected ':' and a type (a ':' touching a name is part of it)"},
    {HDR "input %x : f32[-1]\n", "bad.kir:2:16: a dim can't be negative; write ? or a name for an unknown dim"},
    {HDR "input %x : f32[9223372036854775807]\n", "bad.kir:2:12: f32[9223372036854775807] is too large"},
    {HDR "input %x : f32[1,2,3,4,5,6,7,8,9]\n", "bad.kir:2:32: more than 8 dims"},
    {HDR "const %c : f32[2, 2] = [1, 2, 3]\n", "bad.kir:2:24: 3 values for f32[2, 2], which holds 4"},
    {HDR "const %c : f32[2, 2] = [1, 2, 3, 4, 5]\n", "bad.kir:2:37: more than 4 values for f32[2, 2]"},
    {HDR "const %c : u8[1] = [256]\n", "bad.kir:2:21: 256 is out of range for u8"},
    {HDR "const %c : i64[1] = [1.5]\n", "bad.kir:2:22: expected an integer for i64"},
    {HDR "const %c : f32[1] = [1e39]\n", "bad.kir:2:22: 1e39 is out of range for f32"},
    {HDR "const %c : f32[1] = [nan(0x1)]\n", "bad.kir:2:22: nan(0x1) is not the bits of an f32 nan"},
    {HDR "const %c : f32[N] = [1]\n", "bad.kir:2:21: data needs a static shape, not f32[N]"},
    {HDR "param %w : f32[2] = glorot(seed=1)\n",
     "bad.kir:2:21: unknown init rule (expected zeros, ones, glorot_uniform, glorot_normal, he_uniform, "
     "he_normal, uniform or normal)"},
    {HDR "param %w : i64[2] = zeros\n", "bad.kir:2:21: init rule zeros needs an f32 or f64 value, not i64"},
    {HDR "param %w : f32[2] = normal(seed=-1)\n", "bad.kir:2:33: seed must be a non-negative integer"},
    {HDR "input %x : f32[2]\n%y = Relu(%x) {a = 1, a = 2}\n", "bad.kir:3:23: attribute 'a' given twice"},
    {HDR "input %x : f32[2]\n%y = Relu(%x) {a = []}\n",
     "bad.kir:3:20: an empty list needs its type: ints [], floats [] or strings []"},
    {HDR "input %x : f32[2]\n%y = Relu(%x) {a = [1, \"s\"]}\n", "bad.kir:3:24: expected a number"},
    {HDR "input %x : f32[2]\n%y = Relu(%x) {mode = constant}\n",
     "bad.kir:3:23: expected an attribute value (strings are quoted)"},
    {HDR "input %x : f32[2]\n%y = Relu(%x, %x)\n", "bad.kir:3:6: Relu takes 1 input, got 2"},
    {HDR "input %x : f32[2]\n%y = Gemm(%x)\n", "bad.kir:3:6: Gemm takes 2 to 3 inputs, got 1"},
    {HDR "input %x : f32[2]\nnode \"r\" Relu(%x)\n", "bad.kir:3:10: expected an output (%name or _)"},
    {HDR "input %x : f32[2]\n%y Relu(%x)\n", "bad.kir:3:4: expected '=' after the node's outputs"},
    {HDR "input %x : f32[2]\n%y = Relu %x\n", "bad.kir:3:11: expected '(' after the op name"},
    {HDR "graph h opset 1\n", "bad.kir:2:1: the graph header must come first, and only once"},
    {HDR "const %c : i64[1] = [99999999999999999999]\n", "bad.kir:2:22: integer 99999999999999999999 is too large"},
    {HDR "const %c : f32[1] = [12abc]\n", "bad.kir:2:22: invalid number '12abc'"},
    {HDR "output %\n", "bad.kir:2:8: expected a name after '%'"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof bad_inputs / sizeof bad_inputs[0]; i++) {
        Arena *a = arena_new();
        Diag d;
        Graph *g = parse_text(a, bad_inputs[i].text, "bad.kir", &d);
        CHECK(g == NULL && d.errors == 1 && strcmp(d.msg, bad_inputs[i].msg) == 0,
              "bad input %zu:\n  got  %s\n  want %s", i, g ? "(parsed)" : d.msg, bad_inputs[i].msg);
        arena_free(a);
    }
    /* the parser must not need the Diag's file and must leave it alone */
    Arena *a = arena_new();
    Diag d = {.file = "kept"};
    CHECK(!ir_parse(a, "graph", 5, NULL, &d) && strcmp(d.msg, "kept:1:6: expected the graph's name after 'graph'") == 0 &&
              strcmp(d.file, "kept") == 0,
          "NULL file: %s", d.msg);
    arena_free(a);
}

/* Every prefix and many one-byte mutations of a file: no crash, and a text
 * that parses must round-trip; a failure must be one FILE:LINE:COL line. */
static void fuzz_one(const char *text, size_t len)
{
    Arena *a = arena_new();
    Diag d = {0};
    Graph *g = ir_parse(a, text, len, "fuzz.kir", &d);
    if (g) {
        roundtrip(a, g, "fuzz.kir");
    } else {
        int line, col;
        CHECK(sscanf(d.msg, "fuzz.kir:%d:%d: ", &line, &col) == 2 && !strchr(d.msg, '\n'),
              "fuzz message: %s", d.msg);
    }
    arena_free(a);
}

static void test_mangled(const char *dir)
{
    static const char *files[] = {"attrs.kir", "domain_ops.kir", "handwritten.kir"};
    static const char bytes[] = "\"%[]{}(),=:_-#\\x0.e\n \0\xff";
    uint64_t seed = 42;
    for (int f = 0; f < 3; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        char *text = read_text(path);
        if (!text)
            continue;
        size_t len = strlen(text);
        for (size_t n = 0; n <= len; n++)
            fuzz_one(text, n);
        char *m = malloc(len);
        for (int i = 0; i < 3000; i++) {
            memcpy(m, text, len);
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            m[(seed >> 33) % len] = bytes[(seed >> 17) % (sizeof bytes - 1)];
            fuzz_one(m, len);
        }
        free(m);
        free(text);
    }
}

/* ---------------------------------- ir_verify ---------------------------------- */

static void test_verify(void)
{
    Arena *a = arena_new();
    Graph *g = ir_graph_new(a);
    Value *x = ir_graph_add_value(g, "x"), *p = ir_graph_add_value(g, "p"), *q = ir_graph_add_value(g, "q");
    ir_graph_add_input(g, x->id);
    add_node(g, OP_Add, "A", (int[]){x->id, q->id}, 2, (int[]){p->id}, 1);
    add_node(g, OP_Relu, "B", (int[]){p->id}, 1, (int[]){q->id}, 1);
    Diag d = {0};
    CHECK(!ir_verify(g, false, &d) && strcmp(d.msg, "ir_verify: the graph has a cycle through node 'A' (Add)") == 0,
          "cycle: %s", d.msg);

    Value *ghost = ir_graph_add_value(g, "ghost"), *r = ir_graph_add_value(g, "r");
    g->nodes[0]->in[1] = x->id; /* break the cycle */
    add_node(g, OP_Relu, "x", (int[]){ghost->id}, 1, (int[]){r->id}, 1);
    memset(&d, 0, sizeof d);
    CHECK(!ir_verify(g, false, &d) &&
              strcmp(d.msg, "ir_verify: node 'x' (Relu): input 0 refers to value 3 (%ghost) that nothing defines") == 0,
          "undefined input: %s", d.msg);

    g->nodes[2]->in[0] = q->id;
    memset(&d, 0, sizeof d);
    CHECK(ir_verify(g, false, &d), "a good graph fails: %s", d.msg);
    CHECK(!ir_verify(g, true, &d) && strcmp(d.msg, "ir_verify: node 'A' (Add): value 0 (%x) has no type") == 0,
          "untyped: %s", d.msg);

    add_node(g, OP_Relu, "twice", (int[]){x->id}, 1, (int[]){r->id}, 1);
    memset(&d, 0, sizeof d);
    CHECK(!ir_verify(g, false, &d) &&
              strcmp(d.msg, "ir_verify: value 4 (%r) is produced by node 'x' (Relu) and by node 'twice' (Relu)") == 0,
          "two producers: %s", d.msg);
    g->nodes[3]->dead = true;
    g->nodes[1]->n_in = 2;
    memset(&d, 0, sizeof d);
    CHECK(!ir_verify(g, false, &d) && strcmp(d.msg, "ir_verify: node 'B' (Relu): 2 inputs, ops.def says 1..1 (-1: any)") == 0,
          "arity: %s", d.msg);
    arena_free(a);
}

/* ------------------------------- pass_init_params ------------------------------- */

static Graph *parse_or_fail(Arena *a, const char *text)
{
    Diag d;
    Graph *g = parse_text(a, text, "init.kir", &d);
    CHECK(g != NULL, "%s", d.msg);
    return g;
}

static const float *init_weight(Arena *a, const char *text)
{
    Graph *g = parse_or_fail(a, text);
    Diag d = {0};
    if (!g)
        return NULL;
    CHECK(pass_init_params(g, &d), "pass_init_params: %s", d.msg);
    const Value *w = ir_graph_find_value(g, "w");
    CHECK(w->init == INIT_DATA && w->data, "the param has no data after pass_init_params");
    return w->data;
}

static void moments(const float *x, int n, double *mean, double *var, double *absmax)
{
    double s = 0, s2 = 0;
    *absmax = 0;
    for (int i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
        *absmax = fmax(*absmax, fabs(x[i]));
    }
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
}

static void test_init_stats(Arena *a)
{
    const int n = 128 * 784;
    const float *w1 = init_weight(a, HDR "param %w : f32[128, 784] = glorot_uniform(seed=1)\n");
    const float *w1b = init_weight(a, HDR "param %w : f32[128, 784] = glorot_uniform(seed=1)\n");
    const float *w2 = init_weight(a, HDR "param %w : f32[128, 784] = glorot_uniform(seed=2)\n");
    if (!w1 || !w1b || !w2)
        return;
    double lim = sqrt(6.0 / (128 + 784)), mean, var, absmax;
    moments(w1, n, &mean, &var, &absmax);
    CHECK(absmax <= lim && absmax > 0.99 * lim, "glorot_uniform max %g, limit %g", absmax, lim);
    CHECK(fabs(mean) < 1e-3, "glorot_uniform mean %g", mean);
    CHECK(fabs(var / (lim * lim / 3) - 1) < 0.02, "glorot_uniform variance %g, want %g", var, lim * lim / 3);
    CHECK(memcmp(w1, w1b, sizeof(float) * n) == 0, "same seed, different values");
    CHECK(memcmp(w1, w2, sizeof(float) * n) != 0, "different seeds, same values");

    const float *h = init_weight(a, HDR "param %w : f32[64, 32, 3, 3] = he_normal\n");
    if (h) {
        moments(h, 64 * 32 * 9, &mean, &var, &absmax);
        CHECK(fabs(sqrt(var) / sqrt(2.0 / (32 * 9)) - 1) < 0.03, "he_normal std %g", sqrt(var));
    }
    const float *u = init_weight(a, HDR "param %w : f32[1000] = uniform(scale=0.25, seed=3)\n");
    if (u) {
        moments(u, 1000, &mean, &var, &absmax);
        CHECK(absmax <= 0.25f && absmax > 0.24, "uniform(scale=0.25) max %g", absmax);
    }
}

static void test_init_misc(Arena *a)
{
    Graph *g = parse_or_fail(a, HDR "param %w : f64[3] = ones\nparam %z : f32[2] = zeros\n"
                                    "param %r : f32[16, 8] = glorot_normal(seed=5)\n");
    Diag d = {0};
    if (!g)
        return;
    CHECK(pass_init_params(g, &d), "%s", d.msg);
    const double *o = ir_graph_find_value(g, "w")->data;
    const float *z = ir_graph_find_value(g, "z")->data;
    CHECK(o[0] == 1 && o[2] == 1 && z[0] == 0 && z[1] == 0 && !signbit(z[0]), "ones / zeros");
    Graph *g2 = roundtrip(a, g, "init.kir"); /* random f32 data read back bit-exact */
    if (g2)
        check_same_graph(g, g2);

    g = parse_or_fail(a, HDR "param %w : f32[N, 4] = he_uniform\n");
    memset(&d, 0, sizeof d);
    CHECK(g && !pass_init_params(g, &d) &&
              strcmp(d.msg, "param 'w': an init rule needs a static shape, not Nx4") == 0,
          "symbolic: %s", d.msg);
    g = parse_or_fail(a, HDR "param %w : f32[2] = zeros\n");
    if (!g)
        return;
    ir_graph_find_value(g, "w")->dtype = DT_I32;
    memset(&d, 0, sizeof d);
    CHECK(!pass_init_params(g, &d) && strcmp(d.msg, "param 'w': init rules need an f32 or f64 param, not i32") == 0,
          "i32: %s", d.msg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_ir DIR   (DIR: tests/unit/data/kir)\n");
        return 2;
    }
    test_built_graph();
    int files = test_files(argv[1]);
    test_errors();
    test_mangled(argv[1]);
    test_verify();
    Arena *a = arena_new();
    test_init_stats(a);
    test_init_misc(a);
    arena_free(a);
    if (failures) {
        fprintf(stderr, "test_ir: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_ir: ok (%d .kir files, %zu error texts)\n", files, sizeof bad_inputs / sizeof bad_inputs[0]);
    return 0;
}
