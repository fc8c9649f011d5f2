/* See drain.h. */
#include "lm/generate/drain.h"

#include <stdio.h>

#include "cmlx/error.h"

void lm_drain_steps(mx_array *a, mx_array *b, int failed) {
    mx_array *pending[2];
    int n = 0;
    if (a) pending[n++] = a;
    if (b) pending[n++] = b;
    if (!n) return;
    char saved[512];
    snprintf(saved, sizeof saved, "%s", mx_last_error());
    mx_eval(pending, n);
    if (failed) mx_set_error("%s", saved);
}
