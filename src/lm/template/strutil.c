/* Python str semantics over UTF-8 (see strutil.h). Case mapping uses utf8proc's simple
 * mappings, which agree with Python except for the few one-to-many cases (e.g. 'ß'). */
#include "lm/template/strutil.h"

#include <string.h>
#include <utf8proc.h>

size_t u8_next(const char *s, size_t n, size_t i, int32_t *cp) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (k <= 0) {
        *cp = (unsigned char)s[i];
        return 1;
    }
    *cp = c;
    return (size_t)k;
}

size_t u8_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

size_t u8_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    int32_t cp;
    while (k > 0 && i < n) {
        i += u8_next(s, n, i, &cp);
        k--;
    }
    return i;
}

void u8_put(strbuf *sb, int32_t cp) {
    utf8proc_uint8_t b[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, b);
    if (k > 0) strbuf_append(sb, (const char *)b, (size_t)k);
}

int py_isspace(int32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f)) return 1;
    if (cp < 0x80) return 0;
    if (cp == 0x85 || cp == 0xa0) return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

static int32_t map_cp(int32_t cp, char mode) {
    if (cp < 0x80) {
        if ((mode == 'u' || mode == 't') && cp >= 'a' && cp <= 'z') return cp - 32;
        if (mode == 'l' && cp >= 'A' && cp <= 'Z') return cp + 32;
        return cp;
    }
    if (mode == 'u') return utf8proc_toupper(cp);
    if (mode == 't') return utf8proc_totitle(cp);
    return utf8proc_tolower(cp);
}

void py_case(const char *s, size_t n, char mode, strbuf *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = u8_next(s, n, i, &cp);
        if (cp < 0x80 || k == 1) {
            int32_t m = cp < 0x80 ? map_cp(cp, mode) : cp;
            char c = (char)m;
            strbuf_append(out, k == 1 && cp >= 0x80 ? s + i : &c, 1);
        } else if (cp == 0xDF && mode == 'u') {
            strbuf_puts(out, "SS"); /* the one full case mapping that chat text meets */
        } else {
            u8_put(out, map_cp(cp, mode));
        }
        i += k;
    }
}

static int is_cased(int32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           utf8proc_toupper(cp) != cp || utf8proc_tolower(cp) != cp;
}

void py_title(const char *s, size_t n, strbuf *out) {
    int prev_cased = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = u8_next(s, n, i, &cp);
        int32_t m = prev_cased ? map_cp(cp, 'l') : map_cp(cp, 't');
        u8_put(out, m);
        prev_cased = is_cased(cp);
        i += k;
    }
}

void py_capitalize(const char *s, size_t n, strbuf *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = u8_next(s, n, i, &cp);
        u8_put(out, map_cp(cp, i == 0 ? 't' : 'l'));
        i += k;
    }
}

static int in_chars(int32_t cp, const char *chars, size_t nchars) {
    for (size_t i = 0; i < nchars;) {
        int32_t c;
        i += u8_next(chars, nchars, i, &c);
        if (c == cp) return 1;
    }
    return 0;
}

void py_strip(const char *s, size_t n, const char *chars, size_t nchars, char which, size_t *start, size_t *end) {
    size_t b = 0, e = n;
    if (which != 'r') {
        while (b < e) {
            int32_t cp;
            size_t k = u8_next(s, n, b, &cp);
            if (chars ? !in_chars(cp, chars, nchars) : !py_isspace(cp)) break;
            b += k;
        }
    }
    if (which != 'l') {
        while (e > b) {
            size_t p = e - 1;
            while (p > b && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
            int32_t cp;
            u8_next(s, n, p, &cp);
            if (chars ? !in_chars(cp, chars, nchars) : !py_isspace(cp)) break;
            e = p;
        }
    }
    *start = b;
    *end = e;
}

int64_t py_find(const char *s, size_t n, const char *needle, size_t nn, size_t from) {
    if (nn == 0) return from <= n ? (int64_t)from : -1;
    if (nn > n) return -1;
    for (size_t i = from; i + nn <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, nn) == 0) return (int64_t)i;
    return -1;
}

int64_t py_rfind(const char *s, size_t n, const char *needle, size_t nn) {
    if (nn > n) return -1;
    for (size_t i = n - nn + 1; i-- > 0;)
        if (memcmp(s + i, needle, nn) == 0) return (int64_t)i;
    return -1;
}
