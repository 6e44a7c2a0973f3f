/* base.h — the lowest layer of the kiln compiler: arena allocation, a growable
 * string builder, diagnostics for the user's model, and KILN_ASSERT for kiln's
 * own bugs. Everything above (ir, onnx, pass, sched, emit) builds on it; it
 * includes libc only. */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KILN_VERSION "0.1.0"

#if defined(__GNUC__)
#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KILN_NORETURN __attribute__((noreturn))
#else
#define KILN_PRINTF(f, a)
#define KILN_NORETURN
#endif

/* Bugs in kiln (never errors in the user's model): print file:line, abort. */
#define KILN_ASSERT(cond) \
    ((cond) ? (void)0 : kiln_assert_fail(__FILE__, __LINE__, #cond))
KILN_NORETURN void kiln_assert_fail(const char *file, int line, const char *what);

/* ---- Arena: everything one compile allocates, released in one call. ---- */
typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
/* Zeroed, 64-byte aligned. Aborts (KILN_ASSERT) only when the system is out
 * of memory; callers bound user-controlled sizes before asking. */
void *arena_alloc(Arena *a, size_t n);
void *arena_dup(Arena *a, const void *p, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Grow an arena array of n elements of size elem to hold at least need. */
void *arena_grow(Arena *a, void *p, size_t elem, int *cap, int need);

/* ---- StrBuf: a growable string on the heap (free with sb_free). ---- */
typedef struct StrBuf {
    char *buf;
    size_t len, cap;
} StrBuf;
void sb_printf(StrBuf *sb, const char *fmt, ...) KILN_PRINTF(2, 3);
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
void sb_append(StrBuf *sb, const char *s, size_t n);
void sb_free(StrBuf *sb);

/* ---- Checked size arithmetic for user-controlled sizes. ---- */
/* *out = a * b; false on overflow of int64 or a negative operand. */
bool size_mul_ok(int64_t a, int64_t b, int64_t *out);

/* ---- Diagnostics: one line, "FILE: WHERE: problem". ----
 * The library records the first error and returns failure; only main.c
 * prints and exits. */
typedef struct Diag {
    const char *file;      /* the model being read, for the message prefix */
    int errors;
    char msg[1024];
} Diag;
void diag_error(Diag *d, const char *fmt, ...) KILN_PRINTF(2, 3);
void diag_verror(Diag *d, const char *fmt, va_list ap);

/* Reading whole files (binary). Returns malloc'ed bytes or NULL with errno;
 * a file (or pipe, or device) longer than max bytes fails with EFBIG before
 * it is read. file_read_all allows FILE_READ_LIMIT bytes. */
#define FILE_READ_LIMIT ((size_t)1 << 32)
void *file_read_max(const char *path, size_t max, size_t *len);
void *file_read_all(const char *path, size_t *len);

#endif
