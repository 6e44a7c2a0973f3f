/* cli_suggest.c — "did you mean" suggestions: the nearest flag, command or
 * op name by edit distance, and known rewrites of unsupported ops into
 * supported ones. Used by main.c for unknown flags and commands and by the
 * importers for unsupported ops. libc only. */
#include "cli_suggest.h"

#include <stdio.h>
#include <string.h>

#define MAX_WORD 64 /* longer words are never typos of a kiln flag or op */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

int cli_edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > MAX_WORD || m > MAX_WORD)
        return n > m ? n : m;
    /* three rolling rows of the dynamic-programming table */
    int rows[3][MAX_WORD + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (int j = 0; j <= m; j++)
        prev[j] = j;
    for (int i = 1; i <= n; i++) {
        cur[0] = i;
        for (int j = 1; j <= m; j++) {
            int same = lower(a[i - 1]) == lower(b[j - 1]);
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + !same);
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

const char *cli_nearest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    for (const char *p = word; *p == '-'; p++)
        len--;
    int limit = (int)(len / 3) < 2 ? (int)(len / 3) : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; candidates[i]; i++) {
        int d = cli_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best && strcmp(best, word) == 0 ? NULL : best; /* an exact match is no suggestion */
}

/* Ops kiln lacks that have an exact rewrite into ops it has; the hint is
 * given only when every op in `needs` is supported. */
typedef struct OpRewrite {
    const char *op;
    const char *hint;
    const char *needs[4];
} OpRewrite;

static const OpRewrite rewrites[] = {
    {"Relu6", "export it as Clip with min=0 and max=6", {"Clip"}},
    {"Gelu", "export with opset 19 or lower, where it is written as Div, Erf, Add and Mul",
     {"Div", "Erf", "Add", "Mul"}},
    {"Mish", "write it as x * Tanh(Softplus(x)) (Softplus, Tanh and Mul)", {"Softplus", "Tanh", "Mul"}},
    {"Swish", "write it as x * Sigmoid(x) (Sigmoid and Mul)", {"Sigmoid", "Mul"}},
    {"SiLU", "write it as x * Sigmoid(x) (Sigmoid and Mul)", {"Sigmoid", "Mul"}},
    {"GroupNormalization",
     "export with opset 17 or lower, where PyTorch writes it as Reshape, InstanceNormalization, Mul and Add",
     {"Reshape", "InstanceNormalization", "Mul", "Add"}},
    {"FusedConv", "export without onnxruntime's fusions (a Conv followed by its activation)", {"Conv"}},
    {"FusedGemm", "export without onnxruntime's fusions (a Gemm followed by its activation)", {"Gemm"}},
    {"FusedMatMul", "export without onnxruntime's fusions (Transpose and MatMul)", {"MatMul", "Transpose"}},
    {"SkipLayerNormalization", "export without onnxruntime's fusions (Add and LayerNormalization)",
     {"Add", "LayerNormalization"}},
    {"BiasGelu", "export without onnxruntime's fusions (Add, then Gelu as Div, Erf, Add and Mul)",
     {"Div", "Erf", "Add", "Mul"}},
};

static bool supported_op(const char *name, const char *const *supported)
{
    for (int i = 0; supported[i]; i++)
        if (strcmp(supported[i], name) == 0)
            return true;
    return false;
}

bool cli_op_hint(const char *op, const char *const *supported, char *buf, size_t n)
{
    const char *colon = strrchr(op, ':');
    const char *name = colon ? colon + 1 : op;
    for (size_t k = 0; k < sizeof rewrites / sizeof rewrites[0]; k++) {
        const OpRewrite *r = &rewrites[k];
        if (strcmp(r->op, name) != 0)
            continue;
        bool all = true;
        for (int i = 0; i < 4 && r->needs[i]; i++)
            all = all && supported_op(r->needs[i], supported);
        if (!all)
            break;
        snprintf(buf, n, "%s", r->hint);
        return true;
    }
    const char *near = cli_nearest(name, supported);
    if (!near)
        return false;
    snprintf(buf, n, "did you mean '%s'?", near);
    return true;
}
