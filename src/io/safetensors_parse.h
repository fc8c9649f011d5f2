/* The safetensors header parser, over a buffer in memory (the mapped file, or a fuzzer's
 * input). It validates everything that decides which bytes an array will point at, so an
 * accepted header never leads to a read outside the buffer:
 *
 *   [8 bytes: little-endian u64 N][N bytes: JSON header][data section]
 *
 * Built from this file, safetensors_parse.c, safetensors_dtype.c and util/error.c alone,
 * with jansson (the fuzz target compiles exactly those). */
#ifndef CMLX_IO_SAFETENSORS_PARSE_H
#define CMLX_IO_SAFETENSORS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "cmlx/array.h"

/* The Hugging Face library refuses headers over 100 MB; so do we, before allocating. */
#define ST_MAX_HEADER_BYTES 100000000ULL

typedef struct st_tensor {
    char *name;
    char *dtype_string;         /* as in the header */
    int supported;              /* 1: dtype below is meaningful; 0: F8_E4M3 and friends */
    mx_dtype dtype;
    int ndim;
    int64_t shape[MX_MAX_NDIM];
    int64_t numel;
    uint64_t begin, end;        /* data_offsets, relative to the data section */
} st_tensor;

typedef struct st_header {
    st_tensor *tensors;         /* sorted by name (strcmp) */
    size_t n_tensors;
    char **meta_keys;           /* __metadata__, sorted by key */
    char **meta_values;
    size_t n_meta;
    uint64_t header_len;        /* N */
    uint64_t data_start;        /* 8 + N: file offset of the data section */
    uint64_t data_len;          /* bytes from data_start to the end of the buffer */
} st_header;

/* Parses and validates buf[0, len). `file` names the source in error messages. 0 on success
 * (free *out with st_header_free), -1 with the error set (nothing to free). */
int st_parse(const void *buf, size_t len, const char *file, st_header *out);
void st_header_free(st_header *h);

/* The tensor named `name` (binary search), or NULL. */
const st_tensor *st_header_find(const st_header *h, const char *name);

#endif
