/* Graph nodes and the release of arrays.
 *
 * Releasing is iterative: dropping the last reference to the head of a million-node chain
 * frees the chain from a thread-local work list instead of recursing, so deep graphs
 * cannot overflow the stack. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_impl.h"

static pthread_mutex_t graph_mutex = PTHREAD_MUTEX_INITIALIZER;
void mx_graph_lock(void) { pthread_mutex_lock(&graph_mutex); }
void mx_graph_unlock(void) { pthread_mutex_unlock(&graph_mutex); }

static const char *prim_names[] = {
#define MX_PRIM_NAME(id, name) name,
    MX_PRIMITIVES(MX_PRIM_NAME)
#undef MX_PRIM_NAME
};

const char *mx_prim_name(int id) { return id >= 0 && id < MX_PRIM_COUNT ? prim_names[id] : "?"; }

/* ---- iterative release ---- */

typedef struct {
    void **items;
    size_t n, cap;
    int draining;
} release_list;

static _Thread_local release_list pending;

/* The list of a thread that ends is freed by a thread-specific key's destructor (a
 * _Thread_local pointer alone would leak it with every short-lived thread). */
static pthread_key_t pending_key;
static int pending_key_ok; /* 0 when no key could be made: each ending thread leaks its list */
static pthread_once_t pending_key_once = PTHREAD_ONCE_INIT;
static void free_pending_items(void *items) { free(items); }
static void make_pending_key(void) { pending_key_ok = !pthread_key_create(&pending_key, free_pending_items); }

/* Tagged pointers: low bit 1 marks a node, 0 an array. Both are malloc'd (aligned). */
static void push_pending(void *p, int is_node) {
    if (pending.n == pending.cap) {
        size_t cap = pending.cap ? pending.cap * 2 : 256;
        void **items = realloc(pending.items, cap * sizeof *items);
        if (!items) return; /* leak rather than crash: nothing else is safe here */
        pending.items = items;
        pending.cap = cap;
        pthread_once(&pending_key_once, make_pending_key);
        if (pending_key_ok) pthread_setspecific(pending_key, items);
    }
    pending.items[pending.n++] = (void *)((uintptr_t)p | (uintptr_t)is_node);
}

static void destroy_array(mx_array *a) {
    if (a->node) {
        mx_node *n = a->node;
        mx_graph_lock();
        if (n->outputs[a->position] == a) n->outputs[a->position] = NULL;
        mx_graph_unlock();
        if (atomic_fetch_sub(&n->refs, 1) == 1) push_pending(n, 1);
    }
    if (a->buf) mx_buffer_release(a->buf);
    free(a->error);
    free(a);
}

static void destroy_node(mx_node *n) {
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] && atomic_fetch_sub(&n->inputs[i]->refs, 1) == 1) push_pending(n->inputs[i], 0);
    free(n);
}

static void drain(void) {
    if (pending.draining) return;
    pending.draining = 1;
    while (pending.n) {
        uintptr_t p = (uintptr_t)pending.items[--pending.n];
        if (p & 1) destroy_node((mx_node *)(p & ~(uintptr_t)1));
        else destroy_array((mx_array *)p);
    }
    pending.draining = 0;
    if (pending.cap > 4096) { /* don't keep a huge list per thread forever */
        free(pending.items);
        pending.items = NULL;
        pending.cap = 0;
        if (pending_key_ok) pthread_setspecific(pending_key, NULL);
    }
}

void mx_array_release(mx_array *a) {
    if (!a) return;
    if (atomic_fetch_sub(&a->refs, 1) != 1) return;
    push_pending(a, 0);
    drain();
}

void mx_node_retain(mx_node *n) { atomic_fetch_add(&n->refs, 1); }

void mx_node_release(mx_node *n) {
    if (!n) return;
    if (atomic_fetch_sub(&n->refs, 1) != 1) return;
    push_pending(n, 1);
    drain();
}

/* ---- creation ---- */

int mx_node_create(int prim, const void *params, size_t params_size, mx_array *const *inputs,
                   int n_inputs, const mx_out_desc *descs, int n_out, mx_array **outs) {
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i]) return -1; /* the op that produced it has set the error */
    /* One block: node, params, inputs, outputs, descriptors. */
    size_t psz = (params_size + 15) & ~(size_t)15;
    size_t total = sizeof(mx_node) + psz + sizeof(mx_array *) * (size_t)(n_inputs + n_out) +
                   sizeof(mx_out_desc) * (size_t)n_out;
    mx_node *n = calloc(1, total);
    if (!n) return mx_set_error("[%s] out of memory building the graph", mx_prim_name(prim));
    char *p = (char *)(n + 1);
    n->params = params_size ? p : NULL;
    if (params_size) memcpy(p, params, params_size);
    p += psz;
    n->inputs = (mx_array **)p;
    p += sizeof(mx_array *) * (size_t)n_inputs;
    n->outputs = (mx_array **)p;
    p += sizeof(mx_array *) * (size_t)n_out;
    n->out_desc = (mx_out_desc *)p;
    memcpy(n->out_desc, descs, sizeof(mx_out_desc) * (size_t)n_out);
    n->prim = prim;
    n->params_size = params_size;
    n->n_inputs = n_inputs;
    n->n_outputs = n_out;
    n->stream = mx_stream_for_new_ops();
    atomic_init(&n->refs, 0);
    for (int i = 0; i < n_out; i++) {
        mx_array *a = mx_array_alloc_shell(descs[i].shape, descs[i].ndim, descs[i].dtype);
        if (!a) {
            for (int j = 0; j < i; j++) {
                outs[j]->node = NULL;
                mx_array_release(outs[j]);
            }
            free(n);
            return -1;
        }
        atomic_store(&a->status, MX_STATUS_UNSCHEDULED);
        a->node = n;
        a->position = i;
        a->stream = n->stream;
        atomic_fetch_add(&n->refs, 1);
        n->outputs[i] = a;
        outs[i] = a;
    }
    for (int i = 0; i < n_inputs; i++) {
        n->inputs[i] = inputs[i];
        atomic_fetch_add(&inputs[i]->refs, 1);
    }
    for (int i = 0; i < n_out; i++) {
        if (!mx_pool_track(outs[i])) {
            /* the pool released it; the others stay valid and tracked */
            for (int j = i + 1; j < n_out; j++) mx_array_release(outs[j]);
            return -1;
        }
    }
    return 0;
}

mx_array *mx_node_create1(int prim, const void *params, size_t params_size,
                          mx_array *const *inputs, int n_inputs, mx_dtype dtype,
                          const int64_t *shape, int ndim) {
    mx_out_desc d;
    d.dtype = dtype;
    d.ndim = ndim;
    if (ndim < 0 || ndim > MX_MAX_NDIM) {
        mx_set_error("[%s] %d dimensions; at most %d are supported", mx_prim_name(prim), ndim, MX_MAX_NDIM);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) d.shape[i] = shape[i];
    mx_array *out;
    if (mx_node_create(prim, params, params_size, inputs, n_inputs, &d, 1, &out)) return NULL;
    return out;
}
