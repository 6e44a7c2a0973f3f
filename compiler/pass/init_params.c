/* init_params.c — gives every parameter declared with an init rule (.kir
 * `param %w : f32[128, 784] = glorot_uniform(seed=1)`) its data, so later
 * passes and the emitter only ever see ordinary constants. Runs right after
 * the model is read. Definitions follow Keras and torch.nn.init. */
#include "pass.h"

#include <math.h>
#include <string.h>

/* Bytes the init rules of one model may fill in all: a .kir line of a few
 * bytes may ask for gigabytes, so the total is bounded (a larger request is
 * the user's error, not an abort or a swap storm). */
#define INIT_MAX_BYTES ((int64_t)1 << 30)

/* ---- a deterministic RNG: splitmix64 seeds xoshiro256** ---- */

typedef struct Rng {
    uint64_t s[4];
    bool have_spare; /* Box–Muller makes normals in pairs */
    double spare;
} Rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The stream of a param: its seed with its name mixed in, so that params
 * sharing a seed (0 when none is given) still get different values. */
static void rng_seed(Rng *r, uint64_t seed, const char *name)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a of the name */
    for (const char *c = name ? name : ""; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211u;
    uint64_t x = seed ^ splitmix64(&h);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->have_spare = false;
    r->spare = 0;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(Rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box–Muller. */
static double rng_normal(Rng *r)
{
    if (r->have_spare) {
        r->have_spare = false;
        return r->spare;
    }
    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r); /* u1 in (0, 1] */
    double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * 3.14159265358979323846 * u2;
    r->spare = rad * sin(ang);
    r->have_spare = true;
    return rad * cos(ang);
}

/* fan_in / fan_out as torch.nn.init._calculate_fan_in_and_fan_out: [out, in,
 * k...] gives fan_in = in * prod(k), fan_out = out * prod(k); a 1-D [n] gives
 * n and n (torch refuses 1-D; Keras does this); a scalar gives 1 and 1. */
static void fans(const Shape *s, double *fan_in, double *fan_out)
{
    if (s->rank < 2) {
        *fan_in = *fan_out = s->rank == 1 ? (double)s->dims[0] : 1.0;
        return;
    }
    double receptive = 1;
    for (int i = 2; i < s->rank; i++)
        receptive *= (double)s->dims[i];
    *fan_in = (double)s->dims[1] * receptive;
    *fan_out = (double)s->dims[0] * receptive;
}

/* Draws one value of rule r; lim is the uniform limit or the normal std. */
static double draw(Rng *rng, InitRule r, double lim)
{
    switch (r) {
    case INIT_ZEROS:
        return 0.0;
    case INIT_ONES:
        return 1.0;
    case INIT_GLOROT_UNIFORM:
    case INIT_HE_UNIFORM:
    case INIT_UNIFORM:
        return lim * (2.0 * rng_uniform(rng) - 1.0);
    default:
        return lim * rng_normal(rng);
    }
}

/* The uniform limit or normal standard deviation of v's rule:
 *   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))
 *   glorot_normal   N(0, s),  s = sqrt(2 / (fan_in + fan_out))
 *   he_uniform      U(-l, l), l = sqrt(6 / fan_in)
 *   he_normal       N(0, s),  s = sqrt(2 / fan_in)
 *   uniform(scale)  U(-scale, scale);  normal(scale)  N(0, scale)
 * Normals are plain, as torch's xavier_normal_ / kaiming_normal_; Keras
 * draws glorot_normal and he_normal from a normal truncated at 2 s. */
static double rule_limit(const Value *v)
{
    double fan_in, fan_out;
    fans(&v->shape, &fan_in, &fan_out);
    if (fan_in < 1)
        fan_in = 1;
    if (fan_out < 1)
        fan_out = 1;
    switch (v->init) {
    case INIT_GLOROT_UNIFORM: return sqrt(6.0 / (fan_in + fan_out));
    case INIT_GLOROT_NORMAL: return sqrt(2.0 / (fan_in + fan_out));
    case INIT_HE_UNIFORM: return sqrt(6.0 / fan_in);
    case INIT_HE_NORMAL: return sqrt(2.0 / fan_in);
    default: return v->init_scale;
    }
}

/* The user's errors: a rule on a value kiln can't fill. */
static bool check_param(const Value *v, Diag *d, int64_t *numel, int64_t *total)
{
    char buf[160];
    int64_t bytes = -1;
    *numel = shape_numel(&v->shape);
    if (*numel >= 0 && !size_mul_ok(*numel, (int64_t)dtype_size(v->dtype), &bytes))
        bytes = -1;
    if (v->init < INIT_ZEROS || v->init > INIT_NORMAL)
        diag_error(d, "param '%s': unknown init rule %d", v->name, (int)v->init);
    else if (v->kind != VAL_CONST || (v->dtype != DT_F32 && v->dtype != DT_F64))
        diag_error(d, "param '%s': init rules need an f32 or f64 param, not %s", v->name,
                   dtype_name(v->dtype));
    else if (!v->has_type || *numel < 0)
        diag_error(d, "param '%s': an init rule needs a static shape, not %s", v->name,
                   shape_str(&v->shape, buf, sizeof buf));
    else if (bytes < 0 || bytes > INIT_MAX_BYTES - *total)
        diag_error(d, "param '%s': %s is too large to initialize (init rules fill at most "
                   "1 GiB in all)", v->name, shape_str(&v->shape, buf, sizeof buf));
    else {
        *total += bytes;
        return true;
    }
    return false;
}

static void fill(Graph *g, Value *v, int64_t numel)
{
    Rng rng = {0};
    rng_seed(&rng, v->init_seed, v->name);
    double lim = rule_limit(v);
    size_t es = dtype_size(v->dtype);
    unsigned char *data = arena_alloc(g->arena, (size_t)numel * es + 1);
    for (int64_t k = 0; k < numel; k++) {
        double x = draw(&rng, v->init, lim);
        if (v->dtype == DT_F32) {
            float f = (float)x;
            memcpy(data + (size_t)k * 4, &f, 4);
        } else {
            memcpy(data + (size_t)k * 8, &x, 8);
        }
    }
    v->data = data;
    v->init = INIT_DATA;
    v->init_scale = 0;
    v->init_seed = 0;
}

/* pass_init_params — fills in parameters declared with an init rule.
 * Requires: every value with init != INIT_DATA is an f32/f64 VAL_CONST with
 *   a static shape (anything else is reported as the user's error).
 * Does: draws its data deterministically from (init_seed, name) with
 *   xoshiro256** (uniforms from 53 bits, normals by Box–Muller), by the rule
 *   definitions above; sets init = INIT_DATA.
 * Preserves: everything else, including ids, names and the node list.
 * Invalidates: nothing. */
bool pass_init_params(Graph *g, Diag *d)
{
    int64_t total = 0;
    for (int i = 0; i < g->n_values; i++) {
        Value *v = g->values[i];
        if (v->kind == VAL_CONST && v->init == INIT_DATA && !v->data) {
            /* .kir may declare a value without data; a compile needs it */
            diag_error(d, "%s '%s' has neither data nor an init rule",
                       v->is_param ? "param" : "const", v->name);
            return false;
        }
        if (v->init == INIT_DATA)
            continue;
        int64_t numel;
        if (!check_param(v, d, &numel, &total))
            return false;
        fill(g, v, numel);
    }
    return true;
}
