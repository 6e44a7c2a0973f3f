/* tensor_pb.c — ONNX TensorProto → kiln tensor data: dims and size limits,
 * raw_data, the typed *_data fields, and external data files beside the
 * model (onnx.proto, TensorProto). Also the single-tensor .pb files of the
 * ONNX backend test data: onnx_read_tensor / onnx_write_tensor. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "onnx_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ELEMS ((int64_t)1 << 31)
#define MAX_BYTES ((int64_t)1 << 32)

/* TensorProto.DataType names, by number (onnx.proto). */
static const char *const dtype_names[] = {
    "UNDEFINED", "FLOAT",  "UINT8",   "INT8",   "UINT16", "INT16",     "INT32",
    "INT64",     "STRING", "BOOL",    "FLOAT16", "DOUBLE", "UINT32",   "UINT64",
    "COMPLEX64", "COMPLEX128", "BFLOAT16",
};

const char *pb_dtype_name(int dt, char buf[24])
{
    if (dt >= 0 && dt < (int)(sizeof dtype_names / sizeof dtype_names[0]))
        return dtype_names[dt];
    snprintf(buf, 24, "%d", dt);
    return buf;
}

const char *pb_dirname(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    char *dir = arena_dup(a, path, (size_t)(slash - path) + 1);
    dir[slash - path] = '\0';
    return dir;
}

static bool site_error(const TensorSite *s, const char *fmt, ...) KILN_PRINTF(2, 3);

static bool site_error(const TensorSite *s, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->node)
        ir_node_error(s->d, s->node, "%s %s", s->what, msg);
    else
        diag_error(s->d, "%s %s", s->what, msg);
    return false;
}

static void *owned_alloc(TensorView *v, const TensorSite *s)
{
    v->owned = malloc(v->bytes ? v->bytes : 1);
    if (!v->owned)
        site_error(s, "needs %zu bytes: out of memory", v->bytes);
    return v->owned;
}

/* ---- byte order: ONNX stores raw data little-endian ---- */

static bool host_is_le(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Reverses the bytes of each element; dst may equal src. */
static void swap_elems(uint8_t *dst, const uint8_t *src, size_t elem, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += elem)
        for (size_t k = 0; k < elem / 2; k++) {
            uint8_t lo = src[i + k], hi = src[i + elem - 1 - k];
            dst[i + k] = hi;
            dst[i + elem - 1 - k] = lo;
        }
}

/* v->data holds little-endian bytes; make them host order. */
static bool le_to_host(TensorView *v, const TensorSite *s)
{
    size_t elem = dtype_size(v->dtype);
    if (host_is_le() || elem == 1)
        return true;
    if (v->owned) {
        swap_elems(v->owned, v->owned, elem, v->bytes);
        return true;
    }
    if (!owned_alloc(v, s))
        return false;
    swap_elems(v->owned, v->data, elem, v->bytes);
    v->data = v->owned;
    return true;
}

/* ---- dims and sizes ---- */

static bool view_shape(const Onnx__TensorProto *tp, const TensorSite *s, TensorView *v)
{
    char buf[24];
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (dtype_size((DType)dt) == 0)
        return site_error(s, "has data type %s, which kiln does not support",
                          pb_dtype_name(dt, buf));
    if (tp->n_dims > IR_MAX_RANK)
        return site_error(s, "has rank %zu; kiln supports at most %d", tp->n_dims,
                          IR_MAX_RANK);
    v->dtype = (DType)dt;
    v->shape.rank = (int)tp->n_dims;
    int64_t numel = 1, bytes;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return site_error(s, "has a negative dimension (%lld)", (long long)tp->dims[i]);
        if (!size_mul_ok(numel, tp->dims[i], &numel))
            return site_error(s, "is too large (its element count overflows)");
        v->shape.dims[i] = tp->dims[i];
    }
    if (!size_mul_ok(numel, (int64_t)dtype_size(v->dtype), &bytes) || numel > MAX_ELEMS ||
        bytes > MAX_BYTES)
        return site_error(s, "is too large (%lld elements; kiln allows at most 2^31 elements "
                          "and 4 GiB)", (long long)numel);
    v->numel = numel;
    v->bytes = (size_t)bytes;
    return true;
}

/* ---- typed fields (onnx.proto: which field holds which data type) ---- */

/* Narrows 32- or 64-bit integers into elements of the view's size. */
static void narrow(void *dst, const void *src, bool src64, size_t n, size_t elem, bool is_bool)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = src64 ? ((const uint64_t *)src)[i]
                           : (uint64_t)(uint32_t)((const int32_t *)src)[i];
        if (is_bool)
            x = x != 0;
        if (elem == 1)
            ((uint8_t *)dst)[i] = (uint8_t)x;
        else if (elem == 2)
            ((uint16_t *)dst)[i] = (uint16_t)x;
        else
            ((uint32_t *)dst)[i] = (uint32_t)x;
    }
}

static bool view_typed(const Onnx__TensorProto *tp, const TensorSite *s, TensorView *v)
{
    size_t n = tp->n_int32_data, src_elem = 4;
    const void *src = tp->int32_data;
    const char *field = "int32_data"; /* INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 bits */
    switch (v->dtype) {
    case DT_F32: n = tp->n_float_data, src = tp->float_data, field = "float_data"; break;
    case DT_I64: n = tp->n_int64_data, src = tp->int64_data, field = "int64_data"; break;
    case DT_F64: n = tp->n_double_data, src = tp->double_data, field = "double_data"; break;
    case DT_U32:
    case DT_U64: n = tp->n_uint64_data, src = tp->uint64_data, field = "uint64_data"; break;
    default: break;
    }
    if (v->dtype == DT_I64 || v->dtype == DT_F64 || v->dtype == DT_U32 || v->dtype == DT_U64)
        src_elem = 8;
    if (n == 0 && v->numel > 0)
        return site_error(s, "has no data (neither raw_data nor %s; %lld elements expected)",
                          field, (long long)v->numel);
    if (n != (size_t)v->numel)
        return site_error(s, "has %zu values in %s, expected %lld", n, field,
                          (long long)v->numel);
    if (n == 0 || src_elem == dtype_size(v->dtype)) {
        v->data = src;
        return true;
    }
    if (!owned_alloc(v, s))
        return false;
    narrow(v->owned, src, src_elem == 8, n, dtype_size(v->dtype), v->dtype == DT_BOOL);
    v->data = v->owned;
    return true;
}

/* ---- external data: TensorProto.external_data {location, offset, length} ---- */

static bool parse_count(const char *str, int64_t *out)
{
    int64_t v = 0;
    if (!str[0])
        return false;
    for (const char *p = str; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* Only files inside the model's folder: no absolute path, no "..". */
static bool check_location(const char *loc, const TensorSite *s)
{
    if (loc[0] == '/' || loc[0] == '\\' || (loc[0] && loc[1] == ':'))
        return site_error(s, "has external data location '%s', which is an absolute path; "
                          "kiln reads external data only from the model's folder", loc);
    for (const char *p = loc; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return site_error(s, "has external data location '%s', which leaves the "
                              "model's folder ('..')", loc);
        p += n;
        if (*p)
            p++;
    }
    return true;
}

/* Symbolic links may not lead out of the model's folder either. */
static bool inside_dir(const char *path, const char *loc, const TensorSite *s)
{
    char *dir = realpath(s->dir, NULL), *file = realpath(path, NULL);
    int err = errno;
    size_t n = dir ? strlen(dir) : 0;
    bool inside = dir && file && strncmp(dir, file, n) == 0 && (file[n] == '/' || n == 1);
    free(dir);
    free(file);
    if (!dir || !file)
        return site_error(s, "has its external data in '%s', which cannot be opened: %s", path,
                          strerror(err));
    if (!inside)
        return site_error(s, "has external data location '%s', which does not resolve to a "
                          "file inside the model's folder", loc);
    return true;
}

static bool read_external(const char *path, const char *loc, int64_t off,
                          const TensorSite *s, TensorView *v)
{
    struct stat st;
    if (!inside_dir(path, loc, s))
        return false;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return site_error(s, "has its external data in '%s', which is not a regular file", path);
    int64_t size = (int64_t)st.st_size;
    if (off > size || (int64_t)v->bytes > size - off)
        return site_error(s, "needs bytes %lld..%lld of external data file '%s', which has "
                          "only %lld bytes", (long long)off, (long long)(off + (int64_t)v->bytes),
                          path, (long long)size);
    FILE *f = fopen(path, "rb");
    if (!f)
        return site_error(s, "has its external data in '%s', which cannot be opened: %s", path,
                          strerror(errno));
    bool ok = owned_alloc(v, s) != NULL;
    if (ok && !(fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(v->owned, 1, v->bytes, f) == v->bytes))
        ok = site_error(s, "could not read %zu bytes of external data file '%s'", v->bytes, path);
    fclose(f);
    v->data = v->owned;
    return ok;
}

static bool view_external(const Onnx__TensorProto *tp, const TensorSite *s, TensorView *v)
{
    const char *loc = "", *off_s = "0", *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *key = pb_str(tp->external_data[i]->key);
        const char *val = pb_str(tp->external_data[i]->value);
        if (strcmp(key, "location") == 0)
            loc = val;
        else if (strcmp(key, "offset") == 0)
            off_s = val;
        else if (strcmp(key, "length") == 0)
            len_s = val;
    }
    int64_t off, len = (int64_t)v->bytes;
    char buf[24];
    if (!loc[0])
        return site_error(s, "has external data without a location");
    if (!check_location(loc, s))
        return false;
    if (!parse_count(off_s, &off))
        return site_error(s, "has external data offset '%s', which is not a byte count", off_s);
    if (len_s && !parse_count(len_s, &len))
        return site_error(s, "has external data length '%s', which is not a byte count", len_s);
    if (len != (int64_t)v->bytes)
        return site_error(s, "has external data length %lld, expected %zu (%lld elements of %s)",
                          (long long)len, v->bytes, (long long)v->numel,
                          pb_dtype_name(v->dtype, buf));
    StrBuf path = {0};
    sb_printf(&path, "%s/%s", s->dir, loc);
    bool ok = read_external(path.buf, loc, off, s, v) && le_to_host(v, s);
    sb_free(&path);
    return ok;
}

/* ---- the whole tensor ---- */

bool pb_tensor_view(const Onnx__TensorProto *tp, const TensorSite *s, TensorView *v)
{
    char buf[24];
    memset(v, 0, sizeof *v);
    if (!view_shape(tp, s, v))
        return false;
    if (tp->segment)
        return site_error(s, "is segmented, which kiln does not support");
    int where = tp->has_data_location ? (int)tp->data_location : 0;
    bool ok;
    if (where == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        ok = view_external(tp, s, v);
    else if (where != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
        ok = site_error(s, "has unknown data_location %d", where);
    else if (tp->has_raw_data && tp->raw_data.len != v->bytes)
        ok = site_error(s, "has %zu bytes of raw_data, expected %zu (%lld elements of %s)",
                        tp->raw_data.len, v->bytes, (long long)v->numel,
                        pb_dtype_name(v->dtype, buf));
    else if (tp->has_raw_data) {
        v->data = tp->raw_data.data;
        ok = le_to_host(v, s);
    } else
        ok = view_typed(tp, s, v);
    if (!ok)
        pb_tensor_release(v);
    return ok;
}

void pb_tensor_release(TensorView *v)
{
    free(v->owned);
    v->owned = NULL;
    v->data = NULL;
}

/* ---- single-tensor .pb files ---- */

static bool read_tensor_file(Arena *a, const char *path, Tensor *t, const char **name, Diag *d)
{
    Onnx__TensorProto *tp =
        (Onnx__TensorProto *)pb_read(path, &onnx__tensor_proto__descriptor, "tensor file", d);
    if (!tp)
        return false;
    const char *tname = pb_str(tp->name);
    TensorSite s = {d, NULL, tname[0] ? arena_printf(a, "tensor '%s'", tname) : "tensor",
                    pb_dirname(a, path)};
    TensorView v;
    bool ok = pb_tensor_view(tp, &s, &v);
    if (ok) {
        t->dtype = v.dtype;
        t->shape = v.shape;
        t->data = arena_dup(a, v.data, v.bytes);
        if (name)
            *name = arena_strdup(a, tname);
        pb_tensor_release(&v);
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return ok;
}

bool onnx_read_tensor(Arena *a, const char *path, Tensor *t, const char **name, Diag *d)
{
    const char *file = d->file;
    if (!d->file)
        d->file = path; /* messages read "input_0.pb: …" */
    bool ok = read_tensor_file(a, path, t, name, d);
    d->file = file;
    return ok;
}

/* Writes path.tmp, then renames it over path: never a half-written file. */
static bool write_atomic(const char *path, const uint8_t *buf, size_t len, Diag *d)
{
    StrBuf tmp = {0};
    sb_printf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.buf, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len && fflush(f) == 0;
    int err = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp.buf, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        diag_error(d, "cannot write '%s': %s", f ? path : tmp.buf, strerror(err));
        remove(tmp.buf);
    }
    sb_free(&tmp);
    return ok;
}

bool onnx_write_tensor(const char *path, const Tensor *t, const char *name, Diag *d)
{
    int64_t numel = shape_numel(&t->shape);
    size_t elem = dtype_size(t->dtype);
    KILN_ASSERT(numel >= 0 && elem > 0 && t->shape.rank <= IR_MAX_RANK);
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, t->shape.dims, sizeof dims);
    tp.n_dims = (size_t)t->shape.rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)t->dtype;
    tp.name = (char *)(name ? name : "");
    size_t bytes = (size_t)numel * elem;
    uint8_t *le = NULL;
    if (!host_is_le() && elem > 1) {
        le = malloc(bytes ? bytes : 1);
        KILN_ASSERT(le != NULL);
        swap_elems(le, t->data, elem, bytes);
    }
    tp.has_raw_data = 1;
    tp.raw_data.len = bytes;
    tp.raw_data.data = le ? le : (uint8_t *)t->data;
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(len ? len : 1);
    KILN_ASSERT(buf != NULL);
    onnx__tensor_proto__pack(&tp, buf);
    bool ok = write_atomic(path, buf, len, d);
    free(buf);
    free(le);
    return ok;
}
