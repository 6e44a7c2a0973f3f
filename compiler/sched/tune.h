/* tune.h — measured cache blocks: the tuning file `kiln tune` writes and
 * `kiln compile --tuning FILE` reads (tune_file.c), one line per blocked
 * GEMM or convolution layer, overriding sched_tile_gemm's analytical blocks
 * for that node (emit/k_gemm.c looks them up). */
#ifndef KILN_TUNE_H
#define KILN_TUNE_H

#include "tile.h"

/* One layer: its node, its GEMM shape (a convolution's: M output channels,
 * N output pixels, K = channels x taps) and the blocks to use. */
typedef struct TuneEntry {
    const char *node;
    int64_t M, N, K;
    int64_t mc, kc, nc;
    double us;             /* the median time kiln tune measured, microseconds */
    int line;              /* line in the file, for errors (0: built in memory) */
    bool used;             /* the emitter applied it */
    const char *problem;   /* set by the emitter when the entry doesn't fit the model */
} TuneEntry;

typedef struct TuneTable {
    Arena *arena;          /* what the emitter adds lives here (found, problems) */
    const char *file;      /* the tuning file, for errors */
    TuneEntry *entries;    /* blocks per node, applied by the emitter */
    int n;
    /* kiln tune: the emitter records every blocked GEMM it prints in found
     * (once per node, with the blocks it chose) */
    bool collect;
    TuneEntry *found;
    int n_found, cap_found;
} TuneTable;

/* Reads a tuning file (format in tune_file.c; '#' starts a comment) into
 * t, allocating from a (which becomes t->arena). A malformed line is an
 * error "FILE:LINE: problem". */
bool sched_tune_read(const char *path, Arena *a, TuneTable *t, Diag *d);

/* The entry for node, or NULL. */
TuneEntry *sched_tune_find(TuneTable *t, const char *node);

/* Records a blocked GEMM in t->found (kiln tune), once per node. */
void sched_tune_record(TuneTable *t, const char *node, int64_t M, int64_t N, int64_t K,
                       const GemmTiles *tiles);

/* After emission: the first entry (by line) that had a problem or that no
 * blocked GEMM used, as "FILE:LINE: problem"; true when there is none. */
bool sched_tune_check(const TuneTable *t, const char *model, Diag *d);

/* One line of the file for entry e. */
void sched_tune_print(const TuneEntry *e, StrBuf *out);

#endif
