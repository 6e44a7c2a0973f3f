/* fuzz_common.h — shared by kiln's libFuzzer targets (tests/fuzz/): the
 * front half of the driver's pipeline (import → init_params → infer_shapes →
 * dce, with ir_verify after each step exactly as compiler/driver.c runs it),
 * and a scratch file for the readers that take a path. A user error is a
 * normal outcome; a crash, a sanitizer report, an ir_verify failure after a
 * pass or a timeout is a bug. */
#ifndef KILN_FUZZ_COMMON_H
#define KILN_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx_io.h"
#include "pass.h"

/* The driver's step(): a pass, then ir_verify; the verifier failing is a
 * kiln bug, so the fuzzer must see it as a crash. */
static inline bool fuzz_step(Graph *g, bool (*pass)(Graph *, Diag *), bool want_types, Diag *d)
{
    if (pass && !pass(g, d))
        return false;
    Diag vd = {0};
    if (!ir_verify(g, want_types, &vd)) {
        fprintf(stderr, "ir_verify failed: %s\n", vd.msg);
        abort();
    }
    return true;
}

/* What the driver runs after loading the model. */
static inline void fuzz_passes(Graph *g, Diag *d)
{
    (void)(fuzz_step(g, NULL, false, d) && fuzz_step(g, pass_init_params, false, d) &&
           fuzz_step(g, pass_infer_shapes, false, d) && fuzz_step(g, pass_dce, true, d));
}

static char fuzz_path[256];

static void fuzz_file_remove(void)
{
    remove(fuzz_path);
}

/* A file holding data, for the readers that take a path (one per process,
 * in /dev/shm when it exists, removed at exit). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *ext)
{
    char *path = fuzz_path;
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof fuzz_path, "%s/kiln-fuzz-%ld%s", dir, (long)getpid(), ext);
        atexit(fuzz_file_remove);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        perror(path);
        abort();
    }
    fclose(f);
    return path;
}

#endif
