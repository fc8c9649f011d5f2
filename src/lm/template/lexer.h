/* Jinja2 lexer, configured as transformers configures it: trim_blocks and lstrip_blocks
 * on, default delimiters, newlines normalized to "\n" and one trailing newline dropped
 * (keep_trailing_newline=False). */
#ifndef CMLX_LM_TEMPLATE_LEXER_H
#define CMLX_LM_TEMPLATE_LEXER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TK_EOF,
    TK_DATA,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
} tk_type;

typedef enum {
    OP_ADD, OP_SUB, OP_DIV, OP_FLOORDIV, OP_MUL, OP_MOD, OP_POW, OP_TILDE,
    OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
    OP_EQ, OP_NE, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_ASSIGN, OP_DOT, OP_COLON,
    OP_PIPE, OP_COMMA, OP_SEMICOLON,
    OP__COUNT
} tk_op;

typedef struct token {
    tk_type type;
    int op;          /* TK_OP */
    int line, col;   /* 1-based position of the token's first character */
    char *text;      /* TK_DATA, TK_NAME, TK_STRING: decoded text (owned, NUL-terminated) */
    size_t len;
    int64_t ival;    /* TK_INT */
    double fval;     /* TK_FLOAT */
} token;

typedef struct token_list {
    token *v;
    size_t n, cap;
} token_list;

/* Tokenizes src. 0 on success; -1 with "TemplateSyntaxError: ... (line L, column C)" set. */
int lm_tpl_lex(const char *src, size_t len, token_list *out);
void lm_tpl_tokens_free(token_list *tl);
const char *lm_tpl_op_text(int op);

#endif
