/* cmlx error reporting.
 *
 * Functions of the library never exit or abort. A failing call returns NULL (or a
 * negative status) and records a message in a thread-local slot; the message names
 * what failed and where (op, shapes, dtypes, file, key, byte offset). Functions given
 * a NULL array input return NULL without overwriting the first message, so a chain of
 * calls can be checked once at its end.
 */
#ifndef CMLX_ERROR_H
#define CMLX_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the most recent failure on this thread ("" when none). */
const char *mx_last_error(void);

/* Forget the recorded message. */
void mx_clear_error(void);

/* Record a failure message (printf-style); returns -1 so callers can
 * `return mx_set_error(...)`. Used by the library and available to extensions. */
int mx_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
