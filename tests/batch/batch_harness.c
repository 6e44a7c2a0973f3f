/* batch_harness.c — checks a model compiled with kiln's run-time batch
 * (prefix "model", --batch N on a symbolic first dim) against torch:
 *   batch_harness DIR [fixed]
 * DIR holds x.bin (N input rows) and y_K.bin (torch's outputs on them, see
 * ref.py). Runs batches 3 and N (model_run_batch_v, and model_run_v) and
 * compares every output row (rtol 1e-4, atol 1e-6); a batch of 3 must leave
 * the output rows after it untouched; batches 0 and N+1 must be refused with
 * KILN_ERR_ARGUMENT. With "fixed" (a model kiln falls back on) batch 3 must
 * be refused too. Prints one line per check; exit 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define N model_MAX_BATCH
#define SENTINEL 12345.0f

static size_t numel(const kiln_tensor_info *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static float *read_floats(const char *dir, const char *name, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    float *p = malloc(n * sizeof *p);
    if (!f || !p || fread(p, sizeof *p, n, f) != n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    return p;
}

/* Runs `batch` rows; compares each output's rows with torch's; checks the
 * rows after `batch` still hold the sentinel. */
static int check_batch(void *ws, int batch, const float *x, float *const *want, int use_run_v)
{
    const kiln_model_info *info = &model_info;
    void *out[16];
    const void *in[1] = {x};
    for (int k = 0; k < info->num_outputs; k++) {
        float *o = malloc(numel(&info->outputs[k]) * sizeof *o);
        for (size_t i = 0; i < numel(&info->outputs[k]); i++)
            o[i] = SENTINEL;
        out[k] = o;
    }
    int rc = use_run_v ? model_run_v(ws, in, out) : model_run_batch_v(ws, batch, in, out);
    int bad = rc != KILN_OK;
    for (int k = 0; k < info->num_outputs && !bad; k++) {
        size_t row = numel(&info->outputs[k]) / N, worst_at = 0;
        double worst = 0;
        const float *got = out[k];
        for (size_t i = 0; i < numel(&info->outputs[k]); i++) {
            double g = got[i], w = want[k][i];
            double err = i < (size_t)batch * row ? fabs(g - w) / (1e-6 / 1e-4 + fabs(w)) : (g != SENTINEL);
            if (err > worst)
                worst = err, worst_at = i;
        }
        printf("batch %d%s output %d: max relative difference %.3g (at %zu)\n", batch,
               use_run_v ? " (run_v)" : "", k, worst, worst_at);
        bad |= worst > 1e-4;
    }
    for (int k = 0; k < info->num_outputs; k++)
        free(out[k]);
    if (rc != KILN_OK)
        printf("batch %d: status %d\n", batch, rc);
    return bad;
}

static int check_refused(void *ws, int batch, const float *x)
{
    const void *in[1] = {x};
    void *out[16];
    float dummy[1];
    for (int k = 0; k < model_info.num_outputs; k++)
        out[k] = dummy;
    int rc = model_run_batch_v(ws, batch, in, out);
    printf("batch %d: status %d (KILN_ERR_ARGUMENT is %d)\n", batch, rc, KILN_ERR_ARGUMENT);
    return rc != KILN_ERR_ARGUMENT;
}

int main(int argc, char **argv)
{
    if (argc < 2 || model_info.num_inputs != 1 || model_info.num_outputs > 16)
        return 2;
    int fixed = argc > 2 && strcmp(argv[2], "fixed") == 0;
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 64);
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    if (!raw || model_init(ws) != KILN_OK)
        return 2;
    float *x = read_floats(argv[1], "x.bin", numel(&model_info.inputs[0]));
    float *want[16];
    for (int k = 0; k < model_info.num_outputs; k++) {
        char name[32];
        snprintf(name, sizeof name, "y_%d.bin", k);
        want[k] = read_floats(argv[1], name, numel(&model_info.outputs[k]));
    }
    int bad = check_refused(ws, 0, x) | check_refused(ws, N + 1, x);
    bad |= fixed ? check_refused(ws, 3, x) : check_batch(ws, 3, x, want, 0);
    bad |= check_batch(ws, N, x, want, 0) | check_batch(ws, N, x, want, 1);
    if (!fixed) /* a small batch after a full one, and a batch of 1 */
        bad |= check_batch(ws, 5, x, want, 0) | check_batch(ws, 1, x, want, 0);
    printf("%s\n", bad ? "FAIL" : "PASS");
    return bad;
}
