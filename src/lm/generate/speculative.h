/* Speculative decoding (mlx-lm's speculative_generate_step), private to src/lm/generate:
 * lm_generate branches here when lm_generate_params.draft_model is set. */
#ifndef CMLX_LM_SPECULATIVE_H
#define CMLX_LM_SPECULATIVE_H

#include "cmlx/lm_generate.h"

/* Same contract as lm_generate, with p->draft_model set. */
int lm_generate_speculative(lm_model *m, const lm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                            const lm_generate_params *p, lm_response_fn fn, void *ctx, lm_generation_stats *stats);

#endif
