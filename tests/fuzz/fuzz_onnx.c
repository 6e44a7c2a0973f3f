/* fuzz_onnx.c — libFuzzer target: arbitrary bytes as model.onnx through the
 * ONNX importer (onnx/) and the passes up to dce. Seeded with the test
 * models; see tests/fuzz/README.md. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".onnx");
    Arena *a = arena_new();
    Diag d = {.file = path};
    Graph *g = onnx_import(a, path, &d);
    if (g)
        fuzz_passes(g, &d);
    arena_free(a);
    return 0;
}
