/* The CPU caching allocator and MLX's memory counters.
 *
 * Freed buffers go to a cache bucketed by power-of-two size class and are handed out again
 * for requests of the same class, up to the cache limit. Allocations are 64-byte aligned
 * (SIMD loads) and checked against the memory limit before the system is asked. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmlx/memory.h"
#include "core/array_impl.h"

#define N_CLASSES 64

typedef struct cached {
    struct cached *next;
    void *data;
    size_t cap;
} cached;

static pthread_mutex_t alloc_mutex = PTHREAD_MUTEX_INITIALIZER;
static cached *free_lists[N_CLASSES];
static size_t active_bytes, peak_bytes, cache_bytes;
static size_t cache_limit = (size_t)-1, memory_limit;
static int limits_ready;

static void init_limits(void) {
    if (limits_ready) return;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    memory_limit = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize : (size_t)-1;
    limits_ready = 1;
}

static int size_class(size_t cap) {
    int c = 0;
    while (((size_t)1 << c) < cap) c++;
    return c;
}

static size_t round_capacity(size_t size) {
    if (size == 0) size = 1;
    /* Small: multiples of 64. Large: the next 1/8 step of the power of two, so a cached
     * block wastes at most 12.5%. */
    if (size <= 4096) return (size + 63) & ~(size_t)63;
    size_t p = 4096;
    while (p * 2 < size) p *= 2;
    size_t step = p / 8;
    return (size + step - 1) / step * step;
}

static void trim_cache_locked(size_t target) {
    for (int c = N_CLASSES - 1; c >= 0 && cache_bytes > target; c--) {
        while (free_lists[c] && cache_bytes > target) {
            cached *e = free_lists[c];
            free_lists[c] = e->next;
            cache_bytes -= e->cap;
            free(e->data);
            free(e);
        }
    }
}

static void *take_cached_locked(size_t cap) {
    int c = size_class(cap);
    cached **pp = &free_lists[c];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->cap == cap) {
            cached *e = *pp;
            *pp = e->next;
            void *d = e->data;
            cache_bytes -= cap;
            free(e);
            return d;
        }
    }
    return NULL;
}

mx_buffer *mx_buffer_alloc(size_t size) {
    size_t cap = round_capacity(size);
    mx_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        mx_set_error("[alloc] out of memory allocating a buffer header");
        return NULL;
    }
    pthread_mutex_lock(&alloc_mutex);
    init_limits();
    void *d = take_cached_locked(cap);
    if (!d) {
        if (active_bytes + cap > memory_limit) trim_cache_locked(0);
        if (active_bytes + cap > memory_limit) {
            size_t act = active_bytes, lim = memory_limit;
            pthread_mutex_unlock(&alloc_mutex);
            free(b);
            mx_set_error("[alloc] memory limit exceeded: need %zu more bytes with %zu active, limit %zu "
                         "(mx_set_memory_limit)", cap, act, lim);
            return NULL;
        }
        if (cache_bytes + cap > cache_limit) trim_cache_locked(cache_limit > cap ? cache_limit - cap : 0);
        d = aligned_alloc(64, cap);
        if (!d) {
            trim_cache_locked(0);
            d = aligned_alloc(64, cap);
        }
        if (!d) {
            pthread_mutex_unlock(&alloc_mutex);
            free(b);
            mx_set_error("[alloc] out of memory allocating %zu bytes", cap);
            return NULL;
        }
    }
    active_bytes += cap;
    if (active_bytes > peak_bytes) peak_bytes = active_bytes;
    pthread_mutex_unlock(&alloc_mutex);
    atomic_init(&b->refs, 1);
    b->data = d;
    b->size = cap;
    return b;
}

mx_buffer *mx_buffer_external(void *data, size_t size, void (*release)(void *), void *ctx) {
    mx_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        mx_set_error("[alloc] out of memory allocating a buffer header");
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->size = size;
    b->release = release;
    b->release_ctx = ctx;
    b->external = 1;
    return b;
}

void mx_buffer_retain(mx_buffer *b) { atomic_fetch_add(&b->refs, 1); }

void mx_buffer_release(mx_buffer *b) {
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) return;
    if (b->external) {
        if (b->release) b->release(b->release_ctx);
        free(b);
        return;
    }
    pthread_mutex_lock(&alloc_mutex);
    active_bytes -= b->size;
    cached *e = cache_bytes + b->size <= cache_limit ? malloc(sizeof *e) : NULL;
    if (e) {
        int c = size_class(b->size);
        e->data = b->data;
        e->cap = b->size;
        e->next = free_lists[c];
        free_lists[c] = e;
        cache_bytes += b->size;
    } else {
        free(b->data);
    }
    pthread_mutex_unlock(&alloc_mutex);
    free(b);
}

size_t mx_get_active_memory(void) {
    pthread_mutex_lock(&alloc_mutex);
    size_t v = active_bytes;
    pthread_mutex_unlock(&alloc_mutex);
    return v;
}

size_t mx_get_peak_memory(void) {
    pthread_mutex_lock(&alloc_mutex);
    size_t v = peak_bytes;
    pthread_mutex_unlock(&alloc_mutex);
    return v;
}

size_t mx_get_cache_memory(void) {
    pthread_mutex_lock(&alloc_mutex);
    size_t v = cache_bytes;
    pthread_mutex_unlock(&alloc_mutex);
    return v;
}

void mx_reset_peak_memory(void) {
    pthread_mutex_lock(&alloc_mutex);
    peak_bytes = active_bytes;
    pthread_mutex_unlock(&alloc_mutex);
}

size_t mx_set_cache_limit(size_t limit) {
    pthread_mutex_lock(&alloc_mutex);
    size_t old = cache_limit;
    cache_limit = limit;
    trim_cache_locked(limit);
    pthread_mutex_unlock(&alloc_mutex);
    return old;
}

size_t mx_set_memory_limit(size_t limit) {
    pthread_mutex_lock(&alloc_mutex);
    init_limits();
    size_t old = memory_limit;
    memory_limit = limit;
    pthread_mutex_unlock(&alloc_mutex);
    return old;
}

size_t mx_get_memory_limit(void) {
    pthread_mutex_lock(&alloc_mutex);
    init_limits();
    size_t v = memory_limit;
    pthread_mutex_unlock(&alloc_mutex);
    return v;
}

void mx_clear_cache(void) {
    pthread_mutex_lock(&alloc_mutex);
    trim_cache_locked(0);
    pthread_mutex_unlock(&alloc_mutex);
}
