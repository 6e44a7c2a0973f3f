/* kiln_params.h — saving and loading a trained model's parameters and
 * optimizer state (P_params_save / P_params_load). Included by the generated
 * P.c only, which defines _POSIX_C_SOURCE first so fsync is declared. C99 and
 * libc (plus fsync where POSIX has it); static functions only. */
#ifndef KILN_PARAMS_H
#define KILN_PARAMS_H

#include <stdio.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "kiln_runtime.h"

/* The parameter file of P_params_save / P_params_load (little-endian):
 *   8 bytes  magic "KILNPRM1"
 *   8 bytes  the model's fingerprint (a hash of the table below)
 *   8 bytes  size of the table, 8 bytes size of the payload
 *   8 bytes  FNV-1a 64 of the table and the payload
 *   table    one line per state: "NAME DTYPE DIMS OFFSET\n" (DTYPE an ONNX
 *            number, DIMS like 128x784 or "scalar", OFFSET into the payload),
 *            so tools (kiln export) can read the file without the model
 *   payload  the first PARAMS_SIZE bytes of the workspace */
#define KILN_PARAMS_MAGIC "KILNPRM1"

static inline void kiln_write_le64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes path.tmp, flushes it to disk, then renames it over path, so an
 * interrupted save never leaves a half-written file under the real name. */
static int kiln_state_save(const void *state, size_t size, uint64_t fingerprint,
                           const char *table, size_t table_size, const char *path)
{
    char tmp[4096];
    unsigned char head[40];
    uint64_t sum;
    FILE *f;
    int ok;
    size_t n = 0;
    if (!state || !path)
        return KILN_ERR_ARGUMENT;
    while (path[n] && n + 5 < sizeof tmp) {
        tmp[n] = path[n];
        n++;
    }
    if (path[n])
        return KILN_ERR_ARGUMENT;
    memcpy(tmp + n, ".tmp", 5);
    sum = kiln_fnv1a64((const unsigned char *)table, table_size, 14695981039346656037ull);
    sum = kiln_fnv1a64((const unsigned char *)state, size, sum);
    memcpy(head, KILN_PARAMS_MAGIC, 8);
    kiln_write_le64(head + 8, fingerprint);
    kiln_write_le64(head + 16, (uint64_t)table_size);
    kiln_write_le64(head + 24, (uint64_t)size);
    kiln_write_le64(head + 32, sum);
    f = fopen(tmp, "wb");
    if (!f)
        return KILN_ERR_IO;
    ok = fwrite(head, 1, sizeof head, f) == sizeof head &&
         fwrite(table, 1, table_size, f) == table_size && fwrite(state, 1, size, f) == size &&
         fflush(f) == 0;
#if defined(__unix__) || defined(__APPLE__)
    ok = ok && fsync(fileno(f)) == 0;
#endif
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return KILN_ERR_IO;
    }
    return KILN_OK;
}

/* Checks magic, fingerprint, sizes, table and checksum by reading the file
 * through once; only then reads the payload into state, so a refused file
 * changes nothing. */
static int kiln_state_load(void *state, size_t size, uint64_t fingerprint, const char *table,
                           size_t table_size, const char *path)
{
    unsigned char head[40], buf[4096];
    uint64_t sum = 14695981039346656037ull;
    uint64_t left = (uint64_t)table_size + size, done = 0;
    size_t got;
    int same_table = 1;
    FILE *f;
    if (!state || !path)
        return KILN_ERR_ARGUMENT;
    f = fopen(path, "rb");
    if (!f)
        return KILN_ERR_IO;
    if (fread(head, 1, sizeof head, f) != sizeof head || memcmp(head, KILN_PARAMS_MAGIC, 8) != 0 ||
        kiln_read_le64(head + 8) != fingerprint || kiln_read_le64(head + 16) != (uint64_t)table_size ||
        kiln_read_le64(head + 24) != (uint64_t)size) {
        fclose(f);
        return KILN_ERR_FORMAT;
    }
    while (left > 0) {
        got = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, f);
        if (got == 0)
            break;
        if (done < table_size) { /* the table must be this model's */
            size_t k, n = table_size - done < got ? (size_t)(table_size - done) : got;
            for (k = 0; k < n; k++)
                same_table &= buf[k] == (unsigned char)table[done + k];
        }
        sum = kiln_fnv1a64(buf, got, sum);
        left -= got;
        done += got;
    }
    if (left != 0 || !same_table || fgetc(f) != EOF || sum != kiln_read_le64(head + 32) ||
        fseek(f, (long)(sizeof head + table_size), SEEK_SET) != 0 || fread(state, 1, size, f) != size) {
        fclose(f);
        return KILN_ERR_FORMAT;
    }
    fclose(f);
    return KILN_OK;
}

#endif
