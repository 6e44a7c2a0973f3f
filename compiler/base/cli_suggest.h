/* cli_suggest.h — "did you mean" for the command line and the importers: the
 * nearest word by edit distance (unknown flags, commands, pass names,
 * misspelt ops) and the supported replacement for an op kiln lacks. libc
 * only, so any layer may call it. */
#ifndef KILN_CLI_SUGGEST_H
#define KILN_CLI_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Optimal-string-alignment distance between a and b: the fewest inserts,
 * deletes, substitutions and swaps of two neighbours, ignoring ASCII case.
 * "--prefx" vs "--prefix" is 1, "Gemn" vs "gemm" is 1. */
int cli_edit_distance(const char *a, const char *b);

/* The candidate nearest to word (candidates: NULL-terminated), or NULL when
 * none is close enough to be a plausible typo: the distance must be at most
 * 2 and at most a third of word's length (leading dashes not counted), so
 * "--bogus" suggests nothing while "--prefx" suggests "--prefix" and
 * "compil" suggests "compile". Ties go to the first candidate. */
const char *cli_nearest(const char *word, const char *const *candidates);

/* For an op kiln does not support (op: "Relu6" or "domain:Relu6"): writes
 * a hint into buf and returns true, or returns false when there is none.
 * supported: NULL-terminated names of the supported ops
 * (op_info[1..OP_COUNT-1].name). The hint is a clause to follow
 * "unsupported op; ": a known rewrite into supported ops ("export it as Clip
 * with min=0 and max=6"), or the nearest supported name ("did you mean
 * 'Gemm'?"). */
bool cli_op_hint(const char *op, const char *const *supported, char *buf, size_t n);

#endif
