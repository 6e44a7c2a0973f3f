/* k_einsum.c — the Einsum kernel: one loop nest per equation, the output's
 * labels outer and the summed labels inner, each operand's subscript a sum of
 * label variables times constant strides. The shape rule
 * (pass/shapes_reduce.c) checked the equation and left it explicit, letters
 * only ("bij,bjk->bik"). */
#include "emit.h"

#include <string.h>

#define EIN_LETTERS 52 /* a-z, A-Z */

static int ein_label(char c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + (c - 'A') : -1;
}

static char ein_char(int l)
{
    return (char)(l < 26 ? 'a' + l : 'A' + (l - 26));
}

/* "a * 12 + b * 3 + c": the subscript of an operand with these strides per
 * label ("0" when none). */
static const char *subscript(Emitter *e, const int64_t *stride)
{
    const char *s = "";
    for (int l = 0; l < EIN_LETTERS; l++) {
        if (stride[l] == 0)
            continue;
        const char *term = stride[l] == 1 ? arena_printf(e->arena, "%c", ein_char(l))
                                          : arena_printf(e->arena, "%c * %lld", ein_char(l),
                                                         (long long)stride[l]);
        s = s[0] ? arena_printf(e->arena, "%s + %s", s, term) : term;
    }
    return s[0] ? s : "0";
}

/* Each input's strides per label (a label repeated in a term adds up its
 * dims' strides: the diagonal; size-1 dims broadcast with stride 0), each
 * label's size, and the labels in order of first use. Returns the output
 * term (after "->"). */
static const char *einsum_strides(const Graph *g, const Node *n, int64_t (*stride)[EIN_LETTERS],
                                  int64_t *size, int *order, int *n_order)
{
    const char *eq = ir_attr_str(n, "equation", "");
    int k = 0, dim = 0;
    bool seen[EIN_LETTERS] = {false};
    *n_order = 0;
    for (; *eq && strncmp(eq, "->", 2) != 0; eq++) {
        if (*eq == ',') {
            k++, dim = 0;
            continue;
        }
        const Shape *s = &ir_in(g, n, k)->shape;
        int l = ein_label(*eq);
        int64_t st = 1;
        for (int i = dim + 1; i < s->rank; i++)
            st *= s->dims[i];
        if (s->dims[dim] != 1)
            stride[k][l] += st;
        if (!seen[l]) {
            seen[l] = true;
            order[(*n_order)++] = l;
            size[l] = s->dims[dim];
        } else if (size[l] == 1) {
            size[l] = s->dims[dim];
        }
        dim++;
    }
    return *eq ? eq + 2 : eq;
}

/* Einsum: for each output element, the sum over the summed labels of the
 * product of the inputs' elements (no sum when every label is an output
 * label: a transpose, diagonal or outer product). */
bool k_einsum(Emitter *e, const Graph *g, const Node *n)
{
    const Value *y = ir_out(g, n, 0);
    int64_t (*stride)[EIN_LETTERS] = arena_alloc(e->arena, sizeof *stride * (size_t)(n->n_in + 1));
    int64_t size[EIN_LETTERS] = {0}, ystride[EIN_LETTERS] = {0};
    int order[EIN_LETTERS], n_order;
    bool is_out[EIN_LETTERS] = {false};
    if (shape_numel(&y->shape) == 0)
        return true;
    const char *out = einsum_strides(g, n, stride, size, order, &n_order);
    for (int i = 0, r = (int)strlen(out); i < r; i++) {
        int l = ein_label(out[i]);
        is_out[l] = true;
        ystride[l] = y->shape.dims[i] == 1 ? 0 : 1;
        for (int j = i + 1; j < r; j++)
            ystride[l] *= y->shape.dims[j];
        emit_open(e, "for (int %c = 0; %c < %lld; %c++)", out[i], out[i], (long long)size[l], out[i]);
    }
    const char *prod = "";
    for (int k = 0; k < n->n_in; k++)
        prod = arena_printf(e->arena, "%s%s%s[%s]", prod, k ? " * " : "", e->in_name[k],
                            subscript(e, stride[k]));
    const char *yname = arena_printf(e->arena, "%s[%s]", e->out_name[0], subscript(e, ystride));
    int summed = 0;
    for (int i = 0; i < n_order; i++)
        summed += !is_out[order[i]];
    if (summed == 0) {
        emit_line(e, "%s = %s;", yname, prod);
    } else {
        emit_line(e, "%s acc = %s;", dtype_ctype(y->dtype), emit_lit(e, 0, y->dtype));
        for (int i = 0; i < n_order; i++)
            if (!is_out[order[i]]) {
                char c = ein_char(order[i]);
                emit_open(e, "for (int %c = 0; %c < %lld; %c++)", c, c, (long long)size[order[i]], c);
            }
        emit_line(e, "acc += %s;", prod);
        for (int i = 0; i < summed; i++)
            emit_close(e);
        emit_line(e, "%s = acc;", yname);
    }
    for (int i = 0, r = (int)strlen(out); i < r; i++)
        emit_close(e);
    return true;
}
