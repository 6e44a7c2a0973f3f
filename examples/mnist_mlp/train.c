/* train.c — trains a kiln-compiled image classifier on Fashion-MNIST or
 * MNIST, entirely in the generated C, then evaluates it on the test set.
 * Built by run.sh (and by the lenet_cnn and rnn examples' run.sh) as:
 *   kiln compile model.kir -o gen --prefix model --batch 32 --train \
 *       --loss sparse_softmax_ce --loss-on logits --optimizer adam --lr 1e-3
 *   cc -O2 -std=c99 -I gen -I ../common gen/model.c ../common/idx.c ../common/report.c \
 *       train.c -lz -lm
 * Any model with one input of 28x28 pixels per image (image[N,1,28,28],
 * [N,28,28] or [N,784]) and logits[N,10] fits; the batch size is the one
 * compiled in (model_train_info's first dim), and a short last batch trains
 * too when the model takes a run-time batch (model_MIN_BATCH 1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "model.h"
#include "report.h"

#define CLASSES 10
#define FASHION_MNIST "/usr/share/datasets/fashion-mnist"

static const char *const fashion_names[CLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                   "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                                   "Ankle boot"};
static const char *const digit_names[CLASSES] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef struct Options {
    const char *data, *save, *resume, *csv, *png;
    int epochs, limit;
    unsigned long long seed;
    float lr, lr_decay;
} Options;

/* splitmix64: a tiny seeded PRNG, so the same --seed gives the same run */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(int *order, int n, uint64_t *rng) /* Fisher-Yates */
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng_next(rng) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* One batch's model input and output, at the compiled batch size. */
typedef struct Batch {
    int size;
    float *x;      /* image: size x pixels, scaled to [0, 1] */
    int64_t *y;    /* labels */
    float *logits; /* size x CLASSES */
} Batch;

/* Fills the batch with images order[0..rows) (pixels / 255) and their
 * labels; rows past `rows` are zero padding. */
static void make_batch(Batch *bt, const IdxData *img, const IdxData *lab, const int *order,
                       int rows)
{
    size_t pixels = (size_t)img->rows * img->cols;
    memset(bt->x, 0, sizeof *bt->x * pixels * bt->size);
    memset(bt->y, 0, sizeof *bt->y * bt->size);
    for (int b = 0; b < rows; b++) {
        const unsigned char *src = img->data + (size_t)order[b] * pixels;
        for (size_t p = 0; p < pixels; p++)
            bt->x[b * pixels + p] = src[p] * (1.0f / 255.0f);
        bt->y[b] = lab->data[order[b]];
    }
}

/* With a run-time batch (the model compiled with --batch on a symbolic batch
 * dim, and kiln could let it vary: model_MIN_BATCH 1) a short last batch
 * trains too; otherwise it is dropped (the shuffle changes which images fall
 * in it every epoch) or, when evaluating, padded. */
#if defined(model_MIN_BATCH) && model_MIN_BATCH == 1
#define RAGGED 1
#endif

static int epoch_batches(int count, int size)
{
#ifdef RAGGED
    return (count + size - 1) / size;
#else
    return count / size;
#endif
}

/* model_run_v and model_train_step_v on the first `rows` rows of the batch. */
static int run_rows(void *ws, int rows, const void *const *in, void *const *out)
{
#ifdef RAGGED
    return model_run_batch_v(ws, rows, in, out);
#else
    (void)rows;
    return model_run_v(ws, in, out);
#endif
}

static int train_rows(void *ws, int rows, const void *const *in, float *loss)
{
#ifdef RAGGED
    return model_train_step_batch_v(ws, rows, in, loss);
#else
    (void)rows;
    return model_train_step_v(ws, in, loss);
#endif
}

/* Runs the whole set through the model in batches of the compiled size; the
 * last partial batch runs short (run_rows), or padded with its padding
 * ignored.
 * Returns the accuracy, or -1 when the model fails. */
static double evaluate(void *ws, const IdxData *img, const IdxData *lab, Batch *bt,
                       Confusion *conf, double *loss)
{
    int order[1024], predicted[1024];
    double loss_sum = 0.0;
    confusion_clear(conf, CLASSES);
    for (int start = 0; start < img->count; start += bt->size) {
        int rows = img->count - start < bt->size ? img->count - start : bt->size;
        for (int b = 0; b < rows; b++)
            order[b] = start + b;
        make_batch(bt, img, lab, order, rows);
        const void *in[1] = {bt->x};
        void *out[1] = {bt->logits};
        if (run_rows(ws, rows, in, out) != KILN_OK)
            return -1.0;
        count_correct(bt->logits, bt->y, rows, CLASSES, &loss_sum, predicted);
        for (int b = 0; b < rows; b++)
            conf->count[bt->y[b]][predicted[b]]++;
    }
    *loss = loss_sum / img->count;
    return confusion_accuracy(conf);
}

static int usage(const char *argv0)
{
    printf("usage: %s [options]\n"
           "  --data DIR     the IDX files (default %s;\n"
           "                 the original MNIST works too)\n"
           "  --epochs N     epochs to train (default 5; 0 only evaluates)\n"
           "  --limit N      train on the first N training images only\n"
           "  --seed N       the shuffling seed (default 1)\n"
           "  --lr X         the learning rate (default: the one compiled in)\n"
           "  --lr-decay F   multiply the learning rate by F after each epoch (needs --lr)\n"
           "  --save FILE    save the parameters and optimizer state at the end\n"
           "  --resume FILE  start from a file written by --save\n"
           "  --csv FILE     loss and accuracy per epoch (default history.csv)\n"
           "  --png FILE     their plot, if gnuplot is installed (default history.png)\n",
           argv0, FASHION_MNIST);
    return 1;
}

static int parse_args(int argc, char **argv, Options *o)
{
    static const char *const names[] = {"--data",   "--epochs", "--limit", "--seed", "--lr",
                                        "--save",   "--resume", "--csv",   "--png",
                                        "--lr-decay"};
    enum { N_NAMES = sizeof names / sizeof names[0] };
    *o = (Options){FASHION_MNIST, NULL, NULL, "history.csv", "history.png", 5, 0, 1, 0.0f, 1.0f};
    for (int i = 1; i < argc; i += 2) { /* options come in pairs: --name value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(argv[0]);
        while (k < N_NAMES && strcmp(a, names[k]))
            k++;
        if (k == N_NAMES || !v) {
            fprintf(stderr, k == N_NAMES ? "error: unknown option %s (try --help)\n"
                                         : "error: %s needs a value (try --help)\n", a);
            return -1;
        }
        switch (k) {
        case 0: o->data = v; break;
        case 1: o->epochs = atoi(v); break;
        case 2: o->limit = atoi(v); break;
        case 3: o->seed = strtoull(v, NULL, 10); break;
        case 4: o->lr = (float)atof(v); break;
        case 5: o->save = v; break;
        case 6: o->resume = v; break;
        case 7: o->csv = v; break;
        case 8: o->png = v; break;
        default: o->lr_decay = (float)atof(v); break;
        }
    }
    if (o->lr_decay != 1.0f && !(o->lr > 0)) {
        fprintf(stderr, "error: --lr-decay needs --lr (the starting learning rate)\n");
        return -1;
    }
    return 0;
}

/* Reads the training set (its first `limit` images) and the test set, and
 * checks they fit the model. d: train images, train labels, test images,
 * test labels. */
static int load_data(const Options *o, const kiln_tensor_info *xin, IdxData d[4])
{
    if (idx_load_set(o->data, "train", o->limit, &d[0], &d[1]) != 0 ||
        idx_load_set(o->data, "t10k", 0, &d[2], &d[3]) != 0)
        return -1;
    long pixels = 1;
    for (int i = 1; i < xin->rank; i++)
        pixels *= (long)xin->dims[i];
    if (pixels != (long)d[0].rows * d[0].cols || pixels != (long)d[2].rows * d[2].cols ||
        xin->dims[0] > 1024 || d[0].count < xin->dims[0]) {
        fprintf(stderr, "error: the model takes %ld pixels in batches of %d; the data has %dx%d "
                "images, %d of them\n", pixels, (int)xin->dims[0], d[0].rows, d[0].cols,
                d[0].count);
        return -1;
    }
    for (int k = 1; k < 4; k += 2)
        for (int i = 0; i < d[k].count; i++)
            if (d[k].data[i] >= CLASSES) {
                fprintf(stderr, "error: %s: a label is not in 0..%d\n", o->data, CLASSES - 1);
                return -1;
            }
    printf("data: %s, %d training and %d test images of %dx%d; batch %d\n", o->data, d[0].count,
           d[2].count, d[0].rows, d[0].cols, (int)xin->dims[0]);
    return 0;
}

/* One epoch over `order` (epoch_batches). The accuracy is that of the
 * parameters before each update, like the loss. */
static int train_epoch(void *ws, const IdxData *img, const IdxData *lab, int count,
                       const int *order, Batch *bt, Progress *p)
{
    for (int b = 0; b < p->batches; b++) {
        int start = b * bt->size, rows = count - start < bt->size ? count - start : bt->size;
        make_batch(bt, img, lab, order + start, rows);
        const void *in[2] = {bt->x, bt->y}; /* model_train_info order: image, labels */
        void *out[1] = {bt->logits};
        float loss;
        if (run_rows(ws, rows, in, out) != KILN_OK || train_rows(ws, rows, in, &loss) != KILN_OK)
            return -1;
        progress_step_rows(p, b + 1, loss, count_correct(bt->logits, bt->y, rows, CLASSES, NULL,
                                                         NULL), rows);
    }
    return 0;
}

/* Trains o->epochs epochs, evaluating on the test set after each; the
 * last evaluation's counts are left in conf. */
static int fit(void *ws, const Options *o, const IdxData d[4], Batch *bt, Confusion *conf,
               History *hist)
{
    double train_seconds = 0, train_cpu = 0, test_loss;
    uint64_t rng = o->seed;
    int *order = malloc(sizeof *order * (size_t)d[0].count);
    if (!order)
        return -1;
    for (int i = 0; i < d[0].count; i++)
        order[i] = i;
    float lr = o->lr;
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        Progress p;
        if (epoch > 1 && o->lr_decay != 1.0f) /* a step schedule: lr * decay^(epoch-1) */
            model_set_lr(ws, lr *= o->lr_decay);
        shuffle(order, d[0].count, &rng);
        progress_start(&p, epoch, o->epochs, epoch_batches(d[0].count, bt->size), bt->size);
        double cpu = cpu_seconds();
        if (train_epoch(ws, &d[0], &d[1], d[0].count, order, bt, &p) != 0)
            return free(order), -1;
        double seconds = now_seconds() - p.start;
        train_seconds += seconds;
        train_cpu += cpu_seconds() - cpu;
        double acc = evaluate(ws, &d[2], &d[3], bt, conf, &test_loss);
        if (acc < 0)
            return free(order), -1;
        progress_end(&p, test_loss, acc);
        history_add(hist, progress_loss(&p), progress_accuracy(&p), test_loss, acc, seconds);
    }
    if (o->epochs > 0) /* CPU time: the same on a busy machine, where the wall clock is not */
        printf("trained %d epoch%s in %.2f s (%.0f samples/s), %.2f s of CPU time\n", o->epochs,
               o->epochs > 1 ? "s" : "", train_seconds,
               (double)o->epochs * (d[0].count / bt->size * bt->size) / train_seconds, train_cpu);
    free(order);
    return 0;
}

int main(int argc, char **argv)
{
    Options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    IdxData d[4];
    if (load_data(&o, &model_train_info.inputs[0], d) != 0)
        return 1;

    /* everything the model needs lives in one caller-owned, 64-byte-aligned workspace */
    Batch bt = {(int)model_train_info.inputs[0].dims[0], NULL, NULL, NULL};
    unsigned char *raw = malloc(model_WORKSPACE_SIZE + 63);
    bt.x = malloc(sizeof *bt.x * (size_t)d[0].rows * d[0].cols * bt.size);
    bt.y = malloc(sizeof *bt.y * (size_t)bt.size);
    bt.logits = malloc(sizeof *bt.logits * (size_t)bt.size * CLASSES);
    if (!raw || !bt.x || !bt.y || !bt.logits)
        return 1;
    void *ws = raw + (64 - (uintptr_t)raw % 64) % 64;
    if (model_init(ws) != KILN_OK)
        return 1;
    if (o.resume) {
        if (model_params_load(ws, o.resume) != KILN_OK) {
            fprintf(stderr, "error: cannot resume from %s (missing, or saved by another model)\n",
                    o.resume);
            return 1;
        }
        printf("resumed parameters and optimizer state from %s\n", o.resume);
    }
    if (o.lr > 0)
        model_set_lr(ws, o.lr);

    Confusion conf;
    History hist = {0};
    double test_loss, acc = evaluate(ws, &d[2], &d[3], &bt, &conf, &test_loss);
    if (acc < 0)
        return 1;
    printf("before training: test loss %.4f  acc %.4f\n", test_loss, acc);
    history_add(&hist, 0, 0, test_loss, acc, 0);
    if (fit(ws, &o, d, &bt, &conf, &hist) != 0)
        return 1;

    confusion_print(&conf, strstr(o.data, "fashion") ? fashion_names : digit_names, stdout);
    if (history_write_csv(&hist, o.csv) == 0 && hist.n > 1 && history_plot(o.csv, o.png, NULL) == 0)
        printf("learning curve: %s and %s\n", o.csv, o.png);
    if (o.save) {
        if (model_params_save(ws, o.save) != KILN_OK) {
            fprintf(stderr, "error: cannot save %s\n", o.save);
            return 1;
        }
        printf("saved parameters and optimizer state to %s\n", o.save);
    }
    free(raw), free(bt.x), free(bt.y), free(bt.logits);
    for (int k = 0; k < 4; k++)
        idx_free(&d[k]);
    return 0;
}
