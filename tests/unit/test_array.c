/* The object model: laziness, views, eval/async_eval, detach, donation, deep graphs,
 * pools, errors, memory counters and limits, streams. */
#include <math.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/cmlx.h"
#include "core/array_impl.h"
#include "test.h"

static mx_array *from_f32(const float *v, const int64_t *shape, int ndim) {
    return mx_array_from_data(v, shape, ndim, MX_FLOAT32);
}

static void test_lazy_and_eval(void) {
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {10, 20, 30};
    mx_array *a = from_f32(av, (int64_t[]){2, 3}, 2), *b = from_f32(bv, (int64_t[]){3}, 1);
    CHECK(mx_is_available(a));
    mx_array *c = mx_add(a, b);
    CHECK(c && !mx_is_available(c));
    CHECK(mx_ndim(c) == 2 && mx_dim(c, 0) == 2 && mx_dim(c, 1) == 3 && mx_array_dtype(c) == MX_FLOAT32);
    CHECK(mx_eval1(c) == 0 && mx_is_available(c));
    const float *d = mx_data(c);
    CHECK(d && d[0] == 11 && d[5] == 36);
    CHECK(c->node == NULL); /* detached after eval */
    mx_free(a);
    mx_free(b);
    mx_free(c);
}

static void test_views_share_buffers(void) {
    mx_pool *pool = mx_pool_begin();
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 1.5f + 0.25f;
    mx_array *a = from_f32(v, (int64_t[]){2, 3, 4}, 3);
    mx_array *t = mx_transpose(a, (int[]){2, 0, 1}, 3);
    mx_array *s = mx_slice(a, (int64_t[]){1, 0, 1}, (int64_t[]){2, 3, 4}, (int64_t[]){1, 2, 2}, 3);
    mx_array *r = mx_reshape(a, (int64_t[]){6, 4}, 2);
    mx_array *bc = mx_broadcast_to(mx_slice_axis(a, 0, 0, 1), (int64_t[]){5, 3, 4}, 3);
    mx_array *all[] = {t, s, r, bc};
    CHECK(mx_eval(all, 4) == 0);
    CHECK(t->buf == a->buf && s->buf == a->buf && r->buf == a->buf && bc->buf == a->buf);
    float out[60];
    CHECK(mx_read(t, MX_FLOAT32, out) == 0);
    int ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) ok &= out[i * 6 + j * 3 + k] == v[j * 12 + k * 4 + i];
    CHECK(ok);
    CHECK(mx_read(s, MX_FLOAT32, out) == 0 && mx_size(s) == 4);
    CHECK(out[0] == v[12 + 1] && out[1] == v[12 + 3] && out[2] == v[12 + 8 + 1] && out[3] == v[12 + 8 + 3]);
    CHECK(mx_data(t) == NULL); /* strided: no row-major pointer */
    mx_array *tc = mx_contiguous(t);
    const float *tcd = mx_data(tc);
    CHECK(tcd && memcmp(tcd, out, 0) == 0 && tc->buf != a->buf);
    CHECK(mx_read(bc, MX_FLOAT32, out) == 0 && out[59] == v[11] && out[12] == v[0]);
    /* reshape of a transposed view needs a copy; of a slice of rows it does not */
    mx_array *rt = mx_reshape(t, (int64_t[]){24}, 1);
    mx_array *rows = mx_reshape(mx_slice_axis(r, 0, 2, 4), (int64_t[]){8}, 1);
    mx_array *two[] = {rt, rows};
    CHECK(mx_eval(two, 2) == 0);
    CHECK(rt->buf != a->buf && rows->buf == a->buf);
    CHECK(mx_item_double(mx_slice_axis(rows, 0, 7, 8)) == v[15]);
    mx_pool_end(pool);
}

/* Freeing the head of a long unevaluated chain must not recurse. Evaluating it must not
 * either, and intermediates must be released as soon as they are consumed. */
static void test_deep_graph(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *x = mx_scalar(0, MX_FLOAT32);
    mx_pool_end(p);
    (void)x;
    float one = 1;
    mx_array *a = from_f32(&one, NULL, 0);
    mx_array *cur = mx_retain(a);
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        mx_array *next = mx_add_scalar(cur, 1.0);
        mx_free(cur);
        cur = next;
    }
    CHECK(mx_eval1(cur) == 0);
    CHECK(mx_item_double(cur) == 1 + n);
    mx_free(cur);
    /* an unevaluated chain freed without eval */
    cur = mx_retain(a);
    for (int i = 0; i < n; i++) {
        mx_array *next = mx_multiply_scalar(cur, 1.0);
        mx_free(cur);
        cur = next;
    }
    mx_free(cur);
    mx_free(a);
    CHECK(1);
}

/* The worker drops its last references just after publishing a result: wait for it before
 * reading memory counters. */
static void settle(void) { mx_synchronize(mx_default_stream(mx_default_device())); }

static void test_pool_and_errors(void) {
    settle();
    size_t before = mx_get_active_memory();
    mx_pool *p = mx_pool_begin();
    mx_array *a = mx_ones((int64_t[]){4, 5}, 2, MX_FLOAT32);
    mx_array *b = mx_ones((int64_t[]){3}, 1, MX_FLOAT32);
    mx_clear_error();
    mx_array *bad = mx_add(a, b);
    CHECK(bad == NULL);
    CHECK(strstr(mx_last_error(), "[add]") && strstr(mx_last_error(), "(4, 5)") && strstr(mx_last_error(), "(3,)"));
    /* NULL propagates without replacing the first message */
    CHECK(mx_exp(mx_multiply(bad, a)) == NULL);
    CHECK(strstr(mx_last_error(), "[add]") != NULL);
    CHECK(mx_eval1(NULL) == -1);
    mx_array *kept = mx_keep(mx_multiply_scalar(a, 2.0));
    mx_pool_end(p);
    float kv[20];
    CHECK(mx_read(kept, MX_FLOAT32, kv) == 0 && kv[0] == 2 && kv[19] == 2);
    mx_free(kept);
    p = mx_pool_begin();
    CHECK(mx_reshape(mx_ones((int64_t[]){6}, 1, MX_INT32), (int64_t[]){4, -1}, 2) == NULL);
    CHECK(strstr(mx_last_error(), "[reshape]") != NULL);
    mx_pool_end(p);
    mx_synchronize(mx_default_stream(mx_default_device()));
    mx_clear_cache();
    CHECK(mx_get_active_memory() == before);
}

static void test_donation_and_detach(void) {
    settle();
    mx_clear_cache();
    size_t base = mx_get_active_memory();
    int64_t shape[1] = {1 << 20};
    mx_array *a = mx_full(shape, 1, 2.0, MX_FLOAT32);
    CHECK(mx_eval1(a) == 0);
    settle();
    size_t one = mx_get_active_memory() - base;
    CHECK(one >= (size_t)4 << 20);
    mx_reset_peak_memory();
    /* a chain of elementwise ops built in a pool that has ended before eval: every
     * intermediate has one owner (the next node), so they all reuse one buffer */
    mx_pool *p = mx_pool_begin();
    mx_array *y = mx_keep(mx_sqrt(mx_add_scalar(mx_exp(mx_negative(a)), 1.0)));
    mx_pool_end(p);
    mx_free(a);
    CHECK(mx_eval1(y) == 0);
    CHECK_MSG(mx_get_peak_memory() - base <= one + 4096, "peak %zu over one buffer %zu", mx_get_peak_memory() - base, one);
    p = mx_pool_begin();
    CHECK(fabs(mx_item_double(mx_slice_axis(y, 0, 5, 6)) - sqrt(1 + exp(-2.0))) < 1e-6);
    mx_pool_end(p);
    mx_free(y);
    /* the worker drops its last references just after publishing a result */
    CHECK(mx_synchronize(mx_default_stream(mx_default_device())) == 0);
    CHECK(mx_get_active_memory() == base);
    CHECK(mx_get_cache_memory() > 0);
    mx_clear_cache();
    CHECK(mx_get_cache_memory() == 0);
}

static void test_memory_limit(void) {
    settle();
    size_t old = mx_set_memory_limit(mx_get_active_memory() + (1 << 20));
    mx_array *big = mx_zeros((int64_t[]){1 << 22}, 1, MX_FLOAT32); /* 16 MB */
    CHECK(big != NULL);
    mx_clear_error();
    CHECK(mx_eval1(big) == -1);
    CHECK(strstr(mx_last_error(), "memory limit") != NULL);
    mx_free(big);
    mx_set_memory_limit(old);
    mx_array *ok = mx_zeros((int64_t[]){1 << 22}, 1, MX_FLOAT32);
    CHECK(mx_eval1(ok) == 0);
    mx_free(ok);
    size_t prev = mx_set_cache_limit(0);
    CHECK(mx_get_cache_memory() == 0);
    mx_set_cache_limit(prev);
}

/* async_eval returns before the work is done: the kernel waits for a signal that the
 * caller sends only after async_eval has returned. */
typedef struct {
    sem_t go;
    int saw_signal;
} gate;

static int gated_kernel(void *ctx, mx_array *const *in, int n_in, void *out, const int64_t *shape, int ndim,
                        mx_dtype dtype) {
    (void)shape;
    (void)ndim;
    (void)dtype;
    (void)n_in;
    gate *g = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    g->saw_signal = sem_timedwait(&g->go, &ts) == 0;
    return mx_read(in[0], MX_FLOAT32, out);
}

static void test_async_eval(void) {
    gate g;
    sem_init(&g.go, 0, 0);
    g.saw_signal = 0;
    mx_array *a = mx_arange(0, 8, 1, MX_FLOAT32);
    mx_array *in[1] = {a};
    mx_array *c = mx_custom(gated_kernel, &g, (const mx_array *const *)in, 1, (int64_t[]){8}, 1, MX_FLOAT32);
    mx_array *d = mx_multiply_scalar(c, 3.0);
    CHECK(mx_async_eval(&d, 1) == 0);
    CHECK(!mx_is_available(d)); /* the worker is blocked until we signal */
    mx_array *e = mx_add_scalar(d, 1.0); /* graph building goes on meanwhile */
    sem_post(&g.go);
    CHECK(mx_eval1(e) == 0);
    CHECK(g.saw_signal);
    mx_pool *p = mx_pool_begin();
    CHECK(mx_item_double(mx_slice_axis(e, 0, 7, 8)) == 22);
    mx_pool_end(p);
    mx_free(a);
    mx_free(c);
    mx_free(d);
    mx_free(e);
    sem_destroy(&g.go);
}

static void test_streams(void) {
    mx_stream s1 = mx_default_stream(mx_default_device());
    mx_stream s2 = mx_new_stream((mx_device){MX_CPU, 0});
    CHECK(s2.index >= 0 && s2.index != s1.index);
    mx_array *a = mx_arange(0, 1000, 1, MX_FLOAT32);
    CHECK(mx_stream_push(s2) == 0);
    mx_array *scaled = mx_multiply_scalar(a, 0.001);
    mx_array *b = mx_exp(scaled);
    mx_free(scaled);
    CHECK(mx_current_stream().index == s2.index);
    mx_stream_pop();
    mx_array *c = mx_add(b, a); /* on s1, waits for s2's result */
    CHECK(c->node->stream.index == s1.index && b->node->stream.index == s2.index);
    CHECK(mx_eval1(c) == 0);
    mx_pool *p = mx_pool_begin();
    CHECK(fabs(mx_item_double(mx_slice_axis(c, 0, 999, 1000)) - (999 + exp(0.999))) < 1e-3);
    mx_pool_end(p);
    CHECK(mx_synchronize(s2) == 0);
    mx_free(a);
    mx_free(b);
    mx_free(c);
    mx_clear_error();
    CHECK(!mx_device_available((mx_device){MX_GPU, 0}));
    CHECK(strstr(mx_last_error(), "without CUDA") != NULL);
}

static void test_kernel_failure_propagates(void) {
    size_t old = mx_set_memory_limit(mx_get_active_memory() + (1 << 16));
    mx_array *a = mx_ones((int64_t[]){1 << 20}, 1, MX_FLOAT32);
    mx_set_memory_limit(old);
    mx_set_memory_limit(mx_get_active_memory() + (1 << 16));
    mx_array *b = mx_exp(a);
    CHECK(mx_eval1(b) == -1);
    CHECK(strstr(mx_last_error(), "memory limit") != NULL);
    mx_set_memory_limit(old);
    mx_free(a);
    mx_free(b);
}

int main(void) {
    test_lazy_and_eval();
    test_views_share_buffers();
    test_pool_and_errors();
    test_donation_and_detach();
    test_memory_limit();
    test_async_eval();
    test_streams();
    test_kernel_failure_propagates();
    test_deep_graph();
    return test_finish();
}
