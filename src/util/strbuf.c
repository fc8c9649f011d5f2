/* Growable strings; every allocation is checked and a failure sticks. */
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"

int strbuf_reserve(strbuf *sb, size_t extra) {
    if (sb->failed) return -1;
    if (sb->data && sb->len + extra + 1 <= sb->cap) return 0;
    size_t need = sb->len + extra + 1;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->failed = 1;
        return mx_set_error("out of memory growing a string to %zu bytes", cap);
    }
    if (!sb->data) p[0] = '\0';
    sb->data = p;
    sb->cap = cap;
    return 0;
}

int strbuf_append(strbuf *sb, const char *s, size_t n) {
    if (strbuf_reserve(sb, n)) return -1;
    if (n) memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

int strbuf_puts(strbuf *sb, const char *s) { return strbuf_append(sb, s, strlen(s)); }

int strbuf_putc(strbuf *sb, char c) { return strbuf_append(sb, &c, 1); }

int strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return mx_set_error("bad format string '%s'", fmt);
    if (strbuf_reserve(sb, (size_t)n)) return -1;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int strbuf_printf(strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return r;
}

char *strbuf_detach(strbuf *sb, size_t *len) {
    if (sb->failed) {
        strbuf_free(sb);
        return NULL;
    }
    if (!sb->data && strbuf_reserve(sb, 0)) return NULL;
    char *s = sb->data;
    if (len) *len = sb->len;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return s;
}

void strbuf_reset(strbuf *sb) {
    sb->len = 0;
    if (sb->data) sb->data[0] = '\0';
}

void strbuf_free(strbuf *sb) {
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = 0;
}
