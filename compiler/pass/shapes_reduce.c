/* shapes_reduce.c — shape rules of the reductions (the ten Reduce ops,
 * ArgMax, ArgMin), TopK and Einsum (ONNX spec). Each rule also rewrites its
 * node into one canonical form, so folding (fold_reduce.c) and the kernels
 * (emit/k_reduce.c, emit/k_einsum.c) read it without repeating the checks:
 *   Reduce*       attribute axes = the sorted reduced axes, attribute
 *                 noop_with_empty_axes = 1 (an empty list reduces nothing),
 *                 no axes input;
 *   ArgMax/ArgMin attribute axis non-negative;
 *   TopK          attributes axis (non-negative) and k, no K input;
 *   Einsum        the equation explicit ("ij,jk->ik"), without spaces, each
 *                 ellipsis dim spelled as a letter the equation didn't use.
 * The rules accept their own canonical form at any opset. */
#include "pass.h"

#include <stdio.h>
#include <string.h>

/* The element types the kernels compute in (bool, strings and float16 are
 * not numbers kiln reduces). */
static bool reduce_dtype(DType t)
{
    return t == DT_F32 || t == DT_F64 || t == DT_I8 || t == DT_I16 || t == DT_I32 ||
           t == DT_I64 || t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64;
}

static bool check_dtype(Node *n, Diag *d, DType t)
{
    if (reduce_dtype(t))
        return true;
    ir_node_error(d, n, "type %s is not supported (f32, f64 and the integer types)",
                  dtype_name(t));
    return false;
}

/* ---- the ten Reduce ops ---- */

/* The axes list of a Reduce node: attribute `axes` (ReduceSum before opset
 * 13, the others before 18) or input 1 (since), which must be a constant; an
 * input with zero elements is known to be empty even as a graph input. A
 * missing list gives 0. Returns the count, or -1 after an error. */
static int reduce_axes_list(const Graph *g, Node *n, Diag *d, int64_t *vals)
{
    const Attr *a = ir_attr(n, "axes");
    const Value *in = ir_in(g, n, 1);
    if (a && in) {
        ir_node_error(d, n, "axes given both as an attribute and as an input");
        return -1;
    }
    if (a) {
        if (a->type != ATTR_INTS || a->n > IR_MAX_RANK) {
            ir_node_error(d, n, "attribute 'axes' must be a list of at most %d ints", IR_MAX_RANK);
            return -1;
        }
        memcpy(vals, a->ints, sizeof(int64_t) * (size_t)a->n);
        return a->n;
    }
    if (!in || shape_numel(&in->shape) == 0)
        return 0;
    int count = rule_const_ints(g, n, 1, vals, IR_MAX_RANK);
    if (count < 0 || in->shape.rank > 1) {
        ir_node_error(d, n, "input 'axes' must be a compile-time constant 1-D int tensor of at "
                      "most %d values (it sets the output shape)", IR_MAX_RANK);
        return -1;
    }
    return count;
}

/* ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare (opsets 1,
 * 11, 13, 18): X of rank r reduced over `axes` (negative counts from the
 * back; none given: all of them, or none with noop_with_empty_axes = 1).
 * keepdims (default 1) keeps each reduced dim as size 1, else drops it. */
bool shape_reduce(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int r = x->shape.rank;
    int64_t list[IR_MAX_RANK];
    bool mask[IR_MAX_RANK] = {false};
    if (!check_dtype(n, d, x->dtype))
        return false;
    int count = reduce_axes_list(g, n, d, list);
    if (count < 0)
        return false;
    for (int k = 0; k < count; k++) {
        int axis;
        if (list[k] < -r || list[k] >= r || !rule_axis(list[k], r, &axis)) {
            ir_node_error(d, n, "axis %lld is out of range for rank %d", (long long)list[k], r);
            return false;
        }
        if (mask[axis]) {
            ir_node_error(d, n, "axis %lld is repeated", (long long)list[k]);
            return false;
        }
        mask[axis] = true;
    }
    if (count == 0 && ir_attr_int(n, "noop_with_empty_axes", 0) == 0)
        for (int i = 0; i < r; i++)
            mask[i] = true;
    /* canonical form: the reduced axes as an attribute */
    Attr *a = ir_node_set_attr(g, n, "axes", ATTR_INTS);
    a->ints = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(r + 1));
    for (int i = 0; i < r; i++)
        if (mask[i])
            a->ints[a->n++] = i;
    ir_node_set_attr(g, n, "noop_with_empty_axes", ATTR_INT)->i = 1;
    if (n->n_in > 1)
        n->in[1] = -1;
    bool keep = ir_attr_int(n, "keepdims", 1) != 0;
    Shape y = {0};
    for (int i = 0; i < r; i++)
        if (!mask[i] || keep)
            y.dims[y.rank++] = mask[i] ? 1 : x->shape.dims[i];
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}

/* ---- ArgMax, ArgMin, TopK ---- */

/* Normalizes attribute `axis` (default dflt) of X's rank into the canonical
 * attribute; false (reported) when out of range or X is a scalar. */
static bool canonical_axis(Graph *g, Node *n, Diag *d, const Value *x, int64_t dflt, int *axis)
{
    int r = x->shape.rank;
    int64_t a = ir_attr_int(n, "axis", dflt);
    if (r == 0 || a < -r || a >= r || !rule_axis(a, r, axis)) {
        ir_node_error(d, n, "axis %lld is out of range for rank %d", (long long)a, r);
        return false;
    }
    ir_node_set_attr(g, n, "axis", ATTR_INT)->i = *axis;
    return true;
}

/* ArgMax, ArgMin (opsets 1, 11, 12, 13): the int64 index of the largest /
 * smallest element along `axis` (default 0), the first one on ties unless
 * select_last_index = 1 (opset 12+); keepdims (default 1) keeps the axis as
 * size 1, else drops it. The axis must not be empty. */
bool shape_argreduce(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int axis;
    if (!check_dtype(n, d, x->dtype) || !canonical_axis(g, n, d, x, 0, &axis))
        return false;
    if (x->shape.dims[axis] == 0) {
        ir_node_error(d, n, "axis %d is empty, so it has no extreme element", axis);
        return false;
    }
    Shape y = x->shape;
    if (ir_attr_int(n, "keepdims", 1) != 0) {
        y.dims[axis] = 1;
    } else {
        memmove(&y.dims[axis], &y.dims[axis + 1], sizeof(int64_t) * (size_t)(y.rank - axis - 1));
        y.rank--;
    }
    rule_set_out(g, n, 0, DT_I64, &y);
    return true;
}

/* TopK (opsets 1, 10, 11): Values and int64 Indices of the k largest (opset
 * 11: the smallest with largest = 0) elements of X along `axis` (default -1),
 * sorted, ties in index order. k is attribute `k` (opset 1) or input K, a
 * one-element int64 tensor (10+), which must be a compile-time constant: it
 * sets the output shape. Both outputs have X's shape with k along axis. */
bool shape_topk(Graph *g, Node *n, Diag *d)
{
    const Value *x = ir_in(g, n, 0);
    int axis;
    int64_t k = -1;
    if (!check_dtype(n, d, x->dtype) || !canonical_axis(g, n, d, x, -1, &axis))
        return false;
    if (ir_in(g, n, 1)) {
        if (rule_const_ints(g, n, 1, &k, 1) != 1) {
            ir_node_error(d, n, "input 'K' must be a compile-time constant of one int64 value "
                          "(it sets the output shape)");
            return false;
        }
    } else if (ir_attr(n, "k")) {
        k = ir_attr_int(n, "k", -1);
    } else {
        ir_node_error(d, n, "needs k, as input 'K' (opset 10+) or attribute 'k' (opset 1)");
        return false;
    }
    if (k < 0 || k > x->shape.dims[axis]) {
        ir_node_error(d, n, "k = %lld is out of range for axis %d of size %lld", (long long)k,
                      axis, (long long)x->shape.dims[axis]);
        return false;
    }
    ir_node_set_attr(g, n, "k", ATTR_INT)->i = k;
    if (n->n_in > 1)
        n->in[1] = -1;
    Shape y = x->shape;
    y.dims[axis] = k;
    rule_set_out(g, n, 0, x->dtype, &y);
    rule_set_out(g, n, 1, DT_I64, &y);
    return true;
}

/* ---- Einsum ---- */

#define EIN_LETTERS 52 /* a-z, A-Z */
#define EIN_MAX_IN 16
#define EIN_ELLIPSIS 64 /* label ids of ellipsis dims start here */

static int ein_label(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + (c - 'A');
    return -1;
}

static char ein_char(int l)
{
    return (char)(l < 26 ? 'a' + l : 'A' + (l - 26));
}

/* One side of the equation parsed: per term the label of each dim (ellipsis
 * dims get EIN_ELLIPSIS + j, j counted so that all ellipses right-align). */
typedef struct EinTerms {
    int n;
    int rank[EIN_MAX_IN + 1];
    int lab[EIN_MAX_IN + 1][IR_MAX_RANK];
} EinTerms;

/* Parses term s (letters and at most one "...") of an input of rank r (its
 * ellipsis covers the dims the letters leave; r < 0: the output, whose
 * ellipsis covers all ell_rank dims) into lab; returns the label count or -1.
 * *has_ell tells whether the term had an ellipsis. */
static int ein_term(const char *s, size_t len, int r, int ell_rank, int *lab, bool *has_ell)
{
    int letters = 0, count = 0;
    *has_ell = false;
    for (size_t i = 0; i < len; i++)
        letters += ein_label(s[i]) >= 0;
    int ell = r < 0 ? ell_rank : r - letters;
    for (size_t i = 0; i < len; i++) {
        if (ein_label(s[i]) >= 0) {
            if (count >= IR_MAX_RANK)
                return -1;
            lab[count++] = ein_label(s[i]);
        } else if (i + 3 <= len && strncmp(s + i, "...", 3) == 0 && !*has_ell && ell >= 0 &&
                   count + ell <= IR_MAX_RANK) {
            *has_ell = true;
            for (int j = 0; j < ell; j++)
                lab[count++] = EIN_ELLIPSIS + (ell_rank - ell) + j;
            i += 2;
        } else {
            return -1;
        }
    }
    return count;
}

/* Checks each input term of lhs against its input's rank and finds the
 * ellipsis rank: the most dims any input's "..." covers. */
static bool einsum_ell_rank(const Graph *g, Node *n, Diag *d, const char *lhs, size_t lhs_len,
                            int *ell_rank)
{
    int k = 0, lab[IR_MAX_RANK];
    *ell_rank = 0;
    for (size_t start = 0, i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && lhs[i] != ',')
            continue;
        const Value *v = k < n->n_in ? ir_in(g, n, k) : NULL;
        bool has_ell;
        if (!v) {
            ir_node_error(d, n, "the equation has more terms than the node's %d inputs", n->n_in);
            return false;
        }
        int letters = 0;
        for (size_t j = start; j < i; j++)
            letters += ein_label(lhs[j]) >= 0;
        if (ein_term(lhs + start, i - start, v->shape.rank, 0, lab, &has_ell) < 0 ||
            (!has_ell && letters != v->shape.rank)) {
            ir_node_error(d, n, "equation term %d doesn't fit input %d of rank %d", k, k,
                          v->shape.rank);
            return false;
        }
        if (has_ell && v->shape.rank - letters > *ell_rank)
            *ell_rank = v->shape.rank - letters;
        k++;
        start = i + 1;
    }
    if (k != n->n_in) {
        ir_node_error(d, n, "the equation has %d terms for %d inputs", k, n->n_in);
        return false;
    }
    return true;
}

/* Splits the equation (spaces removed) into input terms and output; fills
 * t (inputs, then the output as term t->n when explicit) and the ellipsis
 * rank. */
static bool einsum_parse(const Graph *g, Node *n, Diag *d, EinTerms *t, int *ell_rank,
                         bool *explicit_out)
{
    const char *eq = ir_attr_str(n, "equation", NULL);
    char buf[512];
    size_t len = 0;
    if (!eq) {
        ir_node_error(d, n, "attribute 'equation' is missing");
        return false;
    }
    if (n->n_in > EIN_MAX_IN) {
        ir_node_error(d, n, "has %d inputs, at most %d supported", n->n_in, EIN_MAX_IN);
        return false;
    }
    for (; *eq && len + 1 < sizeof buf; eq++)
        if (*eq != ' ')
            buf[len++] = *eq;
    buf[len] = '\0';
    char *arrow = strstr(buf, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - buf) : len;
    *explicit_out = arrow != NULL;
    if (!einsum_ell_rank(g, n, d, buf, lhs_len, ell_rank))
        return false;
    t->n = n->n_in;
    for (int k = 0, start = 0; k < t->n; k++) {
        bool has_ell;
        int end = start;
        while ((size_t)end < lhs_len && buf[end] != ',')
            end++;
        t->rank[k] = ein_term(buf + start, (size_t)(end - start), ir_in(g, n, k)->shape.rank,
                              *ell_rank, t->lab[k], &has_ell);
        start = end + 1;
    }
    if (arrow) {
        bool has_ell;
        t->rank[t->n] = ein_term(arrow + 2, strlen(arrow + 2), -1, *ell_rank, t->lab[t->n], &has_ell);
        if (t->rank[t->n] < 0) {
            ir_node_error(d, n, "bad output term '%s' in the equation", arrow + 2);
            return false;
        }
    }
    return true;
}

/* Each label's size (size-1 dims broadcast, as ellipsis dims do); false
 * (reported) when two dims of one label disagree. */
static bool einsum_sizes(const Graph *g, Node *n, Diag *d, const EinTerms *t, int64_t *size)
{
    for (int l = 0; l < EIN_ELLIPSIS + IR_MAX_RANK; l++)
        size[l] = -1;
    for (int k = 0; k < t->n; k++) {
        const Shape *s = &ir_in(g, n, k)->shape;
        for (int i = 0; i < t->rank[k]; i++) {
            int64_t *z = &size[t->lab[k][i]], dim = s->dims[i];
            if (*z < 0 || *z == 1)
                *z = dim;
            else if (dim != *z && dim != 1) {
                ir_node_error(d, n, "input %d dim %d has size %lld, another dim of its label "
                              "has %lld", k, i, (long long)dim, (long long)*z);
                return false;
            }
        }
    }
    return true;
}

/* The implicit output (no "->"): the ellipsis dims, then the letters that
 * occur once, in ASCII order (numpy.einsum's rule). */
static void einsum_implicit_out(EinTerms *t, int ell_rank)
{
    int uses[EIN_LETTERS] = {0}, *out = t->lab[t->n], r = 0;
    for (int k = 0; k < t->n; k++)
        for (int i = 0; i < t->rank[k]; i++)
            if (t->lab[k][i] < EIN_LETTERS)
                uses[t->lab[k][i]]++;
    for (int j = 0; j < ell_rank; j++)
        out[r++] = EIN_ELLIPSIS + j;
    for (int pass = 0; pass < 2; pass++) /* 'A'..'Z' sort before 'a'..'z' */
        for (int l = pass ? 0 : 26; l < (pass ? 26 : EIN_LETTERS); l++)
            if (uses[l] == 1 && r < IR_MAX_RANK)
                out[r++] = l;
    t->rank[t->n] = r;
}

/* Rewrites the equation explicitly, naming ellipsis dims with letters the
 * equation doesn't use. False (reported) when letters run out. */
static bool einsum_canonical(Graph *g, Node *n, Diag *d, const EinTerms *t, int ell_rank)
{
    bool used[EIN_LETTERS] = {false};
    int name[IR_MAX_RANK];
    for (int k = 0; k <= t->n; k++)
        for (int i = 0; i < t->rank[k]; i++)
            if (t->lab[k][i] < EIN_LETTERS)
                used[t->lab[k][i]] = true;
    for (int j = 0, l = 0; j < ell_rank; j++, l++) {
        while (l < EIN_LETTERS && used[l])
            l++;
        if (l == EIN_LETTERS) {
            ir_node_error(d, n, "the equation uses too many labels");
            return false;
        }
        name[j] = l;
    }
    char buf[EIN_MAX_IN * (IR_MAX_RANK + 1) + IR_MAX_RANK + 4];
    size_t len = 0;
    for (int k = 0; k <= t->n; k++) {
        if (k > 0)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", k == t->n ? "->" : ",");
        for (int i = 0; i < t->rank[k]; i++) {
            int l = t->lab[k][i];
            buf[len++] = ein_char(l >= EIN_ELLIPSIS ? name[l - EIN_ELLIPSIS] : l);
        }
    }
    buf[len] = '\0';
    Attr *a = ir_node_set_attr(g, n, "equation", ATTR_STRING);
    a->s = arena_strdup(g->arena, buf);
    return true;
}

/* Einsum (opset 12): inputs of one type, an equation "TERM,TERM,…[->OUT]" of
 * letter labels, one per dim, with "..." for leading broadcast dims. A label
 * repeated within a term takes a diagonal; labels missing from the output
 * are summed over; without "->" the output is the ellipsis dims and then the
 * letters occurring once, sorted. Y's dims are its labels' sizes. */
bool shape_einsum(Graph *g, Node *n, Diag *d)
{
    EinTerms t;
    int ell_rank;
    bool explicit_out;
    int64_t size[EIN_ELLIPSIS + IR_MAX_RANK];
    const Value *x = ir_in(g, n, 0);
    for (int k = 0; k < n->n_in; k++)
        if (!ir_in(g, n, k) || ir_in(g, n, k)->dtype != x->dtype) {
            ir_node_error(d, n, "inputs must all be present and of one type");
            return false;
        }
    if (!check_dtype(n, d, x->dtype) || !einsum_parse(g, n, d, &t, &ell_rank, &explicit_out) ||
        !einsum_sizes(g, n, d, &t, size))
        return false;
    if (!explicit_out)
        einsum_implicit_out(&t, ell_rank);
    Shape y = {.rank = t.rank[t.n]};
    for (int i = 0; i < y.rank; i++) {
        int l = t.lab[t.n][i];
        for (int j = 0; j < i; j++)
            if (t.lab[t.n][j] == l) {
                ir_node_error(d, n, "output label '%c' is repeated", ein_char(l));
                return false;
            }
        if (size[l] < 0) {
            ir_node_error(d, n, "output label '%c' is not in any input", ein_char(l));
            return false;
        }
        y.dims[i] = size[l];
    }
    if (!einsum_canonical(g, n, d, &t, ell_rank))
        return false;
    rule_set_out(g, n, 0, x->dtype, &y);
    return true;
}
