/* tune.c — `kiln tune`: for every GEMM or convolution layer that runs on the
 * blocked path, compiles candidate cache blocks (around sched_tile_gemm's
 * analytical ones) into the model, builds each candidate set with a small
 * timing harness that runs one layer at a time (P_tune_layer), times them on
 * this machine in alternating rounds, and writes the fastest blocks per
 * layer as a tuning file (sched/tune_file.c) for `kiln compile --tuning`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "k_gemm.h"
#include "tune.h"

#define TUNE_MAX_CANDIDATES 6

/* The harness: inputs filled with pseudo-random floats (other types with
 * zeros), one whole run, then per layer: calls of P_tune_layer until
 * MIN_US microseconds have passed (at least 3), printing "LAYER MEDIAN_US". */
static const char tune_main[] =
    "/* tune_main.c — kiln tune's timing harness (a build folder, never shipped). */\n"
    "#define _POSIX_C_SOURCE 200809L\n"
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n"
    "#include \"m.h\"\n\n"
    "int m_tune_layer(void *workspace, const void *const *inputs, void *const *outputs, int layer);\n\n"
    "static double now_us(void)\n{\n    struct timespec ts;\n"
    "    clock_gettime(CLOCK_MONOTONIC, &ts);\n"
    "    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;\n}\n\n"
    "static int cmp(const void *a, const void *b)\n{\n"
    "    double x = *(const double *)a, y = *(const double *)b;\n    return (x > y) - (x < y);\n}\n\n"
    "static void *alloc(size_t n)\n{\n    void *p = NULL;\n"
    "    if (posix_memalign(&p, 64, n ? n : 64) != 0)\n        exit(2);\n"
    "    memset(p, 0, n ? n : 64);\n    return p;\n}\n\n"
    "int main(int argc, char **argv)\n{\n"
    "    static double t[10000];\n"
    "    const void *in[64];\n    void *out[64];\n"
    "    const kiln_model_info *info = &m_info;\n"
    "    if (argc != 3 || info->num_inputs > 64 || info->num_outputs > 64)\n        return 2;\n"
    "    int layers = atoi(argv[1]);\n    double min_us = atof(argv[2]);\n"
    "    void *ws = alloc(m_WORKSPACE_SIZE);\n"
    "    if (m_init(ws) != 0)\n        return 3;\n"
    "    unsigned s = 1u;\n"
    "    for (int pass = 0; pass < 2; pass++)\n"
    "        for (int k = 0; k < (pass ? info->num_outputs : info->num_inputs); k++) {\n"
    "            const kiln_tensor_info *ti = pass ? &info->outputs[k] : &info->inputs[k];\n"
    "            size_t n = 1;\n"
    "            for (int i = 0; i < ti->rank; i++)\n                n *= (size_t)ti->dims[i];\n"
    "            float *p = alloc(n * 8);\n"
    "            for (size_t i = 0; !pass && ti->dtype == KILN_FLOAT && i < n; i++) {\n"
    "                s = s * 1664525u + 1013904223u;\n"
    "                p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;\n            }\n"
    "            if (pass)\n                out[k] = p;\n            else\n                in[k] = p;\n"
    "        }\n"
    "    if (m_run_v(ws, in, out) != 0)\n        return 3;\n"
    "    for (int layer = 0; layer < layers; layer++) {\n"
    "        int n = 0;\n        double total = 0;\n"
    "        m_tune_layer(ws, in, out, layer); /* warm up */\n"
    "        while (n < 10000 && (n < 3 || total < min_us)) {\n"
    "            double t0 = now_us();\n            m_tune_layer(ws, in, out, layer);\n"
    "            t[n] = now_us() - t0;\n            total += t[n++];\n        }\n"
    "        qsort(t, (size_t)n, sizeof t[0], cmp);\n"
    "        printf(\"%d %.3f\\n\", layer, t[n / 2]);\n    }\n"
    "#ifdef m_THREADS\n    m_shutdown(ws);\n#endif\n"
    "    return 0;\n}\n";

/* x rounded up to a multiple of r, at least r. */
static int64_t round_up(int64_t x, int64_t r)
{
    x = (x + r - 1) / r * r;
    return x < r ? r : x;
}

/* Candidate c of a layer whose analytical blocks are base (candidate 0):
 * kc halved or doubled, mc halved or doubled, nc a quarter; clamped to the
 * shape and kept multiples of the micro-tile (mr, nr: base's tile sizes as
 * multiples, taken from the gcd of the blocks the emitter chose). */
static TuneEntry candidate(const TuneEntry *base, int c, int mr, int nr)
{
    TuneEntry t = *base;
    switch (c) {
    case 1: t.kc = base->kc / 2; break;
    case 2: t.kc = base->kc * 2; break;
    case 3: t.mc = base->mc / 2; break;
    case 4: t.mc = base->mc * 2; t.kc = base->kc / 2; break;
    case 5: t.nc = base->nc / 4; break;
    default: break;
    }
    t.kc = t.kc < 16 ? (base->K < 16 ? base->K : 16) : t.kc > base->K ? base->K : t.kc;
    t.mc = round_up(t.mc > base->M ? base->M : t.mc, mr);
    t.nc = round_up(t.nc > base->N ? base->N : t.nc, nr);
    return t;
}

/* Whether candidate c of layer differs from every earlier one. */
static bool candidate_new(const TuneEntry *base, int c, int mr, int nr)
{
    TuneEntry t = candidate(base, c, mr, nr);
    for (int k = 0; k < c; k++) {
        TuneEntry u = candidate(base, k, mr, nr);
        if (u.mc == t.mc && u.kc == t.kc && u.nc == t.nc)
            return false;
    }
    return true;
}

/* Candidate set c > 0 as a table: each layer's candidate c, or its own
 * blocks where that is not new. */
static void candidate_table(const TuneTable *found, int c, int mr, int nr, Arena *a, TuneTable *t)
{
    *t = (TuneTable){.arena = a, .collect = true};
    t->entries = arena_alloc(a, sizeof(TuneEntry) * (size_t)(found->n_found + 1));
    for (int k = 0; k < found->n_found; k++)
        t->entries[t->n++] = candidate_new(&found->found[k], c, mr, nr)
                                 ? candidate(&found->found[k], c, mr, nr)
                                 : found->found[k];
}

/* Compiles o->model with the blocks of table t (which also collects the
 * layers it finds) into dir/, with P_tune_layer, and builds dir/prog with
 * the harness. */
static bool build_candidate(const CompileOptions *o, TuneTable *t, int c, const char *dir, Diag *d)
{
    CompileOptions oo = *o;
    oo.out_dir = dir;
    oo.prefix = "m";
    oo.tuning = t;
    oo.tune_entry = true;
    oo.trace = NULL;
    oo.stats = NULL;
    bool ok = driver_compile(&oo, d);
    char src[4200], main_c[4200], exe[4200], log[4200];
    snprintf(src, sizeof src, "%s/m.c", dir);
    snprintf(main_c, sizeof main_c, "%s/tune_main.c", dir);
    snprintf(exe, sizeof exe, "%s/prog", dir);
    snprintf(log, sizeof log, "%s/cc.log", dir);
    FILE *f = ok ? fopen(main_c, "w") : NULL;
    ok = f && fputs(tune_main, f) >= 0;
    ok = (f && fclose(f) == 0) && ok;
    char inc[4200];
    snprintf(inc, sizeof inc, "-I%s", dir);
    char *argv[] = {(char *)(o->cc ? o->cc : "cc"), "-O2", "-std=c99", inc, src, main_c, "-o",
                    exe, "-lm", o->threads > 1 ? "-pthread" : NULL, NULL};
    if (ok && driver_spawn(argv, log, 600) != 0) {
        diag_error(d, "kiln bug: the tuning build of candidate %d failed (see %s)", c, log);
        ok = false;
    }
    return ok;
}

/* Runs candidate c's harness once; adds its per-layer medians to
 * us[layer * rounds + round]. */
static bool time_candidate(const char *dir, int layers, double min_us, double *us, int round,
                           int rounds, Diag *d)
{
    char exe[4200], log[4200], n[32], m[32];
    snprintf(exe, sizeof exe, "%s/prog", dir);
    snprintf(log, sizeof log, "%s/times.txt", dir);
    snprintf(n, sizeof n, "%d", layers);
    snprintf(m, sizeof m, "%.1f", min_us);
    char *argv[] = {exe, n, m, NULL};
    int rc = driver_spawn(argv, log, 600);
    FILE *f = rc == 0 ? fopen(log, "r") : NULL;
    int layer, got = 0;
    double t;
    while (f && fscanf(f, "%d %lf", &layer, &t) == 2 && layer >= 0 && layer < layers) {
        us[layer * rounds + round] = t;
        got++;
    }
    if (f)
        fclose(f);
    if (got != layers)
        diag_error(d, "kiln bug: the tuning harness in %s failed (status %d)", dir, rc);
    return got == layers;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The micro-tile the blocks are multiples of: the target's GEMM kernel's. */
static void micro_tile(const CompileOptions *o, int *mr, int *nr)
{
    gemm_micro_tile(o->target, mr, nr);
}

/* Times every candidate set in alternating rounds; best[k] gets layer k's
 * fastest candidate (its entry, with the median time). */
static bool measure(const CompileOptions *o, const TuneTable *found, char dirs[][4096], int n_cand,
                    double budget, int rounds, TuneEntry *best, double *base_us, Diag *d)
{
    int layers = found->n_found, mr, nr;
    micro_tile(o, &mr, &nr);
    double min_us = budget * 1e6 / ((double)rounds * n_cand * layers);
    double *us = calloc((size_t)(n_cand * layers * rounds), sizeof(double));
    bool ok = us != NULL;
    for (int r = 0; ok && r < rounds; r++)
        for (int c = 0; ok && c < n_cand; c++)
            ok = time_candidate(dirs[c], layers, min_us, us + (size_t)c * layers * rounds, r,
                                rounds, d);
    for (int k = 0; ok && k < layers; k++) {
        best[k] = found->found[k];
        best[k].us = -1;
        for (int c = 0; c < n_cand; c++) {
            if (c > 0 && !candidate_new(&found->found[k], c, mr, nr))
                continue;
            double m = median(us + ((size_t)c * layers + (size_t)k) * rounds, rounds);
            if (c == 0)
                base_us[k] = m;
            /* another candidate must beat the analytical blocks by 3%: less
             * is within this machine's noise */
            if (best[k].us < 0 || m < best[k].us * (c > 0 && best[k].us == base_us[k] ? 0.97 : 1)) {
                best[k] = candidate(&found->found[k], c, mr, nr);
                best[k].us = m;
            }
        }
    }
    free(us);
    return ok;
}

/* The tuning file: a header naming the command, then one line per layer. */
static bool write_tuning(const CompileOptions *o, const char *path, const TuneEntry *best, int n,
                         Diag *d)
{
    StrBuf sb = {0};
    sb_printf(&sb, "# kiln tuning file, written by: %s\n", o->command_line ? o->command_line : "kiln tune");
    sb_printf(&sb, "# node  M x N x K (GEMM shape)  cache blocks  median time of the layer\n");
    for (int k = 0; k < n; k++)
        sched_tune_print(&best[k], &sb);
    FILE *f = fopen(path, "w");
    bool ok = f && fwrite(sb.buf, 1, sb.len, f) == sb.len;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok)
        diag_error(d, "cannot write %s: %s", path, strerror(errno));
    sb_free(&sb);
    return ok;
}

static void report_table(const TuneTable *found, const TuneEntry *best, const double *base_us,
                         StrBuf *out)
{
    sb_printf(out, "%-24s %-16s %-22s %10s %-22s %10s %7s\n", "layer", "M x N x K", "analytical",
              "us", "tuned", "us", "ratio");
    for (int k = 0; k < found->n_found; k++) {
        const TuneEntry *f = &found->found[k], *b = &best[k];
        char shape[64], a[64], t[64];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)f->M, (long long)f->N,
                 (long long)f->K);
        snprintf(a, sizeof a, "%lld/%lld/%lld", (long long)f->mc, (long long)f->kc, (long long)f->nc);
        snprintf(t, sizeof t, "%lld/%lld/%lld", (long long)b->mc, (long long)b->kc, (long long)b->nc);
        sb_printf(out, "%-24s %-16s mc/kc/nc %-13s %10.1f mc/kc/nc %-13s %10.1f %6.2fx\n", f->node,
                  shape, a, base_us[k], t, b->us, b->us > 0 ? base_us[k] / b->us : 1.0);
    }
}

bool driver_tune(const CompileOptions *o, const char *out_file, double budget, int rounds,
                 StrBuf *report, Diag *d)
{
    const char *tmp = getenv("TMPDIR");
    char root[4000];
    snprintf(root, sizeof root, "%s/kiln-tune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        diag_error(d, "cannot create a build folder: %s", strerror(errno));
        return false;
    }
    Arena *a = arena_new();
    TuneTable found = {.arena = a, .collect = true};
    static char dirs[TUNE_MAX_CANDIDATES][4096];
    int mr, nr, n_cand = 0;
    micro_tile(o, &mr, &nr);
    bool ok = true;
    for (int c = 0; ok && c < TUNE_MAX_CANDIDATES; c++) {
        snprintf(dirs[c], sizeof dirs[c], "%s/c%d", root, c);
        if (c == 0) { /* the analytical blocks; finds the layers */
            ok = build_candidate(o, &found, 0, dirs[0], d);
            if (ok && found.n_found == 0) {
                diag_error(d, "no GEMM or convolution layer runs blocked: nothing to tune");
                ok = false;
            }
        } else {
            TuneTable t;
            candidate_table(&found, c, mr, nr, a, &t);
            ok = build_candidate(o, &t, c, dirs[c], d);
        }
        n_cand += ok;
    }
    TuneEntry *best = arena_alloc(a, sizeof(TuneEntry) * (size_t)(found.n_found + 1));
    double *base_us = arena_alloc(a, sizeof(double) * (size_t)(found.n_found + 1));
    ok = ok && measure(o, &found, dirs, n_cand, budget, rounds, best, base_us, d) &&
         write_tuning(o, out_file, best, found.n_found, d);
    if (ok && report)
        report_table(&found, best, base_us, report);
    if (!o->keep) {
        char *argv[] = {"rm", "-rf", root, NULL};
        driver_spawn(argv, NULL, 60);
    }
    arena_free(a);
    return ok;
}
