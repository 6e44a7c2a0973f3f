/* report.c — progress lines, the test-set report and the learning curve of
 * kiln's training examples (see report.h). */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double cpu_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

/* ---- progress ---- */

void progress_start(Progress *p, int epoch, int epochs, int batches, int batch_size)
{
    memset(p, 0, sizeof *p);
    p->epoch = epoch;
    p->epochs = epochs;
    p->batches = batches;
    p->batch_size = batch_size;
    p->start = p->last_draw = now_seconds();
    p->tty = isatty(fileno(stdout));
}

double progress_loss(const Progress *p)
{
    return p->seen ? p->loss_sum / (double)p->seen : 0.0;
}

double progress_accuracy(const Progress *p)
{
    return p->seen ? (double)p->correct / (double)p->seen : 0.0;
}

/* epoch 2/5 [==========>         ]  940/1875  loss 0.4123  acc 0.8512  61234 samples/s */
static void progress_draw(const Progress *p, int done, double t)
{
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int fill = p->batches ? (int)((long)WIDTH * done / p->batches) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[WIDTH] = '\0';
    double rate = t > p->start ? (double)p->seen / (t - p->start) : 0.0;
    printf("epoch %d/%d [%s] %*d/%d  loss %.4f  acc %.4f  %6.0f samples/s", p->epoch, p->epochs,
           bar, (int)(p->batches >= 10000 ? 5 : 4), done, p->batches, progress_loss(p),
           progress_accuracy(p), rate);
}

void progress_step(Progress *p, int done, float loss, int correct)
{
    progress_step_rows(p, done, loss, correct, p->batch_size);
}

void progress_step_rows(Progress *p, int done, float loss, int correct, int rows)
{
    p->loss_sum += (double)loss * rows; /* a batch's loss is its mean */
    p->correct += correct;
    p->seen += rows;
    double t = p->last_step = now_seconds();
    if (!p->tty || (t - p->last_draw < 0.1 && done < p->batches))
        return;
    p->last_draw = t;
    printf("\r\033[K");
    progress_draw(p, done, t);
    fflush(stdout);
}

double progress_end(Progress *p, double test_loss, double test_accuracy)
{
    double t = p->last_step > p->start ? p->last_step : now_seconds(); /* training only */
    if (p->tty)
        printf("\r\033[K");
    progress_draw(p, p->batches, t);
    printf("  | test loss %.4f  acc %.4f  (%.1f s)\n", test_loss, test_accuracy, t - p->start);
    fflush(stdout);
    return t - p->start;
}

/* ---- the test-set report ---- */

int count_correct(const float *logits, const int64_t *labels, int rows, int classes,
                  double *loss_sum, int *predicted)
{
    int correct = 0;
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (size_t)r * classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[best])
                best = k;
        if (loss_sum) { /* -log softmax(z)[label], stable: subtract the max */
            double sum = 0.0;
            for (int k = 0; k < classes; k++)
                sum += exp((double)z[k] - z[best]);
            *loss_sum += log(sum) - ((double)z[labels[r]] - z[best]);
        }
        if (predicted)
            predicted[r] = best;
        correct += best == labels[r];
    }
    return correct;
}

void confusion_clear(Confusion *c, int classes)
{
    memset(c, 0, sizeof *c);
    c->classes = classes;
}

double confusion_accuracy(const Confusion *c)
{
    long right = 0, all = 0;
    for (int t = 0; t < c->classes; t++)
        for (int q = 0; q < c->classes; q++) {
            all += c->count[t][q];
            right += t == q ? c->count[t][q] : 0;
        }
    return all ? (double)right / (double)all : 0.0;
}

static double ratio(long a, long b)
{
    return b ? (double)a / (double)b : 0.0;
}

void confusion_print(const Confusion *c, const char *const *names, FILE *out)
{
    long total = 0, right = 0;
    double sum_p = 0, sum_r = 0, sum_f = 0;
    fprintf(out, "\n%-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < c->classes; k++) {
        long tp = c->count[k][k], truth = 0, said = 0;
        for (int j = 0; j < c->classes; j++) {
            truth += c->count[k][j];
            said += c->count[j][k];
        }
        double prec = ratio(tp, said), rec = ratio(tp, truth);
        double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
        fprintf(out, "%-12s %9.4f %9.4f %9.4f %8ld\n", names[k], prec, rec, f1, truth);
        sum_p += prec;
        sum_r += rec;
        sum_f += f1;
        total += truth;
        right += tp;
    }
    fprintf(out, "%-12s %9.4f %9.4f %9.4f %8ld\n", "macro avg", sum_p / c->classes,
            sum_r / c->classes, sum_f / c->classes, total);
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted class)\n%13s", "");
    for (int q = 0; q < c->classes; q++)
        fprintf(out, " %5d", q);
    fprintf(out, "\n");
    for (int t = 0; t < c->classes; t++) {
        fprintf(out, "%d %-11.11s", t, names[t]);
        for (int q = 0; q < c->classes; q++)
            fprintf(out, " %5ld", c->count[t][q]);
        fprintf(out, "\n");
    }
    fprintf(out, "\ntest accuracy: %.4f (%ld/%ld)\n", ratio(right, total), right, total);
}

/* ---- the learning curve ---- */

void history_add(History *h, double train_loss, double train_acc, double test_loss,
                 double test_acc, double seconds)
{
    if (h->n >= (int)(sizeof h->row / sizeof h->row[0]))
        return;
    h->row[h->n].train_loss = train_loss;
    h->row[h->n].train_acc = train_acc;
    h->row[h->n].test_loss = test_loss;
    h->row[h->n].test_acc = test_acc;
    h->row[h->n].seconds = seconds;
    h->n++;
}

/* Row 0 is the model before training: its train columns are left empty. */
int history_write_csv(const History *h, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n");
    for (int i = 0; i < h->n; i++) {
        if (i == 0)
            fprintf(f, "0,,,%.6f,%.6f,0\n", h->row[0].test_loss, h->row[0].test_acc);
        else
            fprintf(f, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", i, h->row[i].train_loss,
                    h->row[i].train_acc, h->row[i].test_loss, h->row[i].test_acc,
                    h->row[i].seconds);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int history_plot(const char *csv, const char *png, const char *title)
{
    char stem[256];
    if (!png || !*png)
        return -1;
    if (!title) { /* the CSV's file name without its folder and extension */
        const char *base = strrchr(csv, '/') ? strrchr(csv, '/') + 1 : csv;
        snprintf(stem, sizeof stem, "%s", base);
        if (strrchr(stem, '.'))
            *strrchr(stem, '.') = '\0';
        title = stem;
    }
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("(gnuplot is not installed: no %s; apt-get install gnuplot-nox)\n", png);
        return -1;
    }
    FILE *gp = popen("gnuplot", "w");
    if (!gp)
        return -1;
    fprintf(gp,
            "set terminal pngcairo size 900,420 noenhanced\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set key autotitle columnhead\n"
            "set multiplot layout 1,2 title '%s'\n"
            "set xlabel 'epoch'\nset grid\nset xtics 1\n"
            "set title 'loss'\n"
            "plot '%s' using 1:2 with linespoints title 'train',\\\n"
            "     '' using 1:4 with linespoints title 'test'\n"
            "set title 'accuracy'\nset yrange [0:1]\nset key bottom right\n"
            "plot '%s' using 1:3 with linespoints title 'train',\\\n"
            "     '' using 1:5 with linespoints title 'test'\n"
            "unset multiplot\n",
            png, title, csv, csv);
    if (pclose(gp) != 0) {
        printf("(gnuplot failed: no %s)\n", png);
        return -1;
    }
    return 0;
}
