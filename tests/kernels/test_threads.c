/* test_threads.c — runtime/kiln_threads.h on its own: kiln_pool_range
 * covers [0, n) exactly once in whole units, in order, for every split;
 * pools of 1 to 4 threads run thousands of regions of 1 to 17 parts, each
 * part exactly once, with thread numbers in range and a thread's scratch
 * never used by two parts at once; start and shutdown repeat on the same
 * memory. Built with the contract flags, and under ThreadSanitizer by
 * tests/kernels/kernels.cmake where clang has it. */
#include <stdio.h>
#include <string.h>

#include "kiln_threads.h"

static int failures;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
            failures++;                                   \
        }                                                 \
    } while (0)

/* kiln_pool_range: every part's [lo, hi) starts at a multiple of unit and
 * the parts tile [0, n) in order. */
static void test_range(void)
{
    for (int n = 0; n < 200; n += 7)
        for (int unit = 1; unit <= 16; unit *= 2)
            for (int parts = 1; parts <= 9; parts++) {
                int at = 0;
                for (int part = 0; part < parts; part++) {
                    int lo, hi;
                    kiln_pool_range(n, unit, part, parts, &lo, &hi);
                    CHECK(lo == at && hi >= lo && (lo % unit == 0 || lo == n),
                          "n %d unit %d part %d/%d: [%d, %d) after %d", n, unit, part, parts, lo,
                          hi, at);
                    at = hi;
                }
                CHECK(at == n, "n %d unit %d parts %d: covered %d", n, unit, parts, at);
            }
}

#define MAX_PARTS 17

typedef struct Region {
    int runs[MAX_PARTS];       /* times each part ran (each part writes only its own) */
    int busy[KILN_THREADS_MAX]; /* a thread's "scratch" in use */
    int threads;
    int bad;                   /* parts that saw a wrong thread number or a busy scratch */
    int bad_part[MAX_PARTS];
} Region;

static void part_fn(void *ctx, int part, int parts, int thread)
{
    Region *r = (Region *)ctx;
    if (thread < 0 || thread >= r->threads || part < 0 || part >= parts ||
        r->busy[thread]++ != 0)
        r->bad_part[part < 0 || part >= MAX_PARTS ? 0 : part] = 1;
    r->runs[part]++;
    r->busy[thread]--;
}

static void test_pool(int threads, kiln_pool *pool)
{
    CHECK(kiln_pool_start(pool, threads) == KILN_OK, "start %d threads", threads);
    for (int k = 0; k < 3000; k++) {
        Region r;
        memset(&r, 0, sizeof r);
        r.threads = threads;
        int parts = 1 + k % MAX_PARTS;
        kiln_pool_run(pool, part_fn, &r, parts);
        for (int p = 0; p < parts; p++) {
            CHECK(r.runs[p] == 1, "%d threads, region %d: part %d/%d ran %d times", threads, k, p,
                  parts, r.runs[p]);
            CHECK(!r.bad_part[p], "%d threads, region %d: part %d saw a wrong thread or scratch",
                  threads, k, p);
        }
    }
    kiln_pool_shutdown(pool);
}

int main(void)
{
    static kiln_pool pool; /* the memory a workspace would hold */
    test_range();
    memset(&pool, 0xA5, sizeof pool);
    for (int round = 0; round < 2; round++)
        for (int threads = 1; threads <= 4; threads++)
            test_pool(threads, &pool);
    CHECK(kiln_pool_start(&pool, 0) == KILN_ERR_ARGUMENT, "0 threads accepted");
    CHECK(kiln_pool_start(&pool, KILN_THREADS_MAX + 1) == KILN_ERR_ARGUMENT, "too many threads");
    printf("%s\n", failures ? "FAILED" : "ok: kiln_threads.h");
    return failures != 0;
}
