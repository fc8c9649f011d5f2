/* Tokenizers (placeholder: the tokenizer work fills this header). */
#ifndef CMLX_LM_TOKENIZER_H
#define CMLX_LM_TOKENIZER_H
#endif
