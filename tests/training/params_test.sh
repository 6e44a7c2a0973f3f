#!/usr/bin/env bash
# params_test.sh KILN SRCDIR — builds the MLP's training step (with
# --check-finite) and runs
# params_test.c against it (another model's parameter file comes from an
# SGD build of the same network, whose optimizer state differs).
set -euo pipefail
kiln=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mlp="$src/tests/models/mlp/model.onnx"
"$kiln" compile "$mlp" -o "$tmp/other" --prefix model --batch 4 --train --loss sparse_softmax_ce --loss-on logits --optimizer sgd --momentum 0.9
cat > "$tmp/save_other.c" <<'C'
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv)
{
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 64);
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    (void)argc;
    return model_init(ws) != KILN_OK || model_params_save(ws, argv[1]) != KILN_OK;
}
C
cc -O1 -std=c99 -I "$tmp/other" "$tmp"/other/*.c "$tmp/save_other.c" -lm -o "$tmp/save_other"
"$tmp/save_other" "$tmp/other.bin"
"$kiln" compile "$mlp" -o "$tmp/gen" --prefix model --batch 4 --train --loss sparse_softmax_ce --loss-on logits --optimizer adam --check-finite
cc -O2 -std=c99 -Wall -Wextra -Werror -I "$tmp/gen" "$tmp"/gen/*.c "$src/tests/training/params_test.c" -lm -o "$tmp/params_test"
"$tmp/params_test" "$tmp" "$tmp/other.bin"
