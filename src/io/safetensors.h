/* Internal helpers around safetensors for the rest of the library (the LM loader, the CLI):
 * dtype strings and per-tensor facts that don't need an array. The public API is
 * include/cmlx/io.h. */
#ifndef CMLX_IO_SAFETENSORS_H
#define CMLX_IO_SAFETENSORS_H

#include <stdint.h>

#include "cmlx/io.h"

/* What a safetensors dtype string ("BF16", "U32", ...) means to cmlx. */
enum {
    MX_ST_DTYPE_UNKNOWN = -1,      /* not a safetensors dtype at all */
    MX_ST_DTYPE_UNSUPPORTED = 0,   /* a real safetensors dtype cmlx has no type for (F8_E4M3, F4, C64...) */
    MX_ST_DTYPE_SUPPORTED = 1,     /* *out is set */
};
int mx_safetensors_dtype_from_string(const char *s, mx_dtype *out);
/* "BF16" for MX_BFLOAT16 ...; NULL for an invalid dtype. */
const char *mx_safetensors_dtype_to_string(mx_dtype t);
/* Bits per element of any known safetensors dtype (F4 is 4, F6_E2M3 is 6), 0 when unknown. */
int mx_safetensors_dtype_bits(const char *s);
/* "BOOL, U8, ..." — the dtypes cmlx reads, for error messages. */
const char *mx_safetensors_supported_list(void);

/* Facts about one tensor, without creating an array. Pointers stay valid while the handle
 * is open. */
typedef struct mx_safetensors_info {
    const char *name;
    const char *dtype_string;   /* as written in the header */
    int supported;              /* 1 when dtype is meaningful */
    mx_dtype dtype;
    int ndim;
    const int64_t *shape;
    const char *file;           /* the shard that holds it */
    uint64_t file_offset;       /* byte offset of its data in that file */
    uint64_t nbytes;
} mx_safetensors_info;

/* 0 and *out filled, or -1 with the error set when the tensor is absent. */
int mx_safetensors_info_of(const mx_safetensors *st, const char *name, mx_safetensors_info *out);
/* Number of files behind the handle (1, or the shard count), and their paths. */
int mx_safetensors_file_count(const mx_safetensors *st);
const char *mx_safetensors_file_path(const mx_safetensors *st, int i);

#endif
