/* An open-addressing hash map from byte strings to int64 values.
 * Keys are copied into the map's own storage; lookups take (pointer, length), so keys
 * may hold NULs and need not be NUL-terminated. Insertion order is not kept. */
#ifndef CMLX_UTIL_HASHMAP_H
#define CMLX_UTIL_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hashmap hashmap;

hashmap *hashmap_new(size_t expected);          /* NULL (error set) on OOM */
void hashmap_free(hashmap *m);
/* Inserts or overwrites. 0 on success, -1 (error set) on OOM. */
int hashmap_put(hashmap *m, const void *key, size_t len, int64_t value);
/* 1 and *value when found, 0 when absent. */
int hashmap_get(const hashmap *m, const void *key, size_t len, int64_t *value);
size_t hashmap_count(const hashmap *m);
/* Iteration: *pos starts at 0; returns 0 at the end. Order is unspecified. */
int hashmap_next(const hashmap *m, size_t *pos, const char **key, size_t *len, int64_t *value);
uint64_t hashmap_hash_bytes(const void *key, size_t len);

#endif
