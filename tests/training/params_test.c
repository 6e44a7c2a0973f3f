/* params_test.c — P_params_save / P_params_load of a kiln-compiled training
 * step (prefix "model"), on random batches:
 *   - save after 5 steps, train 5 more (A); load into a fresh workspace,
 *     train the same 5 (B): A and B are bit-identical (optimizer state and
 *     step counter included);
 *   - a truncated file, a flipped byte and another model's file are refused
 *     with KILN_ERR_FORMAT and leave the workspace untouched;
 *   - (built with --check-finite) a batch holding a NaN makes the step return
 *     KILN_ERR_NONFINITE with the parameters and optimizer state unchanged.
 * usage: params_test TMPDIR OTHER_MODEL_PARAMS_FILE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static size_t tensor_bytes(const kiln_tensor_info *t)
{
    size_t n = t->dtype == KILN_INT64 || t->dtype == KILN_DOUBLE ? 8 : 4;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static unsigned seed = 1;
static unsigned next(void)
{
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
}

/* Fills the training inputs for step s: floats in [0,1), labels in [0,10). */
static void batch(void **buf, int s)
{
    seed = 1000u + (unsigned)s;
    for (int k = 0; k < model_train_info.num_inputs; k++) {
        const kiln_tensor_info *t = &model_train_info.inputs[k];
        size_t n = tensor_bytes(t) / (t->dtype == KILN_INT64 ? 8 : 4);
        for (size_t i = 0; i < n; i++) {
            if (t->dtype == KILN_INT64)
                ((int64_t *)buf[k])[i] = next() % 10;
            else
                ((float *)buf[k])[i] = (float)next() / 32768.0f;
        }
    }
}

static int train(void *ws, void **buf, int from, int to)
{
    for (int s = from; s < to; s++) {
        float loss;
        batch(buf, s);
        if (model_train_step_v(ws, (const void *const *)buf, &loss) != KILN_OK)
            return 0;
    }
    return 1;
}

static void *new_ws(void)
{
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 64);
    return raw ? raw + (64 - (uintptr_t)raw % 64) % 64 : NULL;
}

static int fails = 0;
#define CHECK(cond, what)                         \
    do {                                          \
        int ok_ = (cond);                         \
        printf("%s: %s\n", ok_ ? "ok" : "FAIL", what); \
        fails += !ok_;                            \
    } while (0)

/* Copies src to dst, truncated to keep bytes (or all) and with byte flip
 * (if >= 0) inverted. */
static void copy_file(const char *src, const char *dst, long keep, long flip)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int c;
    for (long i = 0; in && out && (c = fgetc(in)) != EOF && (keep < 0 || i < keep); i++)
        fputc(i == flip ? c ^ 0xff : c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    char saved[4096], bad[4096];
    snprintf(saved, sizeof saved, "%s/saved.bin", argv[1]);
    snprintf(bad, sizeof bad, "%s/bad.bin", argv[1]);
    void *buf[16];
    for (int k = 0; k < model_train_info.num_inputs; k++)
        buf[k] = malloc(tensor_bytes(&model_train_info.inputs[k]));
    void *a = new_ws(), *b = new_ws();
    if (!a || !b || model_init(a) != KILN_OK || model_init(b) != KILN_OK)
        return 2;

    CHECK(train(a, buf, 0, 5) && model_params_save(a, saved) == KILN_OK, "train 5 steps, save");
    CHECK(train(a, buf, 5, 10), "train 5 more steps");
    CHECK(model_params_load(b, saved) == KILN_OK && train(b, buf, 5, 10), "load, train the same 5");
    CHECK(memcmp(a, b, model_PARAMS_SIZE) == 0, "resumed training is bit-identical");

    memcpy(b, a, model_PARAMS_SIZE);
    copy_file(saved, bad, 1000, -1);
    CHECK(model_params_load(b, bad) == KILN_ERR_FORMAT, "a truncated file is refused");
    copy_file(saved, bad, -1, 5000);
    CHECK(model_params_load(b, bad) == KILN_ERR_FORMAT, "a file with a flipped byte is refused");
    CHECK(model_params_load(b, argv[2]) == KILN_ERR_FORMAT, "another model's file is refused");
    CHECK(model_params_load(b, "/nonexistent/params.bin") == KILN_ERR_IO, "a missing file is an I/O error");
    CHECK(memcmp(a, b, model_PARAMS_SIZE) == 0, "refused loads left the workspace untouched");
    /* --check-finite: one NaN pixel poisons the loss and every gradient */
    memcpy(b, a, model_PARAMS_SIZE);
    batch(buf, 99);
    ((float *)buf[0])[3] = NAN;
    float loss;
    CHECK(model_train_step_v(a, (const void *const *)buf, &loss) == KILN_ERR_NONFINITE,
          "a NaN in the batch is refused (--check-finite)");
    CHECK(memcmp(a, b, model_PARAMS_SIZE) == 0, "the refused step changed no parameter");
    batch(buf, 100);
    CHECK(model_train_step_v(a, (const void *const *)buf, &loss) == KILN_OK && loss == loss,
          "training goes on with the next finite batch");
    printf("%d failed\n", fails);
    return fails != 0;
}
