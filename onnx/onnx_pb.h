/* onnx_pb.h — private to onnx/: what import.c, attr.c, tensor_pb.c and
 * pb_read.c share over the protobuf-c types generated from onnx.proto.
 * Nothing outside onnx/ may include it (CMake keeps the generated header
 * PRIVATE). */
#ifndef KILN_ONNX_PB_H
#define KILN_ONNX_PB_H

#include "onnx.pb-c.h"
#include "onnx_io.h"

/* protobuf-c leaves absent proto2 strings NULL. */
static inline const char *pb_str(const char *s)
{
    return s ? s : "";
}

/* The folder of path ("." when it has none), in arena a. */
const char *pb_dirname(Arena *a, const char *path);

/* ONNX TensorProto.DataType name ("FLOAT", "STRING", …) or the number. */
const char *pb_dtype_name(int dt, char buf[24]);

/* Reads the file at path and unpacks it as a desc message (free it with
 * its *__free_unpacked). The bytes are checked first: not empty, well-formed
 * wire format, messages nested at most PB_MAX_DEPTH deep. NULL with an error
 * in d ("cannot read: …", "not a valid ONNX <what> (…)"). */
#define PB_MAX_DEPTH 100
ProtobufCMessage *pb_read(const char *path, const ProtobufCMessageDescriptor *desc,
                          const char *what, Diag *d);

/* Where a tensor comes from, for its errors and its external data. */
typedef struct TensorSite {
    Diag *d;
    const Node *node;   /* errors go through ir_node_error when set */
    const char *what;   /* "initializer 'w'", "attribute 'value'", "tensor" */
    const char *dir;    /* folder that external data locations are relative to */
} TensorSite;

/* A TensorProto checked and converted to kiln's dense row-major layout.
 * data (bytes long) points into the protobuf or into owned; copy it before
 * the protobuf is freed, then pb_tensor_release. */
typedef struct TensorView {
    DType dtype;
    Shape shape;
    int64_t numel;
    size_t bytes;
    const void *data;
    void *owned;
} TensorView;

bool pb_tensor_view(const Onnx__TensorProto *tp, const TensorSite *s, TensorView *v);
void pb_tensor_release(TensorView *v);

/* An attribute of a node after function inlining has replaced references
 * (ref_attr_name) by the calling node's attribute: the name the node sees
 * and the AttributeProto holding the value. */
typedef struct AttrRef {
    const char *name;
    const Onnx__AttributeProto *src;
} AttrRef;

/* Converts refs into n->attrs (in g's arena); false with an error in d. */
bool pb_node_attrs(Graph *g, Node *n, const AttrRef *refs, int n_refs, const char *dir,
                   Diag *d);

#endif
