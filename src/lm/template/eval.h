/* Evaluator entry points (eval.c). */
#ifndef CMLX_LM_TEMPLATE_EVAL_H
#define CMLX_LM_TEMPLATE_EVAL_H

#include "lm/template/interp.h"

/* lm_tpl_exec statuses besides 0 (done) and -1 (error). */
enum { EXEC_BREAK = 1, EXEC_CONTINUE = 2 };

scope *lm_tpl_scope_new(interp *in, scope *parent);
void lm_tpl_scopes_free(interp *in);
/* Frees the scopes made since `mark` (a previous in->scopes) unless a macro holds one. */
void lm_tpl_scopes_release(interp *in, scope *mark);
/* Evaluates an expression into a new value. */
int lm_tpl_eval(interp *in, scope *sc, const node *n, tv *out);
/* Runs statements, appending their output. */
int lm_tpl_exec(interp *in, scope *sc, const node_vec *body, strbuf *out);

#endif
