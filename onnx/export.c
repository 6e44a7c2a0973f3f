/* export.c — kiln export: writes a copy of an ONNX model whose initializers
 * take the trained values from a kiln parameter file (the file P_params_save
 * writes; format in runtime/kiln_params.h), so a model trained in C deploys
 * anywhere ONNX runs. */
#include "onnx_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln_runtime.h" /* kiln_fnv1a64, kiln_read_le64 */

/* One tensor of the parameter file's table. */
typedef struct ParamEntry {
    char name[512];
    int dtype;
    Shape shape;
    int64_t offset, bytes;
} ParamEntry;

/* Parses "NAME DTYPE DIMS OFFSET" lines; false on a malformed table. */
static int parse_table(const char *table, size_t len, ParamEntry *out, int max, int64_t payload)
{
    int n = 0;
    for (const char *p = table, *end = table + len; p < end && n < max;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return -1;
        char line[1024], dims[256];
        long long off;
        ParamEntry *e = &out[n];
        size_t ll = (size_t)(nl - p) < sizeof line - 1 ? (size_t)(nl - p) : sizeof line - 1;
        memcpy(line, p, ll);
        line[ll] = '\0';
        if (sscanf(line, "%511s %d %255s %lld", e->name, &e->dtype, dims, &off) != 4 || off < 0)
            return -1;
        memset(&e->shape, 0, sizeof e->shape);
        for (char *s = strcmp(dims, "scalar") ? dims : NULL; s && *s; s = *s ? s + 1 : s) {
            if (e->shape.rank == IR_MAX_RANK)
                return -1;
            e->shape.dims[e->shape.rank++] = strtoll(s, &s, 10);
        }
        int64_t numel = shape_numel(&e->shape);
        e->offset = off;
        e->bytes = numel < 0 ? -1 : numel * (int64_t)dtype_size((DType)e->dtype);
        if (e->bytes <= 0 || e->bytes > payload || e->offset > payload - e->bytes)
            return -1;
        n++;
        p = nl + 1;
    }
    return n;
}

/* Replaces tp's data by bytes (little-endian raw_data). */
static void set_raw(Onnx__TensorProto *tp, const unsigned char *bytes, size_t n)
{
    free(tp->raw_data.data); /* protobuf-c's copy (pb_read unpacks with malloc) */
    tp->has_raw_data = 1;
    tp->raw_data.data = (uint8_t *)bytes;
    tp->raw_data.len = n;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = 0;
    tp->n_double_data = tp->n_uint64_data = 0;
    for (size_t i = 0; i < tp->n_external_data; i++)
        protobuf_c_message_free_unpacked(&tp->external_data[i]->base, NULL);
    tp->n_external_data = 0;
    tp->has_data_location = 0;
}

/* Writes path.tmpPID, flushes it to disk, then renames it over path: an
 * interrupted export never leaves a half-written model under the real name. */
static bool write_atomic(const char *path, const void *data, size_t len, Diag *d)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        diag_error(d, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

bool onnx_export_params(const char *model_path, const char *params_path, const char *out_path,
                        int *replaced, Diag *d)
{
    size_t len;
    d->file = params_path;
    unsigned char *pf = file_read_all(params_path, &len);
    if (!pf) {
        diag_error(d, "cannot read: %s", strerror(errno));
        return false;
    }
    uint64_t table_size = len >= 40 ? kiln_read_le64(pf + 16) : 0;
    uint64_t payload = len >= 40 ? kiln_read_le64(pf + 24) : 0;
    if (len < 40 || memcmp(pf, "KILNPRM1", 8) != 0 || table_size > len - 40 ||
        payload != len - 40 - table_size ||
        kiln_fnv1a64(pf + 40, len - 40, 14695981039346656037ull) != kiln_read_le64(pf + 32)) {
        diag_error(d, "not a kiln parameter file, or a damaged one (bad header, size or checksum)");
        free(pf);
        return false;
    }
    static ParamEntry table[4096];
    int n = parse_table((const char *)pf + 40, (size_t)table_size, table, 4096, (int64_t)payload);
    const unsigned char *data = pf + 40 + table_size;
    if (n < 0) {
        diag_error(d, "the parameter file's table is malformed");
        free(pf);
        return false;
    }
    d->file = model_path;
    Onnx__ModelProto *m = (Onnx__ModelProto *)pb_read(model_path, &onnx__model_proto__descriptor, "model", d);
    if (!m) {
        free(pf);
        return false;
    }
    bool ok = m->graph != NULL;
    *replaced = 0;
    for (size_t i = 0; ok && i < m->graph->n_initializer; i++) {
        Onnx__TensorProto *tp = m->graph->initializer[i];
        for (int k = 0; k < n; k++) {
            if (strcmp(pb_str(tp->name), table[k].name) != 0)
                continue;
            bool same = tp->data_type == table[k].dtype && (int)tp->n_dims == table[k].shape.rank;
            for (int j = 0; same && j < table[k].shape.rank; j++)
                same = tp->dims[j] == table[k].shape.dims[j];
            if (!same) {
                diag_error(d, "initializer '%s' has another type or shape than in %s",
                           table[k].name, params_path);
                ok = false;
                break;
            }
            set_raw(tp, data + table[k].offset, (size_t)table[k].bytes);
            (*replaced)++;
            break; /* a name listed twice replaces once */
        }
    }
    if (ok && *replaced == 0) {
        diag_error(d, "no initializer matches a tensor of %s (another model?)", params_path);
        ok = false;
    }
    if (ok) {
        size_t size = onnx__model_proto__get_packed_size(m);
        uint8_t *buf = malloc(size ? size : 1);
        KILN_ASSERT(buf != NULL);
        onnx__model_proto__pack(m, buf);
        ok = write_atomic(out_path, buf, size, d);
        free(buf);
    }
    /* set_raw pointed into pf: detach before protobuf-c frees the message */
    for (size_t i = 0; m->graph && i < m->graph->n_initializer; i++) {
        Onnx__TensorProto *tp = m->graph->initializer[i];
        if (tp->raw_data.data >= pf && tp->raw_data.data < pf + len) {
            tp->raw_data.data = NULL;
            tp->raw_data.len = 0;
        }
    }
    onnx__model_proto__free_unpacked(m, NULL);
    free(pf);
    return ok;
}
