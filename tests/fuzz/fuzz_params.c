/* fuzz_params.c — libFuzzer target: arbitrary bytes as a kiln parameter file
 * (format in runtime/kiln_params.h) through both of its readers: the
 * generated code's P_params_load (kiln_state_load) and `kiln export`
 * (onnx_export_params). Each input runs twice, the second time with the
 * header's checksum made right, so the fuzzer reaches what lies behind it. */
#include "fuzz_common.h"

#include "kiln_params.h"

#ifndef KILN_FUZZ_MODEL
#error "KILN_FUZZ_MODEL: the ONNX model kiln export rewrites (tests/unit/data/onnx/basic.onnx)"
#endif

/* basic.onnx's float initializers, as the generated code's table lists them. */
static const char table[] = "W 1 3x2 0\nB 1 2 24\n";
enum { STATE_BYTES = 32 };
static const uint64_t fingerprint = 0x6b696c6e66757a7aull;

/* P_params_load must refuse a bad file without touching the workspace. */
static void load_state(const char *path)
{
    unsigned char state[STATE_BYTES], before[STATE_BYTES];
    for (int i = 0; i < STATE_BYTES; i++)
        state[i] = before[i] = (unsigned char)(0xa5 ^ i);
    int rc = kiln_state_load(state, sizeof state, fingerprint, table, sizeof table - 1, path);
    if (rc != KILN_OK && memcmp(state, before, sizeof state) != 0)
        abort();
}

static void export_params(const char *path)
{
    static char out[300];
    if (!out[0])
        snprintf(out, sizeof out, "%s.onnx", path);
    Diag d = {0};
    int replaced = 0;
    if (onnx_export_params(KILN_FUZZ_MODEL, path, out, &replaced, &d) && replaced <= 0)
        abort(); /* success means at least one initializer was replaced */
    remove(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".kprm");
    load_state(path);
    export_params(path);
    if (size < 40)
        return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed)
        abort();
    memcpy(fixed, data, size);
    kiln_write_le64(fixed + 32, kiln_fnv1a64(fixed + 40, size - 40, 14695981039346656037ull));
    path = fuzz_file(fixed, size, ".kprm");
    free(fixed);
    load_state(path);
    export_params(path);
    return 0;
}
