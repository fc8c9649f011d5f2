/* Streaming the generated tokens as text, with the rules of generate.c's decode loop
 * (mlx-lm's stream_generate): an EOS id stops without printing anything; text that could
 * be the beginning of a stop string is held back until it is known not to be one; a stop
 * string that appears stops generation and is not printed. */
#include "lm/generate/token_stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/memory.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lm_token_stream_init(lm_token_stream *s, lm_model *m, const lm_tokenizer *tok, const lm_generate_params *p,
                         int64_t n_prompt, lm_response_fn fn, void *ctx) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->fn = fn;
    s->ctx = ctx;
    s->n_prompt = n_prompt;
    s->finish = "length";
    s->text = (strbuf)STRBUF_INIT;
    s->eos = lm_model_eos_ids(m, &s->n_eos);
    if (tok) {
        s->teos = lm_tokenizer_eos_ids(tok, &s->n_teos);
        s->detok = lm_detokenizer_new(tok, 1);
        if (!s->detok) return mx_set_error("[generate] out of memory creating the detokenizer");
    }
    s->t_start = now_s();
    mx_reset_peak_memory();
    return 0;
}

void lm_token_stream_prompt_done(lm_token_stream *s) {
    s->t_first = now_s();
    s->t_prompt = s->t_first - s->t_start;
}

/* Length of the longest suffix of text that is a proper prefix of a stop string. */
static size_t stop_holdback(const char *text, size_t len, const char *const *stops, int n) {
    size_t hold = 0;
    for (int i = 0; i < n; i++) {
        size_t sl = strlen(stops[i]);
        for (size_t k = sl > 0 ? sl - 1 : 0; k > hold; k--)
            if (k <= len && !memcmp(text + len - k, stops[i], k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

static int is_eos(const lm_token_stream *s, int32_t token) {
    for (int i = 0; i < s->n_eos; i++)
        if (token == s->eos[i]) return 1;
    for (size_t i = 0; i < s->n_teos; i++)
        if (token == s->teos[i]) return 1;
    for (int i = 0; i < s->p->n_extra_eos; i++)
        if (token == s->p->extra_eos[i]) return 1;
    return 0;
}

static lm_response response(const lm_token_stream *s, int32_t token) {
    double el = now_s() - s->t_first;
    lm_response r = {"", token, s->n_prompt, s->ntok, s->t_prompt > 0 ? s->n_prompt / s->t_prompt : 0,
                     el > 0 ? s->ntok / el : 0, mx_get_peak_memory() / 1e9, NULL, 0};
    return r;
}

int lm_token_stream_push(lm_token_stream *s, int32_t token, int from_draft) {
    const lm_generate_params *p = s->p;
    s->ntok++;
    if (is_eos(s, token)) {
        s->finish = "stop";
        return 1;
    }
    const char *seg = s->detok ? lm_detokenizer_add(s->detok, token) : "";
    if (seg && *seg) strbuf_puts(&s->text, seg);
    /* stop strings: emit only text that cannot begin one */
    size_t emit_to = s->text.len;
    int stopped = 0;
    for (int i = 0; i < p->n_stop_strings && s->text.data; i++) {
        char *hit = strstr(s->text.data + s->emitted, p->stop_strings[i]);
        if (hit && (size_t)(hit - s->text.data) < emit_to) {
            emit_to = (size_t)(hit - s->text.data);
            stopped = 1;
        }
    }
    if (!stopped && p->n_stop_strings)
        emit_to = s->text.len - stop_holdback(s->text.data, s->text.len, p->stop_strings, p->n_stop_strings);
    lm_response r = response(s, token);
    r.from_draft = from_draft;
    char *piece = NULL;
    if (emit_to > s->emitted) {
        piece = strndup(s->text.data + s->emitted, emit_to - s->emitted);
        r.text = piece ? piece : "";
        s->emitted = emit_to;
    }
    int stop_cb = s->fn ? s->fn(&r, s->ctx) : 0;
    free(piece);
    if (stopped) {
        s->finish = "stop";
        s->stop_string_hit = 1;
        return 1;
    }
    if (stop_cb || (p->interrupt && *p->interrupt)) {
        s->finish = "stop";
        return 1;
    }
    return p->max_tokens >= 0 && s->ntok >= p->max_tokens;
}

void lm_token_stream_finish(lm_token_stream *s, lm_generation_stats *stats) {
    /* flush what the detokenizer held back (and held-back stop prefixes) */
    if (s->detok && !s->stop_string_hit) {
        const char *tail = lm_detokenizer_finish(s->detok);
        if (tail && *tail) strbuf_puts(&s->text, tail);
    }
    lm_response r = response(s, -1);
    r.finish_reason = s->finish;
    char *piece = s->text.len > s->emitted && !s->stop_string_hit
                      ? strndup(s->text.data + s->emitted, s->text.len - s->emitted)
                      : NULL;
    r.text = piece ? piece : "";
    if (s->fn) s->fn(&r, s->ctx);
    free(piece);
    if (stats) {
        lm_generation_stats st = {r.prompt_tokens, r.generation_tokens, r.prompt_tps, r.generation_tps,
                                  r.peak_memory_gb, s->finish};
        *stats = st;
    }
}

void lm_token_stream_free(lm_token_stream *s) {
    strbuf_free(&s->text);
    lm_detokenizer_free(s->detok);
    s->detok = NULL;
}
