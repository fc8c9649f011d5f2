/* Pieces shared by the generating subcommands (generate, chat, cache-prompt, bench). */
#ifndef CMLX_CLI_COMMON_H
#define CMLX_CLI_COMMON_H

#include "cmlx/lm.h"

/* Prints "cmlx <cmd>: <mx_last_error()>" (or the message given) and returns 1. */
int cli_fail(const char *cmd, const char *msg);
/* Parses "float32", "bfloat16", "float16" (and f32/bf16/f16). */
int cli_parse_dtype(const char *s, mx_dtype *t);
/* Reads all of stdin (malloc'd). */
char *cli_read_stdin(void);
/* messages JSON for [system?, user]: malloc'd. */
char *cli_messages_json(const char *system_prompt, const char *user);
/* Encodes the prompt: through the chat template unless ignored / absent (then with the
 * tokenizer's special tokens, as mlx-lm does). kwargs_json may be NULL. */
int cli_encode_prompt(const char *model_dir, const lm_tokenizer *tok, const char *messages_json,
                      int ignore_chat_template, const char *raw_prompt, const char *kwargs_json,
                      int32_t **ids, size_t *n);

#endif
