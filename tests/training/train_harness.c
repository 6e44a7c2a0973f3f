/* train_harness.c — runs a kiln-compiled training step (prefix "model") for
 * every batch in the input files and records what torch_train.py recorded:
 *   train_harness STEPS OUTDIR INPUT_0.bin INPUT_1.bin ...
 * prints the loss before each step, one per line, saves the parameters to
 * OUTDIR/kiln_params.bin with model_params_save, and writes the inference
 * outputs (model_run_v) on the last batch to OUTDIR/kiln_out_K.bin.
 * With OUTDIR/batches.txt (one batch size per step, a model compiled with
 * --batch on a symbolic batch dim), step s reads and trains on that many rows
 * through model_train_step_batch_v. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static size_t tensor_bytes(const kiln_tensor_info *t)
{
    size_t n = t->dtype == KILN_INT64 || t->dtype == KILN_DOUBLE ? 8 : 4;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

int main(int argc, char **argv)
{
    const kiln_model_info *info = &model_train_info;
    if (argc != 3 + info->num_inputs) {
        fprintf(stderr, "usage: %s STEPS OUTDIR and %d input files\n", argv[0], info->num_inputs);
        return 2;
    }
    int steps = atoi(argv[1]);
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 64);
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    FILE *in[16];
    void *buf[16];
    if (!raw || model_init(ws) != KILN_OK)
        return 3;
    for (int k = 0; k < info->num_inputs; k++) {
        in[k] = fopen(argv[3 + k], "rb");
        buf[k] = malloc(tensor_bytes(&info->inputs[k]));
        if (!in[k] || !buf[k])
            return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/batches.txt", argv[2]);
    FILE *batches = fopen(path, "r");
    int rows = 0, full = info->inputs[0].dims[0];
    for (int s = 0; s < steps; s++) {
        rows = full;
        if (batches && fscanf(batches, "%d", &rows) != 1)
            return 2;
        for (int k = 0; k < info->num_inputs; k++) {
            size_t bytes = tensor_bytes(&info->inputs[k]) / (size_t)full * (size_t)rows;
            if (fread(buf[k], 1, bytes, in[k]) != bytes)
                return 2;
        }
        float loss;
#ifdef model_MAX_BATCH
        if (model_train_step_batch_v(ws, rows, (const void *const *)buf, &loss) != KILN_OK)
            return 3;
#else
        if (rows != full || model_train_step_v(ws, (const void *const *)buf, &loss) != KILN_OK)
            return 3;
#endif
        printf("%.9g\n", loss);
    }
    snprintf(path, sizeof path, "%s/kiln_params.bin", argv[2]);
    if (model_params_save(ws, path) != KILN_OK)
        return 4;
    /* inference with the trained parameters on the last batch, for the
     * export check (tests/training/ort_check.js) */
    void *out[16];
    for (int k = 0; k < model_info.num_outputs; k++)
        if (!(out[k] = malloc(tensor_bytes(&model_info.outputs[k]))))
            return 2;
    if (model_run_v(ws, (const void *const *)buf, out) != KILN_OK)
        return 3;
    for (int k = 0; k < model_info.num_outputs; k++) {
        snprintf(path, sizeof path, "%s/kiln_out_%d.bin", argv[2], k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out[k], 1, tensor_bytes(&model_info.outputs[k]), f) !=
                      tensor_bytes(&model_info.outputs[k]) || fclose(f) != 0)
            return 4;
    }
    return 0;
}
