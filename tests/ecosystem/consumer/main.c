/* main.c — an out-of-tree program using three kiln models in one binary: the
 * example MLP compiled as mlp (batch 2, weights embedded), mlp1 (batch 1,
 * generic target, weights in mlp1.bin at MLP1_BIN), which must agree on the
 * same image, and mlpt (batch 8, with a training step, which must lower the
 * loss). Built by CMakeLists.txt and by Makefile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"
#include "mlp1.h"
#include "mlpt.h"

#ifndef MLP1_BIN
#define MLP1_BIN mlp1_WEIGHTS_FILE
#endif

/* A 64-byte aligned block of n bytes; *raw is what to free. */
static void *aligned(size_t n, void **raw)
{
    unsigned char *p = malloc(n + 63);
    *raw = p;
    return p ? p + (64 - (uintptr_t)p % 64) % 64 : NULL;
}

/* A few SGD steps on one batch lower the loss. */
static int train_a_little(void)
{
    static float images[8][1][28][28], labels[8][10];
    for (int b = 0; b < 8; b++)
        labels[b][b % 10] = 1.0f;
    void *raw, *ws = aligned(mlpt_WORKSPACE_SIZE, &raw);
    const void *batch[2] = {images, labels};
    float first = 0, loss = 0;
    for (int step = 0; ws && step < 10; step++) {
        if ((step == 0 && mlpt_init(ws) != KILN_OK) || mlpt_train_step_v(ws, batch, &loss) != KILN_OK)
            break;
        first = step == 0 ? loss : first;
    }
    free(raw);
    printf("consumer: training %s: loss %.4f -> %.4f\n", mlpt_train_info.name, first, loss);
    return loss < first;
}

int main(void)
{
    static float image[2][1][28][28], logits[2][10], probs[2][10], logits1[10], probs1[10];
    for (int y = 4; y < 24; y++)
        for (int x = 12; x < 16; x++)
            image[0][0][y][x] = image[1][0][y][x] = 1.0f;
    void *raw, *raw1;
    void *ws = aligned(mlp_WORKSPACE_SIZE, &raw), *ws1 = aligned(mlp1_WORKSPACE_SIZE, &raw1);
    if (!ws || !ws1 || mlp_init(ws) != KILN_OK || mlp1_init_from(ws1, MLP1_BIN) != KILN_OK) {
        fprintf(stderr, "consumer: init failed\n");
        return 1;
    }
    if (mlp_run(ws, &image[0][0][0][0], &logits[0][0], &probs[0][0]) != KILN_OK ||
        mlp1_run(ws1, &image[0][0][0][0], logits1, probs1) != KILN_OK) {
        fprintf(stderr, "consumer: run failed\n");
        return 1;
    }
    double worst = 0;
    for (int c = 0; c < 10; c++)
        worst = fmax(worst, fabs((double)probs[0][c] - probs1[c]) + fabs((double)probs[1][c] - probs1[c]));
    printf("consumer: %s and %s, max difference %.2g: %s\n", mlp_info.name, mlp1_info.name, worst,
           worst < 1e-5 ? "ok" : "MISMATCH");
    free(raw);
    free(raw1);
    return worst < 1e-5 && train_a_little() ? 0 : 1;
}
