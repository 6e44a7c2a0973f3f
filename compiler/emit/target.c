/* target.c — the instruction sets kiln emits code for (--target): their
 * names, and which one "host" means on the machine kiln runs on. The
 * micro-kernel of each target is chosen in k_gemm.c; the runtime check the
 * generated P_init makes is in model.c (emit_cpu_check). */
#include "emit.h"

#include <string.h>

static const char *const target_names[] = {
    [TARGET_GENERIC] = "generic",     [TARGET_X86_64_V3] = "x86-64-v3",
    [TARGET_X86_64_V4] = "x86-64-v4", [TARGET_X86_64] = "x86-64",
    [TARGET_AARCH64] = "aarch64",
};
#define N_TARGETS (int)(sizeof target_names / sizeof target_names[0])
_Static_assert(N_TARGETS == TARGET_AARCH64 + 1, "a name per Target");

const char *target_name(Target t)
{
    return (int)t >= 0 && (int)t < N_TARGETS ? target_names[t] : "?";
}

bool target_parse(const char *name, Target *t)
{
    if (!strcmp(name, "host")) {
        *t = target_host();
        return true;
    }
    for (int i = 0; i < N_TARGETS; i++)
        if (!strcmp(name, target_names[i])) {
            *t = (Target)i;
            return true;
        }
    return false;
}

/* __builtin_cpu_supports reads CPUID and, for AVX and AVX-512, also XGETBV
 * (whether the OS saves the wider registers), as the generated P_init does
 * through runtime/kiln_simd.h. */
Target target_host(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return TARGET_X86_64_V4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return TARGET_X86_64_V3;
    return TARGET_X86_64;
#elif defined(__aarch64__)
    return TARGET_AARCH64;
#else
    return TARGET_GENERIC;
#endif
}

bool target_runs_on_host(Target t)
{
    switch (t) {
    case TARGET_GENERIC:
        return true;
    case TARGET_X86_64:
    case TARGET_X86_64_V3:
    case TARGET_X86_64_V4:
#if defined(__x86_64__)
        return true;
#else
        return false;
#endif
    case TARGET_AARCH64:
#if defined(__aarch64__)
        return true;
#else
        return false;
#endif
    }
    return false;
}
