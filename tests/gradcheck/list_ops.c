/* list_ops.c — prints every op of compiler/ir/ops.def that has a gradient
 * rule, one "NAME DOMAIN RULE" line each (DOMAIN "-" for the ONNX default
 * domain), so tests/gradcheck/run.py finds new rules without being told.
 * Built by run.py with -I compiler/ir. */
#include <stdio.h>
#include <string.h>

#define OP_DOMAIN ""
#define OP(name, min_in, max_in, min_out, max_out, shape, fold, kernel, grad) \
    {#name, OP_DOMAIN, #grad},
static const struct {
    const char *name, *domain, *grad;
} ops[] = {
#include "ops.def"
};
#undef OP

int main(void)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].grad, "grad_none") != 0)
            printf("%s %s %s\n", ops[i].name, ops[i].domain[0] ? ops[i].domain : "-", ops[i].grad);
    return 0;
}
