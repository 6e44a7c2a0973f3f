/* kiln_runtime.h — the tiny runtime shipped beside every kiln-generated model.
 * Status codes, the model description types, and reading a weight blob.
 * C99, libc only; no printing, no aborting, no allocation. Everything here is
 * a type, a macro or a static function, so any number of kiln models can be
 * linked into one program without clashing. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


#define KILN_RUNTIME_VERSION 1

/* Status codes returned by every generated entry point. */
#define KILN_OK 0
#define KILN_ERR_ARGUMENT 1      /* a NULL or misaligned pointer */
#define KILN_ERR_IO 2            /* a weight or parameter file can't be read */
#define KILN_ERR_FORMAT 3        /* such a file has the wrong magic, size or checksum */
#define KILN_ERR_CPU 4           /* this CPU lacks an instruction set the code was built for */
#define KILN_ERR_NOT_INITIALIZED 5
#define KILN_ERR_NONFINITE 6       /* --check-finite: a training step met NaN or Inf; nothing was updated */
#define KILN_ERR_THREADS 7         /* --threads: the system refused a thread (P_init) */

/* Element types: ONNX TensorProto.DataType numbers. */
#define KILN_FLOAT 1
#define KILN_UINT8 2
#define KILN_INT8 3
#define KILN_UINT16 4
#define KILN_INT16 5
#define KILN_INT32 6
#define KILN_INT64 7
#define KILN_BOOL 9
#define KILN_DOUBLE 11
#define KILN_UINT32 12
#define KILN_UINT64 13

typedef struct kiln_tensor_info {
    const char *name;
    int32_t dtype;
    int32_t rank;
    const int64_t *dims;
} kiln_tensor_info;

typedef struct kiln_model_info {
    const char *name;
    int32_t num_inputs;
    int32_t num_outputs;
    const kiln_tensor_info *inputs;
    const kiln_tensor_info *outputs;
} kiln_model_info;

/* The weight blob written by `kiln compile --weights file`:
 *   8 bytes  magic "KILNWTS1"
 *   8 bytes  payload size in bytes, little-endian
 *   8 bytes  FNV-1a 64 of the payload, little-endian
 *   payload  the weights, in the order and at the offsets the model expects */
#define KILN_WEIGHTS_MAGIC "KILNWTS1"

static inline uint64_t kiln_fnv1a64(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t kiln_read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Reads exactly `size` payload bytes of the blob at path into dst. */
static inline int kiln_weights_load(void *dst, size_t size, const char *path)
{
    unsigned char head[24];
    FILE *f;
    size_t got;
    uint64_t want_sum;
    int extra;
    if (!dst || !path)
        return KILN_ERR_ARGUMENT;
    f = fopen(path, "rb");
    if (!f)
        return KILN_ERR_IO;
    got = fread(head, 1, sizeof head, f);
    if (got != sizeof head || head[0] != 'K' || head[1] != 'I' || head[2] != 'L' ||
        head[3] != 'N' || head[4] != 'W' || head[5] != 'T' || head[6] != 'S' || head[7] != '1' ||
        kiln_read_le64(head + 8) != (uint64_t)size) {
        fclose(f);
        return KILN_ERR_FORMAT;
    }
    want_sum = kiln_read_le64(head + 16);
    got = fread(dst, 1, size, f);
    extra = fgetc(f);
    fclose(f);
    if (got != size || extra != EOF)
        return KILN_ERR_FORMAT;
    if (kiln_fnv1a64((const unsigned char *)dst, size, 14695981039346656037ull) != want_sum)
        return KILN_ERR_FORMAT;
    return KILN_OK;
}

#endif
