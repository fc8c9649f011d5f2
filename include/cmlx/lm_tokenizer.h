/* Hugging Face tokenizers (lm_tokenizer_*) and the streaming detokenizer
 * (lm_detokenizer_*).
 *
 * A tokenizer is loaded from a model directory holding tokenizer.json (the format of
 * the Rust `tokenizers` library) plus the optional tokenizer_config.json and
 * generation_config.json, and computes exactly what `tokenizers` 0.23 and the
 * transformers tokenizer classes compute: the same ids on encode (including the BOS
 * that Llama-style classes add from add_bos_token), the same text on decode
 * (including clean_up_tokenization_spaces).
 *
 * Supported: models BPE (byte-level and SentencePiece-style with byte_fallback),
 * WordPiece, Unigram, WordLevel; normalizers NFC/NFD/NFKC/NFKD, Lowercase, Strip,
 * StripAccents, Replace, Prepend, BertNormalizer, Sequence; pre-tokenizers ByteLevel,
 * Split, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit,
 * BertPreTokenizer, CharDelimiterSplit, Sequence; post-processors
 * TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence;
 * decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece,
 * BPEDecoder, Sequence.
 *
 * Errors: functions return NULL / -1 and record a message readable with
 * mx_last_error() (cmlx/error.h). A loaded tokenizer is read-only apart from an
 * internal, mutex-protected word cache, so one tokenizer may be used from several
 * threads at once; a detokenizer belongs to one thread.
 */
#ifndef CMLX_LM_TOKENIZER_H
#define CMLX_LM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lm_tokenizer lm_tokenizer;
typedef struct lm_detokenizer lm_detokenizer;

/* Loads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json,
 * DIR/generation_config.json and DIR/chat_template.jinja. Returns NULL on failure with
 * a message naming the file and the problem (JSON line/column, missing key, unknown
 * component type). */
lm_tokenizer *lm_tokenizer_load(const char *dir);

/* Loads a tokenizer.json file directly (no config files). */
lm_tokenizer *lm_tokenizer_load_file(const char *tokenizer_json_path);

/* Frees a tokenizer (NULL is allowed). */
void lm_tokenizer_free(lm_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. add_special_tokens != 0 applies the
 * post-processor (BOS/EOS, templates) as transformers' encode() does by default.
 * On success returns 0, stores a malloc'd array in *ids (free() it; never NULL, even
 * for zero tokens) and its length in *n_ids. Invalid UTF-8 is an error (-1). */
int lm_tokenizer_encode(const lm_tokenizer *tok, const char *text, size_t len, int add_special_tokens,
                        int32_t **ids, size_t *n_ids);

/* Decodes n ids to a malloc'd NUL-terminated UTF-8 string (free() it), or NULL on
 * error. skip_special_tokens != 0 drops special tokens. Ids that name no token are
 * skipped as the Rust library does; negative ids are an error. */
char *lm_tokenizer_decode(const lm_tokenizer *tok, const int32_t *ids, size_t n, int skip_special_tokens);

/* Same, also storing the length in *len: decoded text holds a NUL byte when the ids
 * spell one (byte-level token "Ā" is byte 0x00), which strlen() would cut. */
char *lm_tokenizer_decode_len(const lm_tokenizer *tok, const int32_t *ids, size_t n, int skip_special_tokens,
                              size_t *len);

/* The token string of an id (as stored in the vocabulary, e.g. "Ġthe"), or NULL when
 * the id names no token. The string belongs to the tokenizer. */
const char *lm_tokenizer_id_to_token(const lm_tokenizer *tok, int32_t id);

/* The id of an exact token string (added tokens first, then the model vocabulary), or
 * -1 when there is none. */
int32_t lm_tokenizer_token_to_id(const lm_tokenizer *tok, const char *token);

/* 1 + the largest id of the model vocabulary and the added tokens. */
size_t lm_tokenizer_vocab_size(const lm_tokenizer *tok);

/* Ids of the configured BOS / EOS / PAD / UNK tokens, or -1 when not configured.
 * BOS and EOS come from tokenizer_config.json (bos_token / eos_token), falling back
 * to generation_config.json's bos_token_id / first eos_token_id. */
int32_t lm_tokenizer_bos_id(const lm_tokenizer *tok);
int32_t lm_tokenizer_eos_id(const lm_tokenizer *tok);
int32_t lm_tokenizer_pad_id(const lm_tokenizer *tok);
int32_t lm_tokenizer_unk_id(const lm_tokenizer *tok);

/* Every id that ends generation: the EOS token plus generation_config.json's
 * eos_token_id (a number or a list), without duplicates. *n receives the count. */
const int32_t *lm_tokenizer_eos_ids(const lm_tokenizer *tok, size_t *n);

/* The special-token strings as tokenizer_config.json gives them (plain strings or
 * AddedToken objects), or NULL when absent/null. Names: "bos_token", "eos_token",
 * "pad_token", "unk_token", "sep_token", "cls_token", "mask_token". The strings belong
 * to the tokenizer. */
const char *lm_tokenizer_special_token(const lm_tokenizer *tok, const char *name);

/* The chat template: tokenizer_config.json's chat_template (a string, or the entry
 * named "default" of a list), else DIR/chat_template.jinja; NULL when none. */
const char *lm_tokenizer_chat_template(const lm_tokenizer *tok);

/* 1 when the id is a special token (decode with skip_special_tokens drops it). */
int lm_tokenizer_is_special(const lm_tokenizer *tok, int32_t id);

/* ---- streaming detokenizer ------------------------------------------------
 * Feed ids one at a time as they are generated; each call returns the text that
 * became final, never a broken UTF-8 sequence (bytes of an incomplete character are
 * held back until it completes). The concatenation of everything returned, finish()
 * included, equals lm_tokenizer_decode() of all the ids. */

/* A new detokenizer over tok (which must outlive it). NULL on OOM. */
lm_detokenizer *lm_detokenizer_new(const lm_tokenizer *tok, int skip_special_tokens);

/* Adds one id. Returns the newly final text (possibly ""), valid until the next call
 * on this detokenizer, or NULL on error. */
const char *lm_detokenizer_add(lm_detokenizer *d, int32_t id);

/* Same, with the segment's length in *len (the text may hold NUL bytes). */
const char *lm_detokenizer_add_len(lm_detokenizer *d, int32_t id, size_t *len);

/* Ends the stream: returns what is still held back (incomplete characters become
 * U+FFFD as decode() shows them), valid until the next call; NULL on error. The
 * detokenizer can then be reused for a new stream. */
const char *lm_detokenizer_finish(lm_detokenizer *d);

/* Same, with the length in *len. */
const char *lm_detokenizer_finish_len(lm_detokenizer *d, size_t *len);

/* Frees a detokenizer (NULL is allowed). */
void lm_detokenizer_free(lm_detokenizer *d);

#ifdef __cplusplus
}
#endif
#endif
