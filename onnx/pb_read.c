/* pb_read.c — reading one protobuf message from a file, safely. protobuf-c
 * 1.4 recurses into nested messages without a depth limit, so a small crafted
 * file could overflow the stack; a walk over the wire format, guided by the
 * generated descriptors, refuses such files (and malformed ones) first. */
#include "onnx_pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { WIRE_OK, WIRE_MALFORMED, WIRE_TOO_DEEP };

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

static const ProtobufCMessageDescriptor *submessage(const ProtobufCMessageDescriptor *desc,
                                                    uint64_t field)
{
    if (field == 0 || field > UINT32_MAX)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(desc, (unsigned)field);
    return f && f->type == PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                int depth)
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
            break;
        case 1: /* fixed64 */
        case 5: /* fixed32 */
            n = (key & 7) == 1 ? 8 : 4;
            if (len - i < n)
                return WIRE_MALFORMED;
            i += n;
            break;
        case 2: { /* length-delimited: bytes, strings, packed arrays, messages */
            if (!read_varint(p, len, &i, &n) || n > len - i)
                return WIRE_MALFORMED;
            const ProtobufCMessageDescriptor *sub = submessage(desc, key >> 3);
            int r = sub ? walk(sub, p + i, (size_t)n, depth + 1) : WIRE_OK;
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
    switch (walk(desc, buf, len, 0)) {
    case WIRE_MALFORMED:
        diag_error(d, "not a valid ONNX %s (protobuf parse failed)", what);
        return false;
    case WIRE_TOO_DEEP:
        diag_error(d, "not a valid ONNX %s (messages nested more than %d deep)", what,
                   PB_MAX_DEPTH);
        return false;
    }
    return true;
}

ProtobufCMessage *pb_read(const char *path, const ProtobufCMessageDescriptor *desc,
                          const char *what, Diag *d)
{
    size_t len;
    uint8_t *buf = file_read_all(path, &len);
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
