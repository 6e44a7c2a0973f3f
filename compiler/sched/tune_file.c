/* tune_file.c — the tuning file of `kiln tune` / `kiln compile --tuning`:
 * plain text, one line per blocked GEMM or convolution layer,
 *   NODE MxNxK mc=MC kc=KC nc=NC TIMEus
 * (the node's name, its GEMM shape, the cache blocks, the median time kiln
 * tune measured), '#' comments and blank lines ignored. */
#include "tune.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TUNE_SYNTAX "expected 'NODE MxNxK mc=N kc=N nc=N TIMEus'"

/* Reads a positive integer at *p (advancing it). */
static bool read_int(const char **p, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(*p, &end, 10);
    if (end == *p || errno || x <= 0 || **p == '+' || **p == '-')
        return false;
    *v = x;
    *p = end;
    return true;
}

/* "key=N" as the whole token tok. */
static bool read_block(const char *tok, const char *key, int64_t *v)
{
    size_t n = strlen(key);
    if (strncmp(tok, key, n) != 0 || tok[n] != '=')
        return false;
    const char *p = tok + n + 1;
    return read_int(&p, v) && *p == '\0';
}

/* Parses one line's tokens into e; false when it is malformed. */
static bool parse_line(char *line, Arena *a, TuneEntry *e)
{
    char *tok[7];
    int n = 0;
    for (char *s = strtok(line, " \t\r"); s; s = strtok(NULL, " \t\r"))
        if (n < 7)
            tok[n++] = s;
        else
            return false;
    if (n != 6)
        return false;
    e->node = arena_strdup(a, tok[0]);
    const char *p = tok[1];
    if (!read_int(&p, &e->M) || *p++ != 'x' || !read_int(&p, &e->N) || *p++ != 'x' ||
        !read_int(&p, &e->K) || *p)
        return false;
    if (!read_block(tok[2], "mc", &e->mc) || !read_block(tok[3], "kc", &e->kc) ||
        !read_block(tok[4], "nc", &e->nc))
        return false;
    char *end;
    e->us = strtod(tok[5], &end);
    return end != tok[5] && strcmp(end, "us") == 0 && e->us >= 0;
}

/* "FILE:LINE: " as the diagnostic's prefix. */
static void tune_error(Diag *d, Arena *a, const char *file, int line, const char *msg)
{
    const char *saved = d->file;
    d->file = arena_printf(a, "%s:%d", file, line);
    diag_error(d, "%s", msg);
    d->file = saved;
}

bool sched_tune_read(const char *path, Arena *a, TuneTable *t, Diag *d)
{
    size_t len;
    char *text = file_read_max(path, (size_t)1 << 24, &len);
    if (!text) {
        const char *saved = d->file;
        d->file = path;
        diag_error(d, "cannot read the tuning file: %s", strerror(errno));
        d->file = saved;
        return false;
    }
    t->arena = a;
    t->file = arena_strdup(a, path);
    int cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    t->entries = arena_alloc(a, sizeof(TuneEntry) * (size_t)cap);
    t->n = 0;
    int line = 0;
    bool ok = true;
    for (char *s = text; ok && s < text + len; line++) {
        char *nl = memchr(s, '\n', (size_t)(text + len - s));
        char *next = nl ? nl + 1 : text + len;
        char *l = arena_printf(a, "%.*s", (int)((nl ? nl : text + len) - s), s);
        s = next;
        char *hash = strchr(l, '#');
        if (hash)
            *hash = '\0';
        if (strspn(l, " \t\r") == strlen(l))
            continue;
        TuneEntry *e = &t->entries[t->n];
        *e = (TuneEntry){.line = line + 1};
        if (!parse_line(l, a, e)) {
            tune_error(d, a, path, line + 1, TUNE_SYNTAX);
            ok = false;
            break;
        }
        for (int k = 0; k < t->n && ok; k++)
            if (strcmp(t->entries[k].node, e->node) == 0) {
                tune_error(d, a, path, line + 1,
                           arena_printf(a, "node '%s' is listed twice (first on line %d)",
                                        e->node, t->entries[k].line));
                ok = false;
            }
        t->n += ok;
    }
    free(text);
    return ok;
}

TuneEntry *sched_tune_find(TuneTable *t, const char *node)
{
    for (int k = 0; t && k < t->n; k++)
        if (strcmp(t->entries[k].node, node) == 0)
            return &t->entries[k];
    return NULL;
}

void sched_tune_record(TuneTable *t, const char *node, int64_t M, int64_t N, int64_t K,
                       const GemmTiles *tiles)
{
    Arena *a = t->arena;
    for (int k = 0; k < t->n_found; k++)
        if (strcmp(t->found[k].node, node) == 0)
            return;
    if (t->n_found == t->cap_found) {
        int cap = t->cap_found ? 2 * t->cap_found : 16;
        TuneEntry *f = arena_alloc(a, sizeof(TuneEntry) * (size_t)cap);
        if (t->n_found)
            memcpy(f, t->found, sizeof(TuneEntry) * (size_t)t->n_found);
        t->found = f;
        t->cap_found = cap;
    }
    t->found[t->n_found++] = (TuneEntry){.node = arena_strdup(a, node), .M = M, .N = N, .K = K,
                                         .mc = tiles->mc, .kc = tiles->kc, .nc = tiles->nc};
}

bool sched_tune_check(const TuneTable *t, const char *model, Diag *d)
{
    Arena *a = arena_new();
    bool ok = true;
    for (int k = 0; t && k < t->n && ok; k++) {
        const TuneEntry *e = &t->entries[k];
        if (e->problem)
            tune_error(d, a, t->file, e->line, e->problem);
        else if (!e->used)
            tune_error(d, a, t->file, e->line,
                       arena_printf(a, "no GEMM or convolution node '%s' runs blocked in %s",
                                    e->node, model));
        ok = !e->problem && e->used;
    }
    arena_free(a);
    return ok;
}

void sched_tune_print(const TuneEntry *e, StrBuf *out)
{
    sb_printf(out, "%s %lldx%lldx%lld mc=%lld kc=%lld nc=%lld %.1fus\n", e->node, (long long)e->M,
              (long long)e->N, (long long)e->K, (long long)e->mc, (long long)e->kc,
              (long long)e->nc, e->us);
}
