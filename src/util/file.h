/* Reading whole files and streams into memory. */
#ifndef CMLX_UTIL_FILE_H
#define CMLX_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

/* The whole file as a malloc'd NUL-terminated buffer (*len bytes, may hold NULs; len may be
 * NULL). NULL on failure with the error set ("PATH: cannot open: reason", "PATH: read
 * error"), except that a file that does not exist, when missing is non-NULL, only sets
 * *missing to 1 (no error). */
char *util_read_file(const char *path, size_t *len, int *missing);
/* The rest of a stream; `name` names it in errors. */
char *util_read_stream(FILE *f, const char *name, size_t *len);

#endif
