/* gradcheck.h — what harness.c needs of one case's generated model (prefix
 * "model"): its entry points and sizes, gathered by the lines run.py adds to
 * the generated model.c, where model.h checks their types, so harness.c is
 * compiled once for all cases. */
#ifndef GRADCHECK_H
#define GRADCHECK_H

#include <stddef.h>

#include "kiln_runtime.h"

typedef struct {
    int (*init)(void *workspace);
    int (*train_step_v)(void *workspace, const void *const *inputs, float *loss);
    void (*set_lr)(void *workspace, float lr);
    int (*params_save)(const void *workspace, const char *path);
    const kiln_model_info *info, *train_info;
    size_t params_size, workspace_size;
} GradcheckModel;

extern const GradcheckModel gradcheck_model;
/* the loss of the last train step in full precision (the API's is a float) */
extern double gradcheck_loss;

#endif
