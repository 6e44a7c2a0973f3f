/* test_norm_grad.c — the BatchNormGrad vector loops (templates/
 * kiln_norm_grad.h) against plain double loops, over lengths around the
 * 4-, 8- and 16-element steps and their tails; built once with the
 * target's 4-lane vectors and once with KILN_SIMD_FORCE_SCALAR. */
#include <math.h>
#include <stdio.h>

#include "kiln_norm_grad.h"

static unsigned rng = 99u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Whether got is within float rounding of want for a sum of n terms of size scale. */
static int close_to(double got, double want, int n, double scale)
{
    return fabs(got - want) <= 1e-6 * (n + 1) * scale;
}

int main(void)
{
    static float x[1000], dy[1000], y[1001];
    int cases = 0, failed = 0;
    for (int n = 0; n <= 1000; n += n < 40 ? 1 : 97) {
        const float mean = 0.25f;
        for (int i = 0; i < n; i++)
            x[i] = frand() + 0.3f, dy[i] = frand();
        y[n] = 7.0f; /* a guard */
        double s = 0, sq = 0, sdy = 0, sdx = 0;
        for (int i = 0; i < n; i++) {
            s += x[i];
            sq += ((double)x[i] - mean) * ((double)x[i] - mean);
            sdy += dy[i];
            sdx += (double)dy[i] * ((double)x[i] - mean);
        }
        float g;
        const float got_dx = kiln_norm_sum_dy_dev(dy, x, n, -mean, &g);
        kiln_norm_affine2(y, dy, x, n, 0.5f, -1.5f, 0.125f);
        int ok = close_to(kiln_norm_sum(x, n), s, n, 1.5) &&
                 close_to(kiln_norm_sum_sq(x, n, -mean), sq, n, 2.0) && close_to(g, sdy, n, 1.0) &&
                 close_to(got_dx, sdx, n, 1.5) && y[n] == 7.0f;
        for (int i = 0; i < n && ok; i++)
            ok = fabs(y[i] - (0.5 * dy[i] - 1.5 * x[i] + 0.125)) <= 1e-6;
        cases++;
        if (!ok) {
            failed++;
            printf("FAIL n=%d: sum %g want %g, sq %g want %g, dy %g want %g, dy*dev %g want %g\n",
                   n, kiln_norm_sum(x, n), s, kiln_norm_sum_sq(x, n, -mean), sq, g, sdy, got_dx,
                   sdx);
        }
    }
    printf("norm_grad (%s): %d lengths, %d failed\n", KILN_SIMD_F32X4, cases, failed);
    return failed != 0;
}
