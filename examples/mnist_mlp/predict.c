/* predict.c — the other half of run.sh's onnxruntime check: loads parameters
 * saved by train (--save), runs the test set through kiln's inference entry
 * point model_run_v and writes every image's logits, for ort_eval.js to
 * compare with onnxruntime's. Built by run.sh from the same generated code:
 *   cc -O2 -std=c99 -I gen -I ../common gen/model.c ../common/idx.c predict.c -lz -lm
 *   ./predict PARAMS LOGITS.f32 [DATA_DIR]    (LOGITS: test images x 10 float32) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "model.h"

#define CLASSES 10

/* Runs images [0, count) in batches of the compiled size `batch` (the last
 * one padded with blank images) and writes count x CLASSES logits to f.
 * Returns 0, or -1 when the model or the write fails. */
static int run_all(void *ws, const IdxData *img, int batch, float *x, float *logits, FILE *f)
{
    size_t pixels = (size_t)img->rows * img->cols;
    for (int start = 0; start < img->count; start += batch) {
        int rows = img->count - start < batch ? img->count - start : batch;
        memset(x, 0, sizeof *x * pixels * batch);
        for (size_t p = 0; p < pixels * rows; p++)
            x[p] = img->data[start * pixels + p] * (1.0f / 255.0f);
        const void *in[1] = {x};
        void *out[1] = {logits};
        if (model_run_v(ws, in, out) != KILN_OK)
            return -1;
        if (fwrite(logits, sizeof *logits * CLASSES, (size_t)rows, f) != (size_t)rows)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PARAMS LOGITS.f32 [DATA_DIR]\n", argv[0]);
        return 2;
    }
    const char *data = argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist";
    IdxData img, lab;
    if (idx_load_set(data, "t10k", 0, &img, &lab) != 0)
        return 1;
    const kiln_tensor_info *in = &model_info.inputs[0];
    long pixels = 1;
    for (int i = 1; i < in->rank; i++)
        pixels *= (long)in->dims[i];
    if (pixels != (long)img.rows * img.cols) {
        fprintf(stderr, "error: the model takes %ld pixels per image, %s has %dx%d\n", pixels,
                data, img.rows, img.cols);
        return 1;
    }
    int batch = (int)in->dims[0];
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 63);
    float *x = malloc(sizeof *x * (size_t)img.rows * img.cols * batch);
    float *logits = malloc(sizeof *logits * CLASSES * (size_t)batch);
    if (!raw || !x || !logits)
        return 1;
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64; /* 64-byte aligned */
    if (model_init(ws) != KILN_OK || model_params_load(ws, argv[1]) != KILN_OK) {
        fprintf(stderr, "error: cannot load %s (missing, or saved by another model)\n", argv[1]);
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    int failed = !f || run_all(ws, &img, batch, x, logits, f) != 0;
    if ((f && fclose(f) != 0) || failed) {
        fprintf(stderr, "error: cannot run the model or write %s\n", argv[2]);
        return 1;
    }
    free(raw), free(x), free(logits);
    idx_free(&img), idx_free(&lab);
    return 0;
}
