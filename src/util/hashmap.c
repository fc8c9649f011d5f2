/* Linear-probing hash map. Keys live in one growing arena so that a 150k-entry vocab
 * costs two allocations, not 150k. */
#include "util/hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"

typedef struct {
    uint64_t hash;      /* 0 marks an empty slot */
    size_t key_off;
    size_t key_len;
    int64_t value;
} slot;

struct hashmap {
    slot *slots;
    size_t cap;         /* power of two */
    size_t count;
    char *keys;
    size_t keys_len, keys_cap;
};

uint64_t hashmap_hash_bytes(const void *key, size_t len) {
    /* FNV-1a, then a final mix so that the low bits used for the index are spread. */
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

hashmap *hashmap_new(size_t expected) {
    hashmap *m = calloc(1, sizeof *m);
    if (!m) {
        mx_set_error("out of memory creating a hash map");
        return NULL;
    }
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    m->slots = calloc(cap, sizeof(slot));
    if (!m->slots) {
        free(m);
        mx_set_error("out of memory creating a hash map of %zu slots", cap);
        return NULL;
    }
    m->cap = cap;
    return m;
}

void hashmap_free(hashmap *m) {
    if (!m) return;
    free(m->slots);
    free(m->keys);
    free(m);
}

static int grow(hashmap *m) {
    size_t ncap = m->cap * 2;
    slot *ns = calloc(ncap, sizeof(slot));
    if (!ns) return mx_set_error("out of memory growing a hash map to %zu slots", ncap);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].hash) continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].hash) j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static slot *find(const hashmap *m, const void *key, size_t len, uint64_t h) {
    size_t j = h & (m->cap - 1);
    for (;;) {
        slot *s = &m->slots[j];
        if (!s->hash) return s;
        if (s->hash == h && s->key_len == len && memcmp(m->keys + s->key_off, key, len) == 0) return s;
        j = (j + 1) & (m->cap - 1);
    }
}

int hashmap_put(hashmap *m, const void *key, size_t len, int64_t value) {
    if ((m->count + 1) * 2 > m->cap && grow(m)) return -1;
    uint64_t h = hashmap_hash_bytes(key, len);
    slot *s = find(m, key, len, h);
    if (s->hash) {
        s->value = value;
        return 0;
    }
    if (m->keys_len + len + 1 > m->keys_cap) {
        size_t ncap = m->keys_cap ? m->keys_cap : 4096;
        while (ncap < m->keys_len + len + 1) ncap *= 2;
        char *nk = realloc(m->keys, ncap);
        if (!nk) return mx_set_error("out of memory growing hash map keys to %zu bytes", ncap);
        m->keys = nk;
        m->keys_cap = ncap;
    }
    memcpy(m->keys + m->keys_len, key, len);
    m->keys[m->keys_len + len] = '\0';
    s->hash = h;
    s->key_off = m->keys_len;
    s->key_len = len;
    s->value = value;
    m->keys_len += len + 1;
    m->count++;
    return 0;
}

int hashmap_get(const hashmap *m, const void *key, size_t len, int64_t *value) {
    const slot *s = find(m, key, len, hashmap_hash_bytes(key, len));
    if (!s->hash) return 0;
    if (value) *value = s->value;
    return 1;
}

size_t hashmap_count(const hashmap *m) { return m->count; }

int hashmap_next(const hashmap *m, size_t *pos, const char **key, size_t *len, int64_t *value) {
    while (*pos < m->cap) {
        const slot *s = &m->slots[(*pos)++];
        if (!s->hash) continue;
        if (key) *key = m->keys + s->key_off;
        if (len) *len = s->key_len;
        if (value) *value = s->value;
        return 1;
    }
    return 0;
}
