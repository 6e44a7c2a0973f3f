/* report.h — what kiln's training examples print and write: a progress line
 * per epoch, the test-set report (accuracy, per-class precision/recall/F1,
 * confusion matrix), and the per-epoch history as CSV plus a PNG learning
 * curve drawn by gnuplot when it is installed. Plain C99 + POSIX. */
#ifndef EXAMPLES_REPORT_H
#define EXAMPLES_REPORT_H

#include <stdint.h>
#include <stdio.h>

#define REPORT_MAX_CLASSES 16

double now_seconds(void); /* a monotonic clock */
double cpu_seconds(void); /* processor time used by this program */

/* One epoch's progress line. On a terminal it redraws in place (at most ten
 * times a second); otherwise only the finished line is printed. */
typedef struct Progress {
    int epoch, epochs, batches, batch_size;
    double start, last_draw, last_step, loss_sum;
    long correct, seen;
    int tty;
} Progress;

void progress_start(Progress *p, int epoch, int epochs, int batches, int batch_size);
/* After batch number `done` (1-based): its loss and its number of correct predictions. */
void progress_step(Progress *p, int done, float loss, int correct);
/* The same for a batch of `rows` samples (a short last batch). */
void progress_step_rows(Progress *p, int done, float loss, int correct, int rows);
/* Ends the line with the test-set result; returns the seconds of the
 * epoch's training (the test-set evaluation not included). */
double progress_end(Progress *p, double test_loss, double test_accuracy);
double progress_loss(const Progress *p);     /* running mean loss per sample */
double progress_accuracy(const Progress *p); /* running accuracy */

/* Counts of (true class, predicted class). */
typedef struct Confusion {
    int classes;
    long count[REPORT_MAX_CLASSES][REPORT_MAX_CLASSES];
} Confusion;

void confusion_clear(Confusion *c, int classes);
double confusion_accuracy(const Confusion *c);
/* Prints accuracy, per-class precision/recall/F1 and the matrix. */
void confusion_print(const Confusion *c, const char *const *names, FILE *out);

/* The argmax of each of `rows` rows of `classes` logits, the number of
 * them equal to labels[], and the summed softmax cross-entropy. */
int count_correct(const float *logits, const int64_t *labels, int rows, int classes,
                  double *loss_sum, int *predicted);

/* The learning curve: one row per epoch (epoch 0 = before training, test
 * columns only). */
typedef struct History {
    int n;
    struct { double train_loss, train_acc, test_loss, test_acc, seconds; } row[256];
} History;

void history_add(History *h, double train_loss, double train_acc, double test_loss,
                 double test_acc, double seconds);
int history_write_csv(const History *h, const char *path);
/* Draws the CSV as a PNG with gnuplot, titled `title` (NULL: the CSV's
 * name); returns 0, or -1 when png is empty or gnuplot is missing or fails
 * (a note is printed, not an error). */
int history_plot(const char *csv, const char *png, const char *title);

#endif
