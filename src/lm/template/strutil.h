/* Python str semantics over UTF-8 bytes: code point indexing, whitespace, case mapping. */
#ifndef CMLX_LM_TEMPLATE_STRUTIL_H
#define CMLX_LM_TEMPLATE_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/* Decodes one code point at s[i]; returns its byte length (>= 1; an invalid byte counts
 * as one code point of its own value). */
size_t u8_next(const char *s, size_t n, size_t i, int32_t *cp);
size_t u8_count(const char *s, size_t n);
/* Byte offset of code point index k (k <= count). */
size_t u8_offset(const char *s, size_t n, size_t k);
void u8_put(strbuf *sb, int32_t cp);

/* Python str.isspace() for one code point. */
int py_isspace(int32_t cp);
/* Python-style case mapping of a whole string (mode 'u' upper, 'l' lower). */
void py_case(const char *s, size_t n, char mode, strbuf *out);
/* str.title() and str.capitalize(). */
void py_title(const char *s, size_t n, strbuf *out);
void py_capitalize(const char *s, size_t n, strbuf *out);
/* str.strip family: chars == NULL strips whitespace. which: 'l', 'r', 'b'. */
void py_strip(const char *s, size_t n, const char *chars, size_t nchars, char which, size_t *start, size_t *end);
/* Finds needle in s from byte offset `from`; returns byte offset or -1. */
int64_t py_find(const char *s, size_t n, const char *needle, size_t nn, size_t from);
int64_t py_rfind(const char *s, size_t n, const char *needle, size_t nn);

#endif
