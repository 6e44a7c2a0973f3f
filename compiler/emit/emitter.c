/* emitter.c — the printing primitives every kernel uses: lines with tracked
 * indentation, literals, identifiers, and nested loops over (broadcast)
 * strided tensors. */
#include "emit.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void emit_vline(Emitter *e, const char *fmt, va_list ap)
{
    for (int i = 0; i < e->indent; i++)
        sb_append(e->out, "    ", 4);
    sb_vprintf(e->out, fmt, ap);
}

bool emit_prelude_once(Emitter *e, const char *key, const char *text)
{
    for (int i = 0; i < e->n_prelude_keys; i++)
        if (strcmp(e->prelude_keys[i], key) == 0)
            return false;
    KILN_ASSERT(e->n_prelude_keys < EMIT_MAX_PRELUDE);
    e->prelude_keys[e->n_prelude_keys++] = arena_strdup(e->arena, key);
    sb_append(e->prelude, text, strlen(text));
    return true;
}

void emit_blank(Emitter *e)
{
    sb_append(e->out, "\n", 1);
}

void emit_line(Emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(e, fmt, ap);
    va_end(ap);
    sb_append(e->out, "\n", 1);
}

void emit_open(Emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(e, fmt, ap);
    va_end(ap);
    sb_append(e->out, " {\n", 3);
    e->indent++;
}

void emit_func(Emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_vline(e, fmt, ap);
    va_end(ap);
    sb_append(e->out, "\n", 1);
    emit_line(e, "{");
    e->indent++;
}

void emit_close(Emitter *e)
{
    KILN_ASSERT(e->indent > 0);
    e->indent--;
    emit_line(e, "}");
}

const char *emit_flit(Emitter *e, double v, DType dt)
{
    const char *suffix = dt == DT_F64 ? "" : "f";
    if (isnan(v))
        return dt == DT_F64 ? "(double)NAN" : "NAN";
    if (isinf(v))
        return v > 0 ? (dt == DT_F64 ? "(double)INFINITY" : "INFINITY")
                     : (dt == DT_F64 ? "(-(double)INFINITY)" : "(-INFINITY)");
    char buf[64];
    snprintf(buf, sizeof buf, dt == DT_F64 ? "%.17g" : "%.9g", dt == DT_F64 ? v : (double)(float)v);
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return arena_printf(e->arena, "%s%s", buf, suffix);
}

const char *emit_lit(Emitter *e, double v, DType dt)
{
    if (dtype_is_float(dt))
        return emit_flit(e, v, dt);
    if (dt == DT_I64 && v <= -9223372036854775807.0)
        return "INT64_MIN";
    if (dt == DT_I64 || dt == DT_U64 || dt == DT_U32)
        return arena_printf(e->arena, "%s(%lld)", dt == DT_I64 ? "INT64_C" : "UINT64_C",
                            (long long)v);
    return arena_printf(e->arena, "%lld", (long long)v);
}

const char *emit_ident(Arena *a, const char *name)
{
    size_t n = strlen(name);
    char *s = arena_alloc(a, n + 3), *p = s;
    while (*name && !isalnum((unsigned char)*name)) /* "/fc1/Gemm" → "fc1_Gemm" */
        name++, n--;
    if (isdigit((unsigned char)name[0]))
        *p++ = 'v';
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (isalnum((unsigned char)c))
            *p++ = c;
        else if (p > s && p[-1] != '_')
            *p++ = '_';
    }
    while (p > s + 1 && p[-1] == '_')
        p--;
    if (p == s)
        *p++ = 'v';
    *p = '\0';
    if (s[0] == '_') /* leading underscores are the implementation's */
        s[0] = 'v';
    return s;
}

/* ---- loops over strided tensors ---- */

void emit_bcast_strides(const Shape *out, const Shape *in, int64_t scale, int64_t *strides)
{
    int64_t s = scale;
    for (int i = out->rank - 1, j = in->rank - 1; i >= 0; i--, j--) {
        if (j >= 0 && in->dims[j] != 1) {
            strides[i] = s;
            s *= in->dims[j];
        } else {
            strides[i] = 0;
        }
    }
}

int emit_parts(const Emitter *e, int64_t units)
{
    /* four parts per thread: whichever thread is free takes the next, so a
     * core busy with another program holds up at most one part */
    int64_t parts = 4 * (int64_t)e->threads;
    return (int)(units < parts ? units : parts);
}

/* --threads: opens outer loop var over this part's share of dims[0]
 * (blocks of 1024 elements when it is the only loop). */
static void emit_split_loop(Emitter *e, const char *var, int64_t n, bool inner)
{
    int unit = inner ? 1024 : 1;
    e->parts = emit_parts(e, (n + unit - 1) / unit);
    emit_line(e, "int %s_lo, %s_hi; /* this part's share */", var, var);
    emit_line(e, "kiln_pool_range(%lld, %d, part, parts, &%s_lo, &%s_hi);", (long long)n, unit,
              var, var);
    emit_open(e, "for (int %s = %s_lo; %s < %s_hi; %s++)", var, var, var, var, var);
}

void emit_loops_open(Emitter *e, EmitLoops *l)
{
    /* Coalesce: drop size-1 dims, merge dim i into i+1 when every operand
     * walks them as one contiguous run. */
    int r = 0;
    int64_t dims[IR_MAX_RANK], st[EMIT_MAX_OPERANDS][IR_MAX_RANK];
    for (int i = 0; i < l->rank; i++) {
        if (l->dims[i] == 1)
            continue;
        bool merge = r > 0;
        for (int o = 0; o < l->n_ops && merge; o++)
            merge = st[o][r - 1] == l->strides[o][i] * l->dims[i];
        if (merge) {
            dims[r - 1] *= l->dims[i];
            for (int o = 0; o < l->n_ops; o++)
                st[o][r - 1] = l->strides[o][i];
            continue;
        }
        dims[r] = l->dims[i];
        for (int o = 0; o < l->n_ops; o++)
            st[o][r] = l->strides[o][i];
        r++;
    }
    l->depth = r;
    for (int o = 0; o < l->n_ops; o++) {
        StrBuf sb = {0};
        for (int i = 0; i < r; i++) {
            if (st[o][i] == 0)
                continue;
            const char *var = r == 1 ? "i" : arena_printf(e->arena, "i%d", i);
            if (sb.len)
                sb_append(&sb, " + ", 3);
            if (st[o][i] == 1)
                sb_printf(&sb, "%s", var);
            else
                sb_printf(&sb, "%s * %lld", var, (long long)st[o][i]);
        }
        l->idx[o] = arena_strdup(e->arena, sb.len ? sb.buf : "0");
        sb_free(&sb);
    }
    /* elementwise work worth waking the pool for: 2^17 elements */
    int64_t total = 1;
    for (int i = 0; i < r; i++)
        total *= dims[i];
    bool split = l->split && e->threads > 1 && total >= ((int64_t)1 << 17) && r > 0;
    for (int i = 0; i < r; i++) {
        const char *var = r == 1 ? "i" : arena_printf(e->arena, "i%d", i);
        if (i == 0 && split)
            emit_split_loop(e, var, dims[0], r == 1);
        else
            emit_open(e, "for (int %s = 0; %s < %lld; %s++)", var, var, (long long)dims[i], var);
    }
}

void emit_loops_close(Emitter *e, EmitLoops *l)
{
    for (int i = 0; i < l->depth; i++)
        emit_close(e);
}

const char *emit_math(Emitter *e, DType dt, const char *fn)
{
    return dt == DT_F32 ? arena_printf(e->arena, "%sf", fn) : fn;
}

const char *emit_vmath(Emitter *e, DType dt)
{
    if (dt != DT_F32)
        return NULL;
    emit_prelude_once(e, "kiln_vmath.h", "#include \"kiln_vmath.h\"\n\n");
    switch (e->target) {
    case TARGET_X86_64_V4: return "avx512";
    case TARGET_X86_64_V3: return "avx2";
    case TARGET_X86_64:
    case TARGET_AARCH64:
    case TARGET_GENERIC: break;
    }
    return "x4";
}

const char *emit_batch(Emitter *e, int64_t n)
{
    return e->batch_rows ? "nb" : arena_printf(e->arena, "%lld", (long long)n);
}

void emit_batch_zero_tail(Emitter *e, const char *buf, int64_t n, int64_t row_elems, DType dt)
{
    if (!e->batch_rows)
        return;
    emit_line(e, "memset(%s + (size_t)nb * %lld, 0, (size_t)(%lld - nb) * %lld * sizeof(%s));", buf,
              (long long)row_elems, (long long)n, (long long)row_elems, dtype_ctype(dt));
}
