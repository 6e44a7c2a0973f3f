/* base.c — arena, string builder, checked sizes, diagnostics, file reading.
 * See base.h. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void kiln_assert_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: kiln internal error: assertion '%s' failed\n", file, line, what);
    abort();
}

/* ---- arena ---- */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, size;
    _Alignas(64) unsigned char data[];
} Chunk;

struct Arena {
    Chunk *head;
};

Arena *arena_new(void)
{
    Arena *a = calloc(1, sizeof *a);
    KILN_ASSERT(a != NULL);
    return a;
}

void arena_free(Arena *a)
{
    if (!a)
        return;
    for (Chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *arena_alloc(Arena *a, size_t n)
{
    n = (n + 63) & ~(size_t)63;
    Chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > (1u << 20) ? n : (1u << 20);
        c = aligned_alloc(64, (sizeof(Chunk) + size + 63) & ~(size_t)63);
        KILN_ASSERT(c != NULL);
        c->size = size;
        c->used = 0;
        /* A big one-off block goes behind the current chunk so the current
         * chunk keeps serving small requests. */
        if (a->head && n > (1u << 19)) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *arena_dup(Arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n ? n : 1);
    if (n)
        memcpy(q, p, n);
    return q;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_dup(a, s, strlen(s) + 1);
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    StrBuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    char *s = arena_strdup(a, sb.buf ? sb.buf : "");
    sb_free(&sb);
    return s;
}

void *arena_grow(Arena *a, void *p, size_t elem, int *cap, int need)
{
    if (need <= *cap)
        return p;
    int ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *q = arena_alloc(a, elem * (size_t)ncap);
    if (p && *cap)
        memcpy(q, p, elem * (size_t)*cap);
    *cap = ncap;
    return q;
}

/* ---- string builder ---- */

void sb_append(StrBuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (cap < sb->len + n + 1)
            cap *= 2;
        sb->buf = realloc(sb->buf, cap);
        KILN_ASSERT(sb->buf != NULL);
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    KILN_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) {
        sb_append(sb, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        KILN_ASSERT(big != NULL);
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        sb_append(sb, big, (size_t)n);
        free(big);
    }
    va_end(ap2);
}

void sb_printf(StrBuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sb_free(StrBuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

bool size_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* ---- diagnostics ---- */

void diag_verror(Diag *d, const char *fmt, va_list ap)
{
    if (d->errors++ > 0)
        return; /* the first error is the one the user sees */
    int n = 0;
    if (d->file)
        n = snprintf(d->msg, sizeof d->msg, "%s: ", d->file);
    vsnprintf(d->msg + n, sizeof d->msg - (size_t)n, fmt, ap);
    for (char *p = d->msg; *p; p++) /* keep it one line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void diag_error(Diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, fmt, ap);
    va_end(ap);
}

/* Grows buf to hold at least need bytes (at most max + 1); frees it on failure. */
static unsigned char *grow_buf(unsigned char *buf, size_t *cap, size_t max)
{
    size_t ncap = *cap > max / 2 ? max + 1 : *cap * 2;
    unsigned char *nb = realloc(buf, ncap);
    if (!nb)
        free(buf);
    *cap = ncap;
    return nb;
}

void *file_read_max(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    size_t cap = 1 << 16, n = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > max) {
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
        cap = (size_t)st.st_size + 1; /* one more byte sees the end of the file */
    }
    unsigned char *buf = malloc(cap);
    int err = ENOMEM;
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) { /* the end, or an error */
            err = ferror(f) ? EIO : 0;
            break;
        }
        if (n > max) { /* a pipe or device that goes on past max */
            err = EFBIG;
            break;
        }
        buf = grow_buf(buf, &cap, max);
    }
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    *len = n;
    return buf;
}

void *file_read_all(const char *path, size_t *len)
{
    return file_read_max(path, FILE_READ_LIMIT, len);
}
