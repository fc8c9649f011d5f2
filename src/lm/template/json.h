/* JSON <-> template values, and the render entry used by the chat layer. */
#ifndef CMLX_LM_TEMPLATE_JSON_H
#define CMLX_LM_TEMPLATE_JSON_H

#include <time.h>

#include "cmlx/lm_template.h"
#include "lm/template/value.h"

struct json_t;

/* Converts a jansson value to a new template value (objects keep their key order). */
int lm_tpl_from_json(const struct json_t *j, tv *out);
/* Parses JSON text into a new template value; `what` names it in error messages. */
int lm_tpl_parse_json(const char *text, const char *what, tv *out);
/* Renders with a context dict (borrowed). */
char *lm_tpl_render_value(const lm_template *t, tv context, const lm_template_options *opt);
/* Parses "YYYY-MM-DDTHH:MM:SS" into a struct tm with weekday and day of year set. */
int lm_tpl_parse_clock(const char *text, struct tm *out);

#endif
