/* main.c — runs the kiln-generated MLP (784-128-10, exported from PyTorch) on
 * two made-up 28x28 images and prints the class probabilities.
 * Build: cc -O2 -std=c99 -I gen gen/*.c main.c -lm */
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"

int main(void)
{
    static float image[2][1][28][28];     /* the model's input: batch 2 (--batch 2) */
    static float logits[2][10], probs[2][10];
    for (int b = 0; b < 2; b++)           /* a vertical bar, and a filled square */
        for (int y = 4; y < 24; y++)
            for (int x = 4; x < 24; x++)
                image[b][0][y][x] = b == 0 ? (x >= 12 && x < 16) : 1.0f;

    /* the workspace: caller-owned, 64-byte aligned, any contents */
    unsigned char *raw = malloc(mlp_WORKSPACE_SIZE + 63);
    if (!raw)
        return 1;
    void *workspace = raw + (64 - (uintptr_t)raw % 64) % 64;
    if (mlp_init(workspace) != KILN_OK)
        return 1;
    if (mlp_run(workspace, &image[0][0][0][0], &logits[0][0], &probs[0][0]) != KILN_OK)
        return 1;

    printf("model '%s': input '%s', outputs '%s' and '%s'\n", mlp_info.name,
           mlp_info.inputs[0].name, mlp_info.outputs[0].name, mlp_info.outputs[1].name);
    for (int b = 0; b < 2; b++) {
        int best = 0;
        printf("image %d probs:", b);
        for (int c = 0; c < 10; c++) {
            printf(" %.4f", probs[b][c]);
            best = probs[b][c] > probs[b][best] ? c : best;
        }
        printf("  -> class %d\n", best);
    }
    free(raw);
    return 0;
}
