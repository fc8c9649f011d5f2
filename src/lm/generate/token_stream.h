/* Turns generated token ids into the streamed responses of lm_generate: EOS detection,
 * incremental detokenization, stop strings (held back, never printed), statistics and the
 * final response. Used by the speculative decoding loop so that it streams exactly as the
 * plain decode loop in generate.c does (same rules, same response fields). Private to
 * src/lm/generate. */
#ifndef CMLX_LM_TOKEN_STREAM_H
#define CMLX_LM_TOKEN_STREAM_H

#include "cmlx/lm_generate.h"
#include "util/strbuf.h"

typedef struct lm_token_stream {
    const lm_generate_params *p;
    lm_response_fn fn;
    void *ctx;
    lm_detokenizer *detok;       /* NULL without a tokenizer */
    const int32_t *eos;          /* the model's EOS ids */
    int n_eos;
    const int32_t *teos;         /* the tokenizer's */
    size_t n_teos;
    strbuf text;                 /* all decoded text */
    size_t emitted;              /* bytes of text already handed to fn */
    int64_t n_prompt, ntok;
    double t_start, t_prompt, t_first;
    const char *finish;          /* "length" until something stops generation */
    int stop_string_hit;
} lm_token_stream;

/* Starts timing (call before prefill). -1 (error set) when out of memory. */
int lm_token_stream_init(lm_token_stream *s, lm_model *m, const lm_tokenizer *tok, const lm_generate_params *p,
                         int64_t n_prompt, lm_response_fn fn, void *ctx);
/* Marks the end of prompt processing (the first token is known). */
void lm_token_stream_prompt_done(lm_token_stream *s);
/* Takes the next generated token: 1 when generation must stop now (EOS, a stop string, the
 * callback, the interrupt flag, or max_tokens reached), 0 to go on. from_draft is passed
 * on in the response. */
int lm_token_stream_push(lm_token_stream *s, int32_t token, int from_draft);
/* Flushes held-back text in the final response (finish_reason set) and fills stats. */
void lm_token_stream_finish(lm_token_stream *s, lm_generation_stats *stats);
void lm_token_stream_free(lm_token_stream *s);

#endif
