/* test_onnx_import.c — unit test of onnx/: imports the tiny models written by
 * data/onnx/make_fixtures.py and checks values, attributes, symbolic dims,
 * external data, function inlining, the exact error texts, and the .pb
 * tensor round trip.  Usage: test_onnx_import FIXTURE_DIR */
#include "onnx_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static const char *fixtures;   /* argv[1] */
static char tmpdir[64];        /* scratch files for bad inputs and written tensors */

#define CHECK(cond) check((cond), #cond, __LINE__)

static bool check(bool ok, const char *what, int line)
{
    if (!ok) {
        fprintf(stderr, "test_onnx_import.c:%d: FAILED: %s\n", line, what);
        failures++;
    }
    return ok;
}

static Graph *load(Arena *a, const char *path, Diag *d)
{
    d->file = path;
    Graph *g = onnx_import(a, path, d);
    if (!g)
        fprintf(stderr, "import of %s failed: %s\n", path, d->msg);
    return g;
}

/* Imports path and expects exactly "PATH: msg". */
static void expect_error(const char *path, const char *msg)
{
    Arena *a = arena_new();
    Diag d = {.file = path};
    Graph *g = onnx_import(a, path, &d);
    char want[1200];
    snprintf(want, sizeof want, "%s: %s", path, msg);
    if (g || strcmp(d.msg, want) != 0) {
        fprintf(stderr, "FAILED: %s\n  want: %s\n  got:  %s\n", path, want,
                g ? "(imported without error)" : d.msg);
        failures++;
    }
    arena_free(a);
}

static const char *fixture(Arena *a, const char *name)
{
    return arena_printf(a, "%s/%s", fixtures, name);
}

static Value *value(const Graph *g, const char *name)
{
    Value *v = ir_graph_find_value(g, name);
    if (!v)
        fprintf(stderr, "no value '%s'\n", name);
    return v;
}

static Node *node(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    fprintf(stderr, "no node '%s'\n", name);
    return NULL;
}

/* ---- basic.onnx: initializers in every encoding, inputs, nodes ---- */

static void test_initializers(const Graph *g)
{
    const Value *w = value(g, "W"), *b = value(g, "B"), *s = value(g, "S");
    const Value *i8 = value(g, "I8"), *h = value(g, "H");
    if (!CHECK(w && b && s && i8 && h))
        return;
    CHECK(w->kind == VAL_CONST && w->is_param && w->dtype == DT_F32);
    CHECK(w->shape.rank == 2 && w->shape.dims[0] == 3 && w->shape.dims[1] == 2);
    for (int k = 0; k < 6; k++)
        CHECK(((const float *)w->data)[k] == (float)k); /* raw_data */
    CHECK(((const float *)b->data)[0] == 0.5f && ((const float *)b->data)[1] == -1.5f);
    CHECK(s->dtype == DT_I64 && ((const int64_t *)s->data)[0] == -1 &&
          ((const int64_t *)s->data)[1] == 1); /* int64_data */
    const int8_t *p8 = i8->data; /* int32_data narrowed */
    CHECK(i8->dtype == DT_I8 && p8[0] == -1 && p8[1] == 2 && p8[2] == -128);
    const uint16_t *ph = h->data; /* FLOAT16 bits in int32_data */
    CHECK(h->dtype == DT_F16 && ph[0] == 0x3c00 && ph[1] == 0xc000);
}

static void test_inputs(const Graph *g)
{
    /* W is also listed as a graph input: it stays a weight */
    if (!CHECK(g->n_inputs == 2))
        return;
    const Value *x = g->values[g->inputs[0]], *q = g->values[g->inputs[1]];
    CHECK(strcmp(x->name, "X") == 0 && x->kind == VAL_INPUT && x->has_type);
    CHECK(x->dtype == DT_F32 && x->shape.rank == 2 && x->shape.dims[1] == 3);
    CHECK(x->shape.dims[0] == -1 && strcmp(x->shape.sym[0], "N") == 0);
    CHECK(q->dtype == DT_I64 && q->shape.dims[0] == -1 && strcmp(q->shape.sym[0], "") == 0);
    CHECK(q->shape.dims[1] == 4);
    CHECK(g->n_outputs == 2 && strcmp(g->values[g->outputs[0]]->name, "z") == 0);
    CHECK(g->values[g->outputs[0]]->is_output && !g->values[g->outputs[0]]->has_type);
}

static void test_nodes(const Graph *g)
{
    const Node *add = node(g, "add1"), *mm = node(g, "mm1"), *anon = node(g, "Identity_4");
    if (!CHECK(add && mm && anon))
        return;
    /* add1 comes before mm1 in the file but still reads mm1's output */
    CHECK(add->op == OP_Add && add->opset == 13 && add->n_in == 2);
    CHECK(add->in[0] == mm->out[0] && add->in[1] == value(g, "B")->id);
    CHECK(g->values[mm->out[0]]->producer == mm->id);
    CHECK(anon->op == OP_Identity && strcmp(anon->domain, "") == 0);
}

static void test_attributes(const Graph *g)
{
    const Node *n = node(g, "attrs");
    if (!n)
        return;
    const Attr *ints = ir_attr(n, "ints"), *floats = ir_attr(n, "floats");
    const Attr *strs = ir_attr(n, "strings"), *t = ir_attr(n, "t");
    CHECK(ir_attr_int(n, "i", 0) == 7 && ir_attr_float(n, "f", 0) == 0.25);
    CHECK(strcmp(ir_attr_str(n, "s", ""), "hello") == 0);
    CHECK(ir_attr_int(n, "legacy", 0) == 5); /* type left unset in the file */
    if (CHECK(ints && ints->type == ATTR_INTS && ints->n == 3))
        CHECK(ints->ints[0] == 1 && ints->ints[1] == -2 && ints->ints[2] == 3);
    if (CHECK(floats && floats->type == ATTR_FLOATS && floats->n == 2))
        CHECK(floats->floats[0] == 0.5 && floats->floats[1] == 1.5);
    if (CHECK(strs && strs->type == ATTR_STRINGS && strs->n == 2))
        CHECK(strcmp(strs->strings[0], "a") == 0 && strcmp(strs->strings[1], "bc") == 0);
    if (CHECK(t && t->type == ATTR_TENSOR && t->t && t->t->dtype == DT_F32)) {
        const float *d = t->t->data;
        CHECK(t->t->shape.rank == 2 && t->t->shape.dims[0] == 2 && t->t->shape.dims[1] == 2);
        CHECK(d[0] == 1 && d[1] == 2 && d[2] == 3 && d[3] == 4);
    }
}

static void test_basic(void)
{
    Arena *a = arena_new();
    Diag d = {0};
    Graph *g = load(a, fixture(a, "basic.onnx"), &d);
    if (CHECK(g != NULL)) {
        CHECK(strcmp(g->name, "basic") == 0 && g->opset == 13);
        CHECK(strcmp(g->producer, "kiln-fixtures 1.0") == 0);
        test_initializers(g);
        test_inputs(g);
        test_nodes(g);
        test_attributes(g);
    }
    arena_free(a);
}

/* ---- external data ---- */

static void test_external(void)
{
    Arena *a = arena_new();
    Diag d = {0};
    Graph *g = load(a, fixture(a, "external.onnx"), &d);
    const Value *w = g ? value(g, "W") : NULL;
    if (CHECK(w && w->kind == VAL_CONST && w->shape.rank == 2)) {
        const float *p = w->data;
        CHECK(p[0] == 1 && p[1] == 2 && p[2] == 3 && p[3] == 4);
    }
    expect_error(fixture(a, "external_dotdot.onnx"),
                 "initializer 'W' has external data location '../onnx/weights.bin', which "
                 "leaves the model's folder ('..')");
    expect_error(fixture(a, "external_abs.onnx"),
                 "initializer 'W' has external data location '/etc/passwd', which is an "
                 "absolute path; kiln reads external data only from the model's folder");
    expect_error(fixture(a, "external_missing.onnx"),
                 arena_printf(a, "initializer 'W' has its external data in "
                              "'%s/no_such_weights.bin', which cannot be opened: No such "
                              "file or directory", fixtures));
    expect_error(fixture(a, "external_short.onnx"),
                 arena_printf(a, "initializer 'W' needs bytes 16..32 of external data file "
                              "'%s/weights.bin', which has only 24 bytes", fixtures));
    arena_free(a);
}

/* ---- model-local functions ---- */

static void test_function(void)
{
    Arena *a = arena_new();
    Diag d = {0};
    Graph *g = load(a, fixture(a, "function.onnx"), &d);
    if (CHECK(g != NULL && g->n_nodes == 4)) {
        const Node *mul = g->nodes[0], *leaky1 = g->nodes[1], *leaky2 = g->nodes[3];
        CHECK(mul->op == OP_Mul && mul->opset == 13 && strcmp(mul->name, "f1/Mul_0") == 0);
        CHECK(mul->in[0] == value(g, "X")->id && mul->in[1] == value(g, "X")->id);
        CHECK(leaky1->op == OP_LeakyRelu && leaky1->in[0] == value(g, "f1/t")->id);
        CHECK(leaky1->out[0] == value(g, "H")->id);
        CHECK(fabs(ir_attr_float(leaky1, "alpha", 0) - 0.3) < 1e-6);
        CHECK(ir_attr(leaky2, "alpha") == NULL); /* f2 sets no alpha: the default holds */
        CHECK(g->values[g->outputs[0]]->producer == leaky2->id);
    }
    StrBuf msg = {0}; /* the call chain names the node: l1/Loop_0/Loop_0/… */
    sb_printf(&msg, "node 'l1");
    for (int depth = 1; depth <= 32; depth++)
        sb_printf(&msg, "/Loop_0");
    sb_printf(&msg, "' (custom:Loop, opset 1): model-local functions nest more than 32 deep");
    expect_error(fixture(a, "function_recursive.onnx"), msg.buf);
    sb_free(&msg);
    arena_free(a);
}

/* ---- errors in the model ---- */

static void test_model_errors(void)
{
    Arena *a = arena_new();
    const struct {
        const char *file, *msg;
    } cases[] = {
        {"unknown_op.onnx", "node 'norm1' (StringNormalizer, opset 13): unsupported op"},
        {"unknown_domain.onnx",
         "node 'trees' (ai.onnx.ml:TreeEnsembleClassifier, opset 3): unsupported op"},
        {"undefined_input.onnx", "node 'relu1' (Relu, opset 13): input 'nope' is not defined"},
        {"produced_twice.onnx",
         "node 'r2' (Sigmoid, opset 13): output 'Y' is already produced by node 'r1'"},
        {"opset19.onnx", "opset 19 is newer than kiln supports (max 18)"},
        {"graph_attr.onnx",
         "node 'id1' (Identity, opset 13): attribute 'then_branch' of type GRAPH is not "
         "supported"},
        {"sequence_input.onnx", "input 'S' is a sequence; kiln supports only tensor inputs"},
        {"raw_short.onnx",
         "initializer 'W' has 12 bytes of raw_data, expected 16 (4 elements of FLOAT)"},
        {"string_init.onnx",
         "initializer 'W' has data type STRING, which kiln does not support"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(fixture(a, cases[i].file), cases[i].msg);
    arena_free(a);
}

/* ---- files that are not ONNX models ---- */

static const char *write_tmp(Arena *a, const char *name, const void *data, size_t len)
{
    const char *path = arena_printf(a, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
    return path;
}

static void test_bad_files(void)
{
    Arena *a = arena_new();
    size_t len = 0;
    void *model = file_read_all(fixture(a, "basic.onnx"), &len);
    if (CHECK(model != NULL && len > 100)) {
        const char *cut = write_tmp(a, "truncated.onnx", model, len / 2);
        expect_error(cut, "not a valid ONNX model (protobuf parse failed)");
    }
    free(model);
    const char garbage[] = "GARBAGE! this is no protobuf";
    expect_error(write_tmp(a, "garbage.onnx", garbage, sizeof garbage),
                 "not a valid ONNX model (protobuf parse failed)");
    expect_error(write_tmp(a, "empty.onnx", "", 0), "not a valid ONNX model (empty file)");
    expect_error(arena_printf(a, "%s/missing.onnx", tmpdir),
                 "cannot read: No such file or directory");
    arena_free(a);
}

/* ---- single-tensor .pb files ---- */

static void test_tensor_files(void)
{
    Arena *a = arena_new();
    Diag d = {0};
    Tensor t;
    const char *name = NULL;
    if (CHECK(onnx_read_tensor(a, fixture(a, "tensor_int32.pb"), &t, &name, &d))) {
        const int32_t *p = t.data;
        CHECK(strcmp(name, "ints") == 0 && t.dtype == DT_I32 && t.shape.rank == 2);
        CHECK(t.shape.dims[0] == 2 && t.shape.dims[1] == 3 && p[0] == 1 && p[5] == 6);
    }
    float vals[6] = {1.5f, -2, 0, 3.25f, 1e-8f, -7};
    Tensor out = {.dtype = DT_F32, .shape = {.rank = 3, .dims = {1, 2, 3}}, .data = vals};
    const char *path = arena_printf(a, "%s/out.pb", tmpdir);
    CHECK(onnx_write_tensor(path, &out, "y", &d));
    CHECK(access(arena_printf(a, "%s.tmp", path), F_OK) != 0);
    Tensor back;
    if (CHECK(onnx_read_tensor(a, path, &back, &name, &d))) {
        CHECK(strcmp(name, "y") == 0 && back.dtype == DT_F32 && shape_equal(&back.shape, &out.shape));
        CHECK(memcmp(back.data, vals, sizeof vals) == 0);
    }
    remove(path);
    Diag bad = {0};
    CHECK(!onnx_write_tensor(arena_printf(a, "%s/no/dir/x.pb", tmpdir), &out, "", &bad));
    CHECK(strstr(bad.msg, "cannot write") && strstr(bad.msg, "No such file or directory"));
    arena_free(a);
}

/* ---- a real file from the ONNX backend test data (libonnx-testdata) ---- */

static void test_backend_file(void)
{
    const char *dir = "/usr/share/libonnx-testdata/data/node/test_gemm_default_no_bias";
    Arena *a = arena_new();
    const char *path = arena_printf(a, "%s/model.onnx", dir);
    if (access(path, R_OK) != 0) {
        printf("skipping %s: not installed (package libonnx-testdata)\n", path);
        arena_free(a);
        return;
    }
    Diag d = {0};
    Graph *g = load(a, path, &d);
    if (CHECK(g && g->n_nodes == 1 && g->nodes[0]->op == OP_Gemm && g->n_inputs == 2)) {
        const Value *in0 = g->values[g->inputs[0]];
        Tensor t;
        Diag td = {0};
        if (CHECK(onnx_read_tensor(a, arena_printf(a, "%s/test_data_set_0/input_0.pb", dir), &t,
                                   NULL, &td)))
            CHECK(t.dtype == in0->dtype && shape_equal(&t.shape, &in0->shape));
    }
    arena_free(a);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln-onnx-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_basic();
    test_external();
    test_function();
    test_model_errors();
    test_bad_files();
    test_tensor_files();
    test_backend_file();
    const char *names[] = {"truncated.onnx", "garbage.onnx", "empty.onnx"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        remove(p);
    }
    rmdir(tmpdir);
    if (failures) {
        fprintf(stderr, "test_onnx_import: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_onnx_import: all checks passed\n");
    return 0;
}
