#ifndef CMLX_OPS_CUSTOM_H
#define CMLX_OPS_CUSTOM_H

#include "cmlx/custom.h"

typedef struct {
    mx_custom_fn fn;
    void *ctx;
} mx_custom_params;

#endif
