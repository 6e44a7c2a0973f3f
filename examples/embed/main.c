/* main.c — classifies a 28x28 grayscale image (8-bit binary PGM) with two
 * models compiled by kiln and linked into one program; their prefixes
 * (fashion_mlp_, fashion_linear_) keep every symbol apart. Build: make */
#include <stdio.h>

#include "fashion_linear.h"
#include "fashion_mlp.h"

static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static unsigned char ws_mlp[fashion_mlp_WORKSPACE_SIZE + 63]; /* each model's workspace, */
static unsigned char ws_lin[fashion_linear_WORKSPACE_SIZE + 63]; /* aligned to 64 below */

static int argmax(const float *z)
{
    int best = 0;
    for (int k = 1; k < 10; k++)
        best = z[k] > z[best] ? k : best;
    return best;
}

int main(int argc, char **argv)
{
    unsigned char pixels[28 * 28];
    float image[28 * 28], mlp[10], lin[10];
    int header = 0;
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    /* %n sets header only once "P5 28 28 255" and one whitespace byte were read */
    if (!f || fscanf(f, "P5 28 28 255%*c%n", &header) < 0 || !header ||
        fread(pixels, 1, sizeof pixels, f) != sizeof pixels)
        return fprintf(stderr, "usage: %s IMAGE.pgm (28x28, 8-bit binary PGM)\n", argv[0]), 2;
    for (int i = 0; i < 28 * 28; i++)
        image[i] = pixels[i] / 255.0f; /* scaled as in training */
    void *a = ws_mlp + (64 - (uintptr_t)ws_mlp % 64) % 64;
    void *b = ws_lin + (64 - (uintptr_t)ws_lin % 64) % 64;
    if (fashion_mlp_init(a) || fashion_mlp_run(a, image, mlp) || fashion_linear_init(b) ||
        fashion_linear_run(b, image, lin))
        return 1;
    printf("mlp: %s\nlinear: %s\n", names[argmax(mlp)], names[argmax(lin)]);
    return 0;
}
