/* Prompt-cache helpers shared by `cmlx cache-prompt` and `cmlx generate --prompt-cache-file`
 * (mlx-lm's cache_prompt.py and the prompt-cache parts of generate.py). */
#ifndef CMLX_CLI_CMD_CACHE_PROMPT_H
#define CMLX_CLI_CMD_CACHE_PROMPT_H

#include "cmlx/lm.h"

/* Renders the conversation with transformers' continue_final_message: no generation
 * prompt, and the text cut right after the final message's content, so that more text can
 * follow it. malloc'd, or NULL (error set: the template dropped part of the message). */
char *cli_render_continue_final(const lm_chat_template *tpl, const char *messages_json, const char *final_content,
                                const char *kwargs_json);

/* The prompt for generate with a prompt cache (mlx-lm): through the chat template, the
 * rendered prompt from where the user's content starts (the cached prompt is its prefix),
 * encoded without special tokens; without a template (or ignored), the plain encoding with
 * special tokens. 0 or -1. */
int cli_encode_cached_suffix(const char *model_dir, const lm_tokenizer *tok, const char *system_prompt,
                             const char *prompt, int ignore_chat_template, const char *kwargs_json, int32_t **ids,
                             size_t *n);

/* The model a prompt-cache file was made with (its "model" metadata), checked against
 * --model as mlx-lm's generate does (NULL model: use the file's). malloc'd, or NULL (error set). */
char *cli_prompt_cache_model(const char *cache_file, const char *model);

/* Loads the prompt cache for m and applies the KV-quantization flags: a quantized file must
 * agree with --kv-bits (when given) and --kv-group-size. NULL (error set) on failure. */
lm_cache *cli_load_prompt_cache(lm_model *m, const char *cache_file, const lm_cache_options *opt);

#endif
