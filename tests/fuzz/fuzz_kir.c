/* fuzz_kir.c — libFuzzer target: arbitrary bytes as a .kir text through the
 * parser (compiler/ir/text.c) and the passes up to dce; a parsed graph must
 * also print. Seeded with the test models printed as .kir. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena *a = arena_new();
    Diag d = {.file = "fuzz.kir"};
    Graph *g = ir_parse(a, (const char *)data, size, "fuzz.kir", &d);
    if (g) {
        StrBuf sb = {0};
        ir_print(g, &sb);
        sb_free(&sb);
        fuzz_passes(g, &d);
    }
    arena_free(a);
    return 0;
}
