/* Chat templates: a Jinja2 interpreter that renders what Python Jinja2 3.1 renders when
 * configured as Hugging Face transformers configures it for chat templates:
 *   ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
 *                                 extensions=[loopcontrols, generation tag]),
 *   filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=None, separators=None,
 *                                  sort_keys=False)   (keyword arguments are honoured),
 *   globals raise_exception(msg) and strftime_now(fmt).
 *
 * Supported: {{ }}, {% %}, {# #}, whitespace control (- and +), raw blocks; if/elif/else,
 * for (tuple targets, else, `if` filter, recursive, loop.index/index0/revindex/revindex0/
 * first/last/length/depth/previtem/nextitem/cycle/changed), set (also block set and
 * namespace attributes), macro (defaults, varargs, kwargs, caller, recursion), call and
 * filter blocks, with, break/continue, generation/block tags; the Jinja2 filters and
 * tests chat templates use; Python str/dict/list methods (mutating list/dict methods
 * raise SecurityError as in the sandbox); globals range, namespace, dict, joiner,
 * raise_exception, strftime_now. Values print as Python prints them (None, True, 1.0,
 * ['a'], {'a': 1}, dict_items([...])).
 *
 * Not supported: cycler(), lipsum(), {% include/import/extends %} (no loader), integers
 * beyond int64, range objects print as lists, and a NUL character in the output ends the
 * returned C string.
 *
 * Errors: every function below returns NULL on failure and sets mx_last_error() to
 * "<Jinja2 exception class>: <message> (line L[, column C])", e.g.
 *   "TemplateSyntaxError: unexpected '}' (line 3, column 14)"
 *   "UndefinedError: 'dict object' has no attribute 'content' (line 7)"
 *   "TemplateError: <message given to raise_exception> (line 12)"
 * lm_template_error_type() returns the class name part of the last such error.
 */
#ifndef CMLX_LM_TEMPLATE_H
#define CMLX_LM_TEMPLATE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson */

typedef struct lm_template lm_template;

/* Parses a template (UTF-8, need not be NUL-terminated). NULL on a syntax error. */
lm_template *lm_template_compile(const char *source, size_t len);
void lm_template_free(lm_template *t);

typedef struct lm_template_options {
    /* Clock for strftime_now(): "YYYY-MM-DDTHH:MM:SS" (a naive local time, as Python's
     * datetime.now() is), or NULL for the real local time. */
    const char *fixed_now;
} lm_template_options;

/* Renders with the variables of a JSON object (jansson value; borrowed). opt may be NULL.
 * Returns a malloc'd NUL-terminated string (free() it), or NULL with the error set. */
char *lm_template_render_json(const lm_template *t, const struct json_t *context, const lm_template_options *opt);
/* Same, with the context given as JSON text ("{...}"; NULL means no variables). */
char *lm_template_render(const lm_template *t, const char *context_json, const lm_template_options *opt);

/* The exception class of the last failure on this thread ("TemplateSyntaxError",
 * "UndefinedError", "TypeError", "TemplateError", ...), or "" when the last error did not
 * come from a template. */
const char *lm_template_error_type(void);

/* ---- chat level ---- */

typedef struct lm_chat_template lm_chat_template;

/* Loads the chat template of a model or tokenizer directory the way transformers does:
 * chat_template.jinja when present (it takes precedence), else chat_template.json, else
 * "chat_template" of tokenizer_config.json, which may be a string or a list of
 * {"name", "template"} (named templates; additional_chat_templates/NAME.jinja add more).
 * Special tokens (bos/eos/unk/sep/pad/cls/mask_token, additional_special_tokens) come from
 * tokenizer_config.json, overridden by special_tokens_map.json, as strings or AddedToken
 * objects {"content": ...}; null or empty ones are left out, as special_tokens_map does.
 * NULL (error set) when the directory has no chat template or a template does not parse. */
lm_chat_template *lm_chat_template_load(const char *model_dir);
/* Builds one from template text and a special-tokens JSON object (NULL: none). */
lm_chat_template *lm_chat_template_new(const char *source, const char *special_tokens_json);
void lm_chat_template_free(lm_chat_template *t);

/* Fixes the strftime_now() clock ("YYYY-MM-DDTHH:MM:SS"; NULL restores the real clock).
 * 0, or -1 with the error set when the text is not such a date. */
int lm_chat_template_set_clock(lm_chat_template *t, const char *fixed_now);

/* Renders a conversation. messages_json: a JSON array of messages (any JSON: content as a
 * string or a list of parts, tool_calls, reasoning_content ...). tools_json: JSON array of
 * tool schemas or NULL (the template then sees tools = none). kwargs_json: a JSON object of
 * extra template variables (e.g. {"enable_thinking": false}) or NULL. The variables are
 * messages, tools, documents (none), add_generation_prompt, the special tokens, then the
 * kwargs. With named templates, "tool_use" is used when tools are given and it exists,
 * else "default". Returns a malloc'd string or NULL with mx_last_error() set. */
char *lm_chat_template_apply(const lm_chat_template *t, const char *messages_json, const char *tools_json,
                             int add_generation_prompt, const char *kwargs_json);

/* The template text that lm_chat_template_apply would use (borrowed; NULL if none). */
const char *lm_chat_template_source(const lm_chat_template *t, int with_tools);

#ifdef __cplusplus
}
#endif
#endif
