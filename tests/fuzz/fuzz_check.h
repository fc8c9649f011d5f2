/* What must hold for any header st_parse accepted; shared by the libFuzzer target and the
 * corpus replay test so both hold the parser to the same promises. Reads every byte an
 * accepted tensor would point at, so AddressSanitizer sees any out-of-bounds range. */
#ifndef CMLX_FUZZ_CHECK_H
#define CMLX_FUZZ_CHECK_H

#include <string.h>

#include "io/safetensors.h"
#include "io/safetensors_parse.h"

/* NULL when every invariant holds, else which one failed. *acc collects the bytes read. */
static inline const char *st_check_invariants(const st_header *h, const unsigned char *buf, size_t len,
                                              unsigned *acc) {
    if (h->data_start != 8 + h->header_len) return "data_start != 8 + header_len";
    if (h->data_start > len || h->data_len != len - h->data_start) return "data section outside the buffer";
    for (size_t i = 0; i < h->n_tensors; i++) {
        const st_tensor *t = &h->tensors[i];
        if (i > 0 && strcmp(h->tensors[i - 1].name, t->name) >= 0) return "names not sorted and unique";
        if (t->begin > t->end || t->end > h->data_len) return "tensor range outside the data section";
        if (t->ndim < 0 || t->ndim > MX_MAX_NDIM) return "bad ndim";
        int64_t numel = 1;
        int has_zero = 0, overflow = 0;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) return "negative dimension";
            has_zero |= t->shape[d] == 0;
            overflow |= __builtin_mul_overflow(numel, t->shape[d], &numel);
        }
        if (has_zero) numel = 0;
        else if (overflow) return "accepted a shape whose element count overflows";
        if (numel != t->numel) return "numel is not the product of the shape";
        int bits = mx_safetensors_dtype_bits(t->dtype_string);
        if (bits <= 0) return "accepted an unknown dtype";
        if ((uint64_t)numel * (uint64_t)bits != 8 * (t->end - t->begin)) return "size does not match shape";
        if (t->supported) {
            mx_dtype dt;
            if (mx_safetensors_dtype_from_string(t->dtype_string, &dt) != MX_ST_DTYPE_SUPPORTED || dt != t->dtype)
                return "dtype does not match its string";
        }
        for (size_t j = 0; j < i; j++) {
            const st_tensor *u = &h->tensors[j];
            if (t->begin < t->end && u->begin < u->end && t->begin < u->end && u->begin < t->end)
                return "overlapping tensors accepted";
        }
        for (uint64_t b = t->begin; b < t->end; b++) *acc += buf[h->data_start + b];
    }
    for (size_t i = 1; i < h->n_meta; i++)
        if (strcmp(h->meta_keys[i - 1], h->meta_keys[i]) >= 0) return "metadata keys not sorted and unique";
    return NULL;
}

#endif
