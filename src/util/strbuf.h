/* A growable byte string (always NUL-terminated, may hold NULs). */
#ifndef CMLX_UTIL_STRBUF_H
#define CMLX_UTIL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
    char *data;   /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    int failed;   /* set when an allocation failed; later appends are no-ops */
} strbuf;

#define STRBUF_INIT {NULL, 0, 0, 0}

int strbuf_reserve(strbuf *sb, size_t extra);   /* 0 on success, -1 (error set) on OOM */
int strbuf_append(strbuf *sb, const char *s, size_t n);
int strbuf_puts(strbuf *sb, const char *s);
int strbuf_putc(strbuf *sb, char c);
int strbuf_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap);
/* Hands the string to the caller (free() it) and resets the buffer. Never NULL unless OOM. */
char *strbuf_detach(strbuf *sb, size_t *len);
void strbuf_reset(strbuf *sb);  /* keep capacity, empty the content */
void strbuf_free(strbuf *sb);

#endif
