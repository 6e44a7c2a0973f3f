/* onnx_io.h — kiln's only door to ONNX protobuf: importing a ModelProto into
 * the IR and reading/writing single TensorProto files (.pb, as in the ONNX
 * backend test data). The protobuf-c types never leave onnx/. */
#ifndef KILN_ONNX_IO_H
#define KILN_ONNX_IO_H

#include "ir.h"

/* Highest default-domain opset kiln knows; newer models are refused. */
#define ONNX_MAX_OPSET 18

/* Reads the model at path (external data is resolved relative to its
 * folder). Returns NULL with the first error in d. The protobuf objects are
 * freed before returning; everything the graph needs lives in arena a. */
Graph *onnx_import(Arena *a, const char *path, Diag *d);

/* One TensorProto file. *name may be "" when the file has none. */
bool onnx_read_tensor(Arena *a, const char *path, Tensor *t, const char **name, Diag *d);
bool onnx_write_tensor(const char *path, const Tensor *t, const char *name, Diag *d);

/* kiln export: writes to out_path (atomically) a copy of the model whose
 * initializers take the values of the tensors of the same name in the kiln
 * parameter file (P_params_save's format); *replaced counts them. */
bool onnx_export_params(const char *model_path, const char *params_path, const char *out_path,
                        int *replaced, Diag *d);

#endif
