/* mx_compile: compiled functions give the same bits as the uncompiled ones (fused chains in
 * float32, float16 and bfloat16, broadcasting, odd lengths on both sides of the kernel's
 * block, constants), merge common subexpressions, keep one trace per input shape and dtype,
 * leave alone what must not be fused, and report what the traced function did wrong. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "cmlx/transforms.h"
#include "test.h"

static mx_array *rnd(const int64_t *shape, int ndim, mx_dtype t, uint64_t seed) {
    return mx_random_normal(shape, ndim, t, 0.3, 2.0, mx_random_key(seed));
}

/* Evaluates both and compares their bytes; records a check. */
static int same_bits(mx_array *a, mx_array *b, const char *what) {
    if (!a || !b || mx_eval1(a) || mx_eval1(b)) return CHECK_MSG(0, "%s: %s", what, mx_last_error());
    mx_array *ca = mx_contiguous(a), *cb = mx_contiguous(b);
    if (!ca || !cb || mx_eval1(ca) || mx_eval1(cb)) return CHECK_MSG(0, "%s: %s", what, mx_last_error());
    int ok = mx_nbytes(ca) == mx_nbytes(cb) && mx_array_dtype(ca) == mx_array_dtype(cb) &&
             !memcmp(mx_data(ca), mx_data(cb), mx_nbytes(ca));
    return CHECK_MSG(ok, "%s: compiled and uncompiled results differ", what);
}

/* silu(x) * y: the gated MLP activation */
static int swiglu(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out, (void)ctx;
    out[0] = mx_multiply(mx_multiply(in[0], mx_sigmoid(in[0])), in[1]);
    return out[0] ? 0 : -1;
}

/* tanh-approximated gelu, with scalars (captured constants) and a dtype round trip */
static int gelu_tanh(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out, (void)ctx;
    mx_array *x = in[0];
    mx_array *x3 = mx_multiply(mx_square(x), x);
    mx_array *inner = mx_multiply_scalar(mx_add(x, mx_multiply_scalar(x3, 0.044715)), sqrt(2.0 / M_PI));
    mx_array *g = mx_multiply(mx_multiply_scalar(x, 0.5), mx_add_scalar(mx_tanh(inner), 1.0));
    out[0] = mx_astype(mx_exp(mx_astype(g, MX_FLOAT32)), mx_array_dtype(x));
    return out[0] ? 0 : -1;
}

static int twice_exp(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out, (void)ctx;
    out[0] = mx_add(mx_exp(in[0]), mx_exp(in[0]));
    return out[0] ? 0 : -1;
}

static int twice_matmul(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out, (void)ctx;
    out[0] = mx_add(mx_matmul(in[0], in[0]), mx_matmul(in[0], in[0]));
    return out[0] ? 0 : -1;
}

/* A new reference to a under the usual rule (the open pool's, or the caller's). */
static mx_array *same(mx_array *a) { return mx_pool_end_keep(mx_pool_begin(), a); }

/* several outputs: an input as it is, an intermediate that is also used, a constant */
static int several(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out;
    out[0] = same(in[0]);
    out[1] = mx_exp(in[0]);
    out[2] = mx_multiply(out[1], in[0]);
    out[3] = same((mx_array *)ctx);
    return out[1] && out[2] ? 0 : -1;
}

/* a reduction between elementwise ops: exp(sum(x)) * x, and a weight from ctx */
static int reduce_between(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out;
    mx_array *s = mx_exp(mx_multiply_scalar(mx_sum(in[0], NULL, 0, 0), 0.01));
    out[0] = mx_multiply(mx_multiply(s, in[0]), (mx_array *)ctx);
    return out[0] ? 0 : -1;
}

static int evaluates(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out;
    mx_array *e = mx_exp(in[0]);
    int rc = mx_eval1(e);
    out[0] = e;
    return ctx ? 0 : rc; /* ctx set: ignores the failure */
}

static int fails(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)in, (void)n_in, (void)n_out, (void)ctx, (void)out;
    return mx_set_error("boom: the function's own message");
}

static int leaves_null(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out, (void)ctx;
    out[0] = mx_exp(in[0]);
    return 0;
}

static void check_fn(mx_compiled *c, mx_array_fn fn, mx_array *const *in, int n_out, void *ctx, const char *what) {
    mx_array *got[8] = {0}, *want[8] = {0};
    int rc = mx_compiled_call(c, in, got);
    CHECK_MSG(rc == 0, "%s: compiled call failed: %s", what, mx_last_error());
    CHECK(fn(in, 0, want, n_out, ctx) == 0);
    for (int o = 0; o < n_out && !rc; o++) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s, output %d", what, o);
        same_bits(got[o], want[o], buf);
    }
}

typedef struct {
    mx_compiled *c;
    int64_t len;
    int ok;
} thread_job;

static void *call_many(void *arg) {
    thread_job *j = arg;
    mx_pool *p = mx_pool_begin();
    j->ok = 1;
    for (int r = 0; r < 20 && j->ok; r++) {
        int64_t sh[1] = {j->len + r % 3};
        mx_array *in[2] = {rnd(sh, 1, MX_BFLOAT16, 100 + (uint64_t)r), rnd(sh, 1, MX_BFLOAT16, 200 + (uint64_t)r)}, *got, *want;
        if (mx_compiled_call(j->c, in, &got) || swiglu(in, 2, &want, 1, NULL) || mx_eval1(got) || mx_eval1(want) ||
            memcmp(mx_data(got), mx_data(want), mx_nbytes(got)))
            j->ok = 0;
    }
    mx_pool_end(p);
    return NULL;
}

int main(void) {
    mx_pool *pool = mx_pool_begin();
    const mx_dtype types[] = {MX_FLOAT32, MX_BFLOAT16, MX_FLOAT16};
    const char *tname[] = {"float32", "bfloat16", "float16"};

    /* fused chains, bit for bit, at odd lengths around the kernel's 512-value block */
    mx_compiled *sw = mx_compile(swiglu, NULL, 2, 1), *ge = mx_compile(gelu_tanh, NULL, 1, 1);
    CHECK(sw && ge);
    const int64_t shapes[][3] = {{1, 1, 1}, {1, 1, 7}, {1, 1, 511}, {1, 3, 513}, {2, 1000, 3}, {1, 40, 1029}};
    for (int ti = 0; ti < 3; ti++)
        for (int si = 0; si < 6; si++) {
            char what[128];
            mx_array *x = rnd(shapes[si], 3, types[ti], 1 + (uint64_t)si), *y = rnd(shapes[si], 3, types[ti], 50 + (uint64_t)si);
            snprintf(what, sizeof what, "swiglu %s [%lld, %lld, %lld]", tname[ti], (long long)shapes[si][0],
                     (long long)shapes[si][1], (long long)shapes[si][2]);
            check_fn(sw, swiglu, (mx_array *[]){x, y}, 1, NULL, what);
            /* y broadcast along the leading axes */
            mx_array *yb = rnd(shapes[si] + 2, 1, types[ti], 70 + (uint64_t)si);
            snprintf(what + strlen(what), sizeof what - strlen(what), " (y broadcast)");
            check_fn(sw, swiglu, (mx_array *[]){x, yb}, 1, NULL, what);
            snprintf(what, sizeof what, "gelu_tanh %s, shape %d", tname[ti], si);
            check_fn(ge, gelu_tanh, (mx_array *[]){x}, 1, NULL, what);
        }
    mx_compile_stats st;
    CHECK(mx_compiled_stats(sw, &st) == 0);
    CHECK_MSG(st.traces == 36, "swiglu traces: %d (one per shape, broadcast and dtype)", st.traces);
    CHECK_MSG(st.traced_nodes == 3 && st.replayed_nodes == 1 && st.fused_nodes == 1,
              "swiglu: traced %d, replayed %d, fused %d", st.traced_nodes, st.replayed_nodes, st.fused_nodes);
    CHECK(mx_compiled_stats(ge, &st) == 0);
    CHECK_MSG(st.replayed_nodes == 1 && st.fused_nodes == 1 && st.traced_nodes == 12,
              "gelu: traced %d, replayed %d, fused %d", st.traced_nodes, st.replayed_nodes, st.fused_nodes);

    /* the same shapes again: no new trace */
    {
        mx_array *x = rnd(shapes[3], 3, MX_BFLOAT16, 9), *y = rnd(shapes[3], 3, MX_BFLOAT16, 10);
        check_fn(sw, swiglu, (mx_array *[]){x, y}, 1, NULL, "swiglu again");
        CHECK(mx_compiled_stats(sw, &st) == 0 && st.traces == 36);
    }

    /* at most 64 traces: further shapes run uncompiled, still right */
    {
        mx_compiled *c = mx_compile(swiglu, NULL, 2, 1);
        for (int64_t len = 1; len <= 70; len++) {
            mx_array *x = rnd(&len, 1, MX_BFLOAT16, 300 + (uint64_t)len), *y = rnd(&len, 1, MX_BFLOAT16, 400 + (uint64_t)len);
            if (len == 1 || len >= 64) check_fn(c, swiglu, (mx_array *[]){x, y}, 1, NULL, "swiglu, many shapes");
            else CHECK(mx_compiled_call(c, (mx_array *[]){x, y}, &x) == 0);
        }
        CHECK(mx_compiled_stats(c, &st) == 0);
        CHECK_MSG(st.traces == 64, "traces after 70 shapes: %d", st.traces);
        mx_compiled_free(c);
    }

    /* common subexpressions */
    {
        mx_compiled *c = mx_compile(twice_exp, NULL, 1, 1);
        mx_array *x = rnd((int64_t[]){5, 33}, 2, MX_FLOAT32, 11);
        check_fn(c, twice_exp, &x, 1, NULL, "exp(x) + exp(x)");
        CHECK(mx_compiled_stats(c, &st) == 0);
        CHECK_MSG(st.traced_nodes == 3 && st.replayed_nodes == 1 && st.fused_nodes == 1,
                  "exp + exp: traced %d, replayed %d, fused %d", st.traced_nodes, st.replayed_nodes, st.fused_nodes);
        mx_compiled_free(c);
        c = mx_compile(twice_matmul, NULL, 1, 1);
        x = rnd((int64_t[]){17, 17}, 2, MX_FLOAT32, 12);
        check_fn(c, twice_matmul, &x, 1, NULL, "x @ x + x @ x");
        CHECK(mx_compiled_stats(c, &st) == 0);
        CHECK_MSG(st.traced_nodes == 3 && st.replayed_nodes == 2 && st.fused_nodes == 0,
                  "matmul twice: traced %d, replayed %d, fused %d", st.traced_nodes, st.replayed_nodes, st.fused_nodes);
        mx_compiled_free(c);
    }

    /* several outputs; an intermediate that is an output is not swallowed by a chain */
    {
        mx_array *k = rnd((int64_t[]){4}, 1, MX_FLOAT32, 13);
        CHECK(mx_eval1(k) == 0);
        mx_compiled *c = mx_compile(several, k, 1, 4);
        mx_array *x = rnd((int64_t[]){3, 4}, 2, MX_BFLOAT16, 14), *got[4];
        check_fn(c, several, &x, 4, k, "several outputs");
        CHECK(mx_compiled_call(c, &x, got) == 0 && got[0] == x && got[3] == k);
        CHECK(mx_compiled_stats(c, &st) == 0);
        CHECK_MSG(st.fused_nodes == 0 && st.replayed_nodes == 2, "several: replayed %d, fused %d", st.replayed_nodes,
                  st.fused_nodes);
        mx_compiled_free(c);
    }

    /* a reduction in the middle and a captured weight */
    {
        mx_array *w = rnd((int64_t[]){257}, 1, MX_BFLOAT16, 15);
        mx_compiled *c = mx_compile(reduce_between, w, 1, 1);
        mx_array *x = rnd((int64_t[]){3, 257}, 2, MX_BFLOAT16, 16);
        check_fn(c, reduce_between, &x, 1, w, "exp(sum(x)) * x * w");
        x = rnd((int64_t[]){3, 257}, 2, MX_BFLOAT16, 17);
        check_fn(c, reduce_between, &x, 1, w, "exp(sum(x)) * x * w, new x");
        CHECK(mx_compiled_stats(c, &st) == 0 && st.traces == 1);
        mx_compiled_free(c);
    }

    /* integer and comparison ops stay unfused and right */
    {
        mx_compiled *c = mx_compile(swiglu, NULL, 2, 1);
        mx_array *x = test_iota((int64_t[]){9}, 1, MX_INT32), *y = test_iota((int64_t[]){9}, 1, MX_INT32);
        check_fn(c, swiglu, (mx_array *[]){x, y}, 1, NULL, "swiglu on int32 (sigmoid gives float32)");
        mx_compiled_free(c);
    }

    /* disabled: the function runs as it is */
    {
        mx_set_compile_enabled(0);
        CHECK(!mx_compile_enabled());
        mx_array *x = rnd((int64_t[]){2, 5}, 2, MX_FLOAT16, 18), *y = rnd((int64_t[]){2, 5}, 2, MX_FLOAT16, 19);
        check_fn(sw, swiglu, (mx_array *[]){x, y}, 1, NULL, "swiglu with compilation off");
        CHECK(mx_compiled_stats(sw, &st) == 0 && st.traces == 36);
        mx_set_compile_enabled(1);
    }

    /* errors */
    {
        mx_array *x = rnd((int64_t[]){4}, 1, MX_FLOAT32, 20), *out = (mx_array *)1;
        mx_compiled *c = mx_compile(evaluates, NULL, 1, 1);
        CHECK(mx_compiled_call(c, &x, &out) == -1 && out == NULL);
        test_error_has("evaluated an array that depends on its inputs");
        mx_compiled_free(c);
        c = mx_compile(evaluates, (void *)1, 1, 1);
        CHECK(mx_compiled_call(c, &x, &out) == -1);
        test_error_has("evaluated an array computed from input 0");
        mx_compiled_free(c);
        c = mx_compile(fails, NULL, 1, 1);
        CHECK(mx_compiled_call(c, &x, &out) == -1);
        test_error_has("boom: the function's own message");
        mx_compiled_free(c);
        c = mx_compile(leaves_null, NULL, 1, 2);
        CHECK(mx_compiled_call(c, &x, (mx_array *[2]){0}) == -1);
        test_error_has("left output 1 of 2 NULL");
        mx_compiled_free(c);
        CHECK(mx_compile(swiglu, NULL, 0, 1) == NULL);
        test_error_has("between 1 and 64");
        CHECK(mx_compile(NULL, NULL, 1, 1) == NULL);
        mx_clear_error();
        CHECK(mx_compiled_call(sw, (mx_array *[]){x, NULL}, &out) == -1);
        test_error_has("input 1 of 2 is NULL");
        /* shapes that do not broadcast: the function's op reports them */
        CHECK(mx_compiled_call(sw, (mx_array *[]){x, rnd((int64_t[]){3}, 1, MX_FLOAT32, 21)}, &out) == -1);
        test_error_has("multiply");
    }

    /* threads sharing one compiled function */
    {
        mx_compiled *c = mx_compile(swiglu, NULL, 2, 1);
        thread_job jobs[2] = {{c, 600, 0}, {c, 33, 0}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, call_many, &jobs[i]) == 0);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        CHECK(jobs[0].ok && jobs[1].ok);
        CHECK(mx_compiled_stats(c, &st) == 0 && st.traces == 6);
        mx_compiled_free(c);
    }

    mx_compiled_free(sw);
    mx_compiled_free(ge);
    mx_compiled_free(NULL);
    mx_pool_end(pool);
    return test_finish();
}
