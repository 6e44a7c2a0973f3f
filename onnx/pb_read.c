/* pb_read.c — reading one protobuf message from a file, safely. protobuf-c
 * 1.4 recurses into nested messages without a depth limit, so a small crafted
 * file could overflow the stack; a walk over the wire format, guided by the
 * generated descriptors, refuses such files (and malformed ones) first. */
#include "onnx_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WIRE_OK, WIRE_MALFORMED, WIRE_TOO_DEEP };

/* protobuf's own limit on a serialized message. */
#define PB_MAX_FILE (((size_t)2 << 30) - 1)
/* What unpacking may cost beyond twice the file's size: a few bytes of wire
 * format can unpack to a much larger struct (an empty nested message is 2
 * bytes in the file and a whole struct in memory), so the walk adds up what
 * protobuf-c will allocate and refuses files that would take more. */
#define PB_MEM_SLACK ((uint64_t)256 << 20)
#define MALLOC_OVERHEAD 16

static bool read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*i >= len)
            return false;
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *desc,
                                                 uint64_t field)
{
    if (field == 0 || field > UINT32_MAX)
        return NULL;
    return protobuf_c_message_descriptor_get_field(desc, (unsigned)field);
}

/* Bytes protobuf-c allocates for one field occurrence whose payload is n
 * bytes (length-delimited) or a scalar (n = 0), not counting submessages'
 * own fields. An upper bound, as protobuf-c 1.4 does it. */
static uint64_t field_cost(const ProtobufCFieldDescriptor *f, bool delimited, uint64_t n)
{
    if (!f) /* kept as an unknown field: a record plus a copy of the bytes */
        return 48 + n;
    bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return ((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message +
               MALLOC_OVERHEAD + (repeated ? 8 : 0);
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)
        return n + 1 + MALLOC_OVERHEAD + (repeated ? 16 : 0);
    if (delimited) /* packed scalars: at least one byte each, at most 8 unpacked */
        return 8 * n;
    return repeated ? 8 : 0;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                int depth, uint64_t *mem)
{
    if (depth > PB_MAX_DEPTH)
        return WIRE_TOO_DEEP;
    size_t i = 0;
    while (i < len) {
        uint64_t key, n;
        if (!read_varint(p, len, &i, &key))
            return WIRE_MALFORMED;
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint(p, len, &i, &n))
                return WIRE_MALFORMED;
            *mem += field_cost(field_of(desc, key >> 3), false, 0);
            break;
        case 1: /* fixed64 */
        case 5: /* fixed32 */
            n = (key & 7) == 1 ? 8 : 4;
            if (len - i < n)
                return WIRE_MALFORMED;
            i += n;
            *mem += field_cost(field_of(desc, key >> 3), false, 0);
            break;
        case 2: { /* length-delimited: bytes, strings, packed arrays, messages */
            if (!read_varint(p, len, &i, &n) || n > len - i)
                return WIRE_MALFORMED;
            const ProtobufCFieldDescriptor *f = field_of(desc, key >> 3);
            const ProtobufCMessageDescriptor *sub =
                f && f->type == PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;
            *mem += field_cost(f, true, n);
            int r = sub ? walk(sub, p + i, (size_t)n, depth + 1, mem) : WIRE_OK;
            if (r != WIRE_OK)
                return r;
            i += (size_t)n;
            break;
        }
        default: /* groups (3, 4) and invalid wire types: not in onnx.proto */
            return WIRE_MALFORMED;
        }
    }
    return WIRE_OK;
}

static bool pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                     const char *what, Diag *d)
{
    if (len == 0) {
        diag_error(d, "not a valid ONNX %s (empty file)", what);
        return false;
    }
    uint64_t mem = desc->sizeof_message;
    switch (walk(desc, buf, len, 0, &mem)) {
    case WIRE_MALFORMED:
        diag_error(d, "not a valid ONNX %s (protobuf parse failed)", what);
        return false;
    case WIRE_TOO_DEEP:
        diag_error(d, "not a valid ONNX %s (messages nested more than %d deep)", what,
                   PB_MAX_DEPTH);
        return false;
    }
    uint64_t limit = 2 * (uint64_t)len + PB_MEM_SLACK;
    if (mem > limit) {
        diag_error(d, "not a valid ONNX %s (its %zu bytes would unpack to %llu MiB, more than "
                   "the %llu MiB kiln allows for them)", what, len,
                   (unsigned long long)(mem >> 20), (unsigned long long)(limit >> 20));
        return false;
    }
    return true;
}

ProtobufCMessage *pb_read(const char *path, const ProtobufCMessageDescriptor *desc,
                          const char *what, Diag *d)
{
    size_t len;
    uint8_t *buf = file_read_max(path, PB_MAX_FILE, &len);
    if (!buf && errno == EFBIG) {
        diag_error(d, "not a valid ONNX %s (larger than 2 GiB, the protobuf limit; large "
                   "weights belong in external data files)", what);
        return NULL;
    }
    if (!buf) {
        diag_error(d, "cannot read: %s", strerror(errno));
        return NULL;
    }
    ProtobufCMessage *msg = NULL;
    if (pb_check(desc, buf, len, what, d)) {
        msg = protobuf_c_message_unpack(desc, NULL, len, buf);
        if (!msg)
            diag_error(d, "not a valid ONNX %s (protobuf parse failed)", what);
    }
    free(buf);
    return msg;
}
