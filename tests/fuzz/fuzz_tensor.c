/* fuzz_tensor.c — libFuzzer target: arbitrary bytes as a single-tensor .pb
 * file (what `kiln run --input` and `kiln verify` read) through
 * onnx_read_tensor. Seeded with the test models' input and output files. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".pb");
    Arena *a = arena_new();
    Diag d = {0};
    Tensor t;
    const char *name = NULL;
    if (onnx_read_tensor(a, path, &t, &name, &d)) {
        int64_t numel = shape_numel(&t.shape);
        if (numel < 0 || !t.data || !name)
            abort(); /* a tensor read back must be whole */
        volatile unsigned char sink = 0; /* touch every byte: ASan checks the size */
        size_t bytes = (size_t)numel * dtype_size(t.dtype);
        for (size_t i = 0; i < bytes; i++)
            sink ^= ((const unsigned char *)t.data)[i];
        (void)sink;
    }
    arena_free(a);
    return 0;
}
