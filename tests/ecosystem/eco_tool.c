/* eco_tool.c — the ecosystem tests' helper, linked against kiln's libraries:
 *   eco_tool dot MODEL [BATCH]    the shaped graph as Graphviz text (ir_print_dot)
 *   eco_tool stats MODEL [BATCH]  the --stats table (sched_stats_print)
 *   eco_tool check MLP_MODEL      unit checks of cli_suggest, the op families,
 *                                 dot escaping and the MLP's stats
 * Runs the same passes as `kiln compile` up to the memory plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_suggest.h"
#include "dot.h"
#include "onnx_io.h"
#include "pass.h"
#include "stats.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Loads, fixes a symbolic batch, infers shapes, drops dead code, plans. */
static Graph *load(Arena *a, const char *path, int64_t batch, Schedule *s, MemPlan *mp, Diag *d)
{
    d->file = path;
    Graph *g;
    if (ends_with(path, ".kir")) {
        size_t len;
        char *text = file_read_all(path, &len);
        g = text ? ir_parse(a, text, len, path, d) : NULL;
        free(text);
    } else {
        g = onnx_import(a, path, d);
    }
    if (!g || !pass_init_params(g, d))
        return NULL;
    for (int k = 0; k < g->n_inputs; k++) {
        Value *v = g->values[g->inputs[k]];
        if (v->shape.rank > 0 && v->shape.dims[0] < 0)
            v->shape.dims[0] = batch;
    }
    if (!pass_infer_shapes(g, d) || !pass_dce(g, d) ||
        !sched_entry(g, g->outputs, g->n_outputs, s, d) ||
        !sched_plan_memory(g, s, NULL, 0, mp, d))
        return NULL;
    return g;
}

static void check_suggest(void)
{
    static const char *const flags[] = {"-o", "--prefix", "--target", "--weights", "--batch",
                                        "--input-shape", NULL};
    static const char *const cmds[] = {"compile", "ir", "run", "verify", NULL};
    static const char *const ops[] = {"Gemm", "Clip", "Relu", "Conv", "MatMul", "Transpose",
                                      "Sigmoid", "Mul", NULL};
    CHECK(cli_edit_distance("kitten", "sitting") == 3);
    CHECK(cli_edit_distance("ab", "ba") == 1);
    CHECK(cli_edit_distance("GEMM", "gemm") == 0);
    CHECK(cli_nearest("--prefx", flags) && !strcmp(cli_nearest("--prefx", flags), "--prefix"));
    CHECK(cli_nearest("--bacth", flags) && !strcmp(cli_nearest("--bacth", flags), "--batch"));
    CHECK(cli_nearest("--bogus", flags) == NULL);
    CHECK(cli_nearest("--prefix", flags) == NULL); /* exact: nothing to suggest */
    CHECK(cli_nearest("compil", cmds) && !strcmp(cli_nearest("compil", cmds), "compile"));
    CHECK(cli_nearest("verfiy", cmds) && !strcmp(cli_nearest("verfiy", cmds), "verify"));
    CHECK(cli_nearest("xy", cmds) == NULL);
    char hint[160];
    CHECK(cli_op_hint("Relu6", ops, hint, sizeof hint) && strstr(hint, "Clip"));
    CHECK(cli_op_hint("com.microsoft:FusedGemm", ops, hint, sizeof hint) && strstr(hint, "Gemm"));
    CHECK(cli_op_hint("gemm", ops, hint, sizeof hint) && !strcmp(hint, "did you mean 'Gemm'?"));
    CHECK(cli_op_hint("Swish", ops, hint, sizeof hint) && strstr(hint, "Sigmoid"));
    CHECK(!cli_op_hint("NonZero", ops, hint, sizeof hint));
    CHECK(!cli_op_hint("Mish", ops, hint, sizeof hint)); /* Softplus and Tanh missing here */
}

static void check_families(void)
{
    CHECK(!strcmp(ir_op_family(OP_Identity), "core"));
    CHECK(!strcmp(ir_op_family(OP_Conv), "conv"));
    CHECK(!strcmp(ir_op_family(OP_Gemm), "rnn"));
    CHECK(!strcmp(ir_op_family(OP_UNKNOWN), "unknown"));
    for (int op = 1; op < OP_COUNT; op++)
        CHECK(ir_op_family((OpKind)op)[0] != '\0');
}

/* Names with quotes, backslashes and newlines stay inside their dot strings. */
static void check_dot_escaping(void)
{
    Arena *a = arena_new();
    Graph *g = ir_graph_new(a);
    g->name = "we\"ird\\name";
    Value *x = ir_graph_add_value(g, "in\"put\n");
    x->kind = VAL_INPUT;
    Value *y = ir_graph_add_value(g, "y");
    ir_graph_add_input(g, x->id);
    ir_graph_add_output(g, y->id);
    int in = x->id, out = y->id;
    ir_graph_add_node(g, OP_Relu, "n\"1", &in, 1, &out, 1);
    StrBuf sb = {0};
    ir_print_dot(g, &sb);
    CHECK(strstr(sb.buf, "digraph \"we\\\"ird\\\\name\""));
    CHECK(strstr(sb.buf, "in\\\"put"));
    CHECK(!strstr(sb.buf, "put\n"));
    CHECK(strstr(sb.buf, "n0 -> out0") && strstr(sb.buf, "v0 -> n0"));
    sb_free(&sb);
    arena_free(a);
}

/* The MLP 784-128-10 at batch 2. */
static void check_mlp_stats(const char *model)
{
    Arena *a = arena_new();
    Diag d = {0};
    Schedule s = {0};
    MemPlan mp = {0};
    Graph *g = load(a, model, 2, &s, &mp, &d);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "%s\n", d.msg);
        arena_free(a);
        return;
    }
    ModelStats st;
    sched_stats(g, &s, &mp, a, &st);
    CHECK(st.params == 784 * 128 + 128 + 128 * 10 + 10);
    CHECK(st.param_bytes == 4 * st.params);
    CHECK(st.const_bytes == st.param_bytes);
    /* two Gemms (2·M·N·K + M·N for the bias), Relu, Softmax; Flatten is free */
    int64_t want = 2 * 128 * (2 * 784 + 1) + 2 * 10 * (2 * 128 + 1) + 2 * 128 + 4 * 2 * 10;
    CHECK(st.flops == want && !st.flops_partial);
    CHECK(st.workspace == mp.size && st.n_layers == 5);
    StrBuf sb = {0};
    sched_stats_print(g, &st, &sb);
    CHECK(strstr(sb.buf, "parameters: 101,770 = 407,080 bytes (397.5 KiB)"));
    CHECK(strstr(sb.buf, "Gemm"));
    sb_free(&sb);
    arena_free(a);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "dot") || !strcmp(argv[1], "stats"))) {
        Arena *a = arena_new();
        Diag d = {0};
        Schedule s = {0};
        MemPlan mp = {0};
        Graph *g = load(a, argv[2], argc > 3 ? atoll(argv[3]) : 1, &s, &mp, &d);
        if (!g) {
            fprintf(stderr, "%s\n", d.msg);
            return 1;
        }
        StrBuf sb = {0};
        if (argv[1][0] == 'd') {
            ir_print_dot(g, &sb);
        } else {
            ModelStats st;
            sched_stats(g, &s, &mp, a, &st);
            sched_stats_print(g, &st, &sb);
        }
        fwrite(sb.buf, 1, sb.len, stdout);
        sb_free(&sb);
        arena_free(a);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "check")) {
        check_suggest();
        check_families();
        check_dot_escaping();
        check_mlp_stats(argv[2]);
        printf("%s\n", failures ? "FAILED" : "all checks passed");
        return failures != 0;
    }
    fprintf(stderr, "usage: eco_tool dot|stats MODEL [BATCH] | eco_tool check MLP_MODEL\n");
    return 2;
}
