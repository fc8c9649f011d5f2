/* Jinja2 parser: tokens -> AST (jinja2/parser.py's grammar and precedence). */
#ifndef CMLX_LM_TEMPLATE_PARSER_H
#define CMLX_LM_TEMPLATE_PARSER_H

#include "lm/template/ast.h"
#include "lm/template/lexer.h"

/* Parses a whole template into a body (a vector of statements). 0 on success; -1 with
 * "TemplateSyntaxError: ... (line L, column C)" or "TemplateAssertionError: ..." set. */
int lm_tpl_parse(const token_list *tokens, node_vec *body);
void lm_tpl_body_free(node_vec *body);

#endif
