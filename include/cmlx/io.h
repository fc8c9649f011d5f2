/* Reading and writing arrays in files: safetensors.
 *
 * Reading maps the file and creates arrays that point into the mapping (no copy, no
 * anonymous memory: a 16 GB bf16 file costs page cache only); the mapping lives as long as
 * any of its arrays. Malformed files give an error naming the file, the tensor and the
 * byte offset. */
#ifndef CMLX_IO_H
#define CMLX_IO_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_safetensors mx_safetensors;

/* One .safetensors file, or a directory / model.safetensors.index.json of a sharded
 * checkpoint (all shards are opened). NULL with the error set on failure. */
mx_safetensors *mx_safetensors_open(const char *path);
void mx_safetensors_close(mx_safetensors *st);     /* arrays already taken stay valid */
int mx_safetensors_count(const mx_safetensors *st);
/* Tensor names in sorted order. */
const char *mx_safetensors_name(const mx_safetensors *st, int i);
/* The tensor as an array (a new reference, no copy); NULL if absent (error set). */
mx_array *mx_safetensors_get(const mx_safetensors *st, const char *name);
int mx_safetensors_has(const mx_safetensors *st, const char *name);
/* The header's __metadata__ entry (string values), or NULL. */
const char *mx_safetensors_metadata(const mx_safetensors *st, const char *key);
int mx_safetensors_metadata_count(const mx_safetensors *st);
const char *mx_safetensors_metadata_key(const mx_safetensors *st, int i);

/* Writes arrays (evaluated here) to path with keys sorted, plus string metadata. The file is
 * written to a temporary name and renamed, so an existing file is never left half-written. */
int mx_safetensors_save(const char *path, const char *const *names, mx_array *const *arrays, int n,
                        const char *const *meta_keys, const char *const *meta_values, int n_meta);

#ifdef __cplusplus
}
#endif
#endif
