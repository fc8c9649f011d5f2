/* Calibrate-then-time loop of the arithmetic peaks (see peak_timer.h). */
#include "lm/bench/peak_timer.h"

#include <omp.h>
#include <time.h>

#include "lm/bench/own_thread.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The timed passes on all threads, on their own thread (own_thread.h). */
typedef struct {
    peak_pass_fn run;
    const void *ctx;
    int threads;
    long n;
    int used;
    double seconds;
} timed_job;

static void timed_passes(void *p) {
    timed_job *j = p;
    volatile double sink = 0;
    int used = 1;
    double t0 = now_s();
#pragma omp parallel num_threads(j->threads)
    {
        double s = j->run(j->ctx, j->n);
#pragma omp atomic
        sink += s;
#pragma omp single
        used = omp_get_num_threads();
    }
    double dt = now_s() - t0;
    (void)sink;
    j->used = used;
    j->seconds = dt > 0 ? dt : 1e-9;
}

double peak_passes_per_second(peak_pass_fn run, const void *ctx, int threads, double seconds) {
    if (threads < 1) threads = 1;
    long iters = 16;
    double t0, dt;
    for (;;) {
        t0 = now_s();
        (void)run(ctx, iters);
        dt = now_s() - t0;
        if (dt > 0.02 || iters > (1L << 30)) break;
        iters *= 4;
    }
    long n = (long)((double)iters * seconds / (dt > 0 ? dt : 1e-3));
    if (n < 1) n = 1;
    timed_job job = {run, ctx, threads, n, 0, 0};
    bench_run_on_own_thread(timed_passes, &job);
    return (double)n * job.used / job.seconds;
}
