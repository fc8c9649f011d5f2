/* Waiting for decode steps already scheduled on the stream worker before their cache (and
 * maybe the model) is freed: nothing may run on the worker after a generation loop returns. */
#ifndef CMLX_LM_GENERATE_DRAIN_H
#define CMLX_LM_GENERATE_DRAIN_H

#include "cmlx/array.h"

/* Evaluates a and b (either may be NULL). When failed, the error message the caller set is
 * kept (the evaluation of a failed step would replace it). */
void lm_drain_steps(mx_array *a, mx_array *b, int failed);

#endif
