/* idx.c — the IDX loader of kiln's examples (see idx.h). The format: a
 * big-endian magic 0x000008TT (TT: 08 for unsigned bytes, then the number of
 * dims), one big-endian 32-bit size per dim, then the data row-major. */
#include "idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static unsigned read_be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* gzread in a loop: it returns at most INT_MAX bytes per call. */
static int read_all(gzFile f, unsigned char *dst, size_t n)
{
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int got = gzread(f, dst, chunk);
        if (got <= 0)
            return -1;
        dst += got;
        n -= (size_t)got;
    }
    return 0;
}

int idx_load(const char *dir, const char *name, int limit, IdxData *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    gzFile f = gzopen(path, "rb"); /* zlib reads uncompressed files too */
    if (!f) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = gzopen(path, "rb");
    }
    if (!f) {
        fprintf(stderr, "error: cannot open %s/%s.gz (nor %s): is --data right?\n", dir, name,
                name);
        return -1;
    }
    unsigned char head[16];
    memset(out, 0, sizeof *out);
    if (read_all(f, head, 4) != 0 || head[0] != 0 || head[1] != 0 || head[2] != 8 ||
        (head[3] != 1 && head[3] != 3) || read_all(f, head + 4, 4u * head[3]) != 0) {
        fprintf(stderr, "error: %s is not an IDX file of unsigned bytes with 1 or 3 dims\n", path);
        gzclose(f);
        return -1;
    }
    unsigned count = read_be32(head + 4);
    out->rows = head[3] == 3 ? (int)read_be32(head + 8) : 1;
    out->cols = head[3] == 3 ? (int)read_be32(head + 12) : 1;
    out->count = limit > 0 && (unsigned)limit < count ? limit : (int)count;
    size_t bytes = (size_t)out->count * (size_t)out->rows * (size_t)out->cols;
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data || read_all(f, out->data, bytes) != 0) {
        fprintf(stderr, "error: %s: %s\n", path, out->data ? "file is truncated" : "out of memory");
        gzclose(f);
        idx_free(out);
        return -1;
    }
    gzclose(f);
    return 0;
}

int idx_load_set(const char *dir, const char *set, int limit, IdxData *images, IdxData *labels)
{
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", set);
    if (idx_load(dir, name, limit, images) != 0)
        return -1;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", set);
    if (idx_load(dir, name, limit, labels) != 0) {
        idx_free(images);
        return -1;
    }
    if (images->count != labels->count) {
        fprintf(stderr, "error: %s/%s: %d images but %d labels\n", dir, set, images->count,
                labels->count);
        idx_free(images);
        idx_free(labels);
        return -1;
    }
    return 0;
}

void idx_free(IdxData *d)
{
    free(d->data);
    d->data = NULL;
    d->count = 0;
}
