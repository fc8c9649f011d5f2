/* The machine's ceilings: streaming DRAM read bandwidth and the float32 GEMM rate, plus
 * lm_bench_roofline, which gathers them with the int8 peak (int8_peak.c). */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/lm_bench.h"
#include "cmlx/ops.h"
#include "cmlx/random.h"
#include "lm/bench/own_thread.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 64-byte vectors: with target_clones the compiler emits an AVX-512, an AVX2 and a baseline
 * version and picks one at load time, so the loop issues full-width loads on any x86 CPU
 * (a scalar loop cannot keep enough reads in flight to saturate DRAM on one core). */
typedef uint64_t v8u64 __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static uint64_t sum_range(const v8u64 *p, size_t n) {
    /* four independent accumulators: the adds never wait on each other */
    v8u64 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++) s0 += p[i];
    v8u64 s = s0 + s1 + s2 + s3;
    uint64_t t = 0;
    for (int k = 0; k < 8; k++) t += s[k];
    return t;
}

/* The same sum over n vectors read as READ_STREAMS interleaved streams, one from each
 * READ_STREAMS-th of the range (two vectors of each in turn), with each stream's data asked
 * for READ_PREFETCH bytes ahead (prefetcht0) when `prefetch` is set. A core's hardware
 * prefetcher tracks streams separately: on the 2-vCPU Xeon VM this reads ~40% more per core
 * than one stream (9.5 -> 13 GB/s), and a software prefetch ahead of each stream 5-10% more;
 * the decode kernels read weights both ways (arch/qmv.h QK_FAR_STREAMS, qmv_avx512.c
 * FAR_PREFETCH), so the ceiling is the best of the readings. */
#define READ_STREAMS 8
#define READ_PREFETCH 2048
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static uint64_t sum_streams(const v8u64 *p, size_t n, int prefetch) {
    size_t part = n / READ_STREAMS / 2 * 2;
    v8u64 s0 = {0}, s1 = {0};
    for (size_t i = 0; i < part; i += 2)
        for (int k = 0; k < READ_STREAMS; k++) {
            if (prefetch) { /* both 64-byte vectors of this step, READ_PREFETCH bytes on */
                __builtin_prefetch((const char *)(p + k * part + i) + READ_PREFETCH, 0, 3);
                __builtin_prefetch((const char *)(p + k * part + i + 1) + READ_PREFETCH, 0, 3);
            }
            s0 += p[k * part + i];
            s1 += p[k * part + i + 1];
        }
    for (size_t i = READ_STREAMS * part; i < n; i++) s0 += p[i];
    v8u64 s = s0 + s1;
    uint64_t t = 0;
    for (int k = 0; k < 8; k++) t += s[k];
    return t;
}

/* The passes of lm_bench_read_bandwidth, on their own thread (own_thread.h). */
typedef struct {
    v8u64 *buf;
    size_t nvec;
    int threads, reps;
    double best;
} read_job;

static void read_passes(void *p) {
    read_job *j = p;
    v8u64 *buf = j->buf;
    size_t nvec = j->nvec;
    /* first touch from the threads that will read it (page placement), non-zero data */
#pragma omp parallel for num_threads(j->threads) schedule(static)
    for (size_t i = 0; i < nvec; i++)
        for (int k = 0; k < 8; k++) buf[i][k] = (uint64_t)i * 8 + (uint64_t)k;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 3 * j->reps; r++) { /* in turn: one stream, several, several with prefetch */
        uint64_t total = 0;
        double t0 = now_s();
#pragma omp parallel num_threads(j->threads) reduction(+ : total)
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            size_t lo = nvec * (size_t)id / (size_t)nt, hi = nvec * (size_t)(id + 1) / (size_t)nt;
            total += r % 3 ? sum_streams(buf + lo, hi - lo, r % 3 == 2) : sum_range(buf + lo, hi - lo);
        }
        double dt = now_s() - t0;
        sink += total;
        double gbs = (double)(nvec * sizeof(v8u64)) / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    (void)sink;
    j->best = best;
}

double lm_bench_read_bandwidth(size_t bytes, int threads, int reps) {
    if (threads < 1) threads = 1;
    if (reps < 1) reps = 1;
    size_t nvec = bytes / sizeof(v8u64);
    if (nvec < 64) {
        mx_set_error("[bench] bandwidth buffer of %zu bytes is too small", bytes);
        return -1;
    }
    v8u64 *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, nvec * sizeof(v8u64))) {
        mx_set_error("[bench] cannot allocate a %zu-byte bandwidth buffer", nvec * sizeof(v8u64));
        return -1;
    }
    read_job job = {buf, nvec, threads, reps, 0};
    bench_run_on_own_thread(read_passes, &job);
    free(buf);
    return job.best;
}

/* Best GFLOP/s of mx_matmul(a, b or b^T) on n x n operands of dtype t. */
static double gemm_rate(int n, int reps, mx_dtype t, int transpose_b) {
    if (n < 1 || reps < 1) {
        mx_set_error("[bench] GEMM size %d and repetitions %d must be positive", n, reps);
        return -1;
    }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return -1;
    double best = -1;
    mx_array *key = mx_random_key(7);
    mx_array *a = mx_random_uniform(-1, 1, (int64_t[]){n, n}, 2, t, key);
    mx_array *b = mx_random_uniform(-1, 1, (int64_t[]){n, n}, 2, t, mx_random_key(8));
    if (transpose_b) b = mx_transpose(b, NULL, 0); /* reversed axes */
    mx_array *ab[2] = {a, b};
    if (!a || !b || mx_eval(ab, 2)) goto out;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up (BLAS buffers, allocator cache) */
        mx_array *c = mx_matmul(a, b);
        double t0 = now_s();
        if (!c || mx_eval1(c)) {
            best = -1;
            goto out;
        }
        double dt = now_s() - t0;
        if (r >= 0) {
            double gf = 2.0 * (double)n * (double)n * (double)n / dt / 1e9;
            if (gf > best) best = gf;
        }
    }
out:
    mx_pool_end(pool);
    return best;
}

double lm_bench_gemm_f32(int n, int reps) { return gemm_rate(n, reps, MX_FLOAT32, 0); }
double lm_bench_gemm_bf16(int n, int reps) { return gemm_rate(n, reps, MX_BFLOAT16, 1); }

void lm_bench_set_threads(int threads) {
    if (threads < 1) return;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

int lm_bench_roofline(int threads, int quick, lm_roofline *r) {
    memset(r, 0, sizeof *r);
    if (threads < 1) threads = omp_get_max_threads();
    r->threads = threads;
    r->buffer_bytes = quick ? (size_t)64 << 20 : (size_t)1 << 30;
    int reps = quick ? 2 : 5;
    if ((r->read_gbs_1 = lm_bench_read_bandwidth(r->buffer_bytes, 1, reps)) < 0) return -1;
    r->read_gbs_n = threads == 1 ? r->read_gbs_1 : lm_bench_read_bandwidth(r->buffer_bytes, threads, reps);
    if (r->read_gbs_n < 0) return -1;
    r->gemm_n = quick ? 256 : 2048;
    if ((r->gemm_f32_gflops = lm_bench_gemm_f32(r->gemm_n, quick ? 2 : 3)) < 0) return -1;
    if ((r->gemm_bf16_gflops = lm_bench_gemm_bf16(r->gemm_n, quick ? 2 : 3)) < 0) return -1;
    r->int8_path = lm_int8_best_path();
    double secs = quick ? 0.05 : 0.5;
    if ((r->int8_gops_1 = lm_bench_int8_peak(r->int8_path, 1, secs)) < 0) return -1;
    r->int8_gops_n = threads == 1 ? r->int8_gops_1 : lm_bench_int8_peak(r->int8_path, threads, secs);
    if (r->int8_gops_n < 0) return -1;
    r->fma_path = lm_bench_fma_path();
    r->fma_gflops_1 = lm_bench_f32_fma_peak(1, secs);
    r->fma_gflops_n = threads == 1 ? r->fma_gflops_1 : lm_bench_f32_fma_peak(threads, secs);
    r->bf16_gflops_1 = lm_bench_bf16_dot_peak(1, secs);
    r->bf16_gflops_n = threads == 1 ? r->bf16_gflops_1 : lm_bench_bf16_dot_peak(threads, secs);
    return 0;
}
