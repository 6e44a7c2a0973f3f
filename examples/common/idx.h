/* idx.h — reads the IDX files of MNIST and Fashion-MNIST (gzip-compressed or
 * not) for kiln's examples. zlib lives here, in the example, never in the
 * generated model code. */
#ifndef EXAMPLES_IDX_H
#define EXAMPLES_IDX_H

/* One IDX file of unsigned bytes: `count` items of rows x cols bytes each
 * (labels: rows = cols = 1). */
typedef struct IdxData {
    int count, rows, cols;
    unsigned char *data; /* count * rows * cols bytes, malloc'ed */
} IdxData;

/* Reads DIR/NAME.gz, or DIR/NAME when that is missing, keeping the first
 * `limit` items (all when limit <= 0). Returns 0, or -1 after printing why
 * on stderr. */
int idx_load(const char *dir, const char *name, int limit, IdxData *out);

/* Reads a set ("train" or "t10k") of images and labels and checks they
 * match. Returns 0 or -1 (with a message on stderr). */
int idx_load_set(const char *dir, const char *set, int limit, IdxData *images, IdxData *labels);

void idx_free(IdxData *d);

#endif
