/* harness.c — checks one kiln-compiled training step (f64) against finite
 * differences: the analytic gradient of every named parameter is read off one
 * SGD step with lr = 1, the numerical one from the loss with the parameter
 * nudged by ±h, ±2h. Compiled once by tests/gradcheck/run.py and linked with
 * each case's generated model.c, which run.py extends with gradcheck.h's
 * gradcheck_model (the entry points) and gradcheck_loss (the step's loss in
 * full precision; the API's is a float).
 *   harness DIR H INPUTS NAME...
 * DIR: a scratch folder; H: the relative step; INPUTS: a file with each
 * input's raw data, comma-separated, "-" for the harness's own. Prints
 * "param NAME COUNT MAXREL MAXABS FD AN" per parameter (FD, AN: the worst
 * element's), then "result MAXREL". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

#define M gradcheck_model

/* One trainable state from the parameter file's table. */
typedef struct {
    char name[256];
    long long offset, count;
} Param;

static unsigned char *ws, *snapshot;
#define MAX_INPUTS 8
static void *inputs[MAX_INPUTS];

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Finds NAME in the table of DIR/params.bin (model_params_save's format,
 * runtime/kiln_params.h: "NAME DTYPE DIMS OFFSET" lines). */
static int find_param(const char *table, const char *name, Param *p)
{
    char line[1024], nm[256], dims[256];
    int dtype;
    for (const char *s = table; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len >= sizeof line)
            return 0;
        memcpy(line, s, len);
        line[len] = 0;
        s += len + (nl != NULL);
        if (sscanf(line, "%255s %d %255s %lld", nm, &dtype, dims, &p->offset) != 4 || strcmp(nm, name))
            continue;
        if (dtype != KILN_DOUBLE) {
            fprintf(stderr, "parameter %s has dtype %d, not f64\n", name, dtype);
            return 0;
        }
        p->count = 1;
        for (char *d = strcmp(dims, "scalar") ? dims : NULL; d; d = strchr(d + 1, 'x'))
            p->count *= strtoll(d + (*d == 'x'), NULL, 10);
        snprintf(p->name, sizeof p->name, "%s", name);
        return 1;
    }
    fprintf(stderr, "parameter %s is not in the parameter table (not trainable?)\n", name);
    return 0;
}

static char *read_table(const char *dir)
{
    char path[4096];
    unsigned char head[40];
    snprintf(path, sizeof path, "%s/params.bin", dir);
    if (M.params_save(ws, path) != KILN_OK)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f || fread(head, 1, 40, f) != 40) {
        if (f)
            fclose(f);
        return NULL;
    }
    size_t n = (size_t)le64(head + 16);
    char *t = calloc(n + 1, 1);
    if (t && fread(t, 1, n, f) != n)
        t[0] = 0;
    fclose(f);
    return t;
}

/* The loss with element k of p set to value, everything else as in the snapshot. */
static double loss_at(const Param *p, long long k, double value)
{
    float lossf;
    memcpy(ws, snapshot, M.params_size);
    ((double *)(ws + p->offset))[k] = value;
    if (M.train_step_v(ws, (const void *const *)inputs, &lossf) != KILN_OK) {
        fprintf(stderr, "model_train_step_v failed\n");
        exit(3);
    }
    return gradcheck_loss;
}

/* Input t's data from path, or deterministic data when path is "-": floats
 * in [0, 1) (labels valid for every --loss kind), class indices cycling
 * through the class dim of output 0. */
static void *make_input(const kiln_tensor_info *t, const char *path)
{
    long long n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    void *buf = malloc((size_t)(n > 0 ? n : 1) * 8);
    if (!buf || (t->dtype != KILN_DOUBLE && t->dtype != KILN_INT64)) {
        fprintf(stderr, "input %s: only f64 and i64 inputs are supported\n", t->name);
        return NULL;
    }
    if (strcmp(path, "-") != 0) {
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(buf, 8, (size_t)n, f) : 0;
        if (f)
            fclose(f);
        if (got != (size_t)n) {
            fprintf(stderr, "%s: expected %lld values of 8 bytes\n", path, n);
            return NULL;
        }
        return buf;
    }
    if (t->dtype == KILN_INT64 && M.info->outputs[0].rank < 2) {
        fprintf(stderr, "input %s: give class indices in a file\n", t->name);
        return NULL;
    }
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long long i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (t->dtype == KILN_INT64)
            ((int64_t *)buf)[i] = (int64_t)((uint64_t)i * 7 % (uint64_t)M.info->outputs[0].dims[1]);
        else
            ((double *)buf)[i] = (double)(s >> 11) / 9007199254740992.0;
    }
    return buf;
}

/* Checks one parameter; returns its largest relative error. */
static double check_param(const Param *p, const double *an, double h_rel, double floor_abs)
{
    const double *p0 = (const double *)(snapshot + p->offset);
    double max_rel = 0, max_abs = 0, w_fd = 0, w_an = 0;
    for (long long k = 0; k < p->count; k++) {
        double h = h_rel * (fabs(p0[k]) > 1 ? fabs(p0[k]) : 1);
        /* fourth-order central difference: error O(h^4) + O(eps / h) */
        double f1 = loss_at(p, k, p0[k] + h) - loss_at(p, k, p0[k] - h);
        double f2 = loss_at(p, k, p0[k] + 2 * h) - loss_at(p, k, p0[k] - 2 * h);
        double fd = (8 * f1 - f2) / (12 * h), err = fabs(fd - an[k]);
        double scale = fmax(fmax(fabs(fd), fabs(an[k])), floor_abs);
        double rel = isfinite(fd) && isfinite(an[k]) ? err / scale : INFINITY;
        if (rel > max_rel || k == 0) {
            max_rel = rel;
            w_fd = fd;
            w_an = an[k];
        }
        max_abs = isfinite(err) ? fmax(max_abs, err) : INFINITY;
    }
    printf("param %s %lld %.3e %.3e %.17g %.17g\n", p->name, p->count, max_rel, max_abs, w_fd, w_an);
    return max_rel;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR H INPUTS NAME...\n", argv[0]);
        return 2;
    }
    double h_rel = atof(argv[2]);
    int np = argc - 4;
    unsigned char *raw = malloc(M.workspace_size + 64);
    ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    snapshot = malloc(M.params_size);
    Param *ps = calloc((size_t)np, sizeof *ps);
    if (!raw || !snapshot || !ps || M.init(ws) != KILN_OK)
        return 3;
    /* the step's inputs from the comma-separated files of argv[3] */
    if (M.train_info->num_inputs > MAX_INPUTS)
        return 2;
    char *files = argv[3];
    for (int k = 0; k < M.train_info->num_inputs; k++) {
        char *comma = strchr(files, ',');
        if (comma)
            *comma = 0;
        if (!(inputs[k] = make_input(&M.train_info->inputs[k], files)))
            return 2;
        files = comma ? comma + 1 : "-";
    }
    char *table = read_table(argv[1]);
    if (!table)
        return 3;
    for (int i = 0; i < np; i++)
        if (!find_param(table, argv[4 + i], &ps[i]))
            return 2;
    /* the analytic gradient: one SGD step with lr = 1 gives p - g */
    M.set_lr(ws, 0);
    memcpy(snapshot, ws, M.params_size);
    M.set_lr(ws, 1);
    float lossf;
    if (M.train_step_v(ws, (const void *const *)inputs, &lossf) != KILN_OK)
        return 3;
    double loss0 = gradcheck_loss, max_an = 0;
    double **an = calloc((size_t)np, sizeof *an);
    for (int i = 0; i < np; i++) {
        an[i] = malloc(sizeof(double) * (size_t)ps[i].count);
        for (long long k = 0; k < ps[i].count; k++) {
            an[i][k] = ((double *)(snapshot + ps[i].offset))[k] - ((double *)(ws + ps[i].offset))[k];
            max_an = fmax(max_an, fabs(an[i][k]));
        }
    }
    printf("loss %.17g\n", loss0);
    if (!(max_an > 0)) { /* also a nan */
        fprintf(stderr, "the analytic gradient is %s: the case checks nothing\n",
                max_an == 0 ? "0 everywhere" : "not finite");
        return 4;
    }
    /* errors are relative to the element's gradient, but never to less than
     * 1e-3 of the case's largest one: the fd's absolute error is ~1e-13 */
    double worst = 0, floor_abs = fmax(1e-3 * max_an, 1e-12);
    for (int i = 0; i < np; i++)
        worst = fmax(worst, check_param(&ps[i], an[i], h_rel, floor_abs));
    printf("result %.3e\n", worst);
    return 0;
}
