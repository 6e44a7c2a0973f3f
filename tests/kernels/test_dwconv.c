/* test_dwconv.c — the depthwise convolution kernel (templates/
 * kiln_dwconv.h) against direct loops in double over kernel sizes,
 * strides, dilations, paddings (including windows wider than the image)
 * and row widths around its 8- and 16-output blocks; built once with the
 * target's 4-lane vectors (and the AVX2 variant) and once with
 * KILN_SIMD_FORCE_SCALAR. */
#include <math.h>
#include <stdio.h>

#include "kiln_dwconv.h"

static unsigned rng = 31337u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int conv_out(int in, int k, int s, int d, int pb, int pe)
{
    return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

typedef void (*PlaneFn)(const float *x, const float *w, float bias, float *y,
                        const kiln_conv_geom *g);

/* One plane; returns 1 if every output matches. */
static int run_case(PlaneFn plane, kiln_conv_geom g)
{
    static float x[48 * 48], w[7 * 7], y[48 * 48 + 1];
    for (int i = 0; i < g.h * g.w; i++)
        x[i] = frand();
    for (int i = 0; i < g.kh * g.kw; i++)
        w[i] = frand();
    const float bias = frand();
    y[g.oh * g.ow] = 5.0f; /* a guard */
    plane(x, w, bias, y, &g);
    int ok = y[g.oh * g.ow] == 5.0f;
    for (int oy = 0; oy < g.oh && ok; oy++)
        for (int ox = 0; ox < g.ow && ok; ox++) {
            double want = bias;
            for (int r = 0; r < g.kh; r++)
                for (int s = 0; s < g.kw; s++) {
                    int iy = oy * g.sh - g.ph + r * g.dh, ix = ox * g.sw - g.pw + s * g.dw;
                    if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                        want += (double)x[iy * g.w + ix] * w[r * g.kw + s];
                }
            if (!(fabs(y[oy * g.ow + ox] - want) <= 1e-5 + 1e-5 * fabs(want))) {
                printf("FAIL %dx%d k %dx%d s %d,%d d %d,%d p %d,%d: y[%d][%d] = %g, want %g\n",
                       g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, oy, ox,
                       y[oy * g.ow + ox], want);
                ok = 0;
            }
        }
    return ok;
}

static int run_all(const char *name, PlaneFn plane)
{
    int cases = 0, failed = 0;
    for (int k = 1; k <= 7; k += 2)
        for (int s = 1; s <= 2; s++)
            for (int d = 1; d <= 2; d++)
                for (int p = 0; p <= k + 1; p += 2)
                    for (int w = 3; w <= 47; w += 4) {
                        kiln_conv_geom g = {1, 1 + w % 9, w, k - (w % 3 == 0 && k > 1), k,
                                            3 - s, s, d, 3 - d, p / 2, p, 0, 0};
                        g.oh = conv_out(g.h, g.kh, g.sh, g.dh, g.ph, g.ph);
                        g.ow = conv_out(g.w, g.kw, g.sw, g.dw, g.pw, p % 3);
                        if (g.oh <= 0 || g.ow <= 0)
                            continue;
                        cases++;
                        failed += !run_case(plane, g);
                    }
    printf("dwconv %s: %d planes, %d failed\n", name, cases, failed);
    return failed;
}

int main(void)
{
    int failed = run_all(KILN_SIMD_F32X4, kiln_dwconv2d_plane);
#ifdef KILN_SIMD_HAS_AVX2
    if (kiln_cpu_has_avx2_fma())
        failed += run_all("avx2", kiln_dwconv2d_plane_avx2);
    else
        printf("avx2: skipped (this CPU lacks AVX2+FMA)\n");
#endif
    return failed != 0;
}
