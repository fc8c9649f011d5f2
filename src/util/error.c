/* Thread-local error message slot (see include/cmlx/error.h). */
#include "cmlx/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_message[2048];

const char *mx_last_error(void) { return error_message; }

void mx_clear_error(void) { error_message[0] = '\0'; }

int mx_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return -1;
}
