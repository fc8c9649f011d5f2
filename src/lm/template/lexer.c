/* Jinja2's lexer rules (jinja2/lexer.py, 3.1) rewritten as a hand-driven state machine:
 * root text up to the next {{ {% {#, whitespace control (-, +), lstrip_blocks, trim_blocks,
 * raw blocks, and the expression tokens inside tags with bracket balancing (so that
 * "}}" inside a dict literal does not end a {{ }}). */
#include "lm/template/lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "util/strbuf.h"

typedef struct lexer {
    const char *s;
    size_t n, pos;
    int line;
    size_t line_start; /* byte offset where the current line begins */
    token_list *out;
} lexer;

static const char *op_texts[OP__COUNT] = {
    "+", "-", "/", "//", "*", "%", "**", "~", "[", "]", "(", ")", "{", "}",
    "==", "!=", ">", ">=", "<", "<=", "=", ".", ":", "|", ",", ";",
};

const char *lm_tpl_op_text(int op) { return op >= 0 && op < OP__COUNT ? op_texts[op] : "?"; }

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
           (c >= 0x1c && c <= 0x1f);
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}
static int is_name_char(char c) { return is_name_start(c) || is_digit(c); }

static int lex_fail(lexer *lx, size_t at, const char *fmt, const char *arg) {
    int line = lx->line;
    size_t ls = lx->line_start;
    for (size_t i = lx->pos; i < at && i < lx->n; i++)
        if (lx->s[i] == '\n') {
            line++;
            ls = i + 1;
        }
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    return mx_set_error("TemplateSyntaxError: %s (line %d, column %zu)", msg, line, at - ls + 1);
}

/* Advances pos to `to`, counting lines. */
static void advance(lexer *lx, size_t to) {
    for (size_t i = lx->pos; i < to; i++)
        if (lx->s[i] == '\n') {
            lx->line++;
            lx->line_start = i + 1;
        }
    lx->pos = to;
}

static token *push(lexer *lx, tk_type type, size_t at) {
    token_list *tl = lx->out;
    if (tl->n == tl->cap) {
        size_t nc = tl->cap ? tl->cap * 2 : 64;
        token *nv = realloc(tl->v, nc * sizeof(token));
        if (!nv) {
            mx_set_error("template: out of memory lexing (%zu tokens)", nc);
            return NULL;
        }
        tl->v = nv;
        tl->cap = nc;
    }
    token *t = &tl->v[tl->n++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->line = lx->line;
    t->col = (int)(at - lx->line_start + 1);
    return t;
}

static int push_text(lexer *lx, tk_type type, size_t at, const char *text, size_t len) {
    token *t = push(lx, type, at);
    if (!t) return -1;
    t->text = malloc(len + 1);
    if (!t->text) return mx_set_error("template: out of memory lexing");
    memcpy(t->text, text, len);
    t->text[len] = 0;
    t->len = len;
    return 0;
}

/* Data before a tag, with the tag's whitespace control applied. */
static int emit_data(lexer *lx, size_t start, size_t end, char sign, int lstrip_ok, int line_starting) {
    const char *s = lx->s;
    size_t e = end;
    if (sign == '-') {
        while (e > start && is_space(s[e - 1])) e--;
    } else if (sign != '+' && lstrip_ok) {
        size_t l = e;
        while (l > start && s[l - 1] != '\n') l--;
        if (l > start || line_starting) {
            int all_ws = e > l;
            for (size_t i = l; i < e; i++)
                if (!is_space(s[i])) all_ws = 0;
            if (all_ws) e = l;
        }
    }
    int rc = 0;
    if (e > start) rc = push_text(lx, TK_DATA, start, s + start, e - start);
    advance(lx, end);
    return rc;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(strbuf *sb, uint32_t cp) {
    char b[4];
    if (cp < 0x80) {
        b[0] = (char)cp;
        strbuf_append(sb, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 4);
    }
}

/* Python "unicode-escape" decoding of a string literal's body. */
static int decode_string(const char *s, size_t n, strbuf *sb) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) {
            strbuf_putc(sb, c);
            continue;
        }
        char e = s[++i];
        int digits = 0;
        switch (e) {
        case '\n': break;
        case '\\': strbuf_putc(sb, '\\'); break;
        case '\'': strbuf_putc(sb, '\''); break;
        case '"': strbuf_putc(sb, '"'); break;
        case 'a': strbuf_putc(sb, '\a'); break;
        case 'b': strbuf_putc(sb, '\b'); break;
        case 'f': strbuf_putc(sb, '\f'); break;
        case 'n': strbuf_putc(sb, '\n'); break;
        case 'r': strbuf_putc(sb, '\r'); break;
        case 't': strbuf_putc(sb, '\t'); break;
        case 'v': strbuf_putc(sb, '\v'); break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t v = 0;
                int k = 0;
                while (k < 3 && i < n && s[i] >= '0' && s[i] <= '7') {
                    v = v * 8 + (uint32_t)(s[i] - '0');
                    i++;
                    k++;
                }
                i--;
                put_utf8(sb, v);
            } else {
                strbuf_putc(sb, '\\');
                strbuf_putc(sb, e);
            }
        }
        if (digits) {
            uint32_t v = 0;
            for (int k = 0; k < digits; k++) {
                int h = i + 1 + (size_t)k < n ? hexval(s[i + 1 + k]) : -1;
                if (h < 0) return -1;
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF) return -1;
            i += (size_t)digits;
            put_utf8(sb, v);
        }
    }
    return sb->failed ? -2 : 0;
}

/* Length of a float literal at p (Jinja's float_re), 0 when none. */
static size_t match_float(const char *p, const char *end) {
    const char *q = p;
    #define DIGITS(q) do { if ((q) >= end || !is_digit(*(q))) return 0; \
        while ((q) < end && (is_digit(*(q)) || (*(q) == '_' && (q) + 1 < end && is_digit((q)[1])))) (q)++; } while (0)
    DIGITS(q);
    int has_frac = 0;
    if (q + 1 < end && *q == '.' && is_digit(q[1])) {
        q++;
        DIGITS(q);
        has_frac = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *r = q + 1;
        if (r < end && (*r == '+' || *r == '-')) r++;
        if (r < end && is_digit(*r)) {
            DIGITS(r);
            return (size_t)(r - p);
        }
    }
    #undef DIGITS
    return has_frac ? (size_t)(q - p) : 0;
}

/* Length of an integer literal at p (Jinja's integer_re), 0 when none. */
static size_t match_int(const char *p, const char *end, int64_t *val) {
    const char *q = p;
    int base = 10;
    if (q + 2 < end && *q == '0' && (q[1] == 'x' || q[1] == 'X' || q[1] == 'o' || q[1] == 'O' || q[1] == 'b' || q[1] == 'B')) {
        base = (q[1] == 'x' || q[1] == 'X') ? 16 : (q[1] == 'o' || q[1] == 'O') ? 8 : 2;
        q += 2;
    } else if (q >= end || !is_digit(*q)) {
        return 0;
    }
    uint64_t v = 0;
    const char *start = q;
    int first_zero = base == 10 && *q == '0';
    while (q < end) {
        char c = *q;
        if (c == '_' && q + 1 < end && q > start && hexval(q[1]) >= 0 && hexval(q[1]) < base) {
            q++;
            continue;
        }
        int d = hexval(c);
        if (d < 0 || d >= base) break;
        if (first_zero && d != 0) break;
        v = v * (uint64_t)base + (uint64_t)d;
        q++;
    }
    if (q == start) return 0;
    *val = (int64_t)v;
    return (size_t)(q - p);
}

static int match_op(const char *p, const char *end) {
    static const int two[] = {OP_FLOORDIV, OP_POW, OP_EQ, OP_NE, OP_GTEQ, OP_LTEQ};
    if (p + 1 < end)
        for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
            if (p[0] == op_texts[two[i]][0] && p[1] == op_texts[two[i]][1]) return two[i];
    for (int op = 0; op < OP__COUNT; op++)
        if (op_texts[op][1] == 0 && op_texts[op][0] == *p) return op;
    return -1;
}

static int lex_tag(lexer *lx, int is_block) {
    const char *s = lx->s;
    char stack[256];
    int depth = 0;
    for (;;) {
        size_t p = lx->pos;
        while (p < lx->n && is_space(s[p])) p++;
        advance(lx, p);
        if (p >= lx->n) return 0; /* the parser reports the missing end tag */
        if (depth == 0) {
            if (is_block) {
                size_t e = 0;
                int trim = 0;
                if (s[p] == '+' && p + 2 < lx->n && s[p + 1] == '%' && s[p + 2] == '}') e = p + 3;
                else if (s[p] == '-' && p + 2 < lx->n && s[p + 1] == '%' && s[p + 2] == '}') e = p + 3, trim = 2;
                else if (s[p] == '%' && p + 1 < lx->n && s[p + 1] == '}') e = p + 2, trim = 1;
                if (e) {
                    if (!push(lx, TK_BLOCK_END, p)) return -1;
                    if (trim == 2) while (e < lx->n && is_space(s[e])) e++;
                    else if (trim == 1 && e < lx->n && s[e] == '\n') e++;
                    advance(lx, e);
                    return 1;
                }
            } else {
                size_t e = 0;
                if (s[p] == '-' && p + 2 < lx->n && s[p + 1] == '}' && s[p + 2] == '}') {
                    e = p + 3;
                    while (e < lx->n && is_space(s[e])) e++;
                } else if (s[p] == '}' && p + 1 < lx->n && s[p + 1] == '}') {
                    e = p + 2;
                }
                if (e) {
                    if (!push(lx, TK_VAR_END, p)) return -1;
                    advance(lx, e);
                    return 1;
                }
            }
        }
        const char *end = s + lx->n;
        size_t m;
        int64_t iv;
        if ((p == 0 || s[p - 1] != '.') && (m = match_float(s + p, end)) > 0) {
            token *t = push(lx, TK_FLOAT, p);
            if (!t) return -1;
            char buf[128];
            size_t k = 0;
            for (size_t i = 0; i < m && k + 1 < sizeof buf; i++)
                if (s[p + i] != '_') buf[k++] = s[p + i];
            buf[k] = 0;
            t->fval = strtod(buf, NULL);
            advance(lx, p + m);
        } else if ((m = match_int(s + p, end, &iv)) > 0) {
            token *t = push(lx, TK_INT, p);
            if (!t) return -1;
            t->ival = iv;
            advance(lx, p + m);
        } else if (is_name_start(s[p])) {
            size_t q = p;
            while (q < lx->n && is_name_char(s[q])) q++;
            if (push_text(lx, TK_NAME, p, s + p, q - p) != 0) return -1;
            advance(lx, q);
        } else if (s[p] == '\'' || s[p] == '"') {
            char quote = s[p];
            size_t q = p + 1;
            while (q < lx->n && s[q] != quote) q += (s[q] == '\\' && q + 1 < lx->n) ? 2 : 1;
            if (q >= lx->n) return lex_fail(lx, p, "%s", "unexpected end of string literal");
            strbuf sb = STRBUF_INIT;
            int rc = decode_string(s + p + 1, q - p - 1, &sb);
            if (rc != 0) {
                strbuf_free(&sb);
                return rc == -1 ? lex_fail(lx, p, "%s", "invalid escape in string literal") : -1;
            }
            rc = push_text(lx, TK_STRING, p, sb.data ? sb.data : "", sb.len);
            strbuf_free(&sb);
            if (rc) return -1;
            advance(lx, q + 1);
        } else {
            int op = match_op(s + p, end);
            if (op < 0) {
                char ch[8];
                snprintf(ch, sizeof ch, "%c", s[p]);
                return lex_fail(lx, p, "unexpected char '%s'", ch);
            }
            if (op == OP_LBRACE || op == OP_LPAREN || op == OP_LBRACKET) {
                if (depth == (int)sizeof stack) return lex_fail(lx, p, "%s", "brackets nested too deeply");
                stack[depth++] = op == OP_LBRACE ? '}' : op == OP_LPAREN ? ')' : ']';
            } else if (op == OP_RBRACE || op == OP_RPAREN || op == OP_RBRACKET) {
                char c = s[p];
                if (depth == 0) {
                    char ch[2] = {c, 0};
                    return lex_fail(lx, p, "unexpected '%s'", ch);
                }
                if (stack[depth - 1] != c) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", c, stack[depth - 1]);
                    return lex_fail(lx, p, "%s", msg);
                }
                depth--;
            }
            token *t = push(lx, TK_OP, p);
            if (!t) return -1;
            t->op = op;
            advance(lx, p + strlen(op_texts[op]));
        }
    }
}

/* {% raw %} ... {% endraw %}: the body is data. pos is just after the raw begin tag. */
static int lex_raw(lexer *lx, size_t tag_at) {
    const char *s = lx->s;
    for (size_t p = lx->pos; p + 1 < lx->n; p++) {
        if (s[p] != '{' || s[p + 1] != '%') continue;
        size_t q = p + 2;
        char sign = 0;
        if (q < lx->n && (s[q] == '-' || s[q] == '+')) sign = s[q++];
        while (q < lx->n && is_space(s[q])) q++;
        if (q + 6 > lx->n || memcmp(s + q, "endraw", 6) != 0) continue;
        q += 6;
        while (q < lx->n && is_space(s[q])) q++;
        size_t e = 0;
        if (q + 2 < lx->n + 0 && s[q] == '+' && s[q + 1] == '%' && s[q + 2] == '}') e = q + 3;
        else if (q + 2 < lx->n && s[q] == '-' && s[q + 1] == '%' && s[q + 2] == '}') {
            e = q + 3;
            while (e < lx->n && is_space(s[e])) e++;
        } else if (q + 1 < lx->n && s[q] == '%' && s[q + 1] == '}') {
            e = q + 2;
            if (e < lx->n && s[e] == '\n') e++;
        }
        if (!e) continue;
        if (emit_data(lx, lx->pos, p, sign, 1, 0) != 0) return -1;
        advance(lx, e);
        return 0;
    }
    return lex_fail(lx, tag_at, "%s", "Missing end of raw directive");
}

/* Matches "{%[-+]? raw [-]?%}" at p; returns the end offset or 0. */
static size_t match_raw_begin(const lexer *lx, size_t p) {
    const char *s = lx->s;
    size_t q = p + 2;
    if (q < lx->n && (s[q] == '-' || s[q] == '+')) q++;
    while (q < lx->n && is_space(s[q])) q++;
    if (q + 3 > lx->n || memcmp(s + q, "raw", 3) != 0) return 0;
    q += 3;
    size_t w = q;
    while (q < lx->n && is_space(s[q])) q++;
    if (q + 2 < lx->n && s[q] == '-' && s[q + 1] == '%' && s[q + 2] == '}') {
        q += 3;
        while (q < lx->n && is_space(s[q])) q++;
        return q;
    }
    if (q + 1 < lx->n && s[q] == '%' && s[q + 1] == '}') return q + 2;
    (void)w;
    return 0;
}

static int lex_root(lexer *lx) {
    const char *s = lx->s;
    int line_starting = 1;
    while (lx->pos < lx->n) {
        size_t p = lx->pos;
        while (p + 1 < lx->n && !(s[p] == '{' && (s[p + 1] == '{' || s[p + 1] == '%' || s[p + 1] == '#'))) p++;
        if (p + 1 >= lx->n) {
            if (lx->pos < lx->n && push_text(lx, TK_DATA, lx->pos, s + lx->pos, lx->n - lx->pos) != 0) return -1;
            advance(lx, lx->n);
            break;
        }
        char kind = s[p + 1];
        char sign = (p + 2 < lx->n && (s[p + 2] == '-' || s[p + 2] == '+')) ? s[p + 2] : 0;
        size_t raw_end = kind == '%' ? match_raw_begin(lx, p) : 0;
        if (emit_data(lx, lx->pos, p, sign, kind != '{', line_starting) != 0) return -1;
        size_t body = p + 2 + (sign ? 1 : 0);
        if (raw_end) {
            advance(lx, raw_end);
            if (lex_raw(lx, p) != 0) return -1;
            line_starting = lx->pos > 0 && s[lx->pos - 1] == '\n';
            continue;
        }
        if (kind == '#') {
            size_t q = body;
            size_t e = 0;
            for (; q + 1 < lx->n; q++) {
                if (s[q] == '+' && q + 2 < lx->n && s[q + 1] == '#' && s[q + 2] == '}') {
                    e = q + 3;
                    break;
                }
                if (s[q] == '-' && q + 2 < lx->n && s[q + 1] == '#' && s[q + 2] == '}') {
                    e = q + 3;
                    while (e < lx->n && is_space(s[e])) e++;
                    break;
                }
                if (s[q] == '#' && s[q + 1] == '}') {
                    e = q + 2;
                    if (e < lx->n && s[e] == '\n') e++;
                    break;
                }
            }
            if (!e) return lex_fail(lx, p, "%s", "Missing end of comment tag");
            advance(lx, e);
            line_starting = s[e - 1] == '\n';
            continue;
        }
        if (!push(lx, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, p)) return -1;
        advance(lx, body);
        int rc = lex_tag(lx, kind == '%');
        if (rc < 0) return -1;
        if (rc == 0) break; /* end of input inside a tag */
        line_starting = lx->pos > 0 && s[lx->pos - 1] == '\n';
    }
    return push(lx, TK_EOF, lx->pos) ? 0 : -1;
}

int lm_tpl_lex(const char *src, size_t len, token_list *out) {
    memset(out, 0, sizeof *out);
    /* Normalize \r\n and \r to \n, then drop one trailing newline, as Jinja does. */
    char *norm = malloc(len + 1);
    if (!norm) return mx_set_error("template: out of memory (%zu-byte template)", len);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            norm[n++] = src[i];
        }
    }
    if (n > 0 && norm[n - 1] == '\n') n--;
    norm[n] = 0;
    lexer lx = {norm, n, 0, 1, 0, out};
    int rc = lex_root(&lx);
    free(norm);
    if (rc != 0) {
        lm_tpl_tokens_free(out);
        return -1;
    }
    return 0;
}

void lm_tpl_tokens_free(token_list *tl) {
    for (size_t i = 0; i < tl->n; i++) free(tl->v[i].text);
    free(tl->v);
    memset(tl, 0, sizeof *tl);
}
