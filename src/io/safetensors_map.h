/* A read-only, private, reference-counted mapping of a whole file. Arrays read from a
 * safetensors file point into it and each hold a reference, so the file stays mapped
 * exactly as long as someone can still see its bytes. */
#ifndef CMLX_IO_SAFETENSORS_MAP_H
#define CMLX_IO_SAFETENSORS_MAP_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct st_mapping {
    atomic_int refs;
    void *addr;
    size_t len;
} st_mapping;

/* Maps `path` (PROT_READ, MAP_PRIVATE) with one reference; NULL with the error set. Files
 * shorter than 8 bytes are refused here (mmap cannot map an empty file). */
st_mapping *st_mapping_open(const char *path);
void st_mapping_retain(st_mapping *m);
void st_mapping_release(st_mapping *m);
/* The same, as an mx_array_from_external release callback. */
void st_mapping_release_cb(void *m);

#endif
