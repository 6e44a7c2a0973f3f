/* text.c — the .kir text format: ir_print writes a Graph as text, ir_parse
 * reads it back (print → parse → print is byte-identical, constants bit-exact).
 * Used for hand-written models, --dump-after and golden tests; docs/kir.md is
 * the language reference and must be kept in step with this file. */
#include "ir.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================= shared by printer and parser ======================= */

static const char *const init_names[] = {
    [INIT_DATA] = "",
    [INIT_ZEROS] = "zeros",
    [INIT_ONES] = "ones",
    [INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [INIT_GLOROT_NORMAL] = "glorot_normal",
    [INIT_HE_UNIFORM] = "he_uniform",
    [INIT_HE_NORMAL] = "he_normal",
    [INIT_UNIFORM] = "uniform",
    [INIT_NORMAL] = "normal",
};
#define N_INIT (int)(sizeof init_names / sizeof init_names[0])
#define INIT_DEFAULT_SCALE 0.05 /* Keras RandomUniform / RandomNormal defaults */

/* The newest default-domain opset kiln knows; keep in step with
 * ONNX_MAX_OPSET (onnx/onnx_io.h). */
#define KIR_MAX_OPSET 18
#define MAX_ATTRS 4096         /* per node; far beyond any real op */
#define MAX_LIST (1 << 28)     /* elements of one list, input or output list */
#define WRAP_AFTER 16          /* data longer than this is printed 8 a line */
#define LINE_WIDTH 100         /* a node's attributes go one a line past this */

static bool is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}
/* The characters of a bare %name: [A-Za-z0-9_.:/-], not ending in ':'. */
static bool is_name_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == ':' || c == '/' || c == '-';
}
/* Bare words (keywords, dtypes, ops, domains, attribute and dim names). */
static bool is_word_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '.';
}

/* ---- float bits: f16 conversion and special values ---- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        float f = ldexpf((float)m, -24); /* zero or subnormal, exact */
        return sign ? -f : f;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13);
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest even, as IEEE 754 binary16. */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan (payload's top bits kept, stays a nan) */
        return sign | 0x7c00 | (ax > 0x7f800000u ? (uint16_t)(0x200 | ((ax >> 13) & 0x3ff)) : 0);
    if (ax >= 0x477ff000u) /* >= 65520 rounds to inf */
        return sign | 0x7c00;
    if (ax < 0x38800000u) { /* below 2^-14: a subnormal half */
        float a;
        memcpy(&a, &ax, 4);
        return sign | (uint16_t)nearbyintf(a * 16777216.0f);
    }
    uint32_t m = ax + 0xc8000fffu + ((ax >> 13) & 1); /* rebias and round */
    return sign | (uint16_t)(m >> 13);
}

static int mant_bits(int width)
{
    return width == 16 ? 10 : width == 32 ? 23 : 52;
}
static uint64_t exp_mask(int width)
{
    int m = mant_bits(width);
    return ((((uint64_t)1) << (width - 1 - m)) - 1) << m;
}
static uint64_t sign_bit(int width)
{
    return (uint64_t)1 << (width - 1);
}
static uint64_t canonical_nan(int width)
{
    return exp_mask(width) | ((uint64_t)1 << (mant_bits(width) - 1));
}
static bool is_nan_bits(uint64_t bits, int width)
{
    if (width < 64 && bits >> width)
        return false;
    uint64_t frac = bits & ((((uint64_t)1) << mant_bits(width)) - 1);
    return (bits & exp_mask(width)) == exp_mask(width) && frac != 0;
}

/* ====================================== printer ====================================== */

enum { FK_F16, FK_F32, FK_F64 };

static bool reads_back(const char *s, double v, int fk)
{
    if (fk == FK_F64)
        return strtod(s, NULL) == v;
    if (fk == FK_F32)
        return strtof(s, NULL) == (float)v;
    return float_to_half(strtof(s, NULL)) == float_to_half((float)v);
}

/* The shortest %.Ng that reads back as v in its own precision (at most 9
 * digits for f32, 17 for f64), with ".0" added so it never reads as an
 * integer. v is finite. */
static void fmt_finite(char *buf, size_t n, double v, int fk)
{
    int p = fk == FK_F16 ? 1 : 6, maxp = fk == FK_F64 ? 17 : 9;
    for (double a = fabs(v); fk == FK_F16 && a >= 10 && p < 5; a /= 10)
        p++; /* f16: "100", not "1e+02" */
    for (;; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (p >= maxp || reads_back(buf, v, fk))
            break;
    }
    size_t len = strlen(buf);
    if (!strpbrk(buf, ".e") && len + 3 <= n)
        memcpy(buf + len, ".0", 3);
}

/* inf, -inf, nan, -nan (the canonical quiet nan), or nan(0xBITS) for any
 * other nan. False if bits (a float of width bits) is finite. */
static bool fmt_special(char *buf, size_t n, uint64_t bits, int width)
{
    if ((bits & exp_mask(width)) != exp_mask(width))
        return false;
    const char *sign = (bits & sign_bit(width)) ? "-" : "";
    uint64_t mag = bits & ~sign_bit(width);
    if (mag == exp_mask(width))
        snprintf(buf, n, "%sinf", sign);
    else if (mag == canonical_nan(width))
        snprintf(buf, n, "%snan", sign);
    else
        snprintf(buf, n, "nan(0x%0*llx)", width / 4, (unsigned long long)bits);
    return true;
}

/* A double attribute: f64 exactly; a value that is exactly a float (as ONNX
 * float attributes are) is written as the shorter float literal plus 'f'. */
static void fmt_attr_float(char *buf, size_t n, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    if (fmt_special(buf, n, bits, 64))
        return;
    fmt_finite(buf, n, v, FK_F64);
    if (fabs(v) <= FLT_MAX && (double)(float)v == v) {
        char f[48];
        fmt_finite(f, sizeof f, v, FK_F32);
        if (strlen(f) + 1 < strlen(buf))
            snprintf(buf, n, "%sf", f);
    }
}

static bool dtype_is_signed(DType dt)
{
    return dt == DT_I8 || dt == DT_I16 || dt == DT_I32 || dt == DT_I64;
}

/* Element k of dense data of dtype dt. */
static void fmt_elem(char *buf, size_t n, DType dt, const void *data, int64_t k)
{
    size_t es = dtype_size(dt);
    const unsigned char *p = (const unsigned char *)data + (size_t)k * es;
    uint64_t u = 0;
    if (dt == DT_F32) {
        uint32_t b;
        float f;
        memcpy(&b, p, 4);
        memcpy(&f, p, 4);
        if (!fmt_special(buf, n, b, 32))
            fmt_finite(buf, n, f, FK_F32);
    } else if (dt == DT_F64) {
        uint64_t b;
        double f;
        memcpy(&b, p, 8);
        memcpy(&f, p, 8);
        if (!fmt_special(buf, n, b, 64))
            fmt_finite(buf, n, f, FK_F64);
    } else if (dt == DT_F16) {
        uint16_t h;
        memcpy(&h, p, 2);
        if (!fmt_special(buf, n, h, 16))
            fmt_finite(buf, n, half_to_float(h), FK_F16);
    } else if (dt == DT_BOOL) {
        if (*p > 1)
            snprintf(buf, n, "%u", *p);
        else
            snprintf(buf, n, "%s", *p ? "true" : "false");
    } else if (es == 1 || es == 2 || es == 4 || es == 8) {
        uint8_t u8; uint16_t u16; uint32_t u32;
        switch (es) {
        case 1: memcpy(&u8, p, 1); u = u8; break;
        case 2: memcpy(&u16, p, 2); u = u16; break;
        case 4: memcpy(&u32, p, 4); u = u32; break;
        default: memcpy(&u, p, 8); break;
        }
        if (dtype_is_signed(dt) && es < 8 && (u >> (es * 8 - 1)))
            u |= ~(uint64_t)0 << (es * 8); /* sign-extend */
        if (dtype_is_signed(dt))
            snprintf(buf, n, "%lld", (long long)(int64_t)u);
        else
            snprintf(buf, n, "%llu", (unsigned long long)u);
    } else {
        snprintf(buf, n, "?");
    }
}

static void put_quoted(StrBuf *sb, const char *s)
{
    sb_append(sb, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_printf(sb, "\\%c", *c);
        else if (*c == '\n')
            sb_append(sb, "\\n", 2);
        else if (*c == '\t')
            sb_append(sb, "\\t", 2);
        else if (*c == '\r')
            sb_append(sb, "\\r", 2);
        else if (*c < 0x20 || *c == 0x7f)
            sb_printf(sb, "\\x%02x", *c);
        else
            sb_append(sb, (const char *)c, 1);
    }
    sb_append(sb, "\"", 1);
}

/* A value name (value_name) or a word that the lexer reads back unchanged. */
static bool is_bare(const char *s, bool value_name)
{
    if (!s || !s[0] || (!value_name && !is_alpha((unsigned char)s[0])))
        return false;
    for (const char *c = s; *c; c++)
        if (!(value_name ? is_name_char((unsigned char)*c) : is_word_char((unsigned char)*c)))
            return false;
    return !value_name || s[strlen(s) - 1] != ':';
}

static void put_word(StrBuf *sb, const char *s)
{
    if (is_bare(s, false))
        sb_printf(sb, "%s", s);
    else
        put_quoted(sb, s);
}

static void put_vname(StrBuf *sb, const char *s)
{
    sb_append(sb, "%", 1);
    if (is_bare(s, true))
        sb_printf(sb, "%s", s);
    else
        put_quoted(sb, s);
}

static void put_type(StrBuf *sb, DType dt, const Shape *s)
{
    int rank = s->rank < 0 ? 0 : s->rank > IR_MAX_RANK ? IR_MAX_RANK : s->rank;
    sb_printf(sb, "%s[", dtype_name(dt));
    for (int i = 0; i < rank; i++) {
        if (i)
            sb_append(sb, ", ", 2);
        if (s->dims[i] >= 0)
            sb_printf(sb, "%lld", (long long)s->dims[i]);
        else if (s->sym[i] && s->sym[i][0])
            put_word(sb, s->sym[i]);
        else
            sb_append(sb, "?", 1);
    }
    sb_append(sb, "]", 1);
}

/* The data list: one line when short, else 8 values a line, indented
 * by indent + 4 and closed at indent. */
static void put_data(StrBuf *sb, DType dt, const void *data, int64_t numel, int indent)
{
    bool wrap = numel > WRAP_AFTER;
    char buf[64];
    sb_append(sb, "[", 1);
    for (int64_t k = 0; k < numel; k++) {
        if (k)
            sb_append(sb, ",", 1);
        if (wrap && k % 8 == 0)
            sb_printf(sb, "\n%*s", indent + 4, "");
        else if (k)
            sb_append(sb, " ", 1);
        fmt_elem(buf, sizeof buf, dt, data, k);
        sb_printf(sb, "%s", buf);
    }
    if (wrap)
        sb_printf(sb, "\n%*s", indent, "");
    sb_append(sb, "]", 1);
}

static void put_init(StrBuf *sb, const Value *v)
{
    int r = (int)v->init;
    sb_printf(sb, "%s", r > 0 && r < N_INIT ? init_names[r] : "?");
    bool scale = v->init == INIT_UNIFORM || v->init == INIT_NORMAL || v->init_scale != 0;
    if (!scale && v->init_seed == 0)
        return;
    char buf[64] = "";
    if (scale)
        fmt_attr_float(buf, sizeof buf, v->init_scale);
    sb_printf(sb, "(%s%s%s", scale ? "scale=" : "", buf, scale && v->init_seed ? ", " : "");
    if (v->init_seed)
        sb_printf(sb, "seed=%llu", (unsigned long long)v->init_seed);
    sb_append(sb, ")", 1);
}

static void put_const_decl(StrBuf *sb, const Value *v)
{
    if (v->kind == VAL_STATE)
        sb_printf(sb, "state %s", v->trainable ? "trainable " : "");
    else
        sb_printf(sb, "%s  ", v->is_param ? "param" : "const");
    put_vname(sb, v->name);
    sb_append(sb, " : ", 3);
    put_type(sb, v->dtype, &v->shape);
    int64_t numel = shape_numel(&v->shape);
    if (v->init != INIT_DATA) {
        sb_append(sb, " = ", 3);
        put_init(sb, v);
    } else if (v->data && numel >= 0 && dtype_size(v->dtype) > 0) {
        sb_append(sb, " = ", 3);
        put_data(sb, v->dtype, v->data, numel, 0);
    }
    sb_append(sb, "\n", 1);
}

static void put_ref(StrBuf *sb, const Graph *g, int id)
{
    if (id < 0)
        sb_append(sb, "_", 1);
    else if (id >= g->n_values || !g->values[id])
        sb_printf(sb, "%%\"<invalid value id %d>\"", id);
    else
        put_vname(sb, g->values[id]->name);
}

static void put_list(StrBuf *sb, const Attr *a)
{
    static const char *const empty[] = {[ATTR_INTS] = "ints []", [ATTR_FLOATS] = "floats []",
                                        [ATTR_STRINGS] = "strings []"};
    const void *items = a->type == ATTR_INTS ? (const void *)a->ints
                      : a->type == ATTR_FLOATS ? (const void *)a->floats : (const void *)a->strings;
    if (a->n <= 0 || !items) {
        sb_printf(sb, "%s", empty[a->type]);
        return;
    }
    char buf[64];
    sb_append(sb, "[", 1);
    for (int k = 0; k < a->n; k++) {
        if (k)
            sb_append(sb, ", ", 2);
        if (a->type == ATTR_INTS) {
            sb_printf(sb, "%lld", (long long)a->ints[k]);
        } else if (a->type == ATTR_FLOATS) {
            fmt_attr_float(buf, sizeof buf, a->floats[k]);
            sb_printf(sb, "%s", buf);
        } else {
            put_quoted(sb, a->strings[k]);
        }
    }
    sb_append(sb, "]", 1);
}

/* name = value; a long tensor wraps at indent. */
static void put_attr(StrBuf *sb, const Attr *a, int indent)
{
    char buf[64];
    put_word(sb, a->name);
    sb_append(sb, " = ", 3);
    switch (a->type) {
    case ATTR_INT:
        sb_printf(sb, "%lld", (long long)a->i);
        break;
    case ATTR_FLOAT:
        fmt_attr_float(buf, sizeof buf, a->f);
        sb_printf(sb, "%s", buf);
        break;
    case ATTR_STRING:
        put_quoted(sb, a->s);
        break;
    case ATTR_INTS:
    case ATTR_FLOATS:
    case ATTR_STRINGS:
        put_list(sb, a);
        break;
    case ATTR_TENSOR:
        if (!a->t) {
            sb_printf(sb, "<no tensor>");
            break;
        }
        put_type(sb, a->t->dtype, &a->t->shape);
        sb_append(sb, " ", 1);
        put_data(sb, a->t->dtype, a->t->data, a->t->data ? shape_numel(&a->t->shape) : 0, indent);
        break;
    default:
        sb_printf(sb, "<attribute type %d>", (int)a->type);
    }
}

/* `node "NAME"`, padded to width so that the outputs line up. */
static void put_node_name(StrBuf *sb, const Node *n, size_t width)
{
    size_t start = sb->len;
    sb_append(sb, "node ", 5);
    put_quoted(sb, n->name);
    do
        sb_append(sb, " ", 1);
    while (sb->len - start < width + 1);
}

/* {a = 1, b = 2} on the node's line, or one attribute a line when that
 * line would pass LINE_WIDTH or an attribute spans lines. */
static void put_attrs(StrBuf *sb, const Node *n, size_t line_start)
{
    StrBuf one = {0};
    for (int i = 0; i < n->n_attr; i++) {
        sb_append(&one, i ? ", " : " {", 2);
        put_attr(&one, &n->attrs[i], 4);
    }
    if (!strchr(one.buf, '\n') && sb->len - line_start + one.len < LINE_WIDTH) {
        sb_printf(sb, "%s}", one.buf);
    } else {
        sb_append(sb, " {\n", 3);
        for (int i = 0; i < n->n_attr; i++) {
            sb_append(sb, "    ", 4);
            put_attr(sb, &n->attrs[i], 4);
            sb_append(sb, ",\n", 2);
        }
        sb_append(sb, "}", 1);
    }
    sb_free(&one);
}

static void put_node(StrBuf *sb, const Graph *g, const Node *n, size_t width)
{
    size_t line_start = sb->len;
    put_node_name(sb, n, width);
    for (int i = 0; i < n->n_out; i++) {
        if (i)
            sb_append(sb, ", ", 2);
        put_ref(sb, g, n->out[i]);
        const Value *v = n->out[i] >= 0 && n->out[i] < g->n_values ? g->values[n->out[i]] : NULL;
        if (v && v->has_type) {
            sb_append(sb, " : ", 3);
            put_type(sb, v->dtype, &v->shape);
        }
    }
    sb_append(sb, n->n_out ? " = " : "= ", n->n_out ? 3 : 2);
    if (n->domain && n->domain[0]) {
        put_word(sb, n->domain);
        sb_append(sb, "::", 2);
    }
    put_word(sb, n->op_name ? n->op_name : op_info[n->op].name);
    sb_append(sb, "(", 1);
    for (int i = 0; i < n->n_in; i++) {
        if (i)
            sb_append(sb, ", ", 2);
        put_ref(sb, g, n->in[i]);
    }
    sb_append(sb, ")", 1);
    if (n->opset != g->opset)
        sb_printf(sb, " opset %d", n->opset);
    if (n->n_attr > 0)
        put_attrs(sb, n, line_start);
    sb_append(sb, "\n", 1);
}

/* The width of the widest `node "NAME"` (capped), for alignment. */
static size_t node_name_width(const Graph *g)
{
    size_t width = 0;
    StrBuf tmp = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i] || g->nodes[i]->dead)
            continue;
        tmp.len = 0;
        sb_append(&tmp, "node ", 5);
        put_quoted(&tmp, g->nodes[i]->name);
        if (tmp.len > width && tmp.len <= 40)
            width = tmp.len;
    }
    sb_free(&tmp);
    return width;
}

static void print_decls(const Graph *g, StrBuf *out)
{
    bool any = g->n_inputs > 0;
    for (int i = 0; i < g->n_values && !any; i++)
        any = g->values[i] && (g->values[i]->kind == VAL_CONST || g->values[i]->kind == VAL_STATE);
    if (any)
        sb_append(out, "\n", 1);
    for (int i = 0; i < g->n_inputs; i++) {
        sb_append(out, "input  ", 7);
        put_ref(out, g, g->inputs[i]);
        const Value *v = g->inputs[i] >= 0 && g->inputs[i] < g->n_values ? g->values[g->inputs[i]] : NULL;
        if (v && v->has_type) {
            sb_append(out, " : ", 3);
            put_type(out, v->dtype, &v->shape);
        }
        sb_append(out, "\n", 1);
    }
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i] && (g->values[i]->kind == VAL_CONST || g->values[i]->kind == VAL_STATE))
            put_const_decl(out, g->values[i]);
}

/* The training step's extra inputs, its loss and its state updates. */
static void print_training(const Graph *g, StrBuf *out)
{
    if (g->train_loss < 0)
        return;
    sb_append(out, "\n", 1);
    for (int i = g->n_inputs; i < g->n_train_inputs; i++) {
        const Value *v = g->values[g->train_inputs[i]];
        sb_append(out, "train_input ", 12);
        put_ref(out, g, v->id);
        sb_append(out, " : ", 3);
        put_type(out, v->dtype, &v->shape);
        sb_append(out, "\n", 1);
    }
    sb_append(out, "loss ", 5);
    put_ref(out, g, g->train_loss);
    sb_append(out, "\n", 1);
    for (int i = 0; i < g->n_assigns; i++) {
        sb_append(out, "assign ", 7);
        put_ref(out, g, g->assigns[i].state);
        sb_append(out, " = ", 3);
        put_ref(out, g, g->assigns[i].value);
        sb_append(out, "\n", 1);
    }
}

void ir_print(const Graph *g, StrBuf *out)
{
    sb_printf(out, "# kiln IR v1\ngraph ");
    put_quoted(out, g->name);
    if (g->producer && g->producer[0]) {
        sb_printf(out, " producer ");
        put_quoted(out, g->producer);
    }
    sb_printf(out, " opset %d\n", g->opset);
    print_decls(g, out);

    size_t width = node_name_width(g);
    bool first = true;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i] || g->nodes[i]->dead)
            continue;
        if (first)
            sb_append(out, "\n", 1);
        first = false;
        put_node(out, g, g->nodes[i], width);
    }
    if (g->n_outputs)
        sb_append(out, "\n", 1);
    for (int i = 0; i < g->n_outputs; i++) {
        sb_append(out, "output ", 7);
        put_ref(out, g, g->outputs[i]);
        sb_append(out, "\n", 1);
    }
    print_training(g, out);
}

/* ====================================== lexer ====================================== */

enum { T_EOF, T_ERR, T_WORD, T_STRING, T_VALUE, T_INT, T_REAL, T_PUNCT };
#define P_DCOLON 'D' /* the punctuation code of "::" */

typedef struct Tok {
    int kind;
    const char *s; /* WORD/INT/REAL: source text; STRING/VALUE: unescaped, NUL-terminated */
    size_t n;
    int line, col;
    int punct;     /* T_PUNCT: the character, or P_DCOLON */
} Tok;

typedef struct ValPos {
    int def_line, def_col; /* where the value is defined; 0 while only used */
    int use_line, use_col; /* its first use */
} ValPos;

typedef struct Parser {
    Arena *a;
    Graph *g;
    Diag *d;
    const char *file;
    const char *cur, *end, *line_start;
    int line;
    Tok tok;
    bool failed;
    int *map;           /* open addressing by name: value id + 1, 0 = empty */
    size_t map_cap;
    ValPos *pos;        /* per value id */
    int cap_pos;
} Parser;

static bool perr_at(Parser *p, int line, int col, const char *fmt, ...) KILN_PRINTF(4, 5);

/* Every parse error: "FILE:LINE:COL: message"; only the first is kept. */
static bool perr_at(Parser *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *saved = p->d->file;
    p->d->file = NULL;
    diag_error(p->d, "%s:%d:%d: %s", p->file, line, col, msg);
    p->d->file = saved;
    return false;
}
#define perr(p, t, ...) perr_at((p), (t)->line, (t)->col, __VA_ARGS__)

static int cur_col(const Parser *p)
{
    ptrdiff_t c = p->cur - p->line_start + 1;
    return c > INT_MAX ? INT_MAX : (int)c;
}

static void skip_space(Parser *p)
{
    while (p->cur < p->end) {
        char c = *p->cur;
        if (c == '\n') {
            p->cur++;
            p->line_start = p->cur;
            if (p->line < INT_MAX)
                p->line++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            p->cur++;
        } else if (c == '#') {
            while (p->cur < p->end && *p->cur != '\n')
                p->cur++;
        } else {
            break;
        }
    }
}

static int hex_val(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The escape at q (just after a backslash) into *out; returns its length or 0. */
static int unescape_one(const char *q, const char *end, char *out)
{
    switch (*q) {
    case '\\': *out = '\\'; return 1;
    case '"': *out = '"'; return 1;
    case 'n': *out = '\n'; return 1;
    case 't': *out = '\t'; return 1;
    case 'r': *out = '\r'; return 1;
    case 'x':
        if (end - q >= 3 && hex_val((unsigned char)q[1]) >= 0 && hex_val((unsigned char)q[2]) >= 0) {
            *out = (char)(hex_val((unsigned char)q[1]) * 16 + hex_val((unsigned char)q[2]));
            return *out ? 3 : 0;
        }
        return 0;
    default:
        return 0;
    }
}

/* A "..." string at p->cur; kind is T_STRING or T_VALUE (after '%'). */
static void lex_string(Parser *p, Tok *t, int kind)
{
    const char *q = p->cur + 1, *close = NULL;
    for (; q < p->end && *q != '\n'; q++) {
        if (*q == '"') {
            close = q;
            break;
        }
        if (*q == '\\' && q + 1 < p->end && q[1] != '\n')
            q++;
    }
    if (!close) {
        perr(p, t, "unterminated string");
        t->kind = T_ERR;
        return;
    }
    char *out = arena_alloc(p->a, (size_t)(close - p->cur));
    size_t n = 0;
    for (q = p->cur + 1; q < close; q++) {
        if (*q == '\0') {
            perr_at(p, p->line, (int)(q - p->line_start + 1), "NUL byte in a string");
            t->kind = T_ERR;
            return;
        }
        if (*q != '\\') {
            out[n++] = *q;
            continue;
        }
        int len = unescape_one(q + 1, close, &out[n++]);
        if (!len) {
            perr_at(p, p->line, (int)(q - p->line_start + 1),
                    "bad escape in string (use \\\\ \\\" \\n \\t \\r or \\xHH, not \\x00)");
            t->kind = T_ERR;
            return;
        }
        q += len;
    }
    out[n] = '\0';
    t->kind = kind;
    t->s = out;
    t->n = n;
    p->cur = close + 1;
}

/* %name: the bare characters, minus any trailing ':' (so `%x: f32` works). */
static void lex_bare_name(Parser *p, Tok *t)
{
    const char *q = p->cur;
    while (q < p->end && is_name_char((unsigned char)*q))
        q++;
    while (q > p->cur && q[-1] == ':')
        q--;
    if (q == p->cur) {
        perr(p, t, "expected a name after '%%'");
        t->kind = T_ERR;
        return;
    }
    size_t n = (size_t)(q - p->cur);
    char *s = arena_alloc(p->a, n + 1);
    memcpy(s, p->cur, n);
    t->kind = T_VALUE;
    t->s = s;
    t->n = n;
    p->cur = q;
}

static bool at_digit(const Parser *p, const char *q)
{
    return q < p->end && is_digit((unsigned char)*q);
}

/* 12, 0x1f, 1.5, .5, 1e-3, 1.5f; signs are separate '-' / '+' tokens. */
static void lex_number(Parser *p, Tok *t)
{
    const char *q = p->cur;
    bool real = false, ok = true;
    if (q + 1 < p->end && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        q += 2;
        while (q < p->end && hex_val((unsigned char)*q) >= 0)
            q++;
        ok = q > p->cur + 2;
    } else {
        while (at_digit(p, q))
            q++;
        if (q < p->end && *q == '.') {
            real = true;
            q++;
            while (at_digit(p, q))
                q++;
        }
        if (q < p->end && (*q == 'e' || *q == 'E')) {
            real = true;
            q++;
            if (q < p->end && (*q == '+' || *q == '-'))
                q++;
            ok = at_digit(p, q);
            while (at_digit(p, q))
                q++;
        }
        if (ok && q < p->end && *q == 'f') {
            real = true;
            q++;
        }
    }
    const char *start = p->cur;
    if (!ok || (q < p->end && is_word_char((unsigned char)*q))) {
        while (q < p->end && is_word_char((unsigned char)*q))
            q++;
        perr(p, t, "invalid number '%.*s'", (int)(q - start > 40 ? 40 : q - start), start);
        t->kind = T_ERR;
        return;
    }
    t->kind = real ? T_REAL : T_INT;
    t->s = start;
    t->n = (size_t)(q - start);
    p->cur = q;
}

static void lex(Parser *p)
{
    Tok *t = &p->tok;
    if (p->failed) { /* stop at the first error; callers see T_ERR */
        t->kind = T_ERR;
        return;
    }
    skip_space(p);
    memset(t, 0, sizeof *t);
    t->line = p->line;
    t->col = cur_col(p);
    if (p->cur >= p->end) {
        t->kind = T_EOF;
        return;
    }
    int c = (unsigned char)*p->cur;
    if (c == '"') {
        lex_string(p, t, T_STRING);
    } else if (c == '%') {
        p->cur++;
        if (p->cur < p->end && *p->cur == '"')
            lex_string(p, t, T_VALUE);
        else
            lex_bare_name(p, t);
    } else if (is_alpha(c)) {
        t->kind = T_WORD;
        t->s = p->cur;
        while (p->cur < p->end && is_word_char((unsigned char)*p->cur))
            p->cur++;
        t->n = (size_t)(p->cur - t->s);
    } else if (is_digit(c) || (c == '.' && at_digit(p, p->cur + 1))) {
        lex_number(p, t);
    } else if (c == ':' && p->cur + 1 < p->end && p->cur[1] == ':') {
        t->kind = T_PUNCT;
        t->punct = P_DCOLON;
        p->cur += 2;
    } else if (c && strchr("()[]{},=:?-+", c)) {
        t->kind = T_PUNCT;
        t->punct = c;
        p->cur++;
    } else {
        if (c > 0x20 && c < 0x7f)
            perr(p, t, "unexpected character '%c'", c);
        else
            perr(p, t, "unexpected byte 0x%02x", (unsigned)c);
        t->kind = T_ERR;
    }
}

static bool is_punct(const Parser *p, int c)
{
    return p->tok.kind == T_PUNCT && p->tok.punct == c;
}

static bool accept(Parser *p, int c)
{
    if (!is_punct(p, c))
        return false;
    lex(p);
    return true;
}

static bool expect(Parser *p, int c, const char *msg)
{
    return accept(p, c) || perr(p, &p->tok, "%s", msg);
}

static bool is_word(const Tok *t, const char *w)
{
    return t->kind == T_WORD && t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

/* A name written as a word or a string ("label"), copied into the arena. */
static bool is_label(const Tok *t)
{
    return t->kind == T_WORD || t->kind == T_STRING;
}
static const char *label_str(Parser *p, const Tok *t)
{
    if (t->kind == T_STRING)
        return t->s;
    char *s = arena_alloc(p->a, t->n + 1);
    memcpy(s, t->s, t->n);
    return s;
}

/* ================================== numbers ================================== */

typedef struct Num {
    enum { NUM_INT, NUM_REAL, NUM_INF, NUM_NAN } kind;
    bool neg;
    bool fsuf;       /* NUM_REAL written with 'f': the nearest f32 */
    bool payload;    /* NUM_NAN written nan(0xBITS): bits in mag */
    uint64_t mag;    /* NUM_INT: |value| */
    char text[128];  /* NUM_REAL: the literal without sign and 'f' */
    Tok at;
} Num;

static bool parse_uint(const Tok *t, uint64_t *out)
{
    uint64_t v = 0;
    bool hex = t->n > 2 && (t->s[1] == 'x' || t->s[1] == 'X');
    for (size_t i = hex ? 2 : 0; i < t->n; i++) {
        unsigned dgt = (unsigned)hex_val((unsigned char)t->s[i]), base = hex ? 16 : 10;
        if (v > (UINT64_MAX - dgt) / base)
            return false;
        v = v * base + dgt;
    }
    *out = v;
    return true;
}

static bool starts_num(const Parser *p)
{
    const Tok *t = &p->tok;
    return t->kind == T_INT || t->kind == T_REAL || is_punct(p, '-') || is_punct(p, '+') ||
           is_word(t, "inf") || is_word(t, "nan") || is_word(t, "true") || is_word(t, "false");
}

/* nan(0xBITS), after the word nan. */
static bool parse_nan_payload(Parser *p, Num *x)
{
    lex(p);
    if (p->tok.kind != T_INT || !parse_uint(&p->tok, &x->mag))
        return perr(p, &p->tok, "expected the bits of a nan, as in nan(0x7fc00001)");
    x->payload = true;
    lex(p);
    return expect(p, ')', "expected ')' after the nan's bits");
}

/* [-|+] (integer | real | inf | nan | nan(0xBITS) | true | false) */
static bool parse_num(Parser *p, Num *x)
{
    memset(x, 0, sizeof *x);
    x->at = p->tok;
    if (accept(p, '-'))
        x->neg = true;
    else
        accept(p, '+');
    const Tok *t = &p->tok;
    if (t->kind == T_INT) {
        x->kind = NUM_INT;
        if (!parse_uint(t, &x->mag))
            return perr(p, t, "integer %.*s is too large", (int)(t->n > 40 ? 40 : t->n), t->s);
    } else if (t->kind == T_REAL) {
        x->kind = NUM_REAL;
        if (t->n >= sizeof x->text)
            return perr(p, t, "number too long");
        x->fsuf = t->s[t->n - 1] == 'f';
        memcpy(x->text, t->s, t->n - x->fsuf);
    } else if (is_word(t, "inf")) {
        x->kind = NUM_INF;
    } else if (is_word(t, "nan")) {
        x->kind = NUM_NAN;
        lex(p);
        return is_punct(p, '(') ? parse_nan_payload(p, x) : true;
    } else if ((is_word(t, "true") || is_word(t, "false")) && !x->neg) {
        x->kind = NUM_INT;
        x->mag = is_word(t, "true");
    } else {
        return perr(p, t, "expected a number");
    }
    lex(p);
    return true;
}

/* x as an IEEE float of width 16, 32 or 64 bits at dst. */
static bool store_float(Parser *p, const Num *x, int width, void *dst)
{
    uint64_t bits;
    if (x->kind == NUM_NAN) {
        bits = x->payload ? x->mag : canonical_nan(width);
        if (!is_nan_bits(bits, width))
            return perr(p, &x->at, "nan(0x%llx) is not the bits of an f%d nan",
                        (unsigned long long)bits, width);
        if (x->neg)
            bits ^= sign_bit(width);
    } else {
        double v = INFINITY;
        float f = INFINITY;
        if (x->kind == NUM_INT) {
            v = (double)x->mag;
            f = (float)x->mag;
        } else if (x->kind == NUM_REAL) {
            f = strtof(x->text, NULL);
            v = x->fsuf ? (double)f : strtod(x->text, NULL);
        }
        bool inf = width == 64 ? isinf(v) : width == 32 ? isinf(f) : (float_to_half(f) & 0x7fff) == 0x7c00;
        if (inf && x->kind != NUM_INF)
            return perr(p, &x->at, "%s is out of range for f%d", x->kind == NUM_REAL ? x->text : "integer", width);
        if (x->neg) {
            v = -v;
            f = -f;
        }
        if (width == 64)
            memcpy(&bits, &v, 8);
        else if (width == 32) {
            uint32_t b;
            memcpy(&b, &f, 4);
            bits = b;
        } else
            bits = float_to_half(f);
    }
    uint16_t b16 = (uint16_t)bits;
    uint32_t b32 = (uint32_t)bits;
    memcpy(dst, width == 16 ? (void *)&b16 : width == 32 ? (void *)&b32 : (void *)&bits, (size_t)width / 8);
    return true;
}

/* x as an integer of dtype dt at dst, range-checked. */
static bool store_int(Parser *p, const Num *x, DType dt, void *dst)
{
    size_t es = dtype_size(dt);
    if (x->kind != NUM_INT)
        return perr(p, &x->at, "expected an integer for %s", dtype_name(dt));
    bool is_signed = dtype_is_signed(dt);
    uint64_t max = dt == DT_BOOL ? 255 : es == 8 ? (is_signed ? INT64_MAX : UINT64_MAX)
                                                 : (((uint64_t)1 << (es * 8 - is_signed)) - 1);
    uint64_t max_neg = is_signed ? max + 1 : 0;
    if (x->neg ? x->mag > max_neg : x->mag > max)
        return perr(p, &x->at, "%s%llu is out of range for %s", x->neg ? "-" : "",
                    (unsigned long long)x->mag, dtype_name(dt));
    uint64_t u = x->neg ? (uint64_t)0 - x->mag : x->mag;
    uint8_t u8 = (uint8_t)u;
    uint16_t u16 = (uint16_t)u;
    uint32_t u32 = (uint32_t)u;
    memcpy(dst, es == 1 ? (void *)&u8 : es == 2 ? (void *)&u16 : es == 4 ? (void *)&u32 : (void *)&u, es);
    return true;
}

static bool store_elem(Parser *p, const Num *x, DType dt, void *dst)
{
    if (dt == DT_F32 || dt == DT_F64 || dt == DT_F16)
        return store_float(p, x, dt == DT_F16 ? 16 : dt == DT_F32 ? 32 : 64, dst);
    return store_int(p, x, dt, dst);
}

/* =============================== types and data =============================== */

static const char *type_str(DType dt, const Shape *s, char *buf, size_t n)
{
    StrBuf sb = {0};
    put_type(&sb, dt, s);
    snprintf(buf, n, "%s", sb.buf);
    sb_free(&sb);
    return buf;
}

static bool parse_dim(Parser *p, Shape *s, int i)
{
    const Tok *t = &p->tok;
    s->dims[i] = -1;
    s->sym[i] = "";
    if (t->kind == T_INT) {
        uint64_t v;
        if (!parse_uint(t, &v) || v > INT64_MAX)
            return perr(p, t, "dim %.*s is too large", (int)(t->n > 40 ? 40 : t->n), t->s);
        s->dims[i] = (int64_t)v;
    } else if (is_label(t)) {
        s->sym[i] = label_str(p, t);
    } else if (is_punct(p, '-')) {
        return perr(p, t, "a dim can't be negative; write ? or a name for an unknown dim");
    } else if (!is_punct(p, '?')) {
        return perr(p, t, "expected a dim (a size, a name or ?)");
    }
    lex(p);
    return true;
}

/* dtype '[' [dim {',' dim}] ']' */
static bool parse_type(Parser *p, DType *dt, Shape *s)
{
    Tok t = p->tok;
    char name[16] = "", ts[128];
    if (t.kind != T_WORD)
        return perr(p, &t, "expected a dtype (f32, i64, ...)");
    if (t.n < sizeof name)
        memcpy(name, t.s, t.n);
    *dt = dtype_from_name(name);
    if (*dt == DT_UNDEF)
        return perr(p, &t, "unknown dtype '%.*s'", (int)(t.n > 40 ? 40 : t.n), t.s);
    lex(p);
    memset(s, 0, sizeof *s);
    if (!expect(p, '[', "expected '[' after the dtype"))
        return false;
    while (!accept(p, ']')) {
        if (s->rank == IR_MAX_RANK)
            return perr(p, &p->tok, "more than %d dims", IR_MAX_RANK);
        if (!parse_dim(p, s, s->rank++))
            return false;
        if (!accept(p, ',') && !is_punct(p, ']'))
            return perr(p, &p->tok, "expected ',' or ']' in the shape");
    }
    int64_t bytes = (int64_t)dtype_size(*dt);
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] >= 0 && !size_mul_ok(bytes, s->dims[i], &bytes))
            return perr(p, &t, "%s is too large", type_str(*dt, s, ts, sizeof ts));
    return true;
}

/* '[' [num {',' num} [',']] ']' holding exactly numel(s) values of dt. */
static bool parse_data(Parser *p, DType dt, const Shape *s, void **out)
{
    Tok open = p->tok;
    char ts[128];
    int64_t numel = shape_numel(s), count = 0;
    if (numel < 0)
        return perr(p, &open, "data needs a static shape, not %s", type_str(dt, s, ts, sizeof ts));
    if (!expect(p, '[', "expected '[' to start the data"))
        return false;
    size_t es = dtype_size(dt);
    unsigned char *buf = NULL;
    int cap = 0;
    while (!is_punct(p, ']')) {
        if (count == numel || count == MAX_LIST)
            return perr(p, &p->tok, "more than %lld values for %s", (long long)count,
                        type_str(dt, s, ts, sizeof ts));
        Num x;
        if (!parse_num(p, &x))
            return false;
        buf = arena_grow(p->a, buf, es, &cap, (int)count + 1);
        if (!store_elem(p, &x, dt, buf + (size_t)count * es))
            return false;
        count++;
        if (!accept(p, ','))
            break;
    }
    if (!expect(p, ']', "expected ',' or ']' in the data"))
        return false;
    if (count != numel)
        return perr(p, &open, "%lld values for %s, which holds %lld", (long long)count,
                    type_str(dt, s, ts, sizeof ts), (long long)numel);
    *out = buf ? buf : arena_alloc(p->a, 1);
    return true;
}

/* ================================= values by name ================================= */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int map_find(const Parser *p, const char *name)
{
    if (!p->map_cap)
        return -1;
    for (size_t i = hash_name(name) & (p->map_cap - 1);; i = (i + 1) & (p->map_cap - 1)) {
        int id = p->map[i] - 1;
        if (id < 0 || strcmp(p->g->values[id]->name, name) == 0)
            return id;
    }
}

static void map_insert(int *map, size_t cap, const char *name, int id)
{
    size_t i = hash_name(name) & (cap - 1);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = id + 1;
}

static int new_value(Parser *p, const char *name)
{
    Graph *g = p->g;
    if ((size_t)g->n_values * 2 >= p->map_cap) { /* keep the load under 1/2 */
        size_t cap = p->map_cap ? p->map_cap * 2 : 256;
        p->map = arena_alloc(p->a, sizeof(int) * cap);
        p->map_cap = cap;
        for (int i = 0; i < g->n_values; i++)
            map_insert(p->map, cap, g->values[i]->name, i);
    }
    Value *v = ir_graph_add_value(g, name);
    map_insert(p->map, p->map_cap, v->name, v->id);
    p->pos = arena_grow(p->a, p->pos, sizeof *p->pos, &p->cap_pos, g->n_values);
    return v->id;
}

static const char *vname_str(const char *name, char *buf, size_t n)
{
    StrBuf sb = {0};
    put_vname(&sb, name);
    snprintf(buf, n, "%s", sb.buf);
    sb_free(&sb);
    return buf;
}

/* The value named by the T_VALUE token t, defined here. */
static Value *define_value(Parser *p, const Tok *t)
{
    char buf[256];
    int id = map_find(p, t->s);
    if (id < 0)
        id = new_value(p, t->s);
    ValPos *vp = &p->pos[id];
    if (vp->def_line) {
        perr(p, t, "value %s defined twice (first at %d:%d)", vname_str(t->s, buf, sizeof buf),
             vp->def_line, vp->def_col);
        return NULL;
    }
    vp->def_line = t->line;
    vp->def_col = t->col;
    return p->g->values[id];
}

/* The value named by t, used here; it may be defined further down. */
static int use_value(Parser *p, const Tok *t)
{
    int id = map_find(p, t->s);
    if (id < 0) {
        id = new_value(p, t->s);
        p->pos[id].use_line = t->line;
        p->pos[id].use_col = t->col;
    }
    return id;
}

static bool check_defined(Parser *p)
{
    char buf[256];
    for (int i = 0; i < p->g->n_values; i++) {
        const ValPos *vp = &p->pos[i];
        if (!vp->def_line)
            return perr_at(p, vp->use_line, vp->use_col, "undefined value %s",
                           vname_str(p->g->values[i]->name, buf, sizeof buf));
    }
    return true;
}

/* Passes need a DAG: a value that depends on itself is the text's error,
 * reported at the first output of a node on the cycle. */
static bool check_acyclic(Parser *p)
{
    const Graph *g = p->g;
    int *order, n;
    if (ir_graph_topo(g, &order, &n))
        return true;
    bool *sorted = arena_alloc(p->a, (size_t)g->n_nodes + 1);
    for (int i = 0; i < n; i++)
        sorted[order[i]] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = g->nodes[i];
        if (nd->dead || sorted[nd->id])
            continue;
        const ValPos *vp = nd->n_out > 0 && nd->out[0] >= 0 ? &p->pos[nd->out[0]] : NULL;
        return perr_at(p, vp ? vp->def_line : 0, vp ? vp->def_col : 0,
                       "node '%s' (%s) is on a cycle: its inputs depend on its own outputs",
                       nd->name, nd->op_name);
    }
    return perr_at(p, 0, 0, "the graph has a cycle");
}

/* ================================== declarations ================================== */

/* [':' type] after a value name; sets the value's type. */
static bool parse_opt_type(Parser *p, Value *v, bool required)
{
    if (!is_punct(p, ':')) {
        if (!required && !is_punct(p, '['))
            return true;
        if (strchr(v->name, ':'))
            return perr(p, &p->tok, "expected ':' and a type (a ':' touching a name is part of it)");
        return perr(p, &p->tok, "expected ':' and a type");
    }
    lex(p);
    if (!parse_type(p, &v->dtype, &v->shape))
        return false;
    v->has_type = true;
    return true;
}

static bool parse_init_arg(Parser *p, Value *v)
{
    Tok t = p->tok;
    bool seed = is_word(&t, "seed");
    if (!seed && !is_word(&t, "scale"))
        return perr(p, &t, "unknown init argument (expected scale or seed)");
    lex(p);
    Num x;
    if (!expect(p, '=', "expected '=' after the argument name") || !parse_num(p, &x))
        return false;
    if (!seed)
        return store_float(p, &x, 64, &v->init_scale);
    if (x.kind != NUM_INT || (x.neg && x.mag))
        return perr(p, &x.at, "seed must be a non-negative integer");
    v->init_seed = x.mag;
    return true;
}

/* rule ['(' [arg {',' arg}] ')'] */
static bool parse_init(Parser *p, Value *v)
{
    Tok t = p->tok;
    int r = 1;
    while (r < N_INIT && !is_word(&t, init_names[r]))
        r++;
    if (r == N_INIT)
        return perr(p, &t, "unknown init rule (expected zeros, ones, glorot_uniform, glorot_normal, "
                           "he_uniform, he_normal, uniform or normal)");
    if (v->dtype != DT_F32 && v->dtype != DT_F64)
        return perr(p, &t, "init rule %s needs an f32 or f64 value, not %s", init_names[r],
                    dtype_name(v->dtype));
    v->init = (InitRule)r;
    v->init_scale = r == INIT_UNIFORM || r == INIT_NORMAL ? INIT_DEFAULT_SCALE : 0;
    lex(p);
    if (!accept(p, '('))
        return true;
    while (!is_punct(p, ')')) {
        if (!parse_init_arg(p, v))
            return false;
        if (!accept(p, ','))
            break;
    }
    return expect(p, ')', "expected ',' or ')' after an init argument");
}

/* ("param" | "const" | "state" ["trainable"]) %name ':' type ['=' (data | init rule)] */
static bool parse_const(Parser *p)
{
    bool is_param = is_word(&p->tok, "param"), is_state = is_word(&p->tok, "state");
    lex(p);
    bool trainable = is_state && is_word(&p->tok, "trainable");
    if (trainable)
        lex(p);
    Tok t = p->tok;
    if (t.kind != T_VALUE)
        return perr(p, &t, "expected a value name like %%w");
    Value *v = define_value(p, &t);
    if (!v)
        return false;
    lex(p);
    v->kind = is_state ? VAL_STATE : VAL_CONST;
    v->is_param = is_param || is_state;
    v->trainable = trainable;
    if (!parse_opt_type(p, v, true))
        return false;
    if (!accept(p, '='))
        return true;
    if (is_punct(p, '['))
        return parse_data(p, v->dtype, &v->shape, &v->data);
    if (p->tok.kind == T_WORD)
        return parse_init(p, v);
    return perr(p, &p->tok, "expected data [...] or an init rule after '='");
}

/* "input" %name [':' type] */
static bool parse_input(Parser *p)
{
    lex(p);
    Tok t = p->tok;
    if (t.kind != T_VALUE)
        return perr(p, &t, "expected a value name like %%x");
    Value *v = define_value(p, &t);
    if (!v)
        return false;
    lex(p);
    ir_graph_add_input(p->g, v->id);
    return parse_opt_type(p, v, false);
}

/* "train_input" %name ':' type | "loss" %name | "assign" %state '=' %value */
static bool parse_training(Parser *p)
{
    Graph *g = p->g;
    bool input = is_word(&p->tok, "train_input"), loss = is_word(&p->tok, "loss");
    lex(p);
    Tok t = p->tok;
    if (t.kind != T_VALUE)
        return perr(p, &t, "expected a value name like %%x");
    if (g->n_train_inputs == 0) /* the graph's inputs come first */
        for (int i = 0; i < g->n_inputs; i++) {
            g->train_inputs = arena_grow(g->arena, g->train_inputs, sizeof(int),
                                         &g->cap_train_inputs, g->n_train_inputs + 1);
            g->train_inputs[g->n_train_inputs++] = g->inputs[i];
        }
    if (input) {
        Value *v = define_value(p, &t);
        if (!v)
            return false;
        lex(p);
        v->kind = VAL_INPUT;
        g->train_inputs = arena_grow(g->arena, g->train_inputs, sizeof(int), &g->cap_train_inputs,
                                     g->n_train_inputs + 1);
        g->train_inputs[g->n_train_inputs++] = v->id;
        return parse_opt_type(p, v, true);
    }
    int id = use_value(p, &t);
    lex(p);
    if (loss) {
        g->train_loss = id;
        return true;
    }
    if (!expect(p, '=', "expected '=' after the state in an assign"))
        return false;
    if (p->tok.kind != T_VALUE)
        return perr(p, &p->tok, "expected a value name like %%x");
    g->assigns = arena_grow(g->arena, g->assigns, sizeof(Assign), &g->cap_assigns, g->n_assigns + 1);
    g->assigns[g->n_assigns++] = (Assign){id, use_value(p, &p->tok)};
    lex(p);
    return true;
}

/* "output" %name */
static bool parse_output(Parser *p)
{
    lex(p);
    if (p->tok.kind != T_VALUE)
        return perr(p, &p->tok, "expected a value name like %%y");
    ir_graph_add_output(p->g, use_value(p, &p->tok));
    lex(p);
    return true;
}

/* ================================== attributes ================================== */

/* '[' items ']' after an optional type word; want is ATTR_UNDEF when the
 * elements decide (strings, floats if any real, else ints). */
static bool parse_list(Parser *p, Attr *a, AttrType want)
{
    Tok open = p->tok;
    if (!expect(p, '[', "expected '[' to start the list"))
        return false;
    int n = 0, cap_i = 0, cap_f = 0, cap_s = 0, n_str = 0;
    bool any_real = false;
    while (!is_punct(p, ']')) {
        if (n == MAX_LIST)
            return perr(p, &p->tok, "list too long");
        Tok t = p->tok;
        bool str = t.kind == T_STRING;
        if ((str && n > n_str) || (!str && n_str) || (str && want != ATTR_UNDEF && want != ATTR_STRINGS))
            return perr(p, &t, str ? "expected a number" : "expected a string");
        if (str) {
            a->strings = arena_grow(p->a, a->strings, sizeof *a->strings, &cap_s, n + 1);
            a->strings[n_str++] = t.s;
            lex(p);
        } else {
            Num x;
            if (!parse_num(p, &x))
                return false;
            a->ints = arena_grow(p->a, a->ints, sizeof *a->ints, &cap_i, n + 1);
            a->floats = arena_grow(p->a, a->floats, sizeof *a->floats, &cap_f, n + 1);
            any_real |= x.kind != NUM_INT;
            if (want == ATTR_STRINGS)
                return perr(p, &x.at, "expected a string");
            bool as_int = want == ATTR_INTS || (want == ATTR_UNDEF && x.kind == NUM_INT);
            if (as_int && !store_int(p, &x, DT_I64, &a->ints[n]))
                return false;
            if (want != ATTR_INTS && !store_float(p, &x, 64, &a->floats[n]))
                return false;
        }
        n++;
        if (!accept(p, ','))
            break;
    }
    if (!expect(p, ']', "expected ',' or ']' in the list"))
        return false;
    if (want == ATTR_UNDEF && n == 0)
        return perr(p, &open, "an empty list needs its type: ints [], floats [] or strings []");
    a->type = want != ATTR_UNDEF ? want : n_str ? ATTR_STRINGS : any_real ? ATTR_FLOATS : ATTR_INTS;
    a->n = n;
    if (a->type != ATTR_INTS)
        a->ints = NULL;
    if (a->type != ATTR_FLOATS)
        a->floats = NULL;
    return true;
}

/* dtype '[' dims ']' '[' data ']' */
static bool parse_tensor_attr(Parser *p, Attr *a)
{
    Tok t = p->tok;
    Tensor *tn = arena_alloc(p->a, sizeof *tn);
    if (!parse_type(p, &tn->dtype, &tn->shape))
        return false;
    if (!shape_is_static(&tn->shape))
        return perr(p, &t, "a tensor attribute needs a static shape");
    a->type = ATTR_TENSOR;
    a->t = tn;
    return parse_data(p, tn->dtype, &tn->shape, &tn->data);
}

static bool parse_attr_value(Parser *p, Attr *a)
{
    const Tok *t = &p->tok;
    if (t->kind == T_STRING) {
        a->type = ATTR_STRING;
        a->s = t->s;
        lex(p);
        return true;
    }
    if (is_punct(p, '['))
        return parse_list(p, a, ATTR_UNDEF);
    AttrType lt = is_word(t, "ints") ? ATTR_INTS : is_word(t, "floats") ? ATTR_FLOATS
                : is_word(t, "strings") ? ATTR_STRINGS : ATTR_UNDEF;
    if (lt != ATTR_UNDEF) {
        lex(p);
        return parse_list(p, a, lt);
    }
    if (t->kind == T_WORD && !starts_num(p)) {
        char name[16] = "";
        if (t->n < sizeof name)
            memcpy(name, t->s, t->n);
        if (dtype_from_name(name) != DT_UNDEF)
            return parse_tensor_attr(p, a);
    }
    if (!starts_num(p))
        return perr(p, t, "expected an attribute value (strings are quoted)");
    Num x;
    if (!parse_num(p, &x))
        return false;
    a->type = x.kind == NUM_INT ? ATTR_INT : ATTR_FLOAT;
    return x.kind == NUM_INT ? store_int(p, &x, DT_I64, &a->i) : store_float(p, &x, 64, &a->f);
}

/* '{' [name '=' value {',' name '=' value} [',']] '}' */
static bool parse_attrs(Parser *p, Attr **out, int *n_out)
{
    Attr *attrs = NULL;
    int n = 0, cap = 0;
    lex(p); /* '{' */
    while (!is_punct(p, '}')) {
        Tok t = p->tok;
        if (!is_label(&t))
            return perr(p, &t, "expected an attribute name");
        if (n == MAX_ATTRS)
            return perr(p, &t, "more than %d attributes", MAX_ATTRS);
        const char *name = label_str(p, &t);
        for (int i = 0; i < n; i++)
            if (strcmp(attrs[i].name, name) == 0)
                return perr(p, &t, "attribute '%s' given twice", name);
        lex(p);
        if (!expect(p, '=', "expected '=' after the attribute name"))
            return false;
        attrs = arena_grow(p->a, attrs, sizeof *attrs, &cap, n + 1);
        attrs[n].name = name;
        if (!parse_attr_value(p, &attrs[n++]))
            return false;
        if (!accept(p, ','))
            break;
    }
    *out = attrs;
    *n_out = n;
    return expect(p, '}', "expected ',' or '}' after an attribute");
}

/* ===================================== nodes ===================================== */

typedef struct NodeText {
    const char *name;    /* NULL: make one up */
    const char *domain, *op;
    Tok op_tok;
    int *in, n_in, cap_in;
    int *out, n_out, cap_out;
    int opset;
    Attr *attrs;
    int n_attr;
} NodeText;

static bool push_id(Parser *p, int **ids, int *n, int *cap, int id)
{
    if (*n == MAX_LIST)
        return perr(p, &p->tok, "list too long");
    *ids = arena_grow(p->a, *ids, sizeof(int), cap, *n + 1);
    (*ids)[(*n)++] = id;
    return true;
}

/* {(%name [':' type] | '_') ','} '=' — each output is defined here. */
static bool parse_node_outputs(Parser *p, NodeText *nt)
{
    while (!is_punct(p, '=')) {
        Tok t = p->tok;
        int id = -1;
        if (t.kind == T_VALUE) {
            Value *v = define_value(p, &t);
            if (!v)
                return false;
            lex(p);
            if (!parse_opt_type(p, v, false))
                return false;
            id = v->id;
        } else if (is_word(&t, "_")) {
            lex(p);
        } else {
            return perr(p, &t, "expected an output (%%name or _)");
        }
        if (!push_id(p, &nt->out, &nt->n_out, &nt->cap_out, id))
            return false;
        if (!accept(p, ','))
            break;
    }
    return expect(p, '=', "expected '=' after the node's outputs");
}

/* [domain '::'] op */
static bool parse_opref(Parser *p, NodeText *nt)
{
    nt->op_tok = p->tok;
    if (!is_label(&p->tok))
        return perr(p, &p->tok, "expected an op name");
    nt->domain = "";
    nt->op = label_str(p, &p->tok);
    lex(p);
    if (!accept(p, P_DCOLON))
        return true;
    if (!is_label(&p->tok))
        return perr(p, &p->tok, "expected an op name after '::'");
    nt->domain = nt->op;
    nt->op = label_str(p, &p->tok);
    lex(p);
    return true;
}

/* '(' [(%name | '_') {',' (%name | '_')}] ')' */
static bool parse_node_inputs(Parser *p, NodeText *nt)
{
    if (!expect(p, '(', "expected '(' after the op name"))
        return false;
    if (accept(p, ')'))
        return true;
    for (;;) {
        int id = -1;
        if (p->tok.kind == T_VALUE)
            id = use_value(p, &p->tok);
        else if (!is_word(&p->tok, "_"))
            return perr(p, &p->tok, "expected an input (%%name or _)");
        if (!push_id(p, &nt->in, &nt->n_in, &nt->cap_in, id))
            return false;
        lex(p);
        if (!accept(p, ','))
            return expect(p, ')', "expected ')' after inputs");
    }
}

static const char *arity_str(int lo, int hi, char *buf, size_t n)
{
    if (hi < 0)
        snprintf(buf, n, "at least %d", lo);
    else if (lo == hi)
        snprintf(buf, n, "%d", lo);
    else
        snprintf(buf, n, "%d to %d", lo, hi);
    return buf;
}

static bool check_arity(Parser *p, const NodeText *nt, OpKind op)
{
    const OpInfo *oi = &op_info[op];
    char buf[32];
    if (nt->n_in < oi->min_in || (oi->max_in >= 0 && nt->n_in > oi->max_in))
        return perr(p, &nt->op_tok, "%s takes %s input%s, got %d", oi->name,
                    arity_str(oi->min_in, oi->max_in, buf, sizeof buf),
                    oi->max_in == 1 ? "" : "s", nt->n_in);
    if (nt->n_out < oi->min_out || (oi->max_out >= 0 && nt->n_out > oi->max_out))
        return perr(p, &nt->op_tok, "%s has %s output%s, got %d", oi->name,
                    arity_str(oi->min_out, oi->max_out, buf, sizeof buf),
                    oi->max_out == 1 ? "" : "s", nt->n_out);
    for (int k = 0; k < oi->min_in; k++)
        if (nt->in[k] < 0)
            return perr(p, &nt->op_tok, "%s input %d is required, not _", oi->name, k);
    for (int k = 0; k < oi->min_out; k++)
        if (nt->out[k] < 0)
            return perr(p, &nt->op_tok, "%s output %d is required, not _", oi->name, k);
    return true;
}

static bool parse_node_tail(Parser *p, NodeText *nt)
{
    if (is_word(&p->tok, "opset")) {
        lex(p);
        uint64_t v;
        if (p->tok.kind != T_INT || !parse_uint(&p->tok, &v) || v > INT_MAX)
            return perr(p, &p->tok, "expected the opset number after 'opset'");
        if (!nt->domain[0] && v < 1)
            return perr(p, &p->tok, "opset 0 is not a valid ONNX opset");
        if (!nt->domain[0] && v > KIR_MAX_OPSET)
            return perr(p, &p->tok, "opset %llu is newer than kiln supports (max %d)",
                        (unsigned long long)v, KIR_MAX_OPSET);
        nt->opset = (int)v;
        lex(p);
    }
    return !is_punct(p, '{') || parse_attrs(p, &nt->attrs, &nt->n_attr);
}

/* ["node" label] outputs '=' [domain '::'] op '(' inputs ')' ["opset" N] [attrs] */
static bool parse_node(Parser *p)
{
    NodeText nt = {.opset = p->g->opset};
    if (is_word(&p->tok, "node")) {
        lex(p);
        if (!is_label(&p->tok))
            return perr(p, &p->tok, "expected the node's name after 'node'");
        nt.name = label_str(p, &p->tok);
        lex(p);
    }
    if (!parse_node_outputs(p, &nt) || !parse_opref(p, &nt) || !parse_node_inputs(p, &nt) ||
        !parse_node_tail(p, &nt))
        return false;
    OpKind op = op_lookup(nt.domain, nt.op);
    if (op != OP_UNKNOWN && !check_arity(p, &nt, op))
        return false;
    const char *name = nt.name ? nt.name : arena_printf(p->a, "%s_%d", nt.op, p->g->n_nodes);
    Node *n = ir_graph_add_node(p->g, op, name, nt.in, nt.n_in, nt.out, nt.n_out);
    n->name = name; /* keep an explicit "" */
    n->op_name = nt.op;
    n->domain = nt.domain;
    n->opset = nt.opset;
    n->attrs = nt.attrs;
    n->n_attr = nt.n_attr;
    return true;
}

/* ===================================== file ===================================== */

static bool parse_opset(Parser *p, int *out)
{
    uint64_t v;
    if (p->tok.kind != T_INT || !parse_uint(&p->tok, &v) || v > INT_MAX)
        return perr(p, &p->tok, "expected the opset number after 'opset'");
    if (v < 1)
        return perr(p, &p->tok, "opset 0 is not a valid ONNX opset");
    if (v > KIR_MAX_OPSET)
        return perr(p, &p->tok, "opset %llu is newer than kiln supports (max %d)",
                    (unsigned long long)v, KIR_MAX_OPSET);
    *out = (int)v;
    lex(p);
    return true;
}

/* graph label {producer label | opset N} */
static bool parse_header(Parser *p)
{
    Graph *g = p->g;
    if (!is_word(&p->tok, "graph"))
        return perr(p, &p->tok, "expected the graph header: graph \"NAME\" opset N");
    lex(p);
    if (!is_label(&p->tok))
        return perr(p, &p->tok, "expected the graph's name after 'graph'");
    g->name = label_str(p, &p->tok);
    lex(p);
    bool have_opset = false;
    for (;;) {
        if (is_word(&p->tok, "producer")) {
            lex(p);
            if (!is_label(&p->tok))
                return perr(p, &p->tok, "expected the producer's name after 'producer'");
            g->producer = label_str(p, &p->tok);
            lex(p);
        } else if (is_word(&p->tok, "opset")) {
            lex(p);
            if (!parse_opset(p, &g->opset))
                return false;
            have_opset = true;
        } else {
            break;
        }
    }
    return have_opset || perr(p, &p->tok, "expected 'opset N' in the graph header");
}

static bool parse_stmt(Parser *p)
{
    const Tok *t = &p->tok;
    if (is_word(t, "input"))
        return parse_input(p);
    if (is_word(t, "param") || is_word(t, "const") || is_word(t, "state"))
        return parse_const(p);
    if (is_word(t, "train_input") || is_word(t, "loss") || is_word(t, "assign"))
        return parse_training(p);
    if (is_word(t, "output"))
        return parse_output(p);
    if (is_word(t, "node") || is_word(t, "_") || t->kind == T_VALUE || is_punct(p, '='))
        return parse_node(p);
    if (is_word(t, "graph"))
        return perr(p, t, "the graph header must come first, and only once");
    return perr(p, t, "expected input, param, const, node or output");
}

Graph *ir_parse(Arena *a, const char *text, size_t len, const char *file, Diag *d)
{
    Parser p = {.a = a, .d = d, .line = 1};
    p.file = file ? file : d->file ? d->file : "<input>";
    p.cur = p.line_start = text ? text : "";
    p.end = p.cur + (text ? len : 0);
    p.g = ir_graph_new(a);
    p.g->file = arena_strdup(a, file ? file : "");
    lex(&p);
    if (!parse_header(&p))
        return NULL;
    while (p.tok.kind != T_EOF)
        if (!parse_stmt(&p))
            return NULL;
    return !p.failed && check_defined(&p) && check_acyclic(&p) ? p.g : NULL;
}
