/* simd_other.c — a second translation unit including kiln_simd.h and the
 * GEMM templates, linked with the tests: a symbol with external linkage in
 * them would clash here. Returns the number of failures. */
#include "kiln_gemm_generic.h"
#include "kiln_simd.h"
#ifdef KILN_SIMD_HAS_AVX2
#include "kiln_gemm_avx2.h"
#endif

int kiln_simd_test_other(void)
{
    const float x[4] = {1, 2, 3, 4};
    return kiln_f32x4_hsum(kiln_f32x4_load(x)) != 10.0f;
}
